package federation_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/ca/embedded"
	"github.com/mosaicgw/mosaic/federation"
	"github.com/mosaicgw/mosaic/federation/fedtest"
	"github.com/mosaicgw/mosaic/pki"
	"github.com/mosaicgw/mosaic/seal"
	"github.com/mosaicgw/mosaic/sqlstore"
	"github.com/mosaicgw/mosaic/sqlstore/storetest"
)

// replicas are two gateway processes on one database, on one clock the
// test moves: a writes, b (and a) serve reads.
type replicas struct {
	a, b  *federation.Service
	clock *clock
	ada   *mosaic.User
}

// newReplica opens a store with open and builds a service on it.
func newReplica(t *testing.T, open func() (*sqlstore.DB, error), c *clock) *federation.Service {
	t.Helper()
	ctx := context.Background()
	store, err := open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	sealer, err := seal.New(bytes.Repeat([]byte("test-secret-"), 4))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := embedded.Load(ctx, store, sealer, embedded.Options{Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	return federation.New(federation.Config{
		Store: store, CA: ca, Sealer: sealer, Now: c.now,
		PublicURL: "https://127.0.0.1:8443", CAPin: ca.Pin(), CAPEM: pki.EncodeCerts(ca.Root()),
	})
}

// runReplicas runs fn on two replicas of a SQLite file and of a
// PostgreSQL database, each with a user who has a task.
func runReplicas(t *testing.T, fn func(t *testing.T, r *replicas)) {
	opens := map[string]func(t *testing.T) func() (*sqlstore.DB, error){
		"SQLite": func(t *testing.T) func() (*sqlstore.DB, error) {
			path := filepath.Join(t.TempDir(), "mosaic.db")
			return func() (*sqlstore.DB, error) {
				return sqlstore.OpenSQLite(context.Background(), path)
			}
		},
		"Postgres": func(t *testing.T) func() (*sqlstore.DB, error) {
			url := storetest.PostgresURL(t)
			return func() (*sqlstore.DB, error) {
				return sqlstore.OpenPostgres(context.Background(), url)
			}
		},
	}
	for name, open := range opens {
		t.Run(name, func(t *testing.T) {
			o := open(t)
			r := &replicas{clock: &clock{}}
			r.a = newReplica(t, o, r.clock)
			r.b = newReplica(t, o, r.clock)
			u, err := r.a.CreateUser(context.Background(), mosaic.User{Name: "Ada",
				Email: mosaic.NewID() + "@example.com"})
			if err != nil {
				t.Fatal(err)
			}
			r.ada = u
			if _, err := r.a.CreateTask(context.Background(),
				mosaic.Task{UserID: u.ID, Title: "t"}); err != nil {
				t.Fatal(err)
			}
			fn(t, r)
		})
	}
}

// enroll creates a grant of Ada's tasks through a and enrolls a peer for
// it.
func (r *replicas) enroll(t *testing.T, expires *time.Time) *fedtest.Enrollment {
	t.Helper()
	ctx := context.Background()
	gr, err := r.a.CreateGrant(ctx, federation.GrantInput{UserID: r.ada.ID,
		PeerName: "Peer", Scope: fedtest.Scope(5, "tasks"), ExpiresAt: expires})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := r.a.IssueToken(ctx, gr.ID, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	key, csr := fedtest.NewCSR(t)
	out, err := r.a.Redeem(ctx, federation.RedeemInput{Token: tok.Token.Reveal(), CSRPEM: csr,
		Source: source, RequestID: "enroll"})
	if err != nil {
		t.Fatal(err)
	}
	certs, err := pki.ParseCerts(out.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	return &fedtest.Enrollment{Grant: gr, Key: key, Enrolled: out, Leaf: certs[0]}
}

// readOn reads Ada's tasks through svc presenting certs.
func readOn(svc *federation.Service, certs []*x509.Certificate) error {
	_, err := svc.ReadFederated(context.Background(), federation.FederatedRequest{
		Certs: certs, Resource: "tasks", Source: source, RequestID: "req-" + mosaic.NewID(),
	})
	return err
}

// underReads runs change while readers read with certs through both
// replicas without a pause, and fails the test if a read that began after
// change returned was allowed, or if one refused is not refused with
// code.
func underReads(t *testing.T, r *replicas, certs []*x509.Certificate, code string,
	change func()) {
	t.Helper()
	var done atomic.Bool
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var allowed, wrong atomic.Int64
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				after := done.Load()
				for _, svc := range []*federation.Service{r.b, r.a} {
					err := readOn(svc, certs)
					switch {
					case err == nil && after:
						allowed.Add(1)
					case err != nil && mosaic.ErrorCode(err) != code:
						wrong.Add(1)
					}
				}
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	change()
	done.Store(true)
	time.Sleep(150 * time.Millisecond)
	close(stop)
	wg.Wait()
	if n := allowed.Load(); n != 0 {
		t.Fatalf("%d reads allowed after the change returned", n)
	}
	if n := wrong.Load(); n != 0 {
		t.Fatalf("%d reads refused with another code than %s", n, code)
	}
	for _, svc := range []*federation.Service{r.b, r.a} {
		wantCode(t, readOn(svc, certs), 403, code)
	}
}

func TestHostileReplicaRevoke(t *testing.T) {
	runReplicas(t, func(t *testing.T, r *replicas) {
		e, other := r.enroll(t, nil), r.enroll(t, nil)
		underReads(t, r, e.Chain(t), "grant_not_active", func() {
			if _, err := r.a.Revoke(context.Background(), e.Grant.ID, "stop"); err != nil {
				t.Error(err)
			}
		})
		if err := readOn(r.b, other.Chain(t)); err != nil {
			t.Fatalf("another grant: %v", err)
		}
	})
}

func TestHostileReplicaRemovePeer(t *testing.T) {
	runReplicas(t, func(t *testing.T, r *replicas) {
		e := r.enroll(t, nil)
		underReads(t, r, e.Chain(t), "grant_not_active", func() {
			if _, err := r.a.RemovePeer(context.Background(), e.Grant.PeerID, "gone"); err != nil {
				t.Error(err)
			}
		})
	})
}

// TestHostileReplicaRenewal renews through one replica: the other accepts
// the new certificate at once, the old one during the overlap, and
// refuses the old one once the overlap passes, with nothing written.
func TestHostileReplicaRenewal(t *testing.T) {
	runReplicas(t, func(t *testing.T, r *replicas) {
		old := r.enroll(t, nil)
		for _, svc := range []*federation.Service{r.a, r.b} {
			if err := readOn(svc, old.Chain(t)); err != nil {
				t.Fatal(err)
			}
		}
		key, csr := fedtest.NewCSR(t)
		out, err := r.a.Renew(context.Background(), federation.RenewInput{Certs: old.Chain(t),
			CSRPEM: csr, Source: source, RequestID: "renew"})
		if err != nil {
			t.Fatal(err)
		}
		nu := renewed(t, old.Grant, key, out)
		for i, svc := range []*federation.Service{r.b, r.a} {
			if err := readOn(svc, nu.Chain(t)); err != nil {
				t.Fatalf("replica %d: the renewed certificate right after the renewal: %v", i, err)
			}
			if err := readOn(svc, old.Chain(t)); err != nil {
				t.Fatalf("replica %d: the old certificate in the overlap: %v", i, err)
			}
		}
		r.clock.advance(federation.DefaultRenewOverlap + time.Second)
		for _, svc := range []*federation.Service{r.b, r.a} {
			wantCode(t, readOn(svc, old.Chain(t)), 403, "serial_superseded")
			if err := readOn(svc, nu.Chain(t)); err != nil {
				t.Fatalf("the renewed certificate after the overlap: %v", err)
			}
		}
	})
}

// TestHostileReplicaExpiryNoWrite passes a grant's expiry on the clock
// alone: both replicas, warm, refuse it at once.
func TestHostileReplicaExpiryNoWrite(t *testing.T) {
	runReplicas(t, func(t *testing.T, r *replicas) {
		exp := r.clock.now().Add(time.Hour)
		e := r.enroll(t, &exp)
		for range 3 {
			for _, svc := range []*federation.Service{r.a, r.b} {
				if err := readOn(svc, e.Chain(t)); err != nil {
					t.Fatal(err)
				}
			}
		}
		r.clock.advance(time.Hour + time.Millisecond)
		for _, svc := range []*federation.Service{r.b, r.a} {
			wantCode(t, readOn(svc, e.Chain(t)), 403, "grant_expired")
		}
	})
}
