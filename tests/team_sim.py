"""Simulated annotators for the team tests: each works through their own queue with the real review
functions (studio.ops.review) and makes errors at a known rate, with a seeded generator.

An annotator with error rate e, for each proposal on a document: a correct one is accepted, or
with probability e rejected or relabelled; a wrong one is rejected, or with probability e accepted.
Each gold span the proposals missed is added, or with probability e left out. Then the document
is marked done. What they decided is tracked here, independently of the store, so the tests can
compute the agreement numbers by hand.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from studio.ops import registry
from studio.ops.review import ReviewError, accept, add_span, complete, document_view, reject, relabel
from studio.ops.review.documents import DocumentQueue
from studio.schema import Document, Guideline, LabelDef, Proposal, Span
from studio.store import Store

GOLD = Path(__file__).resolve().parent.parent / "fixtures" / "team" / "gold.jsonl"
LABELS = ["ORG", "PERSON", "PRODUCT", "LOC", "EVENT"]
SpanT = tuple[int, int, str]


def guideline() -> Guideline:
    return Guideline(
        goal="Organizations, people, products, places and events in business news",
        labels=[LabelDef(name=n, definition=f"{n.lower()} names") for n in LABELS],
    )


def setup(store: Store, n_docs: int = 60) -> dict[int, set[SpanT]]:
    """Documents, an approved guideline and weak proposals (most gold spans, a few wrong ones)."""
    rows = [json.loads(line) for line in GOLD.read_text(encoding="utf-8").splitlines()][:n_docs]
    v = store.add_guideline(guideline(), actor="agent")
    store.decide_guideline(v, "human:lead", "approve")
    ids = [i for i, _ in store.add_documents([Document(text=r["text"], lang=r["lang"]) for r in rows])]
    gold: dict[int, set[SpanT]] = {}
    proposals = []
    k = 0
    for doc_id, row in zip(ids, rows, strict=True):
        gold[doc_id] = {(s["start"], s["end"], s["label"]) for s in row["spans"]}
        for s in row["spans"]:
            k += 1
            if k % 4 == 0:
                continue  # the weak source missed it: annotators must add it
            proposals.append(_proposal(doc_id, row["text"], s["start"], s["end"], s["label"]))
        if doc_id % 3 == 0:  # a wrong proposal: a word outside every entity, called ORG
            taken = [(s["start"], s["end"]) for s in row["spans"]]
            pos = 0
            for word in row["text"].split(" "):
                end = pos + len(word)
                if word.isalpha() and len(word) > 2 and not any(a < end and pos < b for a, b in taken):
                    proposals.append(_proposal(doc_id, row["text"], pos, end, "ORG"))
                    break
                pos = end + 1
    store.add_proposals(proposals, actor="tool")
    return gold


def _proposal(doc_id: int, text: str, start: int, end: int, label: str) -> Proposal:
    span = Span(start=start, end=end, label=label, text=text[start:end])
    return Proposal(kind="span", document_id=doc_id, payload={"span": span.model_dump()}, source="sim", confidence=0.8)


def assign(store: Store, names: str = "ana,ben,cho", overlap: int = 2, seed: int = 7) -> None:
    ctx = registry.OpContext(store=store, actor="human:lead")
    registry.run("assign", {"annotators": names, "overlap": overlap, "seed": seed}, ctx)


def annotate(store: Store, name: str, error_rate: float, gold: dict[int, set[SpanT]], seed: int = 0) -> dict:
    """Work through `name`'s queue; returns {doc id: the set of spans of their version}."""
    actor = f"human:{name}"
    rng = random.Random(f"{name}:{seed}")
    queue = DocumentQueue(store, actor=actor)
    versions: dict[int, set[SpanT]] = {}
    doc = queue.next_document()
    while doc is not None:
        versions[doc] = version = set()
        view = document_view(store, doc, actor)
        for v in view.pending:
            span = (v.start, v.end, v.label)
            correct, err = span in gold[doc], rng.random() < error_rate
            if correct == (not err):  # a right proposal kept, or a wrong one let through by mistake
                accept(store, doc, v.key, actor)
                version.add(span)
            elif correct and rng.random() < 0.5:  # a right proposal relabelled by mistake
                other = [lab for lab in LABELS if lab != v.label][rng.randrange(len(LABELS) - 1)]
                relabel(store, doc, v.key, other, actor)
                version.add((v.start, v.end, other))
            else:
                reject(store, doc, v.key, actor)
        for s in sorted(gold[doc] - version):
            if any(o[:2] == s[:2] for o in version) or rng.random() < error_rate:
                continue  # relabelled wrongly above, or missed
            try:
                change = add_span(store, doc, s[0], s[1], s[2], actor)
            except ReviewError:
                continue
            assert change.span is not None
            version.add((change.span.start, change.span.end, change.span.label))
        complete(store, doc, actor)
        doc = queue.next_document()
    return versions
