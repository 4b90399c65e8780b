-- The master keys this store's blocks are sealed under, by version and check value (never the
-- key): a node whose vault holds another key refuses to start (vault/agreement.py).
CREATE TABLE master_keys (
    version INTEGER PRIMARY KEY,
    key_id TEXT NOT NULL,
    recorded DOUBLE PRECISION NOT NULL
);
-- The feed of block_changes now names every key whose record changed (state, deletion, a re-seal):
-- each insert is announced, at commit, to the nodes listening on the channel (store/postgres_listen.py),
-- which forget what they cached of the key at once instead of at their next poll of the feed.
CREATE FUNCTION paycrypt_announce_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('paycrypt_changes', NEW.seq::text);
    RETURN NULL;
END
$$;
CREATE TRIGGER block_changes_announced AFTER INSERT ON block_changes
    FOR EACH ROW EXECUTE FUNCTION paycrypt_announce_change();
