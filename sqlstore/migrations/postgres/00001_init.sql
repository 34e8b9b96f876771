-- Initial schema of the Mosaic gateway store on PostgreSQL: the tables,
-- columns and constraints of migrations/sqlite, in PostgreSQL types.
--
-- Every timestamp is a BIGINT of unix milliseconds in UTC, as on SQLite, so
-- the statements do the same integer arithmetic with the database clock on
-- both. Ids are UUIDv7 text, so ordering by id orders rows by creation.
-- Sealed columns are BYTEA holding ciphertext exactly as the caller gave it;
-- the store never sees a plaintext secret. Where SQLite needs a CHECK for a
-- 0/1 INTEGER, email_verified is a BOOLEAN; audit ids are an identity column.

-- +goose Up
CREATE TABLE users (
    id             TEXT    PRIMARY KEY,
    name           TEXT    NOT NULL,
    email          TEXT    NOT NULL UNIQUE,
    email_verified BOOLEAN NOT NULL DEFAULT FALSE,
    created_at     BIGINT  NOT NULL,
    updated_at     BIGINT  NOT NULL
);

CREATE TABLE teams (
    id         TEXT    PRIMARY KEY,
    name       TEXT    NOT NULL,
    created_at BIGINT  NOT NULL,
    updated_at BIGINT  NOT NULL
);

CREATE TABLE team_members (
    team_id    TEXT    NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT  NOT NULL,
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_by_user ON team_members (user_id, team_id);

CREATE TABLE tasks (
    id         TEXT    PRIMARY KEY,
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title      TEXT    NOT NULL,
    status     TEXT    NOT NULL CHECK (status IN ('open', 'in_progress', 'done')),
    created_at BIGINT  NOT NULL,
    updated_at BIGINT  NOT NULL
);
CREATE INDEX tasks_by_user ON tasks (user_id, id);

CREATE TABLE notes (
    id         TEXT    PRIMARY KEY,
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title      TEXT    NOT NULL,
    body       TEXT    NOT NULL,
    created_at BIGINT  NOT NULL,
    updated_at BIGINT  NOT NULL
);
CREATE INDEX notes_by_user ON notes (user_id, id);

CREATE TABLE credentials (
    id            TEXT    PRIMARY KEY,
    user_id       TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    sealed_secret BYTEA   NOT NULL,
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL
);
CREATE INDEX credentials_by_user ON credentials (user_id, id);

-- One table for both roles: inbound peers (we issued their certificate) and
-- outbound peers (they issued ours; sealed_key holds our private key).
CREATE TABLE peers (
    id               TEXT    PRIMARY KEY,
    role             TEXT    NOT NULL CHECK (role IN ('inbound', 'outbound')),
    common_name      TEXT    NOT NULL,
    display_name     TEXT    NOT NULL,
    state            TEXT    NOT NULL
                     CHECK (state IN ('pending', 'active', 'suspended', 'revoked')),
    cert_pem         TEXT    NOT NULL DEFAULT '',
    cert_serial      TEXT    NOT NULL DEFAULT '',
    cert_fingerprint TEXT    NOT NULL DEFAULT '',
    cert_not_after   BIGINT,
    endpoint_url     TEXT    NOT NULL DEFAULT '',
    cert_chain_pem   TEXT    NOT NULL DEFAULT '',
    ca_pem           TEXT    NOT NULL DEFAULT '',
    ca_pin           TEXT    NOT NULL DEFAULT '',
    sealed_key       BYTEA,
    created_at       BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL
);
CREATE INDEX peers_by_role_state ON peers (role, state);

CREATE TABLE grants (
    id             TEXT    PRIMARY KEY,
    user_id        TEXT    NOT NULL REFERENCES users (id),
    peer_id        TEXT    NOT NULL REFERENCES peers (id),
    scope          TEXT    NOT NULL,
    status         TEXT    NOT NULL
                   CHECK (status IN ('pending', 'active', 'revoked', 'expired')),
    created_at     BIGINT  NOT NULL,
    updated_at     BIGINT  NOT NULL,
    activated_at   BIGINT,
    expires_at     BIGINT,
    revoked_at     BIGINT,
    revoked_reason TEXT    NOT NULL DEFAULT '',
    cert_serial    TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX grants_by_peer_status ON grants (peer_id, status);
CREATE INDEX grants_by_status ON grants (status);
CREATE INDEX grants_by_user ON grants (user_id);

-- Enrollment tokens by hash only: the token itself is never stored.
CREATE TABLE enrollment_tokens (
    hash            TEXT    PRIMARY KEY,
    grant_id        TEXT    NOT NULL REFERENCES grants (id),
    peer_id         TEXT    NOT NULL REFERENCES peers (id),
    created_at      BIGINT  NOT NULL,
    expires_at      BIGINT  NOT NULL,
    claim_id        TEXT,
    claimed_at      BIGINT,
    used_at         BIGINT,
    issued_key_hash TEXT    NOT NULL DEFAULT '',
    issued_serial   TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX enrollment_tokens_by_grant ON enrollment_tokens (grant_id);

-- The audit log keeps ids as text without foreign keys: a denied request
-- may name a grant or peer that never existed, and the trail must outlive
-- the rows it mentions.
CREATE TABLE audit_events (
    id                BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at       BIGINT  NOT NULL,
    request_id        TEXT    NOT NULL DEFAULT '',
    peer_id           TEXT    NOT NULL DEFAULT '',
    grant_id          TEXT    NOT NULL DEFAULT '',
    subject_user_id   TEXT    NOT NULL DEFAULT '',
    verb              TEXT    NOT NULL,
    resource          TEXT    NOT NULL DEFAULT '',
    status            INTEGER NOT NULL,
    outcome           TEXT    NOT NULL CHECK (outcome IN ('allowed', 'denied')),
    reason            TEXT    NOT NULL DEFAULT '',
    row_count         INTEGER NOT NULL DEFAULT 0,
    source_addr       TEXT    NOT NULL DEFAULT '',
    token_hash_prefix TEXT    NOT NULL DEFAULT '',
    cert_serial       TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_by_peer ON audit_events (peer_id, id DESC);
CREATE INDEX audit_events_by_grant ON audit_events (grant_id, id DESC);
CREATE INDEX audit_events_by_outcome ON audit_events (outcome, id DESC);

CREATE TABLE keys (
    name       TEXT    PRIMARY KEY,
    cert_pem   TEXT    NOT NULL,
    sealed_key BYTEA   NOT NULL,
    created_at BIGINT  NOT NULL
);

CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- +goose Down
DROP TABLE settings;
DROP TABLE keys;
DROP TABLE audit_events;
DROP TABLE enrollment_tokens;
DROP TABLE grants;
DROP TABLE peers;
DROP TABLE credentials;
DROP TABLE notes;
DROP TABLE tasks;
DROP TABLE team_members;
DROP TABLE teams;
DROP TABLE users;
