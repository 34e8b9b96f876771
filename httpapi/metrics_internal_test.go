package httpapi

import (
	"slices"
	"strings"
	"testing"
	"time"
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

func TestExpiryBucket(t *testing.T) {
	const day = 24 * time.Hour
	tests := []struct {
		name string
		left time.Duration
		want string
	}{
		{"long expired", -30 * day, "expired"},
		{"just expired", -time.Nanosecond, "expired"},
		{"at its end", 0, "1h"},
		{"an hour", time.Hour, "1h"},
		{"just over an hour", time.Hour + time.Nanosecond, "6h"},
		{"six hours", 6 * time.Hour, "6h"},
		{"a day", day, "24h"},
		{"just over a day", day + time.Second, "7d"},
		{"a week", 7 * day, "7d"},
		{"just over a week", 7*day + time.Second, "later"},
		{"a year", 365 * day, "later"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := expiryBucket(tc.left); got != tc.want {
				t.Errorf("expiryBucket(%v) = %q, want %q", tc.left, got, tc.want)
			}
		})
	}
	want := []string{"1h", "6h", "24h", "7d", "later", "expired"}
	if got := expiryBucketLabels(); !slices.Equal(got, want) {
		t.Errorf("expiryBucketLabels() = %v, want %v", got, want)
	}
}

func TestNilMetricsRecordNothing(t *testing.T) {
	var m *Metrics
	m.observe(answered{api: apiFederation, status: 200})
	m.rateLimitHit(endpointRenewal)
}
