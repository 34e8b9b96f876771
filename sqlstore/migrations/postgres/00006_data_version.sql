-- A version of the data federated pages show, for the store's page cache.
--
-- Every statement that inserts, updates, deletes or truncates users,
-- teams, team memberships, tasks, notes or credentials moves the single
-- counter on, in the transaction that makes the change, so that a cached
-- page read at one version is served only while the counter still holds
-- that version: a change committed before a read began always reaches it.
-- Each move also draws a random stamp, which the cache compares too, so
-- that a database that went back (a restored backup) and counted up again
-- is not taken for the one the cache read. The counter's row lock makes
-- such writers take turns; they are the admin's, not the federated reads'.

-- +goose Up
CREATE TABLE data_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT  NOT NULL,
    stamp   TEXT    NOT NULL
);
INSERT INTO data_version (id, version, stamp) VALUES (1, 0, gen_random_uuid()::text);

-- +goose StatementBegin
CREATE FUNCTION mosaic_data_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE data_version SET version = version + 1, stamp = gen_random_uuid()::text WHERE id = 1;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER users_data_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION mosaic_data_changed();
CREATE TRIGGER teams_data_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON teams
    FOR EACH STATEMENT EXECUTE FUNCTION mosaic_data_changed();
CREATE TRIGGER team_members_data_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON team_members
    FOR EACH STATEMENT EXECUTE FUNCTION mosaic_data_changed();
CREATE TRIGGER tasks_data_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON tasks
    FOR EACH STATEMENT EXECUTE FUNCTION mosaic_data_changed();
CREATE TRIGGER notes_data_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON notes
    FOR EACH STATEMENT EXECUTE FUNCTION mosaic_data_changed();
CREATE TRIGGER credentials_data_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON credentials
    FOR EACH STATEMENT EXECUTE FUNCTION mosaic_data_changed();

-- +goose Down
DROP TRIGGER users_data_version ON users;
DROP TRIGGER teams_data_version ON teams;
DROP TRIGGER team_members_data_version ON team_members;
DROP TRIGGER tasks_data_version ON tasks;
DROP TRIGGER notes_data_version ON notes;
DROP TRIGGER credentials_data_version ON credentials;
DROP FUNCTION mosaic_data_changed();
DROP TABLE data_version;
