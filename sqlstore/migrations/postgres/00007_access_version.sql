-- A version of what authorizes federated requests, for the store's cache
-- of grant access (grant, certificate state and peer state).
--
-- Every statement that inserts, updates, deletes or truncates grants or
-- peers moves the single counter on, in the transaction that makes the
-- change, so that an access read at one version is used only while the
-- counter still holds that version: a revocation, removal or renewal
-- committed before a request began always reaches it. The counter's row
-- lock makes such writers take turns; federated reads only read it.

-- +goose Up
CREATE TABLE access_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT  NOT NULL
);
INSERT INTO access_version (id, version) VALUES (1, 0);

-- +goose StatementBegin
CREATE FUNCTION mosaic_access_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE access_version SET version = version + 1 WHERE id = 1;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER grants_access_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON grants
    FOR EACH STATEMENT EXECUTE FUNCTION mosaic_access_changed();
CREATE TRIGGER peers_access_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON peers
    FOR EACH STATEMENT EXECUTE FUNCTION mosaic_access_changed();

-- +goose Down
DROP TRIGGER grants_access_version ON grants;
DROP TRIGGER peers_access_version ON peers;
DROP FUNCTION mosaic_access_changed();
DROP TABLE access_version;
