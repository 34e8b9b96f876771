package gateway_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/pki"
)

// enrollAnswer is a grantor's answer to a successful redeem.
type enrollAnswer struct {
	CertPEM      string `json:"certPem"`
	CertChainPEM string `json:"certChainPem"`
	CAPEM        string `json:"caPem"`
}

// issuedToken is the admin API's answer to a token request.
type issuedToken struct {
	Token      string    `json:"token"`
	GrantID    string    `json:"grantId"`
	ExpiresAt  time.Time `json:"expiresAt"`
	TTLSeconds int       `json:"ttlSeconds"`
}

// caChain fetches the CA chain a federation API serves, without verifying
// the server (the chain is public), and checks that it starts with a
// self-signed CA.
func caChain(t *testing.T, base string) []*x509.Certificate {
	t.Helper()
	client := &http.Client{Timeout: httpTimeout, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
	}}
	defer client.CloseIdleConnections()
	resp, err := client.Get(base + "/api/federation/ca")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s/api/federation/ca: status %d: %s", base, resp.StatusCode, data)
	}
	certs, err := pki.ParseCerts(string(data))
	if err != nil {
		t.Fatalf("CA chain of %s: %v", base, err)
	}
	if root := certs[0]; !root.IsCA || root.CheckSignatureFrom(root) != nil {
		t.Fatalf("CA chain of %s does not start with a self-signed CA", base)
	}
	return certs
}

// httpsClient returns a client that trusts only root for the server and,
// when cert is not nil, presents it. It keeps at most one connection per
// host, so that consecutive requests share a connection.
func httpsClient(t *testing.T, root *x509.Certificate, cert *tls.Certificate) *http.Client {
	t.Helper()
	conf := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pki.NewPool(root)}
	if cert != nil {
		conf.Certificates = []tls.Certificate{*cert}
	}
	tr := &http.Transport{TLSClientConfig: conf, MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Timeout: httpTimeout, Transport: tr}
}

// newCSR makes a P-256 key and a CSR for it.
func newCSR(t *testing.T) (*ecdsa.PrivateKey, string) {
	t.Helper()
	key, err := pki.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	csr, err := pki.NewCSR(key, "gateway-a")
	if err != nil {
		t.Fatal(err)
	}
	return key, csr
}

// redeemAt posts an enrollment request to the federation API at base and
// returns the status and body. It is safe to call from any goroutine: it
// reports failures as a zero status and the error's text.
func redeemAt(client *http.Client, base, token, csrPEM string) (int, []byte) {
	body, _ := json.Marshal(map[string]string{"csrPem": csrPEM})
	req, err := http.NewRequest(http.MethodPost, base+"/api/federation/enrollment/"+token,
		bytes.NewReader(body))
	if err != nil {
		return 0, []byte(err.Error())
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, []byte(err.Error())
	}
	return resp.StatusCode, data
}

// enrollAt redeems token at base with a new key and returns the client
// certificate, with its chain and key, ready for mutual TLS.
func enrollAt(t *testing.T, base string, root *x509.Certificate, token string) tls.Certificate {
	t.Helper()
	key, csr := newCSR(t)
	status, body := redeemAt(httpsClient(t, root, nil), base, token, csr)
	if status != http.StatusOK {
		t.Fatalf("redeem at %s: %d %s", base, status, body)
	}
	return clientCert(t, key, body)
}

// clientCert builds a TLS client certificate from a redeem's answer and the
// key its CSR was made with.
func clientCert(t *testing.T, key *ecdsa.PrivateKey, answer []byte) tls.Certificate {
	t.Helper()
	var a enrollAnswer
	if err := json.Unmarshal(answer, &a); err != nil {
		t.Fatalf("redeem answer: %v", err)
	}
	leaf, err := pki.ParseCerts(a.CertPEM)
	if err != nil || len(leaf) != 1 {
		t.Fatalf("certPem: %d certificates, %v", len(leaf), err)
	}
	chain, err := pki.ParseCerts(a.CertChainPEM)
	if err != nil {
		t.Fatalf("certChainPem: %v", err)
	}
	cert := tls.Certificate{PrivateKey: key, Leaf: leaf[0], Certificate: [][]byte{leaf[0].Raw}}
	for _, c := range chain {
		cert.Certificate = append(cert.Certificate, c.Raw)
	}
	return cert
}

// newGrant creates a pending grant of Alice's tasks (at most ten rows) to a
// new peer through p's admin API.
func newGrant(t *testing.T, p *proc, userID, peerName string) mosaic.Grant {
	t.Helper()
	var g mosaic.Grant
	p.mustAdmin(t, http.StatusCreated, http.MethodPost, "/api/admin/federation/grants",
		map[string]any{"userId": userID, "peerName": peerName, "scope": map[string]any{
			"resources": []string{"tasks"}, "max_rows_per_query": 10,
		}}, &g)
	return g
}

// newToken issues an enrollment token for a grant through p's admin API.
func newToken(t *testing.T, p *proc, grantID string, ttlSeconds int) issuedToken {
	t.Helper()
	var tok issuedToken
	p.mustAdmin(t, http.StatusCreated, http.MethodPost,
		"/api/admin/federation/grants/"+grantID+"/tokens",
		map[string]any{"ttlSeconds": ttlSeconds}, &tok)
	return tok
}

// dbConn opens a connection to the database at url, closed when the test
// ends.
func dbConn(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), httpTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect to the test database: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// dbQueryRow runs a one-row query on conn and scans it into dest.
func dbQueryRow(t *testing.T, conn *pgx.Conn, sql string, args []any, dest ...any) {
	t.Helper()
	if err := conn.QueryRow(context.Background(), sql, args...).Scan(dest...); err != nil {
		t.Fatalf("query %q: %v", sql, err)
	}
}

// dbNowMillis returns the database clock in unix milliseconds, the clock
// and unit the store judges expiry by.
func dbNowMillis(t *testing.T, conn *pgx.Conn) int64 {
	t.Helper()
	var ms int64
	dbQueryRow(t, conn,
		"SELECT CAST(FLOOR(EXTRACT(EPOCH FROM clock_timestamp()) * 1000) AS BIGINT)", nil, &ms)
	return ms
}
