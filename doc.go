// Package mosaic holds the domain of the Mosaic federation gateway: the types
// that describe users and their data, peers, grants, enrollment tokens and
// audit events, the rules that apply to them, and the interfaces between the
// parts of the gateway (storage, certificate authority, sealing).
//
// Packages below the root implement those interfaces against one outside
// thing each: sqlstore (SQL databases), seal (encryption at rest), pki (X.509
// identity), ca/embedded (the built-in certificate authority), federation
// (the enrollment and read flows), httpapi (the REST APIs), remote (calls to
// another gateway), gateway (assembly of a running server) and cli (the
// mosaic command). The cmd/mosaic program only wires them together.
package mosaic
