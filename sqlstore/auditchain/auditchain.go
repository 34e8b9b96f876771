// Package auditchain is the hash chain that makes the audit log
// tamper-evident. Every audit row carries the hash of the row before it
// (prev_hash; empty for the first row) and its own hash: the SHA-256 of a
// canonical encoding of that previous hash, its id and every field of its
// event. Altering a row breaks its own hash; deleting, inserting or
// reordering rows breaks the next row's link to its predecessor.
//
// The encoding (version 1) is the bytes of Domain followed by each value
// in this order, every value as 8 bytes of big-endian length and then its
// bytes for text, or as 8 bytes of big-endian two's complement for an
// integer:
//
//	prev_hash (text: lower-case hex, "" for the first row)
//	id (integer)
//	time (integer: unix milliseconds, as stored)
//	request_id, peer_id, grant_id, subject_user_id, verb, resource (text)
//	status (integer)
//	outcome, reason (text)
//	rows (integer)
//	source_addr, token_hash_prefix, cert_serial (text)
//
// The hash is stored as lower-case hex. The chain has no secret key: it
// shows that rows were not changed after the fact to whoever holds a head
// hash from earlier (an export kept elsewhere, such as in a SIEM), since a
// writer with full access to the database could recompute every hash. On
// its own it does not reveal rows cut from the end of the log; comparing
// the head with an exported one does.
package auditchain

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"time"

	"github.com/mosaicgw/mosaic"
)

// Domain opens every encoded row, so that a hash of the chain can never be
// taken for the hash of anything else.
const Domain = "mosaic-audit-chain-v1\n"

// Record is one audit event as stored, with its place in the chain. Its
// JSON form is the event's with prevHash and hash added.
type Record struct {
	mosaic.AuditEvent
	// PrevHash is the hash of the row before, "" for the first row.
	PrevHash string `json:"prevHash"`
	// Hash is the row's own hash, "" for a row outside the chain.
	Hash string `json:"hash"`
}

// Query selects one batch of records, in id order.
type Query struct {
	// After keeps rows whose id is greater; zero starts at the first row.
	After int64
	// Since, when not zero, keeps only rows whose time is at or after it.
	Since time.Time
	// Limit is the batch size, at least 1.
	Limit int
}

// Hash returns the hex hash of ev linked after a row whose hash is prev.
// ev.Time counts in whole milliseconds, as the store keeps it.
func Hash(prev string, ev *mosaic.AuditEvent) string {
	var buf []byte
	return hashInto(&buf, prev, ev)
}

// hashInto is Hash encoding into *buf, which it grows and keeps for the
// next call.
func hashInto(buf *[]byte, prev string, ev *mosaic.AuditEvent) string {
	b := append((*buf)[:0], Domain...)
	b = appendText(b, prev)
	b = appendInt(b, ev.ID)
	b = appendInt(b, ev.Time.UnixMilli())
	for _, s := range []string{ev.RequestID, ev.PeerID, ev.GrantID, ev.SubjectUserID,
		ev.Verb, ev.Resource} {
		b = appendText(b, s)
	}
	b = appendInt(b, int64(ev.Status))
	b = appendText(b, string(ev.Outcome))
	b = appendText(b, ev.Reason)
	b = appendInt(b, int64(ev.Rows))
	for _, s := range []string{ev.SourceAddr, ev.TokenHashPrefix, ev.CertSerial} {
		b = appendText(b, s)
	}
	*buf = b
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// appendText appends s with its length in front.
func appendText(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(len(s)))
	return append(b, s...)
}

// appendInt appends n in 8 bytes.
func appendInt(b []byte, n int64) []byte {
	return binary.BigEndian.AppendUint64(b, uint64(n))
}
