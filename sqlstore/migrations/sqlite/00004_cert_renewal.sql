-- Certificate renewal.
--
-- On the grantor's side a grant keeps the notAfter of its current
-- certificate (so that an expired one can be replaced by re-enrollment)
-- and, after a renewal, the serial of the certificate it replaced, which
-- stays accepted until prev_serial_until (unix milliseconds): the overlap
-- that lets the peer switch to its new certificate.
--
-- On the peer's side an outbound peer keeps the state of the renewal of
-- our certificate: when the next attempt is due, how many attempts failed
-- since the last success and why the last one failed, and a lease that
-- lets one replica at a time renew it.
--
-- A grant activated before this migration takes the notAfter of its
-- peer's certificate when that certificate is the grant's.

-- +goose Up
ALTER TABLE grants ADD COLUMN cert_not_after INTEGER;
ALTER TABLE grants ADD COLUMN prev_cert_serial TEXT NOT NULL DEFAULT '';
ALTER TABLE grants ADD COLUMN prev_serial_until INTEGER;
UPDATE grants SET cert_not_after = (
    SELECT p.cert_not_after FROM peers p
    WHERE p.id = grants.peer_id AND p.cert_serial = grants.cert_serial)
WHERE cert_serial <> '';

ALTER TABLE peers ADD COLUMN renew_next_at INTEGER;
ALTER TABLE peers ADD COLUMN renew_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE peers ADD COLUMN renew_last_error TEXT NOT NULL DEFAULT '';
ALTER TABLE peers ADD COLUMN renew_lease_until INTEGER;

-- +goose Down
ALTER TABLE peers DROP COLUMN renew_lease_until;
ALTER TABLE peers DROP COLUMN renew_last_error;
ALTER TABLE peers DROP COLUMN renew_failures;
ALTER TABLE peers DROP COLUMN renew_next_at;
ALTER TABLE grants DROP COLUMN prev_serial_until;
ALTER TABLE grants DROP COLUMN prev_cert_serial;
ALTER TABLE grants DROP COLUMN cert_not_after;
