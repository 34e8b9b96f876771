// Package remote makes the calls one gateway, or the mosaic CLI, sends to
// another gateway's federation API: fetching its CA and checking it against
// a pin, enrolling with an enrollment URL, and reading resources and
// renewing our certificate over mutual TLS. Nothing here trusts the system
// roots: every verified connection is anchored in a CA that was pinned at
// enrollment.
package remote

import "time"

// Federation API paths on the remote gateway.
const (
	caPath           = "/api/federation/ca"
	enrollPathPrefix = "/api/federation/enrollment/"
	readPathPrefix   = "/api/federation/v1/"
	renewPath        = "/api/federation/v1/renew"
)

// Limits of every call. A remote gateway is not trusted to answer quickly or
// briefly, so each answer is bounded in time and size.
const (
	// maxSmallBody caps the CA bundle, enrollment answers and error bodies.
	maxSmallBody = 1 << 20
	// maxQueryBody caps a federated read answer. A page of the largest
	// resources at the highest row cap can in theory exceed it; such a page
	// is refused as too large rather than read without bound.
	maxQueryBody = 64 << 20

	dialTimeout           = 10 * time.Second
	tlsHandshakeTimeout   = 10 * time.Second
	responseHeaderTimeout = 30 * time.Second
	idleConnTimeout       = 90 * time.Second
	enrollTimeout         = 60 * time.Second
	queryTimeout          = 60 * time.Second
	renewTimeout          = 60 * time.Second
)
