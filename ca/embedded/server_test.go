package embedded

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/pki"
)

func TestServerCertificate(t *testing.T) {
	tests := []struct {
		name    string
		host    string
		wantIP  string
		wantDNS string
	}{
		{"IPv4", "127.0.0.1", "127.0.0.1", ""},
		{"IPv6 in brackets", "[::1]", "::1", ""},
		{"DNS name", "B.Example.", "", "b.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ca, db, sealer := newCA(t)
			tc, err := ca.ServerCertificate(context.Background(), db, sealer, tt.host)
			if err != nil {
				t.Fatalf("ServerCertificate: %v", err)
			}
			leaf := tc.Leaf
			if len(tc.Certificate) != 2 || string(tc.Certificate[0]) != string(leaf.Raw) ||
				string(tc.Certificate[1]) != string(ca.Intermediate().Raw) {
				t.Fatalf("chain is not leaf then intermediate")
			}
			if tt.wantIP != "" && (len(leaf.IPAddresses) != 1 ||
				leaf.IPAddresses[0].String() != tt.wantIP || len(leaf.DNSNames) != 0) {
				t.Errorf("names = %v %v, want IP %s only", leaf.IPAddresses, leaf.DNSNames, tt.wantIP)
			}
			if tt.wantDNS != "" && (len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != tt.wantDNS ||
				len(leaf.IPAddresses) != 0) {
				t.Errorf("names = %v %v, want DNS %s only", leaf.IPAddresses, leaf.DNSNames, tt.wantDNS)
			}
			if len(leaf.ExtKeyUsage) != 1 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth ||
				leaf.IsCA {
				t.Errorf("usage %v CA %v, want server authentication only", leaf.ExtKeyUsage, leaf.IsCA)
			}
			if !leaf.NotAfter.Equal(testNow.Add(serverLifetime)) {
				t.Errorf("notAfter = %s, want one year on", leaf.NotAfter)
			}
			if _, err := leaf.Verify(x509.VerifyOptions{
				Roots: pki.NewPool(ca.Root()), Intermediates: pki.NewPool(ca.Intermediate()),
				CurrentTime: testNow, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
				DNSName: strings.Trim(tt.host, "[]"),
			}); err != nil {
				t.Errorf("server certificate does not verify for %s: %v", tt.host, err)
			}
		})
	}
}

func TestServerCertificateReuseAndRenewal(t *testing.T) {
	ctx := context.Background()
	path := dbPath(t)
	db := openStore(t, path)
	sealer := newSealer(t, "s")
	clk := &clock{now: testNow}
	ca := mustLoad(t, db, sealer, Options{Now: clk.Now})
	serial := func(host string) string {
		t.Helper()
		tc, err := ca.ServerCertificate(ctx, db, sealer, host)
		if err != nil {
			t.Fatalf("ServerCertificate(%s): %v", host, err)
		}
		return pki.SerialHex(tc.Leaf)
	}

	first := serial("b.example")
	if again := serial("b.example"); again != first {
		t.Errorf("second call reissued the certificate")
	}
	// Another gateway process on the same database reuses it too.
	otherDB := openStore(t, path)
	other := mustLoad(t, otherDB, sealer, Options{Now: clk.Now})
	if tc, err := other.ServerCertificate(ctx, otherDB, sealer, "b.example"); err != nil ||
		pki.SerialHex(tc.Leaf) != first {
		t.Errorf("another process reissued the certificate (%v)", err)
	}

	clk.Set(testNow.Add(serverLifetime - serverRenewBefore - time.Hour))
	if s := serial("b.example"); s != first {
		t.Errorf("certificate with 31 days left was reissued")
	}
	clk.Set(testNow.Add(serverLifetime - serverRenewBefore + time.Hour))
	renewed := serial("b.example")
	if renewed == first {
		t.Errorf("certificate with 29 days left was not reissued")
	}
	if s := serial("c.example"); s == renewed {
		t.Errorf("certificate was reused for another host")
	}
	if s := serial("c.example"); s == renewed {
		t.Errorf("certificate for the new host was not kept")
	}
}

func TestServerCertificateRejectsHost(t *testing.T) {
	ca, db, sealer := newCA(t)
	for _, host := range []string{"", ".", "b.example:8443", "a b", "*.example", "http://b"} {
		_, err := ca.ServerCertificate(context.Background(), db, sealer, host)
		if mosaic.ErrorCode(err) != "invalid_host" {
			t.Errorf("ServerCertificate(%q) = %v, want invalid_host", host, err)
		}
	}
}

func TestServerCertificateDamagedKeyIsAnError(t *testing.T) {
	ctx := context.Background()
	ca, db, sealer := newCA(t)
	if _, err := ca.ServerCertificate(ctx, db, sealer, "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	sk, err := db.GetKey(ctx, KeyTLSServer)
	if err != nil {
		t.Fatal(err)
	}
	sk.SealedKey[len(sk.SealedKey)-1] ^= 1
	if err := db.PutKey(ctx, sk); err != nil {
		t.Fatal(err)
	}
	if _, err := ca.ServerCertificate(ctx, db, sealer, "127.0.0.1"); err == nil {
		t.Fatalf("a damaged server key was silently replaced")
	}
}

// TestMutualTLS runs a real handshake on loopback: the server presents the
// certificate from ServerCertificate, the client presents one from Sign,
// and each side trusts only the CA's root.
func TestMutualTLS(t *testing.T) {
	ctx := context.Background()
	ca, db, sealer := newCA(t)
	serverCert, err := ca.ServerCertificate(ctx, db, sealer, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	clientCert := issueClientCert(t, ca)
	roots, _ := ca.ClientRoots(ctx)
	atTestNow := func() time.Time { return testNow }

	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{*serverCert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pki.NewPool(roots...),
		MinVersion:   tls.VersionTLS13,
		Time:         atTestNow,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan error, 1)
	go func() { got <- serveOne(ln) }()

	conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{
		RootCAs:      pki.NewPool(ca.Root()),
		Certificates: []tls.Certificate{clientCert},
		ServerName:   "127.0.0.1",
		MinVersion:   tls.VersionTLS13,
		Time:         atTestNow,
	})
	if err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	if _, err := io.ReadAll(conn); err != nil {
		t.Fatalf("client read: %v", err)
	}
	conn.Close()
	if err := <-got; err != nil {
		t.Fatalf("server: %v", err)
	}
}

// issueClientCert signs a peer certificate and pairs it with its key.
func issueClientCert(t *testing.T, ca *CA) tls.Certificate {
	t.Helper()
	key, err := pki.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	text, _ := pki.NewCSR(key, "peer")
	csr, err := pki.ParseCSR(text)
	if err != nil {
		t.Fatal(err)
	}
	ic, err := ca.Sign(context.Background(), mosaic.SignRequest{
		CSR: csr, CommonName: "gateway-a", Identity: testID})
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{ic.Cert.Raw, ca.Intermediate().Raw},
		PrivateKey: key, Leaf: ic.Cert}
}

// serveOne accepts one connection, checks the identity of its verified
// client certificate and closes it.
func serveOne(ln net.Listener) error {
	c, err := ln.Accept()
	if err != nil {
		return err
	}
	defer c.Close()
	conn := c.(*tls.Conn)
	if err := conn.Handshake(); err != nil {
		return err
	}
	state := conn.ConnectionState()
	if len(state.VerifiedChains) == 0 {
		return errors.New("no verified client chain")
	}
	id, err := pki.ParseIdentity(state.VerifiedChains[0][0])
	if err != nil {
		return err
	}
	if id != testID {
		return errors.New("client identity differs")
	}
	_, err = conn.Write([]byte("ok"))
	return err
}
