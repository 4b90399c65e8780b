-- The schema of every release before versioned migrations (up to commit 0ebb762), unchanged:
-- IF NOT EXISTS throughout, so a data directory made by that code is adopted as version 1 as it is.
CREATE TABLE IF NOT EXISTS keys (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    arn TEXT NOT NULL UNIQUE,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    key_state TEXT NOT NULL,
    delete_pending REAL,
    meta TEXT NOT NULL,
    key_block TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS keys_owner ON keys (account, region, seq);
CREATE INDEX IF NOT EXISTS keys_purge ON keys (delete_pending) WHERE delete_pending IS NOT NULL;
CREATE TABLE IF NOT EXISTS aliases (
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    alias_name TEXT NOT NULL,
    key_arn TEXT,
    PRIMARY KEY (account, region, alias_name)
);
CREATE INDEX IF NOT EXISTS aliases_key ON aliases (key_arn);
CREATE TABLE IF NOT EXISTS exchange_keys (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    kind TEXT NOT NULL,
    expires REAL,
    meta TEXT NOT NULL,
    key_block TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS exchange_keys_kind ON exchange_keys (account, region, kind, seq);
CREATE TABLE IF NOT EXISTS tags (
    arn TEXT NOT NULL,
    position INTEGER NOT NULL,
    tag_key TEXT NOT NULL,
    tag_value TEXT NOT NULL,
    PRIMARY KEY (arn, tag_key)
);
CREATE TABLE IF NOT EXISTS replication_defaults (
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    regions TEXT NOT NULL,
    PRIMARY KEY (account, region)
);
CREATE TABLE IF NOT EXISTS replication_jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    primary_arn TEXT NOT NULL,
    region TEXT NOT NULL,
    action TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt REAL NOT NULL,
    UNIQUE (primary_arn, region)
);
CREATE INDEX IF NOT EXISTS replication_jobs_due ON replication_jobs (next_attempt, seq);
CREATE TABLE IF NOT EXISTS resource_policies (
    arn TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    policy TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS mpa_teams (
    arn TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    approvals_required INTEGER NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS mpa_members (
    team_arn TEXT NOT NULL,
    member TEXT NOT NULL,
    PRIMARY KEY (team_arn, member)
);
CREATE TABLE IF NOT EXISTS mpa_associations (
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    action TEXT NOT NULL,
    team_arn TEXT NOT NULL,
    state TEXT NOT NULL,
    pending_team_arn TEXT,
    session_arn TEXT,
    PRIMARY KEY (account, region, action)
);
CREATE TABLE IF NOT EXISTS mpa_sessions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    arn TEXT NOT NULL UNIQUE,
    team_arn TEXT NOT NULL,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    action TEXT NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    status TEXT NOT NULL,
    initiated REAL NOT NULL,
    finished REAL,
    message TEXT,
    requester TEXT NOT NULL,
    comment TEXT
);
CREATE INDEX IF NOT EXISTS mpa_sessions_status ON mpa_sessions (status, seq);
CREATE TABLE IF NOT EXISTS mpa_votes (
    session_arn TEXT NOT NULL,
    member TEXT NOT NULL,
    vote TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (session_arn, member)
);
