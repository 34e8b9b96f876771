package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/federation"
)

// Values of the "api" label: which listener answered.
const (
	apiAdmin      = "admin"
	apiFederation = "federation"
)

// Label values that stand for something not known or not bounded.
const (
	unmatchedRoute = "unmatched" // no route: unknown path, wrong method, unclean path
	otherValue     = "other"     // a method or reason outside the known set
	noReason       = "none"      // the reason of an allowed request
	unknownValue   = "unknown"   // a resource that is not one, a refusal without a code
)

// maxReasonLabel bounds the length of a reason label.
const maxReasonLabel = 64

// peerScrapeTimeout bounds the peer listing done for each scrape.
const peerScrapeTimeout = 5 * time.Second

// requestBuckets are the latency buckets, in seconds, of both APIs: from
// a millisecond to the 60 s an answer may take (a remote query included).
var requestBuckets = []float64{
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
}

// Metrics are the gateway's Prometheus metrics, kept in a registry of
// their own rather than the process-wide default. Labels hold route
// patterns, never raw paths, and only values from bounded sets: no token,
// address or other client input reaches them. A nil *Metrics records
// nothing.
type Metrics struct {
	reg         *prometheus.Registry
	log         *slog.Logger
	requests    *prometheus.CounterVec
	durations   *prometheus.HistogramVec
	enrollments *prometheus.CounterVec
	reads       *prometheus.CounterVec
	renewals    *prometheus.CounterVec
	rateLimited *prometheus.CounterVec
	// enrollRateLimited is mosaic_enrollment_rate_limited_total, the
	// enrollment count of rateLimited under its older name, kept so that
	// dashboards and alerts built on it go on working.
	enrollRateLimited prometheus.Counter
}

// MetricsOption configures Metrics.
type MetricsOption func(*metricsOptions)

// metricsOptions are the settings of Metrics.
type metricsOptions struct {
	now    func() time.Time
	logger *slog.Logger
}

// WithMetricsClock sets the clock the certificate expiry metric is
// computed against. Without it, time.Now.
func WithMetricsClock(now func() time.Time) MetricsOption {
	return func(o *metricsOptions) { o.now = now }
}

// WithMetricsLogger sets where failures to gather metrics are logged.
// Without it they are discarded.
func WithMetricsLogger(l *slog.Logger) MetricsOption {
	return func(o *metricsOptions) { o.logger = l }
}

// NewMetrics returns the metrics of one gateway: request counts and
// latencies of both APIs, enrollments, federated reads, renewals, rate
// limit hits by endpoint, the time left on each peer certificate, the
// peer certificates counted by time to expiry, and the renewal failures of
// each active outbound peer (read from svc's peers
// on every scrape; none when svc is nil), and the Go runtime and process
// collectors.
func NewMetrics(svc *federation.Service, opts ...MetricsOption) *Metrics {
	o := metricsOptions{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	m := newMetricSet()
	m.log = o.logger.With(slog.String("component", "metrics"))
	m.reg = prometheus.NewRegistry()
	m.reg.MustRegister(m.requests, m.durations, m.enrollments, m.reads, m.renewals,
		m.rateLimited, m.enrollRateLimited, collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if svc != nil {
		m.reg.MustRegister(&peerCertCollector{list: svc.ListPeers, now: o.now})
	}
	return m
}

// newMetricSet returns the metrics recorded by the handlers, unregistered.
func newMetricSet() *Metrics {
	reqLabels := []string{"api", "route", "method", "status_class"}
	return &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mosaic_http_requests_total",
			Help: "HTTP requests answered, by API, route pattern, method and status class.",
		}, reqLabels),
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "mosaic_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by API, route pattern, method and status class.",
			Buckets: requestBuckets,
		}, reqLabels),
		enrollments: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mosaic_enrollments_total",
			Help: "Enrollment requests, by outcome (allowed or denied) and reason code " +
				"(none when allowed); rate-limited ones included.",
		}, []string{"outcome", "reason"}),
		reads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mosaic_federated_reads_total",
			Help: "Federated reads, by outcome (allowed or denied), resource " +
				"(unknown if not one) and reason code (none when allowed).",
		}, []string{"outcome", "resource", "reason"}),
		renewals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mosaic_renewals_total",
			Help: "Certificate renewal requests served to peers, by outcome (allowed or " +
				"denied) and reason code (none when allowed); rate-limited ones included.",
		}, []string{"outcome", "reason"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mosaic_rate_limited_total",
			Help: "Requests refused by the per-address rate limit (429 rate_limited), " +
				"by endpoint (enrollment or renewal).",
		}, []string{"endpoint"}),
		enrollRateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mosaic_enrollment_rate_limited_total",
			Help: "Enrollment requests refused by the per-address rate limit; kept for " +
				`compatibility, the same as mosaic_rate_limited_total{endpoint="enrollment"}.`,
		}),
	}
}

// Handler serves the metrics in the Prometheus exposition formats. A
// metric that cannot be gathered (the peer listing failing) is logged and
// left out; the others are still served.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(m.log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
	})
}

// answered is what the metrics record of one answered request.
type answered struct {
	api     string
	pattern string // the route pattern that matched, "" if none
	method  string
	path    string // the request path, as received; never a label
	status  int
	code    string // the error code answered, "" if none
	elapsed time.Duration
}

// observe records one answered request.
func (m *Metrics) observe(a answered) {
	if m == nil {
		return
	}
	route := unmatchedRoute
	if _, p, ok := strings.Cut(a.pattern, " "); ok {
		route = p
	}
	labels := prometheus.Labels{
		"api":          a.api,
		"route":        route,
		"method":       methodLabel(a.method),
		"status_class": strconv.Itoa(a.status/100) + "xx",
	}
	m.requests.With(labels).Inc()
	m.durations.With(labels).Observe(a.elapsed.Seconds())
	if a.api != apiFederation {
		return
	}

	outcome, reason := string(mosaic.OutcomeAllowed), noReason
	if a.status < 200 || a.status > 299 {
		outcome, reason = string(mosaic.OutcomeDenied), reasonLabel(a.code)
	}
	switch {
	case federation.IsEnrollmentPath(a.path):
		m.enrollments.WithLabelValues(outcome, reason).Inc()
	case a.pattern == readRoute:
		m.reads.WithLabelValues(outcome, readResource(a.path), reason).Inc()
	case a.path == federation.RenewPath:
		m.renewals.WithLabelValues(outcome, reason).Inc()
	}
}

// Values of the "endpoint" label of the rate-limit metric: the endpoints
// that are rate limited.
const (
	endpointEnrollment = "enrollment"
	endpointRenewal    = "renewal"
)

// rateLimitHit records a request to endpoint refused by the rate limit.
func (m *Metrics) rateLimitHit(endpoint string) {
	if m == nil {
		return
	}
	m.rateLimited.WithLabelValues(endpoint).Inc()
	if endpoint == endpointEnrollment {
		m.enrollRateLimited.Inc()
	}
}

// methodLabel returns m if it is a standard method, else "other": a client
// may send any method name.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return otherValue
}

// reasonLabel returns an error code as a label value. Codes are ours, but
// anything that does not look like one is reported as "other".
func reasonLabel(code string) string {
	if code == "" {
		return unknownValue
	}
	if len(code) > maxReasonLabel {
		return otherValue
	}
	for _, c := range code {
		word := c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
		if !word {
			return otherValue
		}
	}
	return code
}

// readResource returns the resource a federated read path names, or
// "unknown" when it names none of the resources.
func readResource(path string) string {
	name := strings.TrimPrefix(path, readPathPrefix)
	if res := mosaic.Resource(name); res.Valid() {
		return name
	}
	return unknownValue
}

// peerCertCollector reports, on every scrape, the time left on the
// certificate of each peer that has one and is not revoked (the inbound
// peers' certificates we issued and the outbound ones issued to us), how
// many of those certificates expire within each of certBuckets, and the
// renewal failures of each active outbound peer.
type peerCertCollector struct {
	list func(context.Context, mosaic.PeerFilter) ([]*mosaic.Peer, error)
	now  func() time.Time
}

// peerCertExpiry describes the certificate expiry metric.
var peerCertExpiry = prometheus.NewDesc("mosaic_peer_certificate_expiry_seconds",
	"Seconds until the current certificate of a peer expires (negative once expired), "+
		"by role (inbound: issued by us; outbound: issued to us) and peer id. "+
		"Revoked peers and peers without a certificate are left out.",
	[]string{"role", "peer_id"}, nil)

// peerCertificates describes the metric of certificates by time to expiry.
var peerCertificates = prometheus.NewDesc("mosaic_peer_certificates",
	"Current certificates of peers (both roles; revoked peers and peers without a "+
		"certificate left out), by how long they have left. The buckets do not "+
		"accumulate: expires_within 1h counts those with at most an hour left, 6h those "+
		"with more than 1h and at most 6h, then 24h and 7d likewise, later those with "+
		"more than 7 days, expired those past their end.",
	[]string{"expires_within"}, nil)

// certBuckets are the bounded values of the expires_within label of
// mosaic_peer_certificates, shortest first: a certificate falls in the
// first whose bound its time left does not exceed.
var certBuckets = []struct {
	label  string
	within time.Duration
}{
	{"1h", time.Hour},
	{"6h", 6 * time.Hour},
	{"24h", 24 * time.Hour},
	{"7d", 7 * 24 * time.Hour},
}

// The other values of the expires_within label: past every bucket, and
// past the certificate's end.
const (
	bucketLater   = "later"
	bucketExpired = "expired"
)

// expiryBucket returns the expires_within label of a certificate with left
// until it expires. A certificate is valid up to its notAfter inclusive,
// so it is expired only once left is negative.
func expiryBucket(left time.Duration) string {
	if left < 0 {
		return bucketExpired
	}
	for _, b := range certBuckets {
		if left <= b.within {
			return b.label
		}
	}
	return bucketLater
}

// expiryBucketLabels returns every value of the expires_within label.
func expiryBucketLabels() []string {
	labels := make([]string, 0, len(certBuckets)+2)
	for _, b := range certBuckets {
		labels = append(labels, b.label)
	}
	return append(labels, bucketLater, bucketExpired)
}

// peerRenewalFailures describes the renewal failure metric.
var peerRenewalFailures = prometheus.NewDesc("mosaic_peer_renewal_failures",
	"Failed attempts, since the last success, to renew our certificate from an active "+
		"outbound peer, by peer id.",
	[]string{"peer_id"}, nil)

// Describe sends the collector's metric descriptions.
func (c *peerCertCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- peerCertExpiry
	ch <- peerCertificates
	ch <- peerRenewalFailures
}

// Collect lists the peers and sends one gauge per certificate, then the
// count of certificates in every expiry bucket, zero included. A listing
// failure is sent as an invalid metric, which the handler logs.
func (c *peerCertCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), peerScrapeTimeout)
	defer cancel()
	peers, err := c.list(ctx, mosaic.PeerFilter{})
	if err != nil {
		ch <- prometheus.NewInvalidMetric(peerCertExpiry, fmt.Errorf("httpapi: list peers: %w", err))
		return
	}
	now := c.now()
	inBucket := map[string]int{}
	for _, p := range peers {
		if p.CertNotAfter == nil || p.State == mosaic.PeerRevoked {
			continue
		}
		left := p.CertNotAfter.Sub(now)
		inBucket[expiryBucket(left)]++
		ch <- prometheus.MustNewConstMetric(peerCertExpiry, prometheus.GaugeValue,
			left.Seconds(), string(p.Role), p.ID)
		if p.Role == mosaic.PeerOutbound && p.State == mosaic.PeerActive {
			ch <- prometheus.MustNewConstMetric(peerRenewalFailures, prometheus.GaugeValue,
				float64(p.RenewFailures), p.ID)
		}
	}
	for _, label := range expiryBucketLabels() {
		ch <- prometheus.MustNewConstMetric(peerCertificates, prometheus.GaugeValue,
			float64(inBucket[label]), label)
	}
}
