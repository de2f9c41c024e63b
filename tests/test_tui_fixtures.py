"""A small fixed project for the app tests and snapshots, built with the store API only."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from studio.schema import Document, Guideline, LabelDef, Proposal
from studio.store import Store

DOCS = [
    "Apple hired Tim Cook in Cupertino. Apple later opened an office in Berlin.",
    "Siemens builds trains in Munich, said Anna Weber on Monday.",
    "The weather in Paris was mild; nobody from Renault commented.",
]

# (doc index, surface text, label, confidence, sources)
SPANS: list[tuple[int, str, str, float, dict[str, float]]] = [
    (0, "Apple", "ORG", 0.93, {"llm:ner.v1": 0.9, "gazetteer": 0.97}),
    (0, "Tim Cook", "PERSON", 0.81, {"llm:ner.v1": 0.81}),
    (0, "Cupertino", "LOC", 0.62, {"llm:ner.v1": 0.62}),
    (1, "Siemens", "ORG", 0.88, {"llm:ner.v1": 0.88}),
    (1, "Anna Weber", "PERSON", 0.74, {"llm:ner.v1": 0.74}),
    (2, "Paris", "LOC", 0.7, {"llm:ner.v1": 0.7}),
]

GUIDELINE_JSON = {
    "task_type": "ner",
    "language": "en",
    "labels": [
        {"name": "ORG", "definition": "a company or organization"},
        {"name": "PERSON", "definition": "a named person"},
        {"name": "LOC", "definition": "a city, region or country"},
    ],
    "edge_cases": ["products are not ORG"],
}


def guideline() -> Guideline:
    return Guideline(
        goal="companies, people and places in news",
        labels=[
            LabelDef(name="ORG", definition="a company or organization"),
            LabelDef(name="PERSON", definition="a named person"),
            LabelDef(name="LOC", definition="a city, region or country"),
        ],
        edge_cases=["products are not ORG"],
    )


def span_proposals(doc_ids: list[int]) -> list[Proposal]:
    out = []
    for i, surface, label, conf, sources in SPANS:
        start = DOCS[i].index(surface)
        span = {"start": start, "end": start + len(surface), "label": label, "text": surface}
        out.append(
            Proposal(
                kind="span",
                document_id=doc_ids[i],
                payload={"span": span, "sources": sources, "context": DOCS[i][:40]},
                source="llm:ner.v1",
                confidence=conf,
                batch="ner-fixture",
            )
        )
    return out


def box_fixes() -> list[Proposal]:
    dup = {"line": 3, "class_id": 0, "class": "car", "cx": 0.5, "cy": 0.5, "w": 0.2, "h": 0.1}
    return [
        Proposal(
            kind="box_fix",
            payload={
                "check": "duplicate",
                "fix": "drop",
                "image": "images/0001.jpg",
                "lines": [4],
                "boxes": [dup, {**dup, "line": 4}],
                "evidence": {"iou": 1.0},
                "result": None,
            },
            source="boxes:duplicate",
            confidence=0.99,
            batch="cleanse-fixture",
        ),
        Proposal(
            kind="box_fix",
            payload={
                "check": "out_of_image",
                "fix": "clip",
                "image": "images/0002.jpg",
                "lines": [1],
                "boxes": [{"line": 1, "class_id": 1, "class": "person", "cx": 0.95, "cy": 0.5, "w": 0.2, "h": 0.3}],
                "evidence": {"outside_fraction": 0.25},
                "result": {"line": 1, "class_id": 1, "class": "person", "cx": 0.925, "cy": 0.5, "w": 0.15, "h": 0.3},
            },
            source="boxes:out_of_image",
            confidence=0.9,
            batch="cleanse-fixture",
        ),
    ]


def build_project(root: Path, approve: bool = True) -> Path:
    """Documents, an approved guideline, span and box-fix proposals and one pending agent action."""
    with Store.init(root) as store:
        store.start_session("fixture")
        ids = [i for i, _ in store.add_documents([Document(text=t, source="fixture") for t in DOCS])]
        v = store.add_guideline(guideline(), "agent")
        if approve:
            store.decide_guideline(v, "human:ann", "approve")
        store.add_proposals(span_proposals(ids), actor="tool")
        store.add_proposals(box_fixes(), actor="tool")
        store.add_proposals(
            [
                Proposal(
                    kind="action",
                    payload={"tool": "weak_label", "args": {"limit": 5}, "rationale": "3 unlabeled documents"},
                )
            ],
            actor="agent",
        )
    return root


def respond(req: dict[str, Any]) -> str:
    """The loopback model: answers each structured request by the name of its schema."""
    name = ((req.get("response_format") or {}).get("json_schema") or {}).get("name", "")
    if name == "Guideline":
        return json.dumps(GUIDELINE_JSON)
    if name == "Action":
        return json.dumps({"tool": "weak_label", "args": {"limit": 3}, "rationale": "documents are unlabeled"})
    if name == "NerAnswer":
        return json.dumps({"entities": [{"text": "Renault", "label": "ORG", "context": "nobody from Renault"}]})
    return "{}"


async def settle(pilot: Any, idle: Callable[[], bool] = lambda: True) -> None:
    """Wait until the app's workers are done and `idle()` holds (a screen's own busy flag), with the
    messages they posted handled. A refused change (e.g. done while proposals are pending) ends its
    worker with the error the screen shows; when that worker is still listed, waiting for it
    re-raises the error, which is not the test's concern here."""
    from textual.worker import WorkerFailed

    app = pilot.app
    for _ in range(20):
        with contextlib.suppress(WorkerFailed):
            await app.workers.wait_for_complete()
        await pilot.pause()
        if idle() and not any(w.is_running for w in app.workers):
            return


def test_fixture_project_is_consistent(tmp_path: Path) -> None:
    root = build_project(tmp_path / "p")
    with Store.open(root) as store:
        s = store.status()
        assert s["pending_by_kind"] == {"span": len(SPANS), "box_fix": 2, "action": 1}
        assert s["approved_guideline_version"] == 1
        for p in store.proposals(kind="span"):
            sp = p.payload["span"]
            assert store.document(int(p.document_id or 0)).text[sp["start"] : sp["end"]] == sp["text"]
