"""Test helpers for the student: a project on the news fixtures and a scripted person who completes documents."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from studio.schema import Document, Guideline, Proposal, Span
from studio.store import Store
from tests.conftest import FIXTURES

NER = FIXTURES / "ner"


def read_news(name: str, n: int | None = None) -> list[dict]:
    lines = (NER / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(x) for x in lines[:n]]


def news_guideline(lang: str = "en") -> Guideline:
    path = NER / ("news_guideline.yaml" if lang == "en" else "news_ko_guideline.yaml")
    return Guideline.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def news_project(store: Store, lang: str = "en") -> Store:
    g = news_guideline(lang)
    store.decide_guideline(store.add_guideline(g, "agent"), "human:tester", "approve")
    return store


def add_docs(store: Store, docs: list[dict]) -> list[int]:
    ids, _ = zip(*[store.add_document(Document(text=d["text"], source="import"), "tool") for d in docs], strict=True)
    return list(ids)


def complete_like_gold(store: Store, doc_id: int, gold: list[dict], actor: str = "human:tester") -> None:
    """What a careful person does: accept proposals that match the gold, reject the rest, add what is missing,
    then mark the document complete (`document.complete`, the document review)."""
    want = {(s["start"], s["end"], s["label"]) for s in gold}
    for p in store.proposals(kind="span", status="pending", document_id=doc_id):
        sp = p.payload["span"]
        key = (sp["start"], sp["end"], sp["label"])
        if key in want:
            store.accept_span(p.id or 0, actor)
        else:
            store.decide(p.id or 0, actor, "reject")
    have = {(s.start, s.end, s.label) for s in store.approved_spans(doc_id)}
    text = store.document(doc_id).text
    missing = [Span(start=a, end=b, label=lab, text=text[a:b]) for a, b, lab in sorted(want - have)]
    if missing:
        pids = store.add_proposals(
            [
                Proposal(kind="span", document_id=doc_id, payload={"span": s.model_dump()}, source="human")
                for s in missing
            ],
            actor=actor,
        )
        for pid in pids:
            store.accept_span(pid, actor)
    from studio.ops.review.document import complete

    complete(store, doc_id, actor)


def write_card(folder: Path, **card: object) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "card.json").write_text(json.dumps({"name": folder.name, **card}), encoding="utf-8")
