// Package pki holds the gateway's X.509 rules: how a peer's identity is
// written into and read out of a certificate, which certificate signing
// requests are acceptable, how an issued or received certificate is checked,
// and the small encodings (pins, fingerprints, serials, PEM) the other
// packages share. Every CA backend and both sides of an enrollment use the
// same functions, so a rule lives in exactly one place.
package pki
