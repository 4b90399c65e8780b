-- Leases on background jobs that run once across every node and worker (jobs/leases.py), and the
-- heartbeat of every live server process, whose count divides the request-rate quotas
-- (jobs/heartbeat.py). Times are seconds since the epoch on this machine's clock: every process
-- sharing an SQLite file runs on the same machine.
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires REAL NOT NULL
);
CREATE TABLE node_heartbeats (
    node_id TEXT NOT NULL,
    worker_id INTEGER NOT NULL,
    last_seen REAL NOT NULL,
    PRIMARY KEY (node_id, worker_id)
);
