package remote

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/mosaicgw/mosaic"
)

// maxCachedClients bounds how many peers' connections a Client keeps.
const maxCachedClients = 64

// Credentials are what a gateway needs to read from a peer over mutual TLS:
// where it is, our client certificate with its private key, and the CA
// pinned at enrollment, the only one trusted for the peer's server.
type Credentials struct {
	// BaseURL is the peer's federation API, https://host[:port].
	BaseURL string
	// Cert is our client certificate (its chain may follow) and key.
	Cert tls.Certificate
	// Roots are the CAs trusted for the peer's server certificate. It must
	// be set: the system roots are never used.
	Roots *x509.CertPool
}

// check returns the normalised base URL of usable credentials: a client
// certificate with its key and the roots to trust. Anything missing is
// KindInvalid "invalid_credentials".
func (creds Credentials) check() (string, error) {
	base, err := parseBaseURL(creds.BaseURL)
	if err != nil {
		return "", err
	}
	if len(creds.Cert.Certificate) == 0 || creds.Cert.PrivateKey == nil {
		return "", mosaic.Errorf(mosaic.KindInvalid, "invalid_credentials",
			"a client certificate and its key are required")
	}
	if creds.Roots == nil {
		return "", mosaic.Errorf(mosaic.KindInvalid, "invalid_credentials",
			"the peer's trusted CA is required")
	}
	return base, nil
}

// Response is a peer's answer to a read: its status and body as received.
type Response struct {
	Status int
	Body   []byte
}

// Client reads from peers over mutual TLS and keeps one connection pool per
// peer and client certificate, so repeated reads reuse their connections.
// It is safe for concurrent use. The zero value is ready to use.
type Client struct {
	mu      sync.Mutex
	clients map[clientKey]*cachedClient
}

// clientKey identifies a pool: the peer's base URL and the SHA-256 of our
// client certificate.
type clientKey struct {
	base string
	cert [sha256.Size]byte
}

// cachedClient is one pool, with the roots it trusts and when it was last
// used.
type cachedClient struct {
	http     *http.Client
	roots    *x509.CertPool
	lastUsed time.Time
}

// defaultClient backs the package-level Query.
var defaultClient Client

// Query reads a resource from a peer with the package's shared Client; see
// Client.Query.
func Query(ctx context.Context, creds Credentials, resource string,
	q url.Values) (*Response, error) {
	return defaultClient.Query(ctx, creds, resource, q)
}

// Query sends GET BaseURL/api/federation/v1/<resource>?<q> over mutual TLS
// and returns whatever HTTP answer comes back, denials included. The error
// is for a call that got no answer: a network or TLS failure is KindUpstream
// "peer_unreachable", an answer over the size limit KindUpstream
// "response_too_large". An unknown resource is KindNotFound
// "unknown_resource" and unusable credentials KindInvalid; neither sends
// anything.
func (c *Client) Query(ctx context.Context, creds Credentials, resource string,
	q url.Values) (*Response, error) {
	if !mosaic.Resource(resource).Valid() {
		return nil, mosaic.Errorf(mosaic.KindNotFound, "unknown_resource",
			"unknown resource %q", resource)
	}
	hc, base, err := c.clientFor(creds)
	if err != nil {
		return nil, err
	}

	target := base + readPathPrefix + resource
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, mosaic.WrapError(mosaic.KindInvalid, "invalid_base_url",
			"remote gateway URL is not usable", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, unreachable(err)
	}
	defer resp.Body.Close()
	body, err := readBody(resp.Body, maxQueryBody)
	if err != nil {
		return nil, err
	}
	return &Response{Status: resp.StatusCode, Body: body}, nil
}

// clientFor returns the pooled HTTP client for creds, creating it (and
// making room for it) when needed, and the normalised base URL.
func (c *Client) clientFor(creds Credentials) (*http.Client, string, error) {
	base, err := creds.check()
	if err != nil {
		return nil, "", err
	}
	key := clientKey{base: base, cert: sha256.Sum256(creds.Cert.Certificate[0])}

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.clients == nil {
		c.clients = make(map[clientKey]*cachedClient)
	}
	if cc, ok := c.clients[key]; ok && cc.roots.Equal(creds.Roots) {
		cc.lastUsed = time.Now()
		return cc.http, base, nil
	}
	c.evictLocked(key)
	cc := &cachedClient{
		http: newHTTPClient(&tls.Config{
			MinVersion:   tls.VersionTLS12,
			RootCAs:      creds.Roots,
			Certificates: []tls.Certificate{creds.Cert},
		}, queryTimeout),
		roots:    creds.Roots,
		lastUsed: time.Now(),
	}
	c.clients[key] = cc
	return cc.http, base, nil
}

// evictLocked drops the pool for key, if any, and the least recently used
// pool when the cache is full. c.mu must be held.
func (c *Client) evictLocked(key clientKey) {
	if old, ok := c.clients[key]; ok {
		old.http.CloseIdleConnections()
		delete(c.clients, key)
	}
	if len(c.clients) < maxCachedClients {
		return
	}
	var oldest clientKey
	var oldestAt time.Time
	for k, cc := range c.clients {
		if oldestAt.IsZero() || cc.lastUsed.Before(oldestAt) {
			oldest, oldestAt = k, cc.lastUsed
		}
	}
	c.clients[oldest].http.CloseIdleConnections()
	delete(c.clients, oldest)
}

// CloseIdleConnections closes the idle connections of every pool and
// forgets them.
func (c *Client) CloseIdleConnections() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, cc := range c.clients {
		cc.http.CloseIdleConnections()
		delete(c.clients, k)
	}
}
