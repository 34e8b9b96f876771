package gateway_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/ca/embedded"
	"github.com/mosaicgw/mosaic/gateway"
	"github.com/mosaicgw/mosaic/pki"
)

// TestCARotationStory rotates B's CA with "mosaic gateway rotate-ca" while
// B serves, on two gateway processes: A's certificate from the old
// intermediate still reads; B picks up the new intermediate without a
// restart (its CA chain, its TLS certificate and doctor show it); a new
// enrollment gets a certificate chained to the new intermediate, which
// reads too.
func TestCARotationStory(t *testing.T) {
	t.Parallel()
	dirA, dirB := t.TempDir(), t.TempDir()
	env := map[string]string{gateway.EnvEnrollRateLimit: "off"}
	b := startProc(t, dirB, "", mergeEnv(env,
		map[string]string{gateway.EnvCAReloadInterval: "200ms"}))
	startProc(t, dirA, "", env)

	var alice mosaic.User
	cliJSONIn(t, dirB, &alice, "user", "create", "--name", "Alice", "--email", "alice@b.test")
	cliIn(t, dirB, 0, "task", "create", "--user", alice.ID, "--title", "Renew the lease")
	scope := inFile(t, "scope.json", `{"resources":["tasks"],"max_rows_per_query":10}`)
	var first mosaic.Grant
	cliJSONIn(t, dirB, &first, "federation", "grant", "create", "--user", alice.ID,
		"--peer-name", "Gateway A", "--scope", scope)
	before := enrollWithCLI(t, dirA, dirB, first.ID)
	chain := caChain(t, b.fedBase())
	root, oldInter := chain[0], chain[1]

	// Rotate while B serves.
	var rot embedded.Rotation
	cliJSONIn(t, dirB, &rot, "gateway", "rotate-ca")
	if rot.Old.Serial != pki.SerialHex(oldInter) || rot.New.Serial == rot.Old.Serial ||
		rot.CAPin != pki.Pin(root) {
		t.Fatalf("rotate-ca: %+v; the served intermediate was %s", rot, pki.SerialHex(oldInter))
	}
	newInter := waitForIntermediate(t, b, rot.New.Serial)
	if newInter.CheckSignatureFrom(root) != nil {
		t.Fatal("the new intermediate is not under the same root")
	}

	// The old certificate still reads; a new enrollment is the new
	// intermediate's and reads too.
	queryTasks(t, dirA, before)
	var second mosaic.Grant
	cliJSONIn(t, dirB, &second, "federation", "grant", "create", "--user", alice.ID,
		"--peer-name", "Gateway A again", "--scope", scope)
	after := enrollWithCLI(t, dirA, dirB, second.ID)
	queryTasks(t, dirA, after)
	assertIssuedBy(t, dirA, before, oldInter)
	assertIssuedBy(t, dirA, after, newInter)

	// B's TLS certificate comes from the new intermediate now, and doctor
	// names the intermediate that signs.
	served := servedChain(t, b.fedBase(), root)
	if served[0].CheckSignatureFrom(newInter) != nil || !served[1].Equal(newInter) {
		t.Error("B's TLS certificate is not reissued by the new intermediate")
	}
	var doctor readyAnswer
	cliJSONIn(t, dirB, &doctor, "gateway", "doctor")
	for _, c := range doctor.Checks {
		if c.Name == "ca" && !strings.Contains(c.Reason, rot.New.Serial) {
			t.Errorf("doctor's ca check %q does not name the new intermediate", c.Reason)
		}
	}
}

// waitForIntermediate waits until the CA chain a gateway serves names the
// intermediate of that serial as its signing one, and returns it.
func waitForIntermediate(t *testing.T, p *proc, serial string) *x509.Certificate {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	for {
		chain := caChain(t, p.fedBase())
		if len(chain) > 2 && pki.SerialHex(chain[1]) == serial {
			return chain[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("the gateway still serves intermediate %s after %s, want %s",
				pki.SerialHex(chain[1]), startTimeout, serial)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// assertIssuedBy checks that the certificate A holds for an outbound peer
// was issued by inter, and that the chain stored with it starts with it.
func assertIssuedBy(t *testing.T, dirA, peerID string, inter *x509.Certificate) {
	t.Helper()
	var peers struct{ Items []mosaic.Peer }
	cliJSONIn(t, dirA, &peers, "federation", "peer", "list")
	for _, p := range peers.Items {
		if p.ID != peerID {
			continue
		}
		leaf, err := pki.ParseCerts(p.CertPEM)
		if err != nil {
			t.Fatal(err)
		}
		chain, err := pki.ParseCerts(p.CertChainPEM)
		if err != nil {
			t.Fatal(err)
		}
		if leaf[0].CheckSignatureFrom(inter) != nil || !chain[0].Equal(inter) {
			t.Errorf("peer %s holds a certificate not issued by intermediate %s", peerID,
				pki.SerialHex(inter))
		}
		return
	}
	t.Fatalf("no peer %s on A", peerID)
}

// servedChain connects to a federation listener, verifying it against
// root, and returns the certificates it serves.
func servedChain(t *testing.T, base string, root *x509.Certificate) []*x509.Certificate {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), httpTimeout)
	defer cancel()
	d := tls.Dialer{Config: &tls.Config{RootCAs: pki.NewPool(root), MinVersion: tls.VersionTLS12,
		ServerName: "127.0.0.1"}}
	conn, err := d.DialContext(ctx, "tcp", strings.TrimPrefix(base, "https://"))
	if err != nil {
		t.Fatalf("TLS to %s: %v", base, err)
	}
	defer conn.Close()
	return conn.(*tls.Conn).ConnectionState().PeerCertificates
}
