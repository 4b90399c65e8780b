-- Master-key rotation on several nodes (jobs/holdings.py, docs/decisions/coherence.md):
-- - each recorded master key names the kind of vault that holds it ('' when recorded before this
--   migration), so a node started with the other kind after `paycrypt vault migrate` is told to
--   switch its --vault; and whether it is admitted: a rotation records its new version not
--   admitted (pending) until every live node holds it, and no server seals under a version that is
--   not admitted;
-- - each heartbeat row says until when its process counts as live (the beat's time plus the
--   heartbeat job's expiry) and which master keys its vault holds, as "version:check-value" pairs
--   separated by spaces: never a key.
ALTER TABLE master_keys ADD COLUMN vault TEXT NOT NULL DEFAULT '';
ALTER TABLE master_keys ADD COLUMN admitted INTEGER NOT NULL DEFAULT 1;
ALTER TABLE node_heartbeats ADD COLUMN expires REAL NOT NULL DEFAULT 0;
ALTER TABLE node_heartbeats ADD COLUMN master_keys TEXT NOT NULL DEFAULT '';
-- A vault migration's target master key (its check value): recorded pending by `paycrypt vault
-- migrate` before it waits for every live server to hold it (a node starting meanwhile that cannot
-- open it is refused), then admitted: from then on a server following the migration seals new keys
-- under the target, and before it under the source (vault/migration.py). One row at most.
CREATE TABLE vault_migration (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    target_key_id TEXT NOT NULL,
    admitted INTEGER NOT NULL
);
