-- Leases on background jobs that run once across every node and worker (jobs/leases.py), and the
-- heartbeat of every live server process, whose count divides the request-rate quotas
-- (jobs/heartbeat.py). Times are seconds since the epoch on the database server's clock, never a
-- node's: nodes whose clocks disagree still agree on when a lease ends.
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires DOUBLE PRECISION NOT NULL
);
CREATE TABLE node_heartbeats (
    node_id TEXT NOT NULL,
    worker_id INTEGER NOT NULL,
    last_seen DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (node_id, worker_id)
);
