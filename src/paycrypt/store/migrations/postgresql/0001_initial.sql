-- Everything the SQLite store holds (migrations/sqlite/0001_initial.sql), table for table.
CREATE TABLE keys (
    seq BIGSERIAL PRIMARY KEY,
    arn TEXT NOT NULL UNIQUE,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    key_state TEXT NOT NULL,
    delete_pending DOUBLE PRECISION,
    meta TEXT NOT NULL,
    key_block TEXT NOT NULL
);
CREATE INDEX keys_owner ON keys (account, region, seq);
CREATE INDEX keys_purge ON keys (delete_pending) WHERE delete_pending IS NOT NULL;
CREATE TABLE aliases (
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    alias_name TEXT NOT NULL,
    key_arn TEXT,
    PRIMARY KEY (account, region, alias_name)
);
CREATE INDEX aliases_key ON aliases (key_arn);
CREATE TABLE exchange_keys (
    seq BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    kind TEXT NOT NULL,
    expires DOUBLE PRECISION,
    meta TEXT NOT NULL,
    key_block TEXT NOT NULL
);
CREATE INDEX exchange_keys_kind ON exchange_keys (account, region, kind, seq);
CREATE TABLE tags (
    arn TEXT NOT NULL,
    position INTEGER NOT NULL,
    tag_key TEXT NOT NULL,
    tag_value TEXT NOT NULL,
    PRIMARY KEY (arn, tag_key)
);
CREATE TABLE replication_defaults (
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    regions TEXT NOT NULL,
    PRIMARY KEY (account, region)
);
CREATE TABLE replication_jobs (
    seq BIGSERIAL PRIMARY KEY,
    primary_arn TEXT NOT NULL,
    region TEXT NOT NULL,
    action TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt DOUBLE PRECISION NOT NULL,
    UNIQUE (primary_arn, region)
);
CREATE INDEX replication_jobs_due ON replication_jobs (next_attempt, seq);
CREATE TABLE resource_policies (
    arn TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    policy TEXT NOT NULL
);
CREATE TABLE mpa_teams (
    arn TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    approvals_required INTEGER NOT NULL,
    created DOUBLE PRECISION NOT NULL
);
CREATE TABLE mpa_members (
    team_arn TEXT NOT NULL,
    member TEXT NOT NULL,
    PRIMARY KEY (team_arn, member)
);
CREATE TABLE mpa_associations (
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    action TEXT NOT NULL,
    team_arn TEXT NOT NULL,
    state TEXT NOT NULL,
    pending_team_arn TEXT,
    session_arn TEXT,
    PRIMARY KEY (account, region, action)
);
CREATE TABLE mpa_sessions (
    seq BIGSERIAL PRIMARY KEY,
    arn TEXT NOT NULL UNIQUE,
    team_arn TEXT NOT NULL,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    action TEXT NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    status TEXT NOT NULL,
    initiated DOUBLE PRECISION NOT NULL,
    finished DOUBLE PRECISION,
    message TEXT,
    requester TEXT NOT NULL,
    comment TEXT
);
CREATE INDEX mpa_sessions_status ON mpa_sessions (status, seq);
CREATE TABLE mpa_votes (
    session_arn TEXT NOT NULL,
    member TEXT NOT NULL,
    vote TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (session_arn, member)
);
