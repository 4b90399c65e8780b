-- The master keys this store's blocks are sealed under, by version and check value (never the
-- key): a node whose vault holds another key refuses to start (vault/agreement.py).
CREATE TABLE master_keys (
    version INTEGER PRIMARY KEY,
    key_id TEXT NOT NULL,
    recorded REAL NOT NULL
);
