"""A query over the project: rank what the human should review next, and log it.

A query is a decision `query.run` by actor `tool` whose payload holds the task, the strategy
asked for and the one used (random on a cold start), the model version (a hash of the training
labels and parameters), and the chosen items with their scores in review order. The same
transaction writes the order to `queries` / `review_queue`, which the app and
`studio query --show` read as "what next".

Classification labels live in the store as a span covering the whole document text (start 0,
end len(text)): a document's class is the label of that span (the newest, if there are several).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from studio.errors import NotFound, StudioError
from studio.ops.active import strategies
from studio.ops.active.diversity import DEFAULT_THRESHOLD
from studio.ops.active.threads import single_thread
from studio.schema import Span, utcnow
from studio.store import Store

Task = Literal["auto", "classification", "ner", "detection"]


class QuerySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task: Task = "auto"
    strategy: str = "hybrid"
    batch: int = Field(default=20, ge=1)
    seed: int = 0
    threshold: float = Field(default=DEFAULT_THRESHOLD, gt=0, description="near-duplicate cosine similarity")
    committee: int = Field(default=5, ge=2)
    predictions: str | None = None  # detection: a predictions table (see detection.py)
    aggregate: str = "mean"
    empty_score: float = Field(default=0.5, ge=0, le=1)
    features: str = "auto"  # classification: auto | tfidf | minilm | minilm+tfidf (features.py)


class QueryItem(BaseModel):
    rank: int
    document_id: int | None = None
    item: str
    score: float
    snippet: str = ""
    status: str = "pending"


class QueryResult(BaseModel):
    query_id: int
    task: str
    strategy: str
    used: str
    cold_start: bool = False
    reason: str = ""
    model_version: str = ""
    pool: int
    labeled: int
    skipped_near_duplicates: int = 0
    diversity: str = "tfidf"  # what the diversity step compared: minilm embeddings or tfidf rows
    features: str = ""  # what the classifier saw (classification): tfidf, minilm, minilm+tfidf
    items: list[QueryItem]
    problems: list[str] = Field(default_factory=list)
    agreements: list[float] = Field(default_factory=list)  # stopping: kappa of each model with the one before
    stop: bool = False
    stop_message: str = ""
    shown: bool = False  # read back from the queue (`--show`), not a new query
    _stop_set: dict[str, Any] | None = PrivateAttr(default=None)  # recorded in the decision, not shown


def snippet(text: str, width: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def class_labels(store: Store) -> dict[int, str]:
    """document id -> class, from approved spans that cover the whole document."""
    rows = store.conn.execute(
        "SELECT l.document_id, l.label FROM labels l JOIN documents d ON d.id = l.document_id "
        'WHERE l.start = 0 AND l."end" = length(d.text) ORDER BY l.decision_id'
    )
    return {int(r[0]): str(r[1]) for r in rows}


def _guideline(store: Store) -> Any:
    approved = store.approved_guideline()
    if approved is not None:
        return approved[0]
    try:
        return store.guideline()[0]
    except NotFound:
        return None


def resolve_task(store: Store, settings: QuerySettings) -> str:
    """auto: detection when predictions are given, else the guideline's task, else NER when span
    proposals exist, else classification."""
    if settings.task != "auto":
        return settings.task
    if settings.predictions:
        return "detection"
    g = _guideline(store)
    if g is not None:
        return str(g.task_type)
    has_spans = store.conn.execute("SELECT 1 FROM proposals WHERE kind = 'span' LIMIT 1").fetchone()
    return "ner" if has_spans else "classification"


def run_query(store: Store, settings: QuerySettings) -> QueryResult:
    """Rank the unlabeled pool, record `query.run`, and store the review order."""
    if settings.strategy not in strategies.STRATEGIES:
        raise StudioError(f"unknown strategy {settings.strategy!r}: use one of {', '.join(strategies.STRATEGIES)}")
    task = resolve_task(store, settings)
    with single_thread():
        if task == "classification":
            result = _classification(store, settings)
        elif task == "ner":
            result = _ner(store, settings)
        elif task == "detection":
            result = _detection(settings)
        else:
            raise StudioError(f"unknown task {task!r}: use auto, classification, ner or detection")
    return _record(store, settings, result)


def _docs(store: Store) -> tuple[list[int], list[str]]:
    docs = list(store.documents())
    if not docs:
        raise StudioError("the project has no documents yet: add some first (see `studio --help`), then query")
    return [int(d.id or 0) for d in docs], [d.text for d in docs]


def _empty_pool(task: str) -> StudioError:
    return StudioError(f"every document already has a {task} label: there is nothing left to query")


def _classification(store: Store, s: QuerySettings) -> QueryResult:
    from studio.ops.active.features import TextFeatures
    from studio.ops.active.textclf import TextClassifier, TextClfParams, select

    ids, texts = _docs(store)
    labels = class_labels(store)
    g = _guideline(store)
    classes = g.label_names() if g is not None and g.task_type == "classification" else []
    row_of = {doc_id: i for i, doc_id in enumerate(ids)}
    labeled = {row_of[d]: lab for d, lab in labels.items() if d in row_of}
    candidates = [i for i in range(len(ids)) if i not in labeled]
    if not candidates:
        raise _empty_pool("classification")
    feats = TextFeatures(texts, s.features, store)
    clf = TextClassifier(texts, TextClfParams(committee=s.committee), features=feats)
    rows, diversity = feats.diversity_rows()
    sel = select(clf, labeled, candidates, s.strategy, s.batch, s.seed, classes, s.threshold, features=rows)
    items = [
        QueryItem(rank=k + 1, document_id=ids[r], item=f"doc:{ids[r]}", score=round(sc, 6), snippet=snippet(texts[r]))
        for k, (r, sc) in enumerate(zip(sel.indices, sel.scores, strict=True))
    ]
    stop_ids, stop_pred = _stop_predictions(clf, ids, labeled, classes)
    state = _stop_state(store, sel.model_version, stop_ids, stop_pred)
    result = QueryResult(
        query_id=0,
        task="classification",
        strategy=s.strategy,
        used=sel.used,
        cold_start=sel.cold_start,
        reason=sel.reason,
        model_version=sel.model_version,
        pool=len(candidates),
        labeled=len(labeled),
        skipped_near_duplicates=sel.skipped_near_duplicates,
        diversity=diversity,
        features=feats.choice(len(labeled)),
        items=items,
        agreements=state.agreements,
        stop=state.stop,
        stop_message=state.message(),
    )
    result._stop_set = {"ids": stop_ids, "pred": stop_pred}
    return result


def _stop_predictions(
    clf: Any, ids: list[int], labeled: Mapping[int, str], classes: list[str]
) -> tuple[list[int], list[str]]:
    """The current model's classes for the stop set (a fixed sample of the project's documents,
    chosen by document id so it stays put as labels arrive); empty before a model can train."""
    from studio.ops.active import stopping

    seen = set(labeled.values())
    if len(seen) < 2:
        return [], []
    rows = stopping.stop_set(len(ids), seed=0)
    clf.fit(list(labeled.keys()), list(labeled.values()), classes=sorted(set(classes) | seen))
    probs = clf.predict_proba(rows)
    return [ids[r] for r in rows], [clf.classes[i] for i in probs.argmax(axis=1)]


def _stop_state(store: Store, version: str, stop_ids: list[int], stop_pred: list[str]) -> Any:
    """Agreement history: the newest earlier classification query with another model is the
    previous round; a query whose model did not change (no new labels) adds no round."""
    from studio.ops.active import stopping

    state = stopping.StopState()
    for d in reversed(store.decisions(action="query.run", limit=None)):
        p = d.payload
        if p.get("task") != "classification" or not p.get("stop_set"):
            continue
        state = stopping.StopState(agreements=[float(a) for a in p.get("agreements", [])])
        if p.get("model_version") == version:
            return state
        if not stop_ids:
            return state
        prev = dict(zip(p["stop_set"]["ids"], p["stop_set"]["pred"], strict=True))
        common = [k for k, i in enumerate(stop_ids) if i in prev]
        before = [prev[stop_ids[k]] for k in common]
        now = [stop_pred[k] for k in common]
        return stopping.add_round(state, before, now) if common else state
    return state


def _ner(store: Store, s: QuerySettings) -> QueryResult:
    from studio.ops.active import ner, student
    from studio.ops.active.diversity import diverse_batch, diversity_features
    from studio.ops.active.textclf import model_version

    ids, texts = _docs(store)
    row_of = {doc_id: i for i, doc_id in enumerate(ids)}
    labeled_ids = [d for d in store.labeled_document_ids() if d in row_of]
    spans = {row_of[d]: store.approved_spans(d) for d in labeled_ids}
    candidates = [i for i in range(len(ids)) if i not in spans]
    if not candidates:
        raise _empty_pool("NER")
    g = _guideline(store)
    labels = sorted(
        set(g.label_names() if g is not None and g.task_type == "ner" else [])
        | {sp.label for v in spans.values() for sp in v}
    )
    # Weak part: pending span proposals on unlabeled documents.
    weak = np.zeros(len(candidates))
    has_weak = np.zeros(len(candidates), dtype=bool)
    pos = {r: k for k, r in enumerate(candidates)}
    for p in store.proposals(kind="span", status="pending"):
        k = pos.get(row_of.get(int(p.document_id or 0), -1))
        if k is None:
            continue
        sc = ner.span_weak_score(p.confidence, p.payload.get("sources") or {}, s.strategy)
        weak[k] = max(weak[k], sc) if has_weak[k] else sc
        has_weak[k] = True
    reason = ner.cold_reason(spans, labels)
    used = s.strategy
    found = student.find(store.root) if s.strategy != "random" else None
    model_name = "token-logreg"
    if found is not None:  # the student (studio train) is the model in the loop: no cold start
        reason = ""
        model_name = f"student:{found[1].get('data_version', '')}"
    if s.strategy == "random":
        scores = strategies.random_scores(len(candidates), s.seed)
    else:
        model_scores = None
        if found is not None:
            from studio.ops.ner.train import load_model

            card = found[1]
            nlp = load_model(found[0])
            cand_texts = [texts[r] for r in candidates]
            model_scores, _ = student.doc_scores(nlp, card.get("language", "en"), cand_texts, labels, s.strategy)
        elif not reason:
            tagger = ner.TokenTagger(texts)
            if tagger.fit(spans, labels):
                committee = None
                if s.strategy in strategies.COMMITTEE_STRATEGIES:
                    committee = tagger.committee(spans, s.committee, s.seed)
                model_scores = ner.doc_model_scores(tagger, candidates, s.strategy, committee)
        if model_scores is None and not has_weak.any():
            used = "random"
        scores = ner.combine(model_scores, weak, has_weak, s.seed)
    order = [candidates[i] for i in strategies.rank(scores)]
    features, diversity = diversity_features(texts, store)
    chosen, skipped = diverse_batch(order, s.batch, features, s.threshold)
    score_of = dict(zip(candidates, scores.tolist(), strict=True))
    items = [
        QueryItem(
            rank=k + 1, document_id=ids[r], item=f"doc:{ids[r]}", score=round(score_of[r], 6), snippet=snippet(texts[r])
        )
        for k, r in enumerate(chosen)
    ]
    labeled_map = {ids[r]: [sp.model_dump() for sp in v] for r, v in spans.items()}
    version = model_version(
        {"model": model_name, "committee": s.committee},
        {k: json.dumps(v, sort_keys=True) for k, v in labeled_map.items()},
        {"task": "ner", "labels": labels},
    )
    return QueryResult(
        query_id=0,
        task="ner",
        strategy=s.strategy,
        used=used,
        cold_start=bool(reason) and s.strategy != "random",
        reason=reason
        + ("; weak-source disagreement ranks documents with proposals" if reason and has_weak.any() else ""),
        model_version=version,
        pool=len(candidates),
        labeled=len(spans),
        skipped_near_duplicates=len(skipped),
        diversity=diversity,
        features="" if found is None else model_name,
        items=items,
    )


def _detection(s: QuerySettings) -> QueryResult:
    from studio.ops.active import detection
    from studio.ops.active.textclf import model_version

    if not s.predictions:
        raise StudioError(
            "a detection query needs model predictions: pass --predictions FILE (JSON, CSV or YOLO txt folder)"
        )
    preds, problems = detection.read_predictions(s.predictions)
    if not preds:
        raise StudioError(f"{s.predictions} has no usable predictions" + (f" ({problems[0]})" if problems else ""))
    # hybrid's diversity part needs image features (none yet): its uncertainty part, margin, ranks
    strategy = "margin" if s.strategy == "hybrid" else s.strategy
    scores = detection.image_scores(preds, strategy, s.aggregate, s.empty_score, s.seed)
    images = sorted(scores)
    order = strategies.rank(np.array([scores[i] for i in images]))
    items = [
        QueryItem(
            rank=k + 1, item=images[i], score=round(scores[images[i]], 6), snippet=f"{len(preds[images[i]])} boxes"
        )
        for k, i in enumerate(order[: s.batch])
    ]
    version = model_version(s, {"predictions": str(s.predictions)}, {"task": "detection"})
    return QueryResult(
        query_id=0,
        task="detection",
        strategy=s.strategy,
        used=strategy,
        model_version=version,
        pool=len(images),
        labeled=0,
        items=items,
        problems=problems,
    )


def _record(store: Store, s: QuerySettings, r: QueryResult) -> QueryResult:
    payload = {
        "task": r.task,
        "strategy": r.strategy,
        "used": r.used,
        "cold_start": r.cold_start,
        "reason": r.reason,
        "model_version": r.model_version,
        "batch": s.batch,
        "seed": s.seed,
        "threshold": s.threshold,
        "pool": r.pool,
        "labeled": r.labeled,
        "skipped_near_duplicates": r.skipped_near_duplicates,
        "diversity": r.diversity,
        "items": [{"rank": i.rank, "document_id": i.document_id, "item": i.item, "score": i.score} for i in r.items],
    }
    if s.predictions:
        payload["predictions"] = str(s.predictions)
    if r.task == "ner" and r.features:  # the student model ranked (older payloads stay as they were)
        payload["model"] = r.features
    if r.task == "classification":  # the model's features and the stopping state (docs/active.md)
        payload.update(features=r.features, agreements=r.agreements[-10:], stop=r.stop)
        if r._stop_set and r._stop_set["ids"]:
            payload["stop_set"] = r._stop_set
    subjects = [i.item if i.document_id is not None else f"image:{i.item}" for i in r.items]
    rationale = f"{r.used} over {r.pool} unlabeled items" + (f" ({r.reason})" if r.reason else "")
    with store.transaction():
        d = store.record("tool", "query.run", subjects, payload, rationale)
        _insert_queue(store, int(d.id or 0), payload, d.ts)
    return r.model_copy(update={"query_id": d.id})


def _insert_queue(store: Store, decision_id: int, payload: Mapping[str, Any], ts: str) -> None:
    store.conn.execute(
        "INSERT INTO queries (decision_id, task, strategy, used, model_version, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        (decision_id, payload["task"], payload["strategy"], payload["used"], payload["model_version"], ts or utcnow()),
    )
    store.conn.executemany(
        "INSERT INTO review_queue (decision_id, rank, document_id, item, score) VALUES (?, ?, ?, ?, ?)",
        [(decision_id, i["rank"], i["document_id"], i["item"], i["score"]) for i in payload["items"]],
    )


def rebuild_queue(store: Store) -> int:
    """Recompute `queries` and `review_queue` from the `query.run` decisions; returns the count."""
    with store.transaction() as c:
        c.execute("DELETE FROM review_queue")
        c.execute("DELETE FROM queries")
        decisions = store.decisions(action="query.run")
        for d in decisions:
            _insert_queue(store, int(d.id or 0), d.payload, d.ts)
    return len(decisions)


def read_queue(store: Store, query_id: int | None = None, include_done: bool = True) -> QueryResult:
    """The review order of a query (the newest by default), each item marked pending or done."""
    sql = "SELECT * FROM queries " + ("WHERE decision_id = ?" if query_id else "ORDER BY decision_id DESC LIMIT 1")
    q = store.conn.execute(sql, (query_id,) if query_id else ()).fetchone()
    if q is None:
        raise NotFound(
            "no query has been run yet: run `studio query` first"
            if not query_id
            else f"query {query_id} does not exist"
        )
    decision = store.decisions(action="query.run", since_id=int(q["decision_id"]) - 1, limit=None)[0]
    if q["task"] == "classification":
        done = set(class_labels(store))
    elif q["task"] == "ner":
        done = set(store.labeled_document_ids())
    else:
        done = set()
    items: list[QueryItem] = []
    for row in store.conn.execute(
        "SELECT q.rank, q.document_id, q.item, q.score, d.text FROM review_queue q "
        "LEFT JOIN documents d ON d.id = q.document_id WHERE q.decision_id = ? ORDER BY q.rank",
        (q["decision_id"],),
    ):
        doc = row["document_id"]
        status = "done" if doc is not None and int(doc) in done else "pending"
        if status == "done" and not include_done:
            continue
        items.append(
            QueryItem(
                rank=row["rank"],
                document_id=doc,
                item=row["item"],
                score=row["score"],
                snippet=snippet(row["text"] or ""),
                status=status,
            )
        )
    p = decision.payload
    return QueryResult(
        query_id=int(q["decision_id"]),
        task=q["task"],
        strategy=q["strategy"],
        used=q["used"],
        cold_start=bool(p.get("cold_start")),
        reason=p.get("reason", ""),
        model_version=q["model_version"],
        pool=int(p.get("pool", 0)),
        labeled=int(p.get("labeled", 0)),
        skipped_near_duplicates=int(p.get("skipped_near_duplicates", 0)),
        diversity=str(p.get("diversity", "tfidf")),
        features=str(p.get("features", "")),
        shown=True,
        items=items,
        agreements=[float(a) for a in p.get("agreements", [])],
        stop=bool(p.get("stop")),
        stop_message=stop_message(p) if q["task"] == "classification" else "",
    )


def stop_message(payload: Mapping[str, Any]) -> str:
    """The stopping verdict of a recorded `query.run` (its agreement history)."""
    from studio.ops.active import stopping

    return stopping.StopState(agreements=[float(a) for a in payload.get("agreements", [])]).message()


def whole_document_span(doc_text: str, label: str) -> Span:
    """The span that records a document's class: all of its text (see the module docstring)."""
    return Span(start=0, end=len(doc_text), label=label, text=doc_text)
