-- A version of what authorizes federated requests, for the store's cache
-- of grant access (grant, certificate state and peer state).
--
-- Every insert, update or delete of a grant or a peer moves the single
-- counter on, in the transaction that makes the change, so that an access
-- read at one version is used only while the counter still holds that
-- version: a revocation, removal or renewal committed before a request
-- began always reaches it. Each move also draws a random stamp, which the
-- cache compares too: should the database go back (a restored backup, a
-- failover to a replica behind) and its counter climb again to a version
-- the cache has seen, the stamp tells the two histories apart.

-- +goose Up
CREATE TABLE access_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL,
    stamp   TEXT    NOT NULL
);
INSERT INTO access_version (id, version, stamp) VALUES (1, 0, hex(randomblob(16)));

-- +goose StatementBegin
CREATE TRIGGER grants_insert_access_version AFTER INSERT ON grants
BEGIN
    UPDATE access_version SET version = version + 1, stamp = hex(randomblob(16)) WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER grants_update_access_version AFTER UPDATE ON grants
BEGIN
    UPDATE access_version SET version = version + 1, stamp = hex(randomblob(16)) WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER grants_delete_access_version AFTER DELETE ON grants
BEGIN
    UPDATE access_version SET version = version + 1, stamp = hex(randomblob(16)) WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER peers_insert_access_version AFTER INSERT ON peers
BEGIN
    UPDATE access_version SET version = version + 1, stamp = hex(randomblob(16)) WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER peers_update_access_version AFTER UPDATE ON peers
BEGIN
    UPDATE access_version SET version = version + 1, stamp = hex(randomblob(16)) WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER peers_delete_access_version AFTER DELETE ON peers
BEGIN
    UPDATE access_version SET version = version + 1, stamp = hex(randomblob(16)) WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER grants_insert_access_version;
DROP TRIGGER grants_update_access_version;
DROP TRIGGER grants_delete_access_version;
DROP TRIGGER peers_insert_access_version;
DROP TRIGGER peers_update_access_version;
DROP TRIGGER peers_delete_access_version;
DROP TABLE access_version;
