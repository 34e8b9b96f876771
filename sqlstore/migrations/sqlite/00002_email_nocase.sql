-- Emails are compared without regard to case: the gateway stores them in
-- lower case, and this index refuses a second address that differs from an
-- existing one only in the case of its ASCII letters, whoever wrote it.
--
-- A database that already holds two such addresses cannot take the index:
-- the migration fails, naming the index, and the gateway does not
-- start until one of the two users is changed by hand.

-- +goose Up
CREATE UNIQUE INDEX users_email_lower ON users (lower(email));

-- +goose Down
DROP INDEX users_email_lower;
