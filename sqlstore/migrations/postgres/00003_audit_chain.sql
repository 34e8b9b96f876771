-- The audit log becomes a hash chain (see package sqlstore/auditchain):
-- every row keeps the hash of the row before it and its own, as
-- lower-case hex. The genesis row's prev_hash is the empty string.
--
-- Both columns are NULL for rows written before this migration. SQL alone
-- cannot compute the hashes, so the store chains those rows itself, in id
-- order, the first time it opens the database after migrating: in one
-- transaction under the chain's advisory lock, and only while no row has
-- a hash yet. From then on every row is written with its hash, and a row
-- without one is a break that verification reports.

-- +goose Up
ALTER TABLE audit_events ADD COLUMN prev_hash TEXT, ADD COLUMN hash TEXT;

-- +goose Down
ALTER TABLE audit_events DROP COLUMN hash, DROP COLUMN prev_hash;
