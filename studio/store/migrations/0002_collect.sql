-- Collect: crawls and their frontier, so a crawl can stop (Ctrl-C, kill) and resume without
-- refetching what it already has. These tables are a tool's work queue, not project data:
-- documents go through Store.add_documents and each run is a `crawl.run` decision.

CREATE TABLE crawls (
    id           INTEGER PRIMARY KEY,
    seeds        TEXT NOT NULL,              -- JSON list of normalized seed URLs, sorted
    seeds_key    TEXT NOT NULL,              -- sha256 of the sorted seeds: re-running them resumes
    settings     TEXT NOT NULL DEFAULT '{}', -- CrawlSettings as JSON (the newest run's)
    status       TEXT NOT NULL DEFAULT 'running'
                 CHECK (status IN ('running', 'paused', 'done')),
    started_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX crawls_open ON crawls(status, seeds_key);

-- One row per normalized URL a crawl has found. A row stays 'queued' until the result of its
-- fetch is written, so a killed crawl simply fetches the queued rows again.
CREATE TABLE frontier (
    id            INTEGER PRIMARY KEY,
    crawl_id      INTEGER NOT NULL REFERENCES crawls(id),
    url           TEXT NOT NULL,
    depth         INTEGER NOT NULL DEFAULT 0,
    referrer      TEXT,
    status        TEXT NOT NULL DEFAULT 'queued'
                  CHECK (status IN ('queued', 'stored', 'duplicate', 'skipped', 'blocked', 'failed')),
    reason        TEXT NOT NULL DEFAULT '',  -- why skipped/blocked/failed, or 'near_duplicate'
    attempts      INTEGER NOT NULL DEFAULT 0,
    error         TEXT,
    robots        TEXT,                      -- allowed | disallowed | no_robots | unreachable
    http_status   INTEGER,
    final_url     TEXT,
    content_type  TEXT,
    document_id   INTEGER REFERENCES documents(id),
    duplicate_of  INTEGER REFERENCES documents(id),
    fetched_at    TEXT,
    UNIQUE (crawl_id, url)
);
CREATE INDEX frontier_queue ON frontier(crawl_id, status, depth);

-- robots.txt as fetched once per crawl and host, so a resumed crawl does not ask again.
CREATE TABLE crawl_robots (
    crawl_id     INTEGER NOT NULL REFERENCES crawls(id),
    host         TEXT NOT NULL,              -- scheme://host[:port]
    status       INTEGER,                    -- HTTP status, NULL if unreachable
    body         TEXT NOT NULL DEFAULT '',
    fetched_at   TEXT NOT NULL,
    PRIMARY KEY (crawl_id, host)
);
