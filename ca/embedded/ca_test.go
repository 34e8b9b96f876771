package embedded

import (
	"bytes"
	"context"
	"crypto/x509"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/pki"
)

func TestLoadCreatesCA(t *testing.T) {
	ca, db, _ := newCA(t)
	root, inter := ca.Root(), ca.Intermediate()

	if !strings.HasPrefix(root.Subject.CommonName, rootName+" ") ||
		len(root.Subject.CommonName) != len(rootName)+9 {
		t.Errorf("root name = %q, want %q and a random suffix", root.Subject.CommonName, rootName)
	}
	if !root.IsCA || root.CheckSignatureFrom(root) != nil {
		t.Errorf("root is not a self-signed CA")
	}
	if !root.NotAfter.Equal(testNow.Add(rootLifetime).Truncate(time.Second)) {
		t.Errorf("root notAfter = %s, want ten years on", root.NotAfter)
	}
	if !inter.IsCA || inter.MaxPathLen != 0 || !inter.MaxPathLenZero {
		t.Errorf("intermediate: IsCA %v MaxPathLen %d zero %v, want a CA with path length 0",
			inter.IsCA, inter.MaxPathLen, inter.MaxPathLenZero)
	}
	if inter.CheckSignatureFrom(root) != nil {
		t.Errorf("intermediate is not signed by the root")
	}
	if !inter.NotAfter.Equal(testNow.Add(intermediateLifetime).Truncate(time.Second)) {
		t.Errorf("intermediate notAfter = %s, want five years on", inter.NotAfter)
	}
	if !strings.HasSuffix(inter.Subject.CommonName, root.Subject.CommonName[len(rootName):]) {
		t.Errorf("intermediate %q does not carry the root's suffix", inter.Subject.CommonName)
	}
	for _, c := range []*x509.Certificate{root, inter} {
		if c.SerialNumber.BitLen() < 128 {
			t.Errorf("%s serial has %d bits", c.Subject.CommonName, c.SerialNumber.BitLen())
		}
	}

	// Accessors agree with each other and with the store.
	if ca.Pin() != pki.Pin(root) {
		t.Errorf("Pin = %q, want the root's", ca.Pin())
	}
	chain, err := pki.ParseCerts(ca.ChainPEM())
	if err != nil || len(chain) != 2 || !chain[0].Equal(root) || !chain[1].Equal(inter) {
		t.Errorf("ChainPEM is not root then intermediate (%v)", err)
	}
	roots, err := ca.ClientRoots(context.Background())
	if err != nil || len(roots) != 1 || !roots[0].Equal(root) {
		t.Errorf("ClientRoots = %d certificates, %v; want the root", len(roots), err)
	}
	for name, want := range map[string]*x509.Certificate{KeyRoot: root, KeyIntermediate: inter} {
		sk, err := db.GetKey(context.Background(), name)
		if err != nil {
			t.Fatalf("GetKey(%s): %v", name, err)
		}
		if sk.CertPEM != pki.EncodeCerts(want) {
			t.Errorf("stored %s certificate differs", name)
		}
	}
}

func TestLoadTwiceGivesSameCA(t *testing.T) {
	path := dbPath(t)
	sealer := newSealer(t, "s")
	first := mustLoad(t, openStore(t, path), sealer, fixedOptions())

	// A later start, through another connection to the same file.
	later := fixedOptions()
	later.Now = func() time.Time { return testNow.Add(30 * 24 * time.Hour) }
	second := mustLoad(t, openStore(t, path), sealer, later)
	if !sameCA(first, second) {
		t.Fatalf("second Load made a new CA")
	}

	// What the reloaded CA signs chains to the first one's roots.
	csr := peerCSR(t)
	ic, err := second.Sign(context.Background(), mosaic.SignRequest{
		CSR: csr, CommonName: "peer", Identity: testID})
	if err != nil {
		t.Fatal(err)
	}
	ic.Roots, _ = first.ClientRoots(context.Background())
	if err := pki.VerifyIssued(ic, csr, testID, testNow.Add(30*24*time.Hour)); err != nil {
		t.Fatalf("certificate from the reloaded CA: %v", err)
	}
}

func TestLoadWrongSecret(t *testing.T) {
	path := dbPath(t)
	mustLoad(t, openStore(t, path), newSealer(t, "right"), fixedOptions())

	ca, err := Load(context.Background(), openStore(t, path), newSealer(t, "wrong"), fixedOptions())
	if err == nil || ca != nil {
		t.Fatalf("Load with the wrong secret succeeded")
	}
	if !strings.Contains(err.Error(), "cannot unseal the ca-intermediate key") ||
		!strings.Contains(err.Error(), "MOSAIC_SECRET") {
		t.Errorf("error %q does not say the key cannot be unsealed", err)
	}
	if mosaic.ErrorCode(err) != "unseal_failed" {
		t.Errorf("error code = %q, want unseal_failed in the chain", mosaic.ErrorCode(err))
	}
}

func TestLoadRejectsSwappedKeys(t *testing.T) {
	ctx := context.Background()
	path := dbPath(t)
	db := openStore(t, path)
	sealer := newSealer(t, "s")
	mustLoad(t, db, sealer, fixedOptions())

	// A sealed key is bound to its name: the root's sealed key stored as
	// the intermediate's does not open, even with the right secret.
	root, _ := db.GetKey(ctx, KeyRoot)
	inter, _ := db.GetKey(ctx, KeyIntermediate)
	inter.SealedKey = root.SealedKey
	if err := db.PutKey(ctx, inter); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(ctx, db, sealer, fixedOptions()); err == nil {
		t.Fatalf("Load accepted the root's sealed key as the intermediate's")
	}
}

func TestLoadRejectsForeignIntermediate(t *testing.T) {
	ctx := context.Background()
	sealer := newSealer(t, "s")
	db := openStore(t, dbPath(t))
	mustLoad(t, db, sealer, fixedOptions())
	other := openStore(t, dbPath(t))
	mustLoad(t, other, sealer, fixedOptions())

	foreign, _ := other.GetKey(ctx, KeyIntermediate)
	if err := db.PutKey(ctx, foreign); err != nil {
		t.Fatal(err)
	}
	_, err := Load(ctx, db, sealer, fixedOptions())
	if err == nil || !strings.Contains(err.Error(), "not signed by the root") {
		t.Fatalf("Load with another CA's intermediate = %v, want an error", err)
	}
}

func TestConcurrentLoadYieldsOneCA(t *testing.T) {
	path := dbPath(t)
	sealer := newSealer(t, "s")
	const starters = 6
	stores := make([]mosaic.KeyStore, starters)
	for i := range stores {
		stores[i] = openStore(t, path)
	}

	cas := make([]*CA, starters)
	errs := make([]error, starters)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range starters {
		wg.Go(func() {
			<-start
			cas[i], errs[i] = Load(context.Background(), stores[i], sealer, fixedOptions())
		})
	}
	close(start)
	wg.Wait()
	for i := range starters {
		if errs[i] != nil {
			t.Fatalf("starter %d: %v", i, errs[i])
		}
		if !sameCA(cas[i], cas[0]) {
			t.Fatalf("starter %d ended with another CA", i)
		}
	}
}

// racingStore is the real store with a hook that runs just before the
// insert of a named key, to let another starter win the race there.
type racingStore struct {
	mosaic.KeyStore
	before map[string]func()
}

func (s *racingStore) PutKeyIfAbsent(ctx context.Context, k *mosaic.StoredKey) (bool, error) {
	if hook := s.before[k.Name]; hook != nil {
		delete(s.before, k.Name)
		hook()
	}
	return s.KeyStore.PutKeyIfAbsent(ctx, k)
}

func TestLoadLosesRace(t *testing.T) {
	for _, lostAt := range []string{KeyRoot, KeyIntermediate} {
		t.Run("lost at "+lostAt, func(t *testing.T) {
			db := openStore(t, dbPath(t))
			sealer := newSealer(t, "s")
			var winner *CA
			racing := &racingStore{KeyStore: db, before: map[string]func(){
				lostAt: func() { winner = mustLoad(t, db, sealer, fixedOptions()) },
			}}
			loser := mustLoad(t, racing, sealer, fixedOptions())
			if winner == nil {
				t.Fatalf("the race hook did not run")
			}
			if !sameCA(loser, winner) {
				t.Fatalf("the starter that lost the race kept its own CA")
			}
			if err := loser.Intermediate().CheckSignatureFrom(winner.Root()); err != nil {
				t.Fatalf("intermediate is not on the winning root: %v", err)
			}
		})
	}
}

func TestStoreHoldsNoPrivateKeyInClear(t *testing.T) {
	ctx := context.Background()
	path := dbPath(t)
	db := openStore(t, path)
	sealer := newSealer(t, "s")
	ca := mustLoad(t, db, sealer, fixedOptions())
	if _, err := ca.ServerCertificate(ctx, db, sealer, "127.0.0.1"); err != nil {
		t.Fatal(err)
	}

	var secrets [][]byte
	for _, name := range []string{KeyRoot, KeyIntermediate, KeyTLSServer} {
		sk, err := db.GetKey(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		_, key, err := openKey(sealer, sk)
		if err != nil {
			t.Fatal(err)
		}
		der, err := pki.EncodePrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, der, key.D.FillBytes(make([]byte, 32)))
	}

	var stored []byte
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		b, err := os.ReadFile(path + suffix)
		if err == nil {
			stored = append(stored, b...)
		}
	}
	if !bytes.Contains(stored, []byte("BEGIN CERTIFICATE")) {
		t.Fatalf("the database files hold no certificate; the search would prove nothing")
	}
	for i, s := range secrets {
		if bytes.Contains(stored, s) {
			t.Errorf("private key material %d found in the database files", i)
		}
	}
}

func TestKeysAreSealedUnderTheirName(t *testing.T) {
	ctx := context.Background()
	ca, db, sealer := newCA(t)
	if _, err := ca.ServerCertificate(ctx, db, sealer, "b.example"); err != nil {
		t.Fatal(err)
	}
	names := []string{KeyRoot, KeyIntermediate, KeyTLSServer}
	for _, name := range names {
		sk, err := db.GetKey(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		for _, aadName := range names {
			der, err := sealer.Open(sk.SealedKey, []byte("mosaic/key/"+aadName))
			if aadName == name {
				if _, perr := pki.ParsePrivateKey(der); err != nil || perr != nil {
					t.Errorf("%s does not open as a PKCS#8 key under its own name: %v %v",
						name, err, perr)
				}
				continue
			}
			if err == nil {
				t.Errorf("%s opens under the name %s", name, aadName)
			}
		}
	}
}
