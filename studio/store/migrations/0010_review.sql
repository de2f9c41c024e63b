-- Document review: whether a person has finished (complete) or removed (withdrawn) a document.
-- Materialized from document.complete / document.reopen / document.withdraw decisions and their
-- undo (studio/store/state.py). A document without a row is untouched or partial (derived).
CREATE TABLE document_status (
    document_id   INTEGER PRIMARY KEY REFERENCES documents(id),
    status        TEXT NOT NULL CHECK (status IN ('complete', 'withdrawn')),
    decision_id   INTEGER NOT NULL REFERENCES decisions(id)
);
CREATE INDEX document_status_status ON document_status(status);
