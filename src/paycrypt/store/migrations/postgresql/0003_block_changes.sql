-- The feed of re-sealed key blocks (master-key rotation): every node follows it and forgets the
-- material it cached for each key named (jobs/key_blocks.py).
CREATE TABLE block_changes (
    seq BIGSERIAL PRIMARY KEY,
    arn TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL
);
