-- Active learning: each `query.run` decision and the review order it set.
-- Both tables are written in the same transaction as the decision and only ever inserted into;
-- `studio.ops.active.query.rebuild_queue` recomputes them from the decision log.

CREATE TABLE queries (
    decision_id    INTEGER PRIMARY KEY REFERENCES decisions(id),
    task           TEXT NOT NULL,
    strategy       TEXT NOT NULL,
    used           TEXT NOT NULL,
    model_version  TEXT NOT NULL DEFAULT '',
    created_at     TEXT NOT NULL
);

-- The review queue: items of a query in the order a person should review them. `document_id`
-- for text tasks; `item` names the thing (doc:ID, or an image name for detection).
CREATE TABLE review_queue (
    decision_id  INTEGER NOT NULL REFERENCES queries(decision_id),
    rank         INTEGER NOT NULL,
    document_id  INTEGER REFERENCES documents(id),
    item         TEXT NOT NULL,
    score        REAL NOT NULL,
    PRIMARY KEY (decision_id, rank)
);
CREATE INDEX review_queue_doc ON review_queue(document_id);
