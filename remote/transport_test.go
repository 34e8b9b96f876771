package remote

import (
	"bytes"
	"errors"
	"net/http"
	"testing"

	"github.com/mosaicgw/mosaic"
)

func TestDecodeError(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		body     string
		wantKind mosaic.Kind
		wantCode string
		wantMsg  string
	}{
		{"bad request", 400, `{"error":{"code":"invalid_csr","message":"CSR does not parse"}}`,
			mosaic.KindInvalid, "invalid_csr", "CSR does not parse"},
		{"forbidden", 403, `{"error":{"code":"grant_not_active","message":"grant revoked"}}`,
			mosaic.KindForbidden, "grant_not_active", "grant revoked"},
		{"gone", 410, `{"error":{"code":"token_expired","message":"expired"}}`,
			mosaic.KindGone, "token_expired", "expired"},
		{"remote internal", 500, `{"error":{"code":"internal","message":"internal error"}}`,
			mosaic.KindUpstream, "internal", "internal error"},
		{"unavailable", 503, `{"error":{"code":"ca_unavailable","message":"later"}}`,
			mosaic.KindUnavailable, "ca_unavailable", "later"},
		{"other client error", 422, `{"error":{"code":"odd","message":"odd"}}`,
			mosaic.KindInvalid, "odd", "odd"},
		{"empty message", 404, `{"error":{"code":"not_found"}}`,
			mosaic.KindNotFound, "not_found", "not found"},
		{"control characters", 400, `{"error":{"code":"x","message":"a\u001b]0;b\u202ec\n"}}`,
			mosaic.KindInvalid, "x", "a]0;bc"},
		{"field code", 400, `{"error":{"code":"invalid_userId","message":"userId: not a valid id"}}`,
			mosaic.KindInvalid, "invalid_userId", "userId: not a valid id"},
		{"not JSON", 502, `<html>`, mosaic.KindUpstream, "unexpected_answer",
			"the remote gateway answered HTTP 502 without a valid error"},
		{"code with spaces", 400, `{"error":{"code":"rm -rf","message":"m"}}`,
			mosaic.KindUpstream, "unexpected_answer",
			"the remote gateway answered HTTP 400 without a valid error"},
		{"no code", 409, `{"error":{"message":"m"}}`, mosaic.KindUpstream, "unexpected_answer",
			"the remote gateway answered HTTP 409 without a valid error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := DecodeError(tt.status, []byte(tt.body))
			var e *mosaic.Error
			if !errors.As(err, &e) || e.Kind != tt.wantKind || e.Code != tt.wantCode ||
				e.Message != tt.wantMsg {
				t.Fatalf("got %#v, want kind %d code %q message %q",
					err, tt.wantKind, tt.wantCode, tt.wantMsg)
			}
		})
	}
}

func TestKindOfStatusRoundTrip(t *testing.T) {
	for _, status := range []int{400, 401, 403, 404, 409, 410, 413, 415, 429, 503} {
		kind := KindOfStatus(status)
		if kind == mosaic.KindInternal || kind == mosaic.KindUpstream {
			t.Errorf("status %d maps to kind %d", status, kind)
		}
	}
	if KindOfStatus(http.StatusBadGateway) != mosaic.KindUpstream {
		t.Error("502 must be KindUpstream")
	}
}

func TestReadBodyLimit(t *testing.T) {
	_, err := readBody(bytes.NewReader(make([]byte, 11)), 10)
	if mosaic.ErrorCode(err) != "response_too_large" {
		t.Fatalf("11 bytes with a limit of 10: %v", err)
	}
	if b, err := readBody(bytes.NewReader(make([]byte, 10)), 10); err != nil || len(b) != 10 {
		t.Fatalf("10 bytes with a limit of 10: %d, %v", len(b), err)
	}
}
