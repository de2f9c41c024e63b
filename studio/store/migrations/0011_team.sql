-- Several annotators on one project (issue 22). All of it is materialized from decisions by
-- studio/store/versions.py and rebuilt from the log like the rest of the state.

-- Who annotates which document: `team.assign` decisions.
CREATE TABLE assignments (
    document_id   INTEGER NOT NULL REFERENCES documents(id),
    annotator     TEXT NOT NULL,
    decision_id   INTEGER NOT NULL REFERENCES decisions(id),
    PRIMARY KEY (document_id, annotator)
);
CREATE INDEX assignments_annotator ON assignments(annotator, document_id);

-- Each annotator's version of a document: the spans they accepted, edited or added.
CREATE TABLE version_spans (
    id            INTEGER PRIMARY KEY,
    document_id   INTEGER NOT NULL REFERENCES documents(id),
    annotator     TEXT NOT NULL,
    start         INTEGER NOT NULL,
    "end"         INTEGER NOT NULL,
    label         TEXT NOT NULL,
    text          TEXT NOT NULL,
    proposal_id   INTEGER REFERENCES proposals(id),
    decision_id   INTEGER NOT NULL REFERENCES decisions(id),
    UNIQUE (document_id, annotator, start, "end", label)
);
CREATE INDEX version_spans_doc ON version_spans(document_id, annotator);

-- Each annotator's verdict on a shared proposal (spans and box fixes); the proposal itself stays
-- pending until a reviewer adjudicates the document.
CREATE TABLE version_verdicts (
    proposal_id   INTEGER NOT NULL REFERENCES proposals(id),
    annotator     TEXT NOT NULL,
    document_id   INTEGER REFERENCES documents(id),
    status        TEXT NOT NULL CHECK (status IN ('accepted', 'rejected', 'edited')),
    decision_id   INTEGER NOT NULL REFERENCES decisions(id),
    PRIMARY KEY (proposal_id, annotator)
);
CREATE INDEX version_verdicts_doc ON version_verdicts(document_id, annotator);

-- An annotator's document is `complete` once they say it is done (document.complete).
CREATE TABLE versions (
    document_id   INTEGER NOT NULL REFERENCES documents(id),
    annotator     TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('open', 'complete')),
    decision_id   INTEGER NOT NULL REFERENCES decisions(id),
    PRIMARY KEY (document_id, annotator)
);

-- The reviewer's settlement of a document (`document.adjudicate`): its spans are the project's
-- labels; `closed` lists the proposals it decided, so an undo can reopen them.
CREATE TABLE adjudications (
    document_id   INTEGER PRIMARY KEY REFERENCES documents(id),
    decision_id   INTEGER NOT NULL REFERENCES decisions(id),
    method        TEXT NOT NULL,
    closed        TEXT NOT NULL DEFAULT '[]'
);
