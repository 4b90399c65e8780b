-- The feed of re-sealed key blocks (master-key rotation): a running server follows it and forgets
-- the material it cached for each key named (jobs/key_blocks.py).
CREATE TABLE block_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    arn TEXT NOT NULL,
    at REAL NOT NULL
);
