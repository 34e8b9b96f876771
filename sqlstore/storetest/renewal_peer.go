package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
)

// activeOutbound inserts an outbound peer activated with a certificate
// due for renewal at renewAt.
func activeOutbound(t *testing.T, s mosaic.Store, renewAt time.Time) *mosaic.Peer {
	t.Helper()
	p := newPeer(t, s, mosaic.PeerOutbound, mosaic.PeerPending)
	serial := unique("serial")
	must(t, s.ActivateOutboundPeer(t.Context(), mosaic.OutboundActivation{
		PeerID: p.ID, CertPEM: "cert " + serial, CertChainPEM: "chain", CertSerial: serial,
		CertFingerprint: "fp", CAPEM: "ca",
		CertNotAfter: time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC),
		RenewAt:      renewAt,
		At:           time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC),
	}))
	p, err := s.FindPeer(t.Context(), p.ID)
	must(t, err)
	return p
}

// outboundRenewal returns the renewal of p's current certificate.
func outboundRenewal(p *mosaic.Peer) mosaic.OutboundRenewal {
	serial := unique("renewed")
	return mosaic.OutboundRenewal{
		PeerID: p.ID, OldSerial: p.CertSerial,
		CertPEM: "cert " + serial, CertChainPEM: "new chain", CertSerial: serial,
		CertFingerprint: serial + "-fp",
		CertNotAfter:    time.Date(2031, 2, 1, 0, 0, 0, 0, time.UTC),
		SealedKey:       []byte("sealed " + serial),
		NextAt:          time.Date(2031, 1, 20, 0, 0, 0, 0, time.UTC),
		At:              time.Date(2030, 12, 1, 0, 0, 0, 0, time.UTC),
	}
}

func testRenewOutboundPeer(t *testing.T, s mosaic.Store) {
	ctx := t.Context()
	renewAt := time.Date(2030, 9, 1, 0, 0, 0, 0, time.UTC)
	p := activeOutbound(t, s, renewAt)
	if p.RenewNextAt == nil || p.RenewFailures != 0 || p.RenewLastError != "" {
		t.Fatalf("activated peer renewal state = %v %d %q", p.RenewNextAt, p.RenewFailures,
			p.RenewLastError)
	}
	sameTime(t, "RenewNextAt", *p.RenewNextAt, renewAt)

	// A failure is counted, with its error and next attempt.
	must(t, s.LeaseRenewal(ctx, p.ID, p.CertSerial, 0, time.Minute))
	next := time.Date(2030, 9, 1, 0, 1, 0, 0, time.UTC)
	must(t, s.RecordRenewalFailure(ctx, mosaic.RenewalFailure{
		PeerID: p.ID, Serial: p.CertSerial, Error: "peer_unreachable: no answer",
		NextAt: next, At: next.Add(-time.Minute),
	}))
	got, err := s.FindPeer(ctx, p.ID)
	must(t, err)
	if got.RenewFailures != 1 || got.RenewLastError != "peer_unreachable: no answer" ||
		got.CertSerial != p.CertSerial {
		t.Fatalf("peer after a failure = %+v", got)
	}
	sameTime(t, "RenewNextAt", *got.RenewNextAt, next)
	listed, err := s.ListPeers(ctx, mosaic.PeerFilter{Role: mosaic.PeerOutbound})
	must(t, err)
	for _, l := range listed {
		if l.ID == p.ID && (l.RenewFailures != 1 || l.RenewNextAt == nil || l.SealedKey != nil) {
			t.Fatalf("listed peer = %+v", l)
		}
	}

	// The renewal stores everything and clears the failures.
	must(t, s.LeaseRenewal(ctx, p.ID, p.CertSerial, 1, time.Minute))
	r := outboundRenewal(p)
	must(t, s.RenewOutboundPeer(ctx, r))
	got, err = s.FindPeer(ctx, p.ID)
	must(t, err)
	if got.CertSerial != r.CertSerial || got.CertPEM != r.CertPEM ||
		got.CertChainPEM != r.CertChainPEM || got.CertFingerprint != r.CertFingerprint ||
		string(got.SealedKey) != string(r.SealedKey) || got.RenewFailures != 0 ||
		got.RenewLastError != "" || got.CAPEM != "ca" || got.State != mosaic.PeerActive {
		t.Fatalf("peer after renewal = %+v", got)
	}
	sameTime(t, "CertNotAfter", *got.CertNotAfter, r.CertNotAfter)
	sameTime(t, "RenewNextAt", *got.RenewNextAt, r.NextAt)
	// The lease went with it.
	must(t, s.LeaseRenewal(ctx, p.ID, r.CertSerial, 0, time.Minute))

	// The old certificate is gone: neither a second renewal nor a failure
	// of it changes anything.
	wantErr(t, s.RenewOutboundPeer(ctx, outboundRenewal(p)), mosaic.KindConflict,
		"certificate_replaced")
	wantErr(t, s.RecordRenewalFailure(ctx, mosaic.RenewalFailure{
		PeerID: p.ID, Serial: p.CertSerial, Error: "late", NextAt: next,
	}), mosaic.KindConflict, "certificate_replaced")
	after, err := s.FindPeer(ctx, p.ID)
	must(t, err)
	if after.CertSerial != r.CertSerial || after.RenewFailures != 0 {
		t.Fatalf("refused changes changed the peer: %+v", after)
	}
	wantErr(t, s.RenewOutboundPeer(ctx, mosaic.OutboundRenewal{
		PeerID: mosaic.NewID(), OldSerial: "01", CertNotAfter: r.CertNotAfter,
		SealedKey: []byte("k"),
	}), mosaic.KindNotFound, "peer_not_found")
}

func testLeaseRenewal(t *testing.T, s mosaic.Store) {
	ctx := t.Context()
	p := activeOutbound(t, s, time.Time{})
	if p.RenewNextAt != nil {
		t.Fatalf("RenewNextAt = %v without a renewal time", p.RenewNextAt)
	}
	inbound := newPeer(t, s, mosaic.PeerInbound, mosaic.PeerActive)
	pending := newPeer(t, s, mosaic.PeerOutbound, mosaic.PeerPending)
	inUse := mosaic.KindConflict
	wantErr(t, s.LeaseRenewal(ctx, p.ID, "other", 0, time.Minute), inUse, "renewal_in_progress")
	wantErr(t, s.LeaseRenewal(ctx, p.ID, p.CertSerial, 3, time.Minute), inUse, "renewal_in_progress")
	wantErr(t, s.LeaseRenewal(ctx, inbound.ID, "01", 0, time.Minute), inUse, "renewal_in_progress")
	wantErr(t, s.LeaseRenewal(ctx, pending.ID, "01", 0, time.Minute), inUse, "renewal_in_progress")
	wantErr(t, s.LeaseRenewal(ctx, mosaic.NewID(), "01", 0, time.Minute),
		mosaic.KindNotFound, "peer_not_found")

	// The lease ends by the database clock.
	must(t, s.LeaseRenewal(ctx, p.ID, p.CertSerial, 0, 300*time.Millisecond))
	wantErr(t, s.LeaseRenewal(ctx, p.ID, p.CertSerial, 0, time.Minute), inUse,
		"renewal_in_progress")
	time.Sleep(400 * time.Millisecond)
	must(t, s.LeaseRenewal(ctx, p.ID, p.CertSerial, 0, time.Minute))

	// Of concurrent callers exactly one gets the lease.
	q := activeOutbound(t, s, time.Time{})
	const n = 10
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.LeaseRenewal(t.Context(), q.ID, q.CertSerial, 0, time.Minute)
		}()
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !mosaic.IsKind(err, mosaic.KindConflict) && !mosaic.IsKind(err, mosaic.KindUnavailable):
			t.Fatalf("lease %d: %v", i, err)
		}
	}
	if won != 1 {
		t.Fatalf("%d callers got the lease, want 1", won)
	}
}
