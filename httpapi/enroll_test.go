package httpapi_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/federation/fedtest"
	"github.com/mosaicgw/mosaic/pki"
)

func TestCAEndpoint(t *testing.T) {
	g := startGateway(t)
	a := g.fedDo(t, g.fedClient(t), "GET", "/api/federation/ca", nil)
	a.wantStatus(t, http.StatusOK)
	if ct := a.header.Get("Content-Type"); ct != "application/pem-certificate-chain" {
		t.Errorf("Content-Type = %q", ct)
	}
	certs, err := pki.ParseCerts(string(a.body))
	if err != nil || len(certs) != 2 || !certs[0].Equal(g.CA.Root()) ||
		!certs[1].Equal(g.CA.Intermediate()) {
		t.Errorf("CA bundle: %d certificates, %v; want root then intermediate", len(certs), err)
	}
}

func TestEnrollOverTLS(t *testing.T) {
	g := startGateway(t)
	ada := g.createUser(t, "Ada")
	gr := g.createGrant(t, ada.ID, tasksScope)
	tok := g.issueToken(t, gr.ID)
	c := g.fedClient(t)
	_, csr := fedtest.NewCSR(t)

	unknown := strings.Repeat("A", mosaic.TokenLen-1) + "Q"
	g.fedDo(t, c, "POST", "/api/federation/enrollment/"+unknown, map[string]string{"csrPem": csr}).
		wantError(t, 404, "token_not_found")
	g.fedDo(t, c, "POST", "/api/federation/enrollment/short", map[string]string{"csrPem": csr}).
		wantError(t, 400, "invalid_token")
	g.fedDo(t, c, "POST", "/api/federation/enrollment/"+tok.Token, map[string]string{"csrPem": "x"}).
		wantError(t, 400, "invalid_csr")

	a := g.fedDo(t, c, "POST", "/api/federation/enrollment/"+tok.Token,
		map[string]string{"csrPem": csr})
	a.wantStatus(t, http.StatusOK)
	var out enrollAnswer
	a.decode(t, &out)
	if out.CAPEM != pki.EncodeCerts(g.CA.Root()) || out.CertChainPEM == "" || out.CertPEM == "" {
		t.Errorf("enrollment answer = %+v", out)
	}
	g.fedDo(t, c, "POST", "/api/federation/enrollment/"+tok.Token, map[string]string{"csrPem": csr}).
		wantStatus(t, http.StatusOK) // the retry of a lost answer
	_, other := fedtest.NewCSR(t)
	g.fedDo(t, c, "POST", "/api/federation/enrollment/"+tok.Token, map[string]string{"csrPem": other}).
		wantError(t, 410, "token_used")

	// The access log names requests without the token.
	logs := g.Logs.String()
	if strings.Contains(logs, tok.Token) {
		t.Error("the log holds the token")
	}
	if !strings.Contains(logs, "/api/federation/enrollment/[redacted]") {
		t.Error("the access log has no redacted enrollment path")
	}
}

func TestEnrollReplayConcurrent(t *testing.T) {
	g := startGateway(t)
	ada := g.createUser(t, "Ada")
	gr := g.createGrant(t, ada.ID, tasksScope)
	tok := g.issueToken(t, gr.ID)

	const n = 50
	csrs := make([]string, n)
	for i := range csrs {
		_, csrs[i] = fedtest.NewCSR(t)
	}
	c := g.fedClient(t)
	statuses := make([]int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		req := g.enrollRequest(t, tok.Token, csrs[i])
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			a, err := trySend(c, req)
			if err != nil {
				t.Errorf("redeem %d: %v", i, err)
				return
			}
			statuses[i] = a.status
		}()
	}
	close(start)
	wg.Wait()

	count := map[int]int{}
	for _, s := range statuses {
		count[s]++
	}
	if count[200] != 1 || count[410] != n-1 {
		t.Fatalf("statuses = %v, want one 200 and %d × 410", count, n-1)
	}
	if g.FaultCA.Signed() != 1 {
		t.Errorf("certificates signed = %d, want 1", g.FaultCA.Signed())
	}
	allowed, denied := 0, 0
	for _, ev := range g.audit(t, "grant="+gr.ID+"&limit=1000") {
		if ev.Verb != mosaic.VerbEnroll {
			continue
		}
		switch ev.Outcome {
		case mosaic.OutcomeAllowed:
			allowed++
		case mosaic.OutcomeDenied:
			denied++
		}
	}
	if allowed != 1 || denied != n-1 {
		t.Errorf("enrollment audit: %d allowed, %d denied; want 1 and %d", allowed, denied, n-1)
	}
	var peers struct{ Items []mosaic.Peer }
	g.adminDo(t, "GET", "/api/admin/federation/peers?state=active", nil).decode(t, &peers)
	if len(peers.Items) != 1 || peers.Items[0].CertSerial == "" {
		t.Errorf("active peers = %+v, want one with a certificate", peers.Items)
	}
}

func TestEnrollCAFailureOverHTTP(t *testing.T) {
	g := startGateway(t)
	ada := g.createUser(t, "Ada")
	gr := g.createGrant(t, ada.ID, tasksScope)
	tok := g.issueToken(t, gr.ID)
	_, csr := fedtest.NewCSR(t)
	c := g.fedClient(t)

	g.FaultCA.FailNext(mosaic.Errorf(mosaic.KindUnavailable, "ca_down", "down"))
	g.fedDo(t, c, "POST", "/api/federation/enrollment/"+tok.Token, map[string]string{"csrPem": csr}).
		wantError(t, 503, "ca_unavailable")
	g.fedDo(t, c, "POST", "/api/federation/enrollment/"+tok.Token, map[string]string{"csrPem": csr}).
		wantStatus(t, http.StatusOK)
}

func TestEnrollRevokedDuringSigningOverHTTP(t *testing.T) {
	g := startGateway(t)
	ada := g.createUser(t, "Ada")
	gr := g.createGrant(t, ada.ID, tasksScope)
	tok := g.issueToken(t, gr.ID)
	_, csr := fedtest.NewCSR(t)

	entered, release := g.FaultCA.Hold()
	defer release()
	done := make(chan *answer, 1)
	req, c := g.enrollRequest(t, tok.Token, csr), g.fedClient(t)
	go func() {
		a, err := trySend(c, req)
		if err != nil {
			t.Errorf("redeem: %v", err)
		}
		done <- a
	}()
	select {
	case <-entered:
	case a := <-done:
		t.Fatalf("the redeem ended before signing: %+v", a)
	}
	g.adminDo(t, "PATCH", "/api/admin/federation/grants/"+gr.ID+"/revoke", nil).
		wantStatus(t, http.StatusOK)
	release()
	a := <-done
	if a == nil {
		t.FailNow()
	}
	a.wantError(t, 409, "grant_not_pending")

	var peers struct{ Items []mosaic.Peer }
	g.adminDo(t, "GET", "/api/admin/federation/peers", nil).decode(t, &peers)
	if len(peers.Items) != 1 || peers.Items[0].State != mosaic.PeerPending {
		t.Errorf("peers = %+v, want the one pending", peers.Items)
	}
	evs := g.audit(t, "grant="+gr.ID+"&outcome=denied")
	if len(evs) != 1 || evs[0].Verb != mosaic.VerbEnroll || evs[0].CertSerial == "" {
		t.Errorf("denied events = %+v, want one enrollment with the serial", evs)
	}
}
