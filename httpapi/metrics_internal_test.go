package httpapi

import (
	"strings"
	"testing"
)

func TestMetricLabels(t *testing.T) {
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"standard method", methodLabel("PATCH"), "PATCH"},
		{"made-up method", methodLabel("BREW"), "other"},
		{"lower-case method", methodLabel("get"), "other"},
		{"code", reasonLabel("token_not_found"), "token_not_found"},
		{"code with a field name", reasonLabel("invalid_expiresAt"), "invalid_expiresAt"},
		{"no code", reasonLabel(""), "unknown"},
		{"not a code", reasonLabel("/api/federation/enrollment/x"), "other"},
		{"too long", reasonLabel(strings.Repeat("a", maxReasonLabel+1)), "other"},
		{"resource", readResource("/api/federation/v1/notes"), "notes"},
		{"not a resource", readResource("/api/federation/v1/secrets"), "unknown"},
		{"a token where the resource is", readResource("/api/federation/v1/" +
			strings.Repeat("t", 43)), "unknown"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
}

func TestNilMetricsRecordNothing(t *testing.T) {
	var m *Metrics
	m.observe(answered{api: apiFederation, status: 200})
	m.rateLimitHit(endpointRenewal)
}
