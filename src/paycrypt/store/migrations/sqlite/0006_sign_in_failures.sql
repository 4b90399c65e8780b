-- Failed console sign-ins (console/signin.py), by what was claimed ("key:AKID") and where from
-- ("ip:ADDRESS"), so that the limit holds for every worker sharing this file. Times are seconds since
-- the epoch on this machine's clock; rows older than the window are removed as new ones come.
CREATE TABLE sign_in_failures (
    name TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX sign_in_failures_by_name ON sign_in_failures (name, at);
CREATE INDEX sign_in_failures_by_time ON sign_in_failures (at);
