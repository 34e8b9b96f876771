-- A version of the data federated pages show, for the store's page cache.
--
-- Every insert, update or delete of a user, team, team membership, task,
-- note or credential moves the single counter on, in the transaction that
-- makes the change, so that a cached page read at one version is served
-- only while the counter still holds that version: a change committed
-- before a read began always reaches it. Each move also draws a random
-- stamp, which the cache compares too, so that a database that went back
-- (a restored backup) and counted up again is not taken for the one the
-- cache read.

-- +goose Up
CREATE TABLE data_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL,
    stamp   TEXT    NOT NULL
);
INSERT INTO data_version (id, version, stamp) VALUES (1, 0, hex(randomblob(16)));

-- +goose StatementBegin
CREATE TRIGGER users_insert_data_version AFTER INSERT ON users
BEGIN
    UPDATE data_version SET version = version + 1, stamp = hex(randomblob(16)) WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER users_update_data_version AFTER UPDATE ON users
BEGIN
    UPDATE data_version SET version = version + 1, stamp = hex(randomblob(16)) WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER users_delete_data_version AFTER DELETE ON users
BEGIN
    UPDATE data_version SET version = version + 1, stamp = hex(randomblob(16)) WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER teams_insert_data_version AFTER INSERT ON teams
BEGIN
    UPDATE data_version SET version = version + 1, stamp = hex(randomblob(16)) WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER teams_update_data_version AFTER UPDATE ON teams
BEGIN
    UPDATE data_version SET version = version + 1, stamp = hex(randomblob(16)) WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER teams_delete_data_version AFTER DELETE ON teams
BEGIN
    UPDATE data_version SET version = version + 1, stamp = hex(randomblob(16)) WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER team_members_insert_data_version AFTER INSERT ON team_members
BEGIN
    UPDATE data_version SET version = version + 1, stamp = hex(randomblob(16)) WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER team_members_update_data_version AFTER UPDATE ON team_members
BEGIN
    UPDATE data_version SET version = version + 1, stamp = hex(randomblob(16)) WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER team_members_delete_data_version AFTER DELETE ON team_members
BEGIN
    UPDATE data_version SET version = version + 1, stamp = hex(randomblob(16)) WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER tasks_insert_data_version AFTER INSERT ON tasks
BEGIN
    UPDATE data_version SET version = version + 1, stamp = hex(randomblob(16)) WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER tasks_update_data_version AFTER UPDATE ON tasks
BEGIN
    UPDATE data_version SET version = version + 1, stamp = hex(randomblob(16)) WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER tasks_delete_data_version AFTER DELETE ON tasks
BEGIN
    UPDATE data_version SET version = version + 1, stamp = hex(randomblob(16)) WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER notes_insert_data_version AFTER INSERT ON notes
BEGIN
    UPDATE data_version SET version = version + 1, stamp = hex(randomblob(16)) WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER notes_update_data_version AFTER UPDATE ON notes
BEGIN
    UPDATE data_version SET version = version + 1, stamp = hex(randomblob(16)) WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER notes_delete_data_version AFTER DELETE ON notes
BEGIN
    UPDATE data_version SET version = version + 1, stamp = hex(randomblob(16)) WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER credentials_insert_data_version AFTER INSERT ON credentials
BEGIN
    UPDATE data_version SET version = version + 1, stamp = hex(randomblob(16)) WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER credentials_update_data_version AFTER UPDATE ON credentials
BEGIN
    UPDATE data_version SET version = version + 1, stamp = hex(randomblob(16)) WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER credentials_delete_data_version AFTER DELETE ON credentials
BEGIN
    UPDATE data_version SET version = version + 1, stamp = hex(randomblob(16)) WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER users_insert_data_version;
DROP TRIGGER users_update_data_version;
DROP TRIGGER users_delete_data_version;
DROP TRIGGER teams_insert_data_version;
DROP TRIGGER teams_update_data_version;
DROP TRIGGER teams_delete_data_version;
DROP TRIGGER team_members_insert_data_version;
DROP TRIGGER team_members_update_data_version;
DROP TRIGGER team_members_delete_data_version;
DROP TRIGGER tasks_insert_data_version;
DROP TRIGGER tasks_update_data_version;
DROP TRIGGER tasks_delete_data_version;
DROP TRIGGER notes_insert_data_version;
DROP TRIGGER notes_update_data_version;
DROP TRIGGER notes_delete_data_version;
DROP TRIGGER credentials_insert_data_version;
DROP TRIGGER credentials_update_data_version;
DROP TRIGGER credentials_delete_data_version;
DROP TABLE data_version;
