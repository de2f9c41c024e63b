-- Integrity (issue 25): the decisions that support each approved label, and a hash chain over
-- the decision log.

-- One row per decision that supports an approved span (an accept, an edit, a label.add, the
-- undo of a label.remove). `labels` holds a span while at least one row here supports it, so
-- undoing one of two accepts of the same span keeps the label. Materialized like `labels`.
CREATE TABLE label_support (
    id           INTEGER PRIMARY KEY,
    decision_id  INTEGER NOT NULL REFERENCES decisions(id),
    document_id  INTEGER NOT NULL REFERENCES documents(id),
    start        INTEGER NOT NULL,
    "end"        INTEGER NOT NULL,
    label        TEXT NOT NULL,
    text         TEXT NOT NULL,
    proposal_id  INTEGER REFERENCES proposals(id),
    UNIQUE (decision_id, document_id, start, "end", label)
);
CREATE INDEX label_support_span ON label_support(document_id, start, "end", label);
CREATE INDEX label_support_proposal ON label_support(proposal_id);
INSERT INTO label_support (decision_id, document_id, start, "end", label, text, proposal_id)
    SELECT decision_id, document_id, start, "end", label, text, proposal_id FROM labels;

-- The hash chain: `hash` = sha256 of the row's content and `prev_hash` (the previous row's hash),
-- see studio/store/chain.py. Rows of an older database are chained by the migration's Python
-- step, which also re-creates the append-only triggers dropped here.
DROP TRIGGER IF EXISTS decisions_no_update;
DROP TRIGGER IF EXISTS decisions_no_delete;
ALTER TABLE decisions ADD COLUMN prev_hash TEXT;
ALTER TABLE decisions ADD COLUMN hash TEXT;
