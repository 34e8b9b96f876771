package embedded

import (
	"context"
	"crypto/x509"
	"sync"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/pki"
	"github.com/mosaicgw/mosaic/sqlstore"
	"github.com/mosaicgw/mosaic/sqlstore/storetest"
)

// signPeer issues a peer certificate with ca and returns it.
func signPeer(t *testing.T, ca *CA) *mosaic.IssuedCert {
	t.Helper()
	ic, err := ca.Sign(context.Background(), mosaic.SignRequest{
		CSR: peerCSR(t), CommonName: "gateway-a", Identity: testID})
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return ic
}

// verifiesAt reports whether cert verifies for client authentication at
// now against ca's client roots through the intermediates sent with it.
func verifiesAt(t *testing.T, ca *CA, cert *x509.Certificate, sent []*x509.Certificate,
	now time.Time) error {
	t.Helper()
	roots, err := ca.ClientRoots(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_, err = cert.Verify(x509.VerifyOptions{
		Roots: pki.NewPool(roots...), Intermediates: pki.NewPool(sent...), CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	return err
}

func TestRotate(t *testing.T) {
	ctx := context.Background()
	ca, db, sealer := newCA(t)
	oldInter, pin := ca.Intermediate(), ca.Pin()
	before := signPeer(t, ca)

	rot, err := ca.Rotate(ctx)
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	newInter := ca.Intermediate()
	if newInter.Equal(oldInter) || newInter.CheckSignatureFrom(ca.Root()) != nil ||
		!newInter.IsCA || !newInter.MaxPathLenZero {
		t.Fatalf("after Rotate the signing intermediate is not a new one under the root")
	}
	if rot.CAPin != pin || ca.Pin() != pin {
		t.Errorf("the pin changed: %s, %s; was %s", rot.CAPin, ca.Pin(), pin)
	}
	if rot.Old.Name != KeyIntermediate || rot.Old.Serial != pki.SerialHex(oldInter) ||
		rot.New.Serial != pki.SerialHex(newInter) || rot.New.Name != rotatedName(newInter) ||
		!rot.New.NotAfter.Equal(newInter.NotAfter) || len(rot.Dropped) != 0 ||
		len(rot.Kept) != 2 || rot.Kept[0] != rot.New || rot.Kept[1] != rot.Old {
		t.Errorf("rotation = %+v", rot)
	}

	// New certificates come from the new intermediate; old and new verify.
	after := signPeer(t, ca)
	if after.Cert.CheckSignatureFrom(newInter) != nil || len(after.Intermediates) != 1 ||
		!after.Intermediates[0].Equal(newInter) {
		t.Fatal("a certificate signed after the rotation is not the new intermediate's")
	}
	if err := verifiesAt(t, ca, before.Cert, []*x509.Certificate{oldInter}, testNow); err != nil {
		t.Errorf("certificate of the old intermediate no longer verifies: %v", err)
	}
	if err := verifiesAt(t, ca, after.Cert, []*x509.Certificate{newInter}, testNow); err != nil {
		t.Errorf("certificate of the new intermediate does not verify: %v", err)
	}
	if got := ca.Intermediates(); len(got) != 2 || !got[0].Equal(newInter) ||
		!got[1].Equal(oldInter) {
		t.Errorf("Intermediates is not new then old")
	}
	chain, err := pki.ParseCerts(ca.ChainPEM())
	if err != nil || len(chain) != 3 || !chain[0].Equal(ca.Root()) || !chain[1].Equal(newInter) ||
		!chain[2].Equal(oldInter) {
		t.Errorf("ChainPEM is not root, new, old (%v)", err)
	}

	// Stored: the setting names the new key, sealed under its own name.
	if name, _ := db.GetSetting(ctx, SettingActiveIntermediate); name != rot.New.Name {
		t.Errorf("setting %s = %q, want %q", SettingActiveIntermediate, name, rot.New.Name)
	}
	sk, err := db.GetKey(ctx, rot.New.Name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sealer.Open(sk.SealedKey, keyAAD(KeyIntermediate)); err == nil {
		t.Error("the new intermediate's key opens under the first intermediate's name")
	}
	if _, _, err := openKey(sealer, sk); err != nil {
		t.Errorf("the new intermediate's key: %v", err)
	}

	// A later start signs with the new intermediate too.
	later := mustLoad(t, db, sealer, fixedOptions())
	if !later.Intermediate().Equal(newInter) || len(later.Intermediates()) != 2 {
		t.Error("Load after a rotation does not sign with the new intermediate")
	}
}

func TestRotateServerCertificate(t *testing.T) {
	ctx := context.Background()
	ca, db, sealer := newCA(t)
	first, err := ca.ServerCertificate(ctx, db, sealer, "b.example")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ca.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	next, err := ca.ServerCertificate(ctx, db, sealer, "b.example")
	if err != nil {
		t.Fatal(err)
	}
	if next.Leaf.Equal(first.Leaf) || next.Leaf.CheckSignatureFrom(ca.Intermediate()) != nil ||
		string(next.Certificate[1]) != string(ca.Intermediate().Raw) {
		t.Fatal("after a rotation the server certificate is not reissued by the new intermediate")
	}
	// The old one, sent with its own intermediate, still verifies.
	_, err = first.Leaf.Verify(x509.VerifyOptions{DNSName: "b.example", CurrentTime: testNow,
		Roots: pki.NewPool(ca.Root()), Intermediates: pki.NewPool(ca.Intermediates()[1])})
	if err != nil {
		t.Errorf("the server certificate of the old intermediate: %v", err)
	}
}

func TestReloadPicksUpRotation(t *testing.T) {
	ctx := context.Background()
	path := dbPath(t)
	sealer := newSealer(t, "s")
	a := mustLoad(t, openStore(t, path), sealer, fixedOptions())
	b := mustLoad(t, openStore(t, path), sealer, fixedOptions())
	old := b.Intermediate()

	rot, err := a.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !b.Intermediate().Equal(old) {
		t.Fatal("the other CA changed before it reloaded")
	}
	changed, err := b.Reload(ctx)
	if err != nil || !changed {
		t.Fatalf("Reload = %v, %v; want a change", changed, err)
	}
	if pki.SerialHex(b.Intermediate()) != rot.New.Serial {
		t.Fatal("after Reload the other CA does not sign with the new intermediate")
	}
	if ic := signPeer(t, b); ic.Cert.CheckSignatureFrom(a.Intermediate()) != nil {
		t.Fatal("the reloaded CA signs with another intermediate than the rotating one")
	}
	if changed, err := b.Reload(ctx); err != nil || changed {
		t.Fatalf("second Reload = %v, %v; want no change", changed, err)
	}
}

// TestRotateDropsExpired rotates at the start, four years on, and just
// past the first intermediate's end: the last rotation drops the first
// intermediate, the only one expired, and a later start does not make it
// again.
func TestRotateDropsExpired(t *testing.T) {
	ctx := context.Background()
	clk := &clock{now: testNow}
	opts := Options{Now: clk.Now}
	db := openStore(t, dbPath(t))
	sealer := newSealer(t, "s")
	ca := mustLoad(t, db, sealer, opts)
	first := ca.Intermediate()

	clk.Set(testNow.Add(4 * 365 * 24 * time.Hour))
	second, err := ca.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	clk.Set(first.NotAfter.Add(time.Hour))
	third, err := ca.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(third.Dropped) != 1 || third.Dropped[0].Name != KeyIntermediate ||
		third.Dropped[0].Serial != pki.SerialHex(first) {
		t.Fatalf("dropped = %+v, want the first intermediate", third.Dropped)
	}
	if len(third.Kept) != 2 || third.Kept[0].Name != third.New.Name ||
		third.Kept[1].Name != second.New.Name {
		t.Errorf("kept = %+v, want the third then the second", third.Kept)
	}
	if _, err := db.GetKey(ctx, KeyIntermediate); !mosaic.IsKind(err, mosaic.KindNotFound) {
		t.Errorf("the expired intermediate is still stored: %v", err)
	}
	chain, _ := pki.ParseCerts(ca.ChainPEM())
	if len(chain) != 3 {
		t.Errorf("ChainPEM holds %d certificates, want root and two intermediates", len(chain))
	}

	later := mustLoad(t, db, sealer, opts)
	if later.Intermediate().Equal(first) || len(later.Intermediates()) != 2 {
		t.Fatal("a start after the drop does not sign with the newest intermediate")
	}
	if _, err := db.GetKey(ctx, KeyIntermediate); !mosaic.IsKind(err, mosaic.KindNotFound) {
		t.Error("a start after the drop made a first intermediate again")
	}
}

func TestConcurrentRotateSQLite(t *testing.T) {
	path := dbPath(t)
	testConcurrentRotate(t, func(t *testing.T) *sqlstore.DB { return openStore(t, path) })
}

func TestConcurrentRotatePostgres(t *testing.T) {
	url := storetest.PostgresURL(t)
	testConcurrentRotate(t, func(t *testing.T) *sqlstore.DB {
		db, err := sqlstore.OpenPostgres(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return db
	})
}

// barrierStore is the real store whose RotateKey waits until every
// rotator of a test has reached it, so that all of them have read the
// signing intermediate before any changes it.
type barrierStore struct {
	*sqlstore.DB
	arrived *sync.WaitGroup
}

func (s *barrierStore) RotateKey(ctx context.Context, r mosaic.KeyRotation) error {
	s.arrived.Done()
	s.arrived.Wait()
	return s.DB.RotateKey(ctx, r)
}

// testConcurrentRotate has CAs on stores of one database, as gateway
// processes would have, rotate at once, all from the same signing
// intermediate: exactly one rotation succeeds, the others change nothing,
// and after a reload every CA signs with the winner's intermediate.
func testConcurrentRotate(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	const rotators = 5
	ctx := context.Background()
	sealer := newSealer(t, "s")
	cas := make([]*CA, rotators)
	var arrived sync.WaitGroup
	arrived.Add(rotators)
	for i := range cas {
		cas[i] = mustLoad(t, &barrierStore{DB: open(t), arrived: &arrived}, sealer,
			fixedOptions())
	}

	rots := make([]*Rotation, rotators)
	errs := make([]error, rotators)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range rotators {
		wg.Go(func() {
			<-start
			rots[i], errs[i] = cas[i].Rotate(ctx)
		})
	}
	close(start)
	wg.Wait()

	var winner *Rotation
	for i, err := range errs {
		switch {
		case err == nil && winner != nil:
			t.Fatalf("rotators %s and %d both succeeded", winner.New.Name, i)
		case err == nil:
			winner = rots[i]
		case mosaic.ErrorCode(err) != "ca_rotated_concurrently" ||
			mosaic.ErrorKind(err) != mosaic.KindConflict:
			t.Fatalf("rotator %d: %v, want 409 ca_rotated_concurrently", i, err)
		}
	}
	if winner == nil {
		t.Fatal("no rotation succeeded")
	}
	for i, ca := range cas {
		if _, err := ca.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		if pki.SerialHex(ca.Intermediate()) != winner.New.Serial || len(ca.Intermediates()) != 2 {
			t.Errorf("CA %d signs with %s among %d intermediates, want the winner's %s of 2",
				i, pki.SerialHex(ca.Intermediate()), len(ca.Intermediates()), winner.New.Serial)
		}
	}
	keys, err := open(t).ListKeysWithPrefix(ctx, KeyIntermediate)
	if err != nil || len(keys) != 2 {
		t.Errorf("%d intermediates stored (%v), want the first and the winner's", len(keys), err)
	}
}

// TestSignDuringRotation signs from several goroutines while the CA rotates
// and reloads: every certificate is signed by the intermediate its answer
// names, and verifies with it.
func TestSignDuringRotation(t *testing.T) {
	ctx := context.Background()
	ca, _, _ := newCA(t)
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				ic := signPeer(t, ca)
				if err := verifiesAt(t, ca, ic.Cert, ic.Intermediates, testNow); err != nil {
					t.Errorf("certificate signed during a rotation: %v", err)
					return
				}
			}
		})
	}
	for range 3 {
		if _, err := ca.Rotate(ctx); err != nil {
			t.Error(err)
		}
		if _, err := ca.Reload(ctx); err != nil {
			t.Error(err)
		}
	}
	close(done)
	wg.Wait()
	if n := len(ca.Intermediates()); n != 4 {
		t.Errorf("%d intermediates after three rotations, want 4", n)
	}
}
