-- A version of what authorizes federated requests, for the store's cache
-- of grant access (grant, certificate state and peer state).
--
-- Every insert, update or delete of a grant or a peer, and every
-- truncation of either table, moves the single counter on, in the
-- transaction that makes the change (at its commit), so that an access
-- read at one version is used only while the counter still holds that
-- version: a revocation, removal or renewal committed before a request
-- began always reaches it. Each move also draws a random stamp, which the
-- cache compares too: should the database go back (a restored backup, a
-- failover to a replica behind) and its counter climb again to a version
-- the cache has seen, the stamp tells the two histories apart. The
-- counter's row lock makes such writers take turns at their commits;
-- federated reads only read it.

-- +goose Up
CREATE TABLE access_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT  NOT NULL,
    stamp   TEXT    NOT NULL
);
INSERT INTO access_version (id, version, stamp) VALUES (1, 0, gen_random_uuid()::text);

-- +goose StatementBegin
-- Once per transaction: the first change's trigger moves the counter on
-- and says so in a setting that ends with the transaction, so that a
-- statement changing many rows does not update the counter row as often.
CREATE FUNCTION mosaic_access_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('mosaic.access_changed', true) IS DISTINCT FROM 'yes' THEN
        UPDATE access_version SET version = version + 1, stamp = gen_random_uuid()::text
            WHERE id = 1;
        PERFORM set_config('mosaic.access_changed', 'yes', true);
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- Deferred to the commit, so that the counter's row is locked for the
-- commit only, not from a transaction's first change to its end.
CREATE CONSTRAINT TRIGGER grants_access_version AFTER INSERT OR UPDATE OR DELETE ON grants
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION mosaic_access_changed();
CREATE CONSTRAINT TRIGGER peers_access_version AFTER INSERT OR UPDATE OR DELETE ON peers
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION mosaic_access_changed();
CREATE TRIGGER grants_truncate_access_version AFTER TRUNCATE ON grants
    FOR EACH STATEMENT EXECUTE FUNCTION mosaic_access_changed();
CREATE TRIGGER peers_truncate_access_version AFTER TRUNCATE ON peers
    FOR EACH STATEMENT EXECUTE FUNCTION mosaic_access_changed();

-- +goose Down
DROP TRIGGER grants_access_version ON grants;
DROP TRIGGER peers_access_version ON peers;
DROP TRIGGER grants_truncate_access_version ON grants;
DROP TRIGGER peers_truncate_access_version ON peers;
DROP FUNCTION mosaic_access_changed();
DROP TABLE access_version;
