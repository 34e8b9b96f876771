-- Re-enrollment tokens name the certificate they replace.
--
-- A token issued for an active grant whose certificate has expired records
-- that certificate's serial; redeeming it may replace that certificate and
-- no other. A token issued for a pending grant records none and can only
-- activate it: once the grant is active it is refused, even after the
-- certificate expires.
--
-- An unused token of an active grant made before this migration is taken
-- to be for the grant's current certificate, so that a re-enrollment under
-- way across the upgrade still works.

-- +goose Up
ALTER TABLE enrollment_tokens ADD COLUMN replaces_serial TEXT NOT NULL DEFAULT '';
UPDATE enrollment_tokens SET replaces_serial = (
    SELECT g.cert_serial FROM grants g WHERE g.id = enrollment_tokens.grant_id)
WHERE used_at IS NULL AND EXISTS (
    SELECT 1 FROM grants g
    WHERE g.id = enrollment_tokens.grant_id AND g.status = 'active' AND g.cert_serial <> '');

-- +goose Down
ALTER TABLE enrollment_tokens DROP COLUMN replaces_serial;
