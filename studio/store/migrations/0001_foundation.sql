-- Foundation: sessions, documents, guidelines, proposals, the decision log, approved labels,
-- LLM calls and the recording of a session's events.

CREATE TABLE sessions (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL DEFAULT '',
    started_at  TEXT NOT NULL,
    ended_at    TEXT,
    meta        TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE documents (
    id            INTEGER PRIMARY KEY,
    content_hash  TEXT NOT NULL UNIQUE,
    text          TEXT NOT NULL,
    source        TEXT NOT NULL,
    lang          TEXT NOT NULL DEFAULT 'en',
    provenance    TEXT NOT NULL DEFAULT '{}',
    created_at    TEXT NOT NULL
);

-- Every version of the guideline is kept; `status` is materialized from decisions.
CREATE TABLE guidelines (
    version       INTEGER PRIMARY KEY,
    body          TEXT NOT NULL,
    parent        INTEGER REFERENCES guidelines(version),
    status        TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'approved', 'rejected', 'superseded')),
    created_at    TEXT NOT NULL,
    created_by    TEXT NOT NULL
);

-- Append-only. Updates and deletes are refused by the triggers below.
CREATE TABLE decisions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    ts            TEXT NOT NULL,
    session_id    TEXT REFERENCES sessions(id),
    actor         TEXT NOT NULL,
    action        TEXT NOT NULL,
    subject_ids   TEXT NOT NULL DEFAULT '[]',
    payload       TEXT NOT NULL DEFAULT '{}',
    rationale     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX decisions_action ON decisions(action);
CREATE INDEX decisions_actor ON decisions(actor);

CREATE TRIGGER decisions_no_update BEFORE UPDATE ON decisions
BEGIN
    SELECT RAISE(ABORT, 'decisions are append-only: record a new decision instead of updating one');
END;
CREATE TRIGGER decisions_no_delete BEFORE DELETE ON decisions
BEGIN
    SELECT RAISE(ABORT, 'decisions are append-only: record a new decision instead of deleting one');
END;

-- Proposals: what agents and tools suggest. `status` is materialized from decisions.
CREATE TABLE proposals (
    id            INTEGER PRIMARY KEY,
    kind          TEXT NOT NULL,
    document_id   INTEGER REFERENCES documents(id),
    payload       TEXT NOT NULL DEFAULT '{}',
    source        TEXT NOT NULL DEFAULT '',
    confidence    REAL,
    status        TEXT NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'accepted', 'rejected', 'edited', 'withdrawn')),
    batch         TEXT NOT NULL DEFAULT '',
    created_at    TEXT NOT NULL,
    decision_id   INTEGER NOT NULL REFERENCES decisions(id)
);
CREATE INDEX proposals_pending ON proposals(status, kind, document_id);

-- Approved spans, materialized from label.* decisions.
CREATE TABLE labels (
    id            INTEGER PRIMARY KEY,
    document_id   INTEGER NOT NULL REFERENCES documents(id),
    start         INTEGER NOT NULL,
    "end"         INTEGER NOT NULL,
    label         TEXT NOT NULL,
    text          TEXT NOT NULL,
    proposal_id   INTEGER REFERENCES proposals(id),
    decision_id   INTEGER NOT NULL REFERENCES decisions(id),
    UNIQUE (document_id, start, "end", label)
);
CREATE INDEX labels_doc ON labels(document_id);

CREATE TABLE llm_calls (
    id                 INTEGER PRIMARY KEY,
    ts                 TEXT NOT NULL,
    session_id         TEXT REFERENCES sessions(id),
    provider           TEXT NOT NULL,
    model              TEXT NOT NULL,
    operation          TEXT NOT NULL DEFAULT '',
    request_hash       TEXT NOT NULL,
    messages           TEXT NOT NULL,
    params             TEXT NOT NULL DEFAULT '{}',
    response           TEXT,
    prompt_tokens      INTEGER,
    completion_tokens  INTEGER,
    latency_ms         REAL,
    cost_usd           REAL NOT NULL DEFAULT 0,
    cache_hit          INTEGER NOT NULL DEFAULT 0,
    error              TEXT
);
CREATE INDEX llm_calls_hash ON llm_calls(request_hash);

CREATE TABLE llm_cache (
    request_hash  TEXT PRIMARY KEY,
    model         TEXT NOT NULL,
    response      TEXT NOT NULL,
    created_at    TEXT NOT NULL
);

-- A session's recording, in order: llm calls, http fetches, tool runs, human decisions.
CREATE TABLE session_events (
    id          INTEGER PRIMARY KEY,
    session_id  TEXT NOT NULL REFERENCES sessions(id),
    seq         INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    key         TEXT NOT NULL DEFAULT '',
    payload     TEXT NOT NULL,
    UNIQUE (session_id, seq)
);

CREATE TABLE settings (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
