package httpapi_test

import (
	"bytes"
	"context"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/httpapi"
)

// scrape is one scrape of the admin API's /metrics, parsed, with its text.
type scrape struct {
	families map[string]*dto.MetricFamily
	text     string
}

// scrapeMetrics fetches /metrics from the admin API, without the admin
// token, and parses the text format.
func (g *gateway) scrapeMetrics(t *testing.T) *scrape {
	t.Helper()
	req, err := http.NewRequest("GET", g.admin.URL+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	a := send(t, g.admin.Client(), req)
	a.wantStatus(t, http.StatusOK)
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(bytes.NewReader(a.body))
	if err != nil {
		t.Fatalf("parse metrics: %v\n%s", err, a.body)
	}
	return &scrape{families: families, text: string(a.body)}
}

// find returns the sample of metric name whose labels are exactly want,
// or nil.
func (s *scrape) find(name string, want map[string]string) *dto.Metric {
	fam := s.families[name]
	if fam == nil {
		return nil
	}
	for _, m := range fam.GetMetric() {
		if len(m.GetLabel()) != len(want) {
			continue
		}
		match := true
		for _, l := range m.GetLabel() {
			if v, ok := want[l.GetName()]; !ok || v != l.GetValue() {
				match = false
			}
		}
		if match {
			return m
		}
	}
	return nil
}

// counter returns the value of a counter sample, 0 when it is absent.
func (s *scrape) counter(name string, labels map[string]string) float64 {
	if m := s.find(name, labels); m != nil {
		return m.GetCounter().GetValue()
	}
	return 0
}

// labelValues returns every label value of every sample.
func (s *scrape) labelValues() []string {
	var out []string
	for _, fam := range s.families {
		for _, m := range fam.GetMetric() {
			for _, l := range m.GetLabel() {
				out = append(out, l.GetValue())
			}
		}
	}
	return out
}

// req returns the labels of an HTTP request sample.
func req(api, route, method, class string) map[string]string {
	return map[string]string{"api": api, "route": route, "method": method, "status_class": class}
}

// metricsTraffic sends requests of every kind the metrics tell apart to
// g and returns the enrollment token it redeemed and its grant.
func metricsTraffic(t *testing.T, g *gateway) (string, *mosaic.Grant) {
	t.Helper()
	ada := g.createUser(t, "Ada")
	gr := g.createGrant(t, ada.ID, tasksScope)
	tok := g.issueToken(t, gr.ID)

	// Admin: refused without the token, unknown grant, odd method.
	noAuth, err := http.NewRequest("GET", g.admin.URL+"/api/admin/users", nil)
	if err != nil {
		t.Fatal(err)
	}
	send(t, g.admin.Client(), noAuth).wantError(t, 401, "unauthorized")
	g.adminDo(t, "GET", "/api/admin/federation/grants/"+mosaic.NewID(), nil).
		wantStatus(t, http.StatusNotFound)
	g.adminDo(t, "BREW", "/api/admin/users", nil).wantStatus(t, http.StatusMethodNotAllowed)

	// Enrollment: a wrong method (the token in the path), an unknown
	// token, then the real one.
	c := g.fedClient(t)
	g.fedDo(t, c, "GET", "/api/federation/enrollment/"+tok.Token, nil).
		wantError(t, 405, "method_not_allowed")
	g.fedDo(t, c, "POST", "/api/federation/enrollment/"+unknownToken,
		map[string]string{"csrPem": "x"}).wantError(t, 404, "token_not_found")
	cert := g.enroll(t, tok.Token)

	// Reads: allowed, out of scope, no resource, no certificate.
	mc := g.fedClient(t, cert)
	g.fedDo(t, mc, "GET", "/api/federation/v1/tasks", nil).wantStatus(t, http.StatusOK)
	g.fedDo(t, mc, "GET", "/api/federation/v1/notes", nil).
		wantError(t, 403, "resource_not_in_scope")
	g.fedDo(t, mc, "GET", "/api/federation/v1/nothing", nil).wantError(t, 404, "unknown_resource")
	g.fedDo(t, c, "GET", "/api/federation/v1/tasks", nil).
		wantError(t, 401, "client_certificate_required")
	return tok.Token, gr
}

// unknownToken is a well-formed enrollment token that was never issued.
var unknownToken = strings.Repeat("B", mosaic.TokenLen-1) + "Q"

func TestMetricsCountTraffic(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	g := startGatewayOpts(t, gatewayOptions{
		fed: []httpapi.FederationOption{unlimited}, metricsClock: func() time.Time { return now },
	})
	token, _ := metricsTraffic(t, g)
	s := g.scrapeMetrics(t)

	const (
		requests = "mosaic_http_requests_total"
		enrolls  = "mosaic_enrollments_total"
		reads    = "mosaic_federated_reads_total"
		adm, fed = "admin", "federation"
		enroll   = "/api/federation/enrollment/{token}"
		read     = "/api/federation/v1/{resource}"
	)
	tests := []struct {
		name   string
		metric string
		labels map[string]string
		want   float64
	}{
		{"user created", requests, req(adm, "/api/admin/users", "POST", "2xx"), 1},
		{"refused without token", requests, req(adm, "/api/admin/users", "GET", "4xx"), 1},
		{"unknown grant", requests, req(adm, "/api/admin/federation/grants/{id}", "GET", "4xx"), 1},
		{"odd method", requests, req(adm, "unmatched", "other", "4xx"), 1},
		{"enrollments", requests, req(fed, enroll, "POST", "2xx"), 1},
		{"enrollment refused", requests, req(fed, enroll, "POST", "4xx"), 1},
		{"enrollment by GET", requests, req(fed, "unmatched", "GET", "4xx"), 1},
		{"reads allowed", requests, req(fed, read, "GET", "2xx"), 1},
		{"reads refused", requests, req(fed, read, "GET", "4xx"), 3},
		{"enrolled", enrolls, map[string]string{"outcome": "allowed", "reason": "none"}, 1},
		{"unknown token", enrolls,
			map[string]string{"outcome": "denied", "reason": "token_not_found"}, 1},
		{"wrong method", enrolls,
			map[string]string{"outcome": "denied", "reason": "method_not_allowed"}, 1},
		{"read allowed", reads,
			map[string]string{"outcome": "allowed", "resource": "tasks", "reason": "none"}, 1},
		{"read out of scope", reads, map[string]string{"outcome": "denied", "resource": "notes",
			"reason": "resource_not_in_scope"}, 1},
		{"read of no resource", reads, map[string]string{"outcome": "denied",
			"resource": "unknown", "reason": "unknown_resource"}, 1},
		{"read without certificate", reads, map[string]string{"outcome": "denied",
			"resource": "tasks", "reason": "client_certificate_required"}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := s.counter(tc.metric, tc.labels); got != tc.want {
				t.Errorf("%s%v = %v, want %v", tc.metric, tc.labels, got, tc.want)
			}
		})
	}

	t.Run("latency histogram", func(t *testing.T) {
		m := s.find("mosaic_http_request_duration_seconds", req(fed, read, "GET", "4xx"))
		if m == nil || m.GetHistogram().GetSampleCount() != 3 {
			t.Errorf("read latency histogram = %v, want 3 samples", m)
		}
	})
	t.Run("runtime and process", func(t *testing.T) {
		for _, name := range []string{"go_goroutines", "process_start_time_seconds"} {
			if s.families[name] == nil {
				t.Errorf("%s missing", name)
			}
		}
	})
	t.Run("no token or raw path in labels", func(t *testing.T) {
		if strings.Contains(s.text, token) || strings.Contains(s.text, unknownToken) {
			t.Fatal("a token appears in the metrics")
		}
		for _, v := range s.labelValues() {
			if strings.Contains(v, "enrollment") && v != enroll {
				t.Errorf("label value %q holds an enrollment path", v)
			}
			if strings.Contains(v, "/v1/") && v != read {
				t.Errorf("label value %q holds a raw read path", v)
			}
		}
	})
}

func TestMetricsPeerCertificateExpiry(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	g := startGatewayOpts(t, gatewayOptions{
		fed: []httpapi.FederationOption{unlimited}, metricsClock: func() time.Time { return now },
	})
	ada := g.createUser(t, "Ada")
	gr := g.createGrant(t, ada.ID, tasksScope)
	inbound := g.enroll(t, g.issueToken(t, gr.ID).Token)

	// An outbound peer, and a revoked one whose certificate no longer
	// matters, stored as they would be.
	ctx := context.Background()
	outAfter := now.Add(90 * time.Minute)
	out := &mosaic.Peer{Role: mosaic.PeerOutbound, CommonName: "b.example", DisplayName: "B",
		State: mosaic.PeerActive, CertNotAfter: &outAfter, EndpointURL: "https://b.example"}
	revoked := &mosaic.Peer{Role: mosaic.PeerInbound, CommonName: "c.example", DisplayName: "C",
		State: mosaic.PeerRevoked, CertNotAfter: &outAfter}
	pending := &mosaic.Peer{Role: mosaic.PeerInbound, CommonName: "d.example", DisplayName: "D"}
	for _, p := range []*mosaic.Peer{out, revoked, pending} {
		if err := g.Store.CreatePeer(ctx, p); err != nil {
			t.Fatal(err)
		}
	}

	s := g.scrapeMetrics(t)
	const name = "mosaic_peer_certificate_expiry_seconds"
	tests := []struct {
		name    string
		role    mosaic.PeerRole
		peerID  string
		present bool
		want    float64
	}{
		{"inbound, issued by us", mosaic.PeerInbound, gr.PeerID, true,
			inbound.Leaf.NotAfter.Sub(now).Seconds()},
		{"outbound, issued to us", mosaic.PeerOutbound, out.ID, true, 90 * 60},
		{"revoked", mosaic.PeerInbound, revoked.ID, false, 0},
		{"no certificate", mosaic.PeerInbound, pending.ID, false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := s.find(name, map[string]string{"role": string(tc.role), "peer_id": tc.peerID})
			if !tc.present {
				if m != nil {
					t.Errorf("%s reported for %s", name, tc.name)
				}
				return
			}
			if m == nil {
				t.Fatalf("%s missing for peer %s", name, tc.peerID)
			}
			if got := m.GetGauge().GetValue(); math.Abs(got-tc.want) > 0.001 {
				t.Errorf("%s = %v, want %v", name, got, tc.want)
			}
		})
	}
	if fam := s.families[name]; fam == nil || len(fam.GetMetric()) != 2 {
		t.Errorf("%s: want exactly the two peers with a live certificate, got %v", name, fam)
	}
}

func TestMetricsPeerCertificatesByExpiry(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	g := startGatewayOpts(t, gatewayOptions{
		fed: []httpapi.FederationOption{unlimited}, metricsClock: func() time.Time { return now },
	})

	// Certificates on either side of each bucket's bound, and peers that
	// are not counted: a revoked one and one without a certificate.
	ctx := context.Background()
	peer := func(name string, role mosaic.PeerRole, state mosaic.PeerState, left time.Duration) {
		t.Helper()
		p := &mosaic.Peer{Role: role, CommonName: name + ".example", DisplayName: name,
			State: state}
		if role == mosaic.PeerOutbound {
			p.EndpointURL = "https://" + name + ".example"
		}
		if left != 0 {
			notAfter := now.Add(left)
			p.CertNotAfter = &notAfter
		}
		if err := g.Store.CreatePeer(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	const day = 24 * time.Hour
	out, in, active := mosaic.PeerOutbound, mosaic.PeerInbound, mosaic.PeerActive
	peer("expired", out, active, -time.Second)
	peer("half-hour", in, active, 30*time.Minute)
	peer("one-hour", out, active, time.Hour)
	peer("two-hours", out, active, 2*time.Hour)
	peer("six-hours", in, active, 6*time.Hour)
	peer("half-day", out, active, 12*time.Hour)
	peer("seven-days", out, active, 7*day)
	peer("month", in, active, 30*day)
	peer("revoked", in, mosaic.PeerRevoked, time.Minute)
	peer("pending", in, mosaic.PeerPending, 0)

	s := g.scrapeMetrics(t)
	const name = "mosaic_peer_certificates"
	tests := []struct {
		bucket string
		want   float64
	}{
		{"1h", 2}, {"6h", 2}, {"24h", 1}, {"7d", 1}, {"later", 1}, {"expired", 1},
	}
	for _, tc := range tests {
		t.Run(tc.bucket, func(t *testing.T) {
			m := s.find(name, map[string]string{"expires_within": tc.bucket})
			if m == nil {
				t.Fatalf("%s{expires_within=%q} missing", name, tc.bucket)
			}
			if got := m.GetGauge().GetValue(); got != tc.want {
				t.Errorf("%s{expires_within=%q} = %v, want %v", name, tc.bucket, got, tc.want)
			}
		})
	}
	if fam := s.families[name]; fam == nil || len(fam.GetMetric()) != len(tests) {
		t.Errorf("%s: want exactly the %d buckets, got %v", name, len(tests), fam)
	}
}

func TestMetricsPeerCertificatesWithoutPeers(t *testing.T) {
	g := startGatewayOpts(t, gatewayOptions{metricsClock: time.Now})
	s := g.scrapeMetrics(t)
	for _, bucket := range []string{"1h", "6h", "24h", "7d", "later", "expired"} {
		labels := map[string]string{"expires_within": bucket}
		m := s.find("mosaic_peer_certificates", labels)
		if m == nil || m.GetGauge().GetValue() != 0 {
			t.Errorf("mosaic_peer_certificates%v = %v, want 0", labels, m)
		}
	}
}

func TestMetricsCountRateLimitHits(t *testing.T) {
	const limited = "mosaic_rate_limited_total"
	tests := []struct {
		name      string
		path      string
		firstCode string // the answer before the source is over its limit
		status    int
		counter   string // the endpoint's own counter, by outcome and reason
	}{
		{"enrollment", "/api/federation/enrollment/" + unknownToken, "token_not_found",
			http.StatusNotFound, "mosaic_enrollments_total"},
		{"renewal", renewPath, "client_certificate_required", http.StatusUnauthorized,
			"mosaic_renewals_total"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := startGatewayOpts(t, gatewayOptions{
				fed: []httpapi.FederationOption{
					httpapi.WithEnrollmentLimit(httpapi.EnrollmentLimit{PerMinute: 1, Burst: 1}),
				},
				metricsClock: time.Now,
			})
			c := g.fedClient(t)
			body := map[string]string{"csrPem": "x"}
			g.fedDo(t, c, "POST", tc.path, body).wantError(t, tc.status, tc.firstCode)
			for range 2 {
				g.fedDo(t, c, "POST", tc.path, body).wantError(t, 429, "rate_limited")
			}

			s := g.scrapeMetrics(t)
			for _, endpoint := range []string{"enrollment", "renewal"} {
				want := 0.0
				if endpoint == tc.name {
					want = 2
				}
				labels := map[string]string{"endpoint": endpoint}
				if got := s.counter(limited, labels); got != want {
					t.Errorf("%s%v = %v, want %v", limited, labels, got, want)
				}
			}
			// The older enrollment-only counter goes on counting enrollments.
			wantOld := 0.0
			if tc.name == "enrollment" {
				wantOld = 2
			}
			old := "mosaic_enrollment_rate_limited_total"
			if got := s.counter(old, map[string]string{}); got != wantOld {
				t.Errorf("%s = %v, want %v", old, got, wantOld)
			}
			denied := map[string]string{"outcome": "denied", "reason": "rate_limited"}
			if got := s.counter(tc.counter, denied); got != 2 {
				t.Errorf("%s%v = %v, want %v", tc.counter, denied, got, 2)
			}
		})
	}
}

func TestMetricsServedWithoutAdminToken(t *testing.T) {
	g := startGateway(t)
	// Without shared metrics the admin API still serves its own.
	g.adminDo(t, "GET", "/api/admin/users", nil).wantStatus(t, http.StatusOK)
	s := g.scrapeMetrics(t)
	if got := s.counter("mosaic_http_requests_total",
		req("admin", "/api/admin/users", "GET", "2xx")); got != 1 {
		t.Errorf("admin requests = %v, want 1", got)
	}
	if s.families["mosaic_enrollments_total"] != nil &&
		len(s.families["mosaic_enrollments_total"].GetMetric()) != 0 {
		t.Error("the admin API's own metrics count enrollments")
	}
}
