-- Keys and aliases per account and region, kept by the writes that change them: the quota check
-- of a create reads (and, on PostgreSQL, locks) one row instead of counting every key.
CREATE TABLE quota_counts (
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    keys BIGINT NOT NULL DEFAULT 0,
    aliases BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (account, region)
);
INSERT INTO quota_counts (account, region, keys, aliases)
SELECT account, region, SUM(k), SUM(a) FROM (
    SELECT account, region, 1 AS k, 0 AS a FROM keys
    UNION ALL
    SELECT account, region, 0, 1 FROM aliases
) AS counted GROUP BY account, region;
