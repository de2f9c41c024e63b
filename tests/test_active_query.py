"""A query on a real store: the decision, the review queue, cold start, NER and detection inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.errors import NotFound, StudioError
from studio.ops.active.query import (
    QuerySettings,
    class_labels,
    read_queue,
    rebuild_queue,
    run_query,
    whole_document_span,
)
from studio.schema import Document, Guideline, LabelDef, Proposal
from studio.store import Store

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "textclf" / "tickets.jsonl"


def _rows(n: int) -> list[dict[str, str]]:
    with FIXTURE.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh][:n]


def _label(store: Store, doc_id: int, label: str) -> None:
    """A human's classification label: an approved span over the whole text."""
    span = whole_document_span(store.document(doc_id).text, label).model_dump()
    store.record("human:tester", "label.add", [f"doc:{doc_id}"], {"document_id": doc_id, "span": span})


def _project(store: Store, n: int = 150) -> tuple[list[int], list[str]]:
    rows = _rows(n)
    ids = [i for i, _ in store.add_documents([Document(text=r["text"]) for r in rows])]
    classes = sorted({r["label"] for r in rows})
    g = Guideline(goal="route tickets", task_type="classification", labels=[LabelDef(name=c) for c in classes])
    store.decide_guideline(store.add_guideline(g, "agent"), "human:tester", "approve")
    return ids, [r["label"] for r in rows]


def test_cold_start_query_is_random_and_logged(store: Store) -> None:
    _project(store, 60)
    r = run_query(store, QuerySettings(strategy="margin", batch=5, seed=1, features="tfidf"))
    assert r.task == "classification"
    assert r.cold_start and r.used == "random" and "cold start" in r.reason
    assert len(r.items) == 5
    same = run_query(store, QuerySettings(strategy="random", batch=5, seed=1, features="tfidf"))
    assert [i.document_id for i in same.items] == [i.document_id for i in r.items]


def test_query_writes_a_decision_and_the_queue_order(store: Store) -> None:
    ids, labels = _project(store)
    labeled = []
    for doc_id, lab in zip(ids, labels, strict=True):  # two labels of each class
        if sum(1 for d in labeled if labels[ids.index(d)] == lab) < 2:
            _label(store, doc_id, lab)
            labeled.append(doc_id)
    assert class_labels(store) == {d: labels[ids.index(d)] for d in labeled}

    r = run_query(store, QuerySettings(strategy="margin", batch=8, seed=0, features="tfidf"))
    assert not r.cold_start and r.used == "margin"
    assert r.labeled == len(labeled) and r.pool == len(ids) - len(labeled)
    assert len(r.items) == 8
    assert not {i.document_id for i in r.items} & set(labeled)
    scores = [i.score for i in r.items]
    assert scores == sorted(scores, reverse=True)  # the batch keeps the ranking's order

    d = store.decisions(action="query.run")[-1]
    assert d.id == r.query_id and d.actor == "tool"
    assert d.payload["strategy"] == "margin" and d.payload["model_version"] == r.model_version
    assert [(i["document_id"], i["score"]) for i in d.payload["items"]] == [(i.document_id, i.score) for i in r.items]
    assert d.subject_ids == [f"doc:{i.document_id}" for i in r.items]

    rows = store.conn.execute(
        "SELECT rank, document_id, score FROM review_queue WHERE decision_id = ? ORDER BY rank", (r.query_id,)
    ).fetchall()
    assert [(x[0], x[1], x[2]) for x in rows] == [(i.rank, i.document_id, i.score) for i in r.items]

    queue = read_queue(store)
    assert queue.query_id == r.query_id
    assert [i.document_id for i in queue.items] == [i.document_id for i in r.items]
    assert all(i.status == "pending" for i in queue.items)

    # The human reviews the first queued document: it is done, and drops out of --pending.
    first = r.items[0].document_id
    assert first is not None
    _label(store, first, labels[ids.index(first)])
    queue = read_queue(store)
    assert queue.items[0].status == "done"
    assert first not in [i.document_id for i in read_queue(store, include_done=False).items]

    # Same labels and settings -> same model version; one more label -> a new version.
    again = run_query(store, QuerySettings(strategy="margin", batch=8, seed=0, features="tfidf"))
    assert again.model_version != r.model_version
    same = run_query(store, QuerySettings(strategy="margin", batch=8, seed=0, features="tfidf"))
    assert same.model_version == again.model_version

    # The queue tables are a function of the log.
    before = store.conn.execute("SELECT * FROM review_queue ORDER BY decision_id, rank").fetchall()
    assert rebuild_queue(store) == 3
    after = store.conn.execute("SELECT * FROM review_queue ORDER BY decision_id, rank").fetchall()
    assert [tuple(x) for x in before] == [tuple(x) for x in after]


def test_queue_errors_say_what_to_do(store: Store) -> None:
    with pytest.raises(NotFound, match="studio query"):
        read_queue(store)
    with pytest.raises(StudioError, match="no documents"):
        run_query(store, QuerySettings())
    with pytest.raises(StudioError, match="unknown strategy"):
        run_query(store, QuerySettings(strategy="confidence"))
    with pytest.raises(StudioError, match="--predictions"):
        run_query(store, QuerySettings(task="detection"))


def _span_proposal(doc_id: int, text: str, word: str, label: str, sources: dict[str, float]) -> Proposal:
    start = text.index(word)
    conf = sum(sources.values()) / len(sources)
    return Proposal(
        kind="span",
        document_id=doc_id,
        source="llm:ner.v1",
        confidence=conf,
        batch="t",
        payload={"span": {"start": start, "end": start + len(word), "label": label, "text": word}, "sources": sources},
    )


def test_ner_query_ranks_weak_source_disagreement(store: Store) -> None:
    texts = ["Apple opened a store in Paris.", "Google hired Tim Cook.", "The weather was fine today."]
    ids = [i for i, _ in store.add_documents([Document(text=t) for t in texts])]
    store.add_proposals(
        [
            _span_proposal(ids[0], texts[0], "Apple", "ORG", {"llm": 0.9, "gazetteer": 0.95}),  # they agree
            _span_proposal(ids[1], texts[1], "Tim Cook", "PER", {"llm": 0.9, "gazetteer": 0.1}),  # they do not
        ],
        actor="tool",
    )
    r = run_query(store, QuerySettings(strategy="kl", batch=3, threshold=1.0))
    assert r.task == "ner"
    # disagreement first, agreement next, the document without proposals last
    assert [i.document_id for i in r.items] == [ids[1], ids[0], ids[2]]
    assert r.cold_start and "weak-source" in r.reason


def test_ner_query_with_a_trained_model(store: Store) -> None:
    people = ["Tim Cook", "Lisa Su", "Sam Altman", "Satya Nadella"]
    orgs = ["Apple", "AMD", "OpenAI", "Microsoft"]
    texts = [f"{p} spoke about {o} on Monday." for p in people for o in orgs]
    ids = [i for i, _ in store.add_documents([Document(text=t) for t in texts])]
    g = Guideline(goal="people and companies", task_type="ner", labels=[LabelDef(name="PER"), LabelDef(name="ORG")])
    store.decide_guideline(store.add_guideline(g, "agent"), "human:tester", "approve")
    for doc_id, text in list(zip(ids, texts, strict=True))[:6]:
        for word, label in ((text.split(" spoke")[0], "PER"), (text.split("about ")[1].split(" on")[0], "ORG")):
            start = text.index(word)
            span = {"start": start, "end": start + len(word), "label": label, "text": word}
            store.record("human:tester", "label.add", [f"doc:{doc_id}"], {"document_id": doc_id, "span": span})
    r = run_query(store, QuerySettings(strategy="margin", batch=4))
    assert r.task == "ner" and not r.cold_start and r.used == "margin"
    assert r.labeled == 6 and r.pool == len(ids) - 6
    assert len(r.items) == 4 and not {i.document_id for i in r.items} & set(ids[:6])


def test_detection_query_from_a_predictions_table(store: Store, tmp_path: Path) -> None:
    preds = tmp_path / "preds.json"
    preds.write_text(json.dumps({"a.jpg": [[0, 0.9], [1, 0.95]], "b.jpg": [[0, 0.5], [0, 0.6]], "c.jpg": []}))
    r = run_query(store, QuerySettings(predictions=str(preds), strategy="least_confidence", batch=3))
    # least confidence per image (mean over boxes): a 0.075, b 0.45, c no boxes -> 0.5
    assert r.task == "detection"
    assert [(i.item, i.score) for i in r.items] == [("c.jpg", 0.5), ("b.jpg", 0.45), ("a.jpg", 0.075)]
    d = store.decisions(action="query.run")[-1]
    assert d.subject_ids == ["image:c.jpg", "image:b.jpg", "image:a.jpg"]
    assert read_queue(store).items[0].item == "c.jpg"


def test_ner_cold_start_without_proposals_is_random_order(store: Store) -> None:
    texts = [f"Report number {i} mentions Acme Corp in Berlin." for i in range(12)]
    store.add_documents([Document(text=t) for t in texts])
    g = Guideline(goal="companies", task_type="ner", labels=[LabelDef(name="ORG")])
    store.decide_guideline(store.add_guideline(g, "agent"), "human:tester", "approve")
    cold = run_query(store, QuerySettings(strategy="margin", batch=5, seed=4, threshold=1.0))
    assert cold.cold_start and cold.used == "random" and "no approved entity" in cold.reason
    rnd = run_query(store, QuerySettings(strategy="random", batch=5, seed=4, threshold=1.0))
    assert [i.document_id for i in cold.items] == [i.document_id for i in rnd.items]


def test_query_reports_stabilizing_predictions_round_by_round(store: Store) -> None:
    ids, labels = _project(store)
    gold = dict(zip(ids, labels, strict=True))
    for cls in sorted(set(labels)):  # one label per class: the model can train
        _label(store, next(d for d in ids if gold[d] == cls), cls)
    settings = QuerySettings(strategy="hybrid", batch=10, seed=0, features="tfidf")
    first = run_query(store, settings)
    assert first.used == "hybrid" and first.agreements == [] and "too early" in first.stop_message
    stop_set = store.decisions(action="query.run")[-1].payload["stop_set"]
    assert len(stop_set["ids"]) == len(ids) and set(stop_set["pred"]) <= set(labels)

    rounds = [first]
    for _ in range(3):  # the person labels the queued batch, then asks again
        for item in rounds[-1].items:
            _label(store, item.document_id, gold[item.document_id])
        rounds.append(run_query(store, settings))
    agreements = rounds[-1].agreements
    assert len(agreements) == 3 and all(-1.0 <= a <= 1.0 for a in agreements)
    assert [len(r.agreements) for r in rounds] == [0, 1, 2, 3]
    expected = "more labels are unlikely" if rounds[-1].stop else "keep labeling"
    assert rounds[-1].stop_message.startswith(expected) and "over the last 3 rounds" in rounds[-1].stop_message

    # asking again without new labels is the same model: no new round, the same verdict
    again = run_query(store, settings)
    assert again.agreements == agreements and again.stop_message == rounds[-1].stop_message
    assert read_queue(store).stop_message == again.stop_message
