package federation_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/federation"
	"github.com/mosaicgw/mosaic/federation/fedtest"
	"github.com/mosaicgw/mosaic/pki"
)

// keypairInput returns a valid keypair request for a grantor's CA pin.
func keypairInput(pin string) federation.KeypairInput {
	return federation.KeypairInput{
		CommonName: "gateway-a", DisplayName: "Gateway B", EndpointURL: "https://b.example:8443",
		CAPin: pin,
	}
}

func TestCreateKeypair(t *testing.T) {
	a := fedtest.New(t, fedtest.Options{})
	ctx := context.Background()
	id, csrPEM, err := a.Svc.CreateKeypair(ctx, keypairInput(a.CA.Pin()))
	if err != nil {
		t.Fatal(err)
	}
	csr, err := pki.ParseCSR(csrPEM)
	if err != nil {
		t.Fatalf("the CSR does not pass the grantor's checks: %v", err)
	}

	p, err := a.Store.FindPeer(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if p.Role != mosaic.PeerOutbound || p.State != mosaic.PeerPending ||
		p.EndpointURL != "https://b.example:8443" || p.CAPin != a.CA.Pin() {
		t.Errorf("peer = %+v", p)
	}

	// The key is sealed, bound to the peer, and only sealed in the files.
	der, err := a.Sealer.Open(p.SealedKey, []byte("mosaic/peer-key/"+id))
	if err != nil {
		t.Fatalf("open sealed key: %v", err)
	}
	key, err := pki.ParsePrivateKey(der)
	if err != nil || !key.PublicKey.Equal(csr.PublicKey) {
		t.Fatalf("sealed key is not the CSR's key: %v", err)
	}
	if _, err := a.Sealer.Open(p.SealedKey, []byte("mosaic/peer-key/"+mosaic.NewID())); err == nil {
		t.Error("the sealed key opens for another peer id")
	}
	if a.FilesContain(t, string(der)) || a.FilesContain(t, string(key.D.Bytes())) {
		t.Error("the database files hold the private key in the clear")
	}
}

func TestCreateKeypairRefusals(t *testing.T) {
	a := fedtest.New(t, fedtest.Options{})
	pin := a.CA.Pin()
	endpoint := func(u string) func(*federation.KeypairInput) {
		return func(in *federation.KeypairInput) { in.EndpointURL = u }
	}
	tests := []struct {
		name string
		edit func(*federation.KeypairInput)
		code string
	}{
		{"http", endpoint("http://b.example"), "invalid_endpointUrl"},
		{"no host", endpoint("https://"), "invalid_endpointUrl"},
		{"user info", endpoint("https://u:p@b.example"), "invalid_endpointUrl"},
		{"path", endpoint("https://b.example/api"), "invalid_endpointUrl"},
		{"query", endpoint("https://b.example?x=1"), "invalid_endpointUrl"},
		{"fragment", endpoint("https://b.example#ca=x"), "invalid_endpointUrl"},
		{"empty fragment", endpoint("https://b.example#"), "invalid_endpointUrl"},
		{"not a URL", endpoint("b.example:8443"), "invalid_endpointUrl"},
		{"port zero", endpoint("https://b.example:0"), "invalid_endpointUrl"},
		{"port too large", endpoint("https://b.example:65536"), "invalid_endpointUrl"},
		{"port far too large", endpoint("https://b.example:99999999999999999999"),
			"invalid_endpointUrl"},
		{"port not a number", endpoint("https://b.example:84x3"), "invalid_endpointUrl"},
		{"port with leading zero", endpoint("https://b.example:08443"), "invalid_endpointUrl"},
		{"IPv6 port zero", endpoint("https://[::1]:0"), "invalid_endpointUrl"},
		{"display name with bidi override", func(in *federation.KeypairInput) {
			in.DisplayName = "Gateway \u202eB"
		}, "invalid_displayName"},
		{"common name with zero-width space", func(in *federation.KeypairInput) {
			in.CommonName = "gateway\u200b-a"
		}, "invalid_commonName"},
		{"empty pin", func(in *federation.KeypairInput) { in.CAPin = "" }, "invalid_pin"},
		{"short pin", func(in *federation.KeypairInput) { in.CAPin = pin[:20] }, "invalid_pin"},
		{"pin without prefix", func(in *federation.KeypairInput) { in.CAPin = pin[7:] },
			"invalid_pin"},
		{"no common name", func(in *federation.KeypairInput) { in.CommonName = "" },
			"invalid_commonName"},
		{"no display name", func(in *federation.KeypairInput) { in.DisplayName = " " },
			"invalid_displayName"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := keypairInput(pin)
			tc.edit(&in)
			_, _, err := a.Svc.CreateKeypair(context.Background(), in)
			wantCode(t, err, 400, tc.code)
		})
	}
	peers, _ := a.Svc.ListPeers(context.Background(), mosaic.PeerFilter{})
	if len(peers) != 0 {
		t.Errorf("%d peers stored by refused requests", len(peers))
	}
	// Trailing slash is the one path allowed, and is dropped.
	in := keypairInput(pin)
	in.EndpointURL = "https://b.example:8443/"
	id, _, err := a.Svc.CreateKeypair(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := a.Svc.FindPeer(context.Background(), id); p.EndpointURL != "https://b.example:8443" {
		t.Errorf("endpoint = %q", p.EndpointURL)
	}
	for _, ok := range []string{"https://b.example:1", "https://b.example:65535",
		"https://[::1]:8443", "https://b.example"} {
		in.EndpointURL = ok
		if _, _, err := a.Svc.CreateKeypair(context.Background(), in); err != nil {
			t.Errorf("endpoint %q refused: %v", ok, err)
		}
	}
}

// outboundEnrollment has gateway a make a key pair for gateway b (with
// pin) and b issue a certificate for a's CSR. It returns a's peer id and
// b's answer.
func outboundEnrollment(t *testing.T, a, b *fedtest.Gateway, pin string) (
	string, *federation.Enrolled) {
	t.Helper()
	peerID, csr, err := a.Svc.CreateKeypair(context.Background(), keypairInput(pin))
	if err != nil {
		t.Fatal(err)
	}
	_, token := pendingToken(t, b)
	out, err := redeem(b, token, csr)
	if err != nil {
		t.Fatal(err)
	}
	return peerID, out
}

func TestStoreOutboundCert(t *testing.T) {
	a := fedtest.New(t, fedtest.Options{})
	b := fedtest.New(t, fedtest.Options{})
	ctx := context.Background()
	peerID, out := outboundEnrollment(t, a, b, b.CA.Pin())

	p, err := a.Svc.StoreOutboundCert(ctx, peerID, out.CertPEM, out.CertChainPEM, out.CAPEM)
	if err != nil {
		t.Fatal(err)
	}
	certs, _ := pki.ParseCerts(out.CertPEM)
	if p.State != mosaic.PeerActive || p.CertSerial != pki.SerialHex(certs[0]) ||
		p.CAPEM != pki.EncodeCerts(b.CA.Root()) || p.CertChainPEM != out.CertChainPEM ||
		p.CertNotAfter == nil {
		t.Errorf("peer = %+v", p)
	}
	_, err = a.Svc.StoreOutboundCert(ctx, peerID, out.CertPEM, out.CertChainPEM, out.CAPEM)
	wantCode(t, err, 409, "peer_not_pending")
}

func TestStoreOutboundCertRefusals(t *testing.T) {
	a := fedtest.New(t, fedtest.Options{})
	b := fedtest.New(t, fedtest.Options{})
	other := fedtest.New(t, fedtest.Options{})
	ctx := context.Background()

	// Answers issued for a's CSRs, and one for somebody else's key.
	wrongPinPeer, wrongPinOut := outboundEnrollment(t, a, b, other.CA.Pin())
	peerID, out := outboundEnrollment(t, a, b, b.CA.Pin())
	_, foreign := outboundEnrollment(t, other, b, b.CA.Pin())
	inbound := b.Grant(t, b.User(t, "Ada").ID, fedtest.Scope(3, "tasks"))

	tests := []struct {
		name               string
		peerID             string
		cert, chain, caPEM string
		status             int
		code               string
	}{
		{"CA is not the pinned one", wrongPinPeer, wrongPinOut.CertPEM, wrongPinOut.CertChainPEM,
			wrongPinOut.CAPEM, 400, "peer_cert_invalid"},
		{"certificate for another key", peerID, foreign.CertPEM, foreign.CertChainPEM,
			foreign.CAPEM, 400, "peer_cert_invalid"},
		{"chain left out", peerID, out.CertPEM, "", out.CAPEM, 400, "peer_cert_invalid"},
		{"garbage certificate", peerID, "junk", out.CertChainPEM, out.CAPEM, 400, "invalid_certificate"},
		{"two certificates", peerID, out.CertPEM + out.CertPEM, out.CertChainPEM, out.CAPEM, 400,
			"invalid_certificate"},
		{"no CA", peerID, out.CertPEM, out.CertChainPEM, "", 400, "invalid_certificate"},
		{"unknown peer", mosaic.NewID(), out.CertPEM, out.CertChainPEM, out.CAPEM, 404,
			"peer_not_found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := a.Svc.StoreOutboundCert(ctx, tc.peerID, tc.cert, tc.chain, tc.caPEM)
			wantCode(t, err, tc.status, tc.code)
			if p, err := a.Svc.FindPeer(ctx, peerID); err != nil || p.State != mosaic.PeerPending {
				t.Errorf("peer after refusal: %+v, %v", p, err)
			}
		})
	}
	_, err := b.Svc.StoreOutboundCert(ctx, inbound.PeerID, out.CertPEM, out.CertChainPEM, out.CAPEM)
	wantCode(t, err, 409, "peer_not_pending")
}

func TestQueryPeerRefusals(t *testing.T) {
	a := fedtest.New(t, fedtest.Options{})
	ctx := context.Background()
	pending, _, err := a.Svc.CreateKeypair(ctx, keypairInput(a.CA.Pin()))
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.Svc.QueryPeer(ctx, pending, "tasks", url.Values{})
	wantCode(t, err, 409, "peer_not_active")
	_, err = a.Svc.QueryPeer(ctx, mosaic.NewID(), "tasks", url.Values{})
	wantCode(t, err, 404, "peer_not_found")
	_, err = a.Svc.QueryPeer(ctx, "nope", "tasks", url.Values{})
	wantCode(t, err, 404, "not_found")
}
