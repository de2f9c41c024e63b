"""`studio demo`: the whole flow on a shipped sample, offline.

goal -> guideline (drafted by the model, approved by the demo's reviewer) -> crawl a small news
site served on 127.0.0.1 -> weak-label it -> review (the reviewer is an oracle that knows the
sample's gold spans: it accepts right proposals, corrects near misses, rejects wrong ones and
adds what was missed) -> cleanse a small YOLO set (approve fixes for real errors) -> query ->
release v0.1.0. Every step is a tool run or a human decision in the log, and the session is a
recording that `studio replay` re-runs and verifies.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from studio.errors import StudioError
from studio.flows.engine import Runner
from studio.schema import Span
from studio.store import Store

ACTOR = "human:demo"
# The shipped samples: a folder under fixtures/ with site/ and gold.jsonl, and the demo's goal.
SAMPLES = {
    "en": ("demo", "company and product names in tech news"),
    "ko": ("demo_ko", "기술 뉴스 기사에서 회사 이름과 제품 이름을 찾아 표시하고 싶어요"),
}
Progress = Callable[[str, float | None], None]

# Gold labels of the sample, and the names a drafted guideline may give them.
SYNONYMS = {
    "ORG": ("ORG", "COMPANY", "ORGANIZATION", "ORGANISATION", "BRAND", "CORP", "FIRM", "회사", "기업", "조직"),
    "PRODUCT": ("PRODUCT", "DEVICE", "SOFTWARE", "MODEL", "SERVICE", "제품", "상품"),
    "PERSON": ("PERSON", "PEOPLE", "EXECUTIVE", "NAME"),
    "LOC": ("LOC", "LOCATION", "PLACE", "CITY", "COUNTRY", "GPE"),
}
# Box checks whose fixes the demo reviewer approves; the others it rejects (a judgement call).
APPROVE_CHECKS = {
    "exact_duplicate",
    "near_duplicate",
    "invalid_value",
    "invalid_size",
    "unknown_class",
    "outside_image",
    "class_conflict",
    "orphan_label",
}


def sample_source() -> Path:
    here = Path(__file__).resolve().parent.parent
    for base in (here.parent / "fixtures", here / "_data" / "fixtures"):
        if (base / "demo" / "gold.jsonl").is_file():
            return base
    raise StudioError("the demo sample is missing from this installation (fixtures/demo); reinstall Studio")


def copy_sample(root: Path, sample: str = "en") -> Path:
    """Copy the shipped sample into the project, so every path the demo uses is inside it."""
    if sample not in SAMPLES:
        raise StudioError(f"no sample {sample!r}; samples: {', '.join(SAMPLES)}")
    src = sample_source()
    folder = SAMPLES[sample][0]
    dst = root / "sample"
    if dst.exists():
        return dst
    shutil.copytree(src / folder / "site", dst / "site")
    shutil.copy2(src / folder / "gold.jsonl", dst / "gold.jsonl")
    shutil.copytree(src / "boxes" / "yolo", dst / "boxes")
    return dst


@contextlib.contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve a folder on a free 127.0.0.1 port for the length of the block."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def map_labels(guideline_labels: list[str]) -> dict[str, str]:
    """Gold label -> the guideline's label for it (missing when the guideline has none)."""
    out: dict[str, str] = {}
    for gold, names in SYNONYMS.items():
        for lab in guideline_labels:
            up = lab.upper()
            if any(n in up for n in names) and lab not in out.values():
                out[gold] = lab
                break
    return out


class Oracle:
    """The demo's reviewer: decides each proposal from the sample's gold spans."""

    def __init__(self, gold_path: Path, labels: list[str]) -> None:
        self.mapping = map_labels(labels)
        self.sentences: list[tuple[str, list[dict[str, Any]]]] = []
        for line in gold_path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            offset = 0
            for sent in row["sentences"]:
                spans = [s for s in row["spans"] if offset <= s["start"] < offset + len(sent)]
                self.sentences.append(
                    (sent, [{**s, "start": s["start"] - offset, "end": s["end"] - offset} for s in spans])
                )
                offset += len(sent) + 1

    def gold_for(self, text: str) -> list[Span]:
        spans = []
        for sent, gold in self.sentences:
            at = text.find(sent)
            if at < 0:
                continue
            for g in gold:
                label = self.mapping.get(g["label"])
                if label:
                    spans.append(Span(start=at + g["start"], end=at + g["end"], label=label, text=g["text"]))
        return spans

    def review(self, store: Store, actor: str = ACTOR) -> dict[str, int]:
        from studio.ops.review import complete, review_queue

        counts = {"accepted": 0, "edited": 0, "rejected": 0, "added": 0, "completed": 0}
        seen_docs: set[int] = set()
        for p in list(review_queue(store)):
            doc_id = int(p.document_id or 0)
            doc = store.document(doc_id)
            gold = self.gold_for(doc.text)
            s = p.payload["span"]
            exact = [g for g in gold if (g.start, g.end, g.label) == (s["start"], s["end"], s["label"])]
            near = [g for g in gold if g.start < s["end"] and s["start"] < g.end]
            taken = {(x.start, x.end, x.label) for x in store.approved_spans(doc_id)}
            if exact and (exact[0].start, exact[0].end, exact[0].label) not in taken:
                store.accept_span(p.id or 0, actor)
                counts["accepted"] += 1
            elif near and (near[0].start, near[0].end, near[0].label) not in taken:
                store.accept_span(p.id or 0, actor, edited=near[0], rationale="boundaries or label corrected")
                counts["edited"] += 1
            else:
                store.decide(p.id or 0, actor, "reject", "not an entity of the guideline in this text")
                counts["rejected"] += 1
            seen_docs.add(doc_id)
        for doc_id in sorted(seen_docs | set(store.document_ids())):
            doc = store.document(doc_id)
            have = {(x.start, x.end, x.label) for x in store.approved_spans(doc_id)}
            for g in self.gold_for(doc.text):
                if (g.start, g.end, g.label) not in have:
                    store.record(
                        actor,
                        "label.add",
                        [f"doc:{doc_id}"],
                        {"document_id": doc_id, "span": g.model_dump()},
                        "missed by the model",
                    )
                    have.add((g.start, g.end, g.label))
                    counts["added"] += 1
            if store.proposals(kind="span", status="pending", document_id=doc_id, limit=1):
                continue
            # every gold entity is in: the document is finished, as a person pressing done
            complete(store, doc_id, actor)
            counts["completed"] += 1
        return counts


def review_boxes(store: Store, actor: str = ACTOR) -> dict[str, int]:
    counts = {"approved": 0, "rejected": 0}
    for p in store.proposals(kind="box_fix", status="pending"):
        if p.payload.get("check") in APPROVE_CHECKS:
            store.decide(p.id or 0, actor, "accept", f"a real {p.payload.get('check')} error")
            counts["approved"] += 1
        else:
            store.decide(p.id or 0, actor, "reject", "keep as is: judged fine on a look")
            counts["rejected"] += 1
    return counts


def run_demo(
    store: Store, llm_spec: str | None = None, on_progress: Progress | None = None, sample: str = "en"
) -> dict[str, Any]:
    """Run the whole flow, recording it. Returns a summary for people."""

    def say(msg: str, frac: float | None = None) -> None:
        if on_progress:
            on_progress(msg, frac)

    folder = copy_sample(store.root, sample)
    r = Runner(store, llm_spec, on_progress=on_progress)
    summary: dict[str, Any] = {"project": str(store.root), "sample": sample, "goal": SAMPLES[sample][1]}
    say("drafting the guideline from the goal", 0.05)
    version = r.tool("plan", goal=SAMPLES[sample][1], run_as=ACTOR).version
    store.decide_guideline(version, ACTOR, "approve", "demo: the draft is usable")
    guideline, _ = store.approved_guideline() or (None, 0)
    assert guideline is not None
    summary["labels"] = guideline.label_names()
    with serve(folder / "site") as url:
        say(f"crawling the sample site at {url}", 0.15)
        crawled = r.tool("crawl", seeds=[f"{url}/index.html"], max_pages=20, depth=2, rate=0.0)
        summary["crawl"] = crawled.model_dump(mode="json")
    say("weak-labeling the pages with the model", 0.25)
    summary["weak_label"] = r.tool("label").model_dump(mode="json")
    say("reviewing the proposals", 0.7)
    oracle = Oracle(folder / "gold.jsonl", guideline.label_names())
    summary["quality"] = proposal_quality(store, oracle)
    summary["review"] = oracle.review(store)
    say("checking the sample box labels", 0.8)
    summary["cleanse"] = r.tool("box_cleanse", dataset="sample/boxes").model_dump(mode="json")
    summary["box_review"] = review_boxes(store)
    summary["cleanse_apply"] = r.tool(
        "box_apply", dataset="sample/boxes", out="cleaned/boxes", run_as=ACTOR
    ).model_dump(mode="json")
    if set(store.document_ids()) <= set(store.labeled_document_ids()):
        # the scripted reviewer finished every page: nothing is left for active learning to rank
        say("nothing left to rank: every document has approved labels", 0.85)
        summary["query"] = {"skipped": "every document has approved labels"}
    else:
        say("ranking what to review next", 0.85)
        summary["query"] = r.tool("query", strategy="margin", batch=5).model_dump(mode="json")
    say("releasing v0.1.0", 0.9)
    summary["release"] = r.tool("release", run_as=ACTOR, version="0.1.0", license="CC-BY-4.0").model_dump(mode="json")
    say("done", 1.0)
    return summary


def proposal_quality(store: Store, oracle: Oracle) -> dict[str, float]:
    """Precision, recall and F1 of the pending proposals against the sample's gold (strict)."""
    from studio.ops.ner.evaluate import score

    gold, pred = [], []
    for doc_id in store.document_ids():
        doc = store.document(doc_id)
        gold.append(oracle.gold_for(doc.text))
        pred.append([Span.model_validate(p.payload["span"]) for p in store.proposals(kind="span", document_id=doc_id, status=None)
                     if (p.confidence or 0) >= 0.5])  # fmt: skip
    overall = score(gold, pred).overall("strict")
    return {"precision": round(overall.precision, 3), "recall": round(overall.recall, 3), "f1": round(overall.f1, 3)}
