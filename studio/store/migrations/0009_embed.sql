-- Sentence vectors cached per text (content hash) and model, so a corpus is embedded once.
-- A cache, not state: nothing here is derived from or recorded in the decision log.
CREATE TABLE embeddings (
    content_hash TEXT NOT NULL,
    model TEXT NOT NULL,
    dim INTEGER NOT NULL,
    vector BLOB NOT NULL,  -- float32, little-endian, `dim` values, L2-normalized
    PRIMARY KEY (content_hash, model)
);
