package remote

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/pki"
)

func TestFetchPinnedCA(t *testing.T) {
	root := newTestCA(t, "root")
	other := newTestCA(t, "other")
	g := startGrantor(t, grantorConfig{cert: root.serverCert(t), bundle: other.pem() + root.pem()})

	certs, anchor, err := FetchPinnedCA(context.Background(), g.srv.URL+"/", root.pin(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(certs) != 2 || !anchor.Equal(root.cert) {
		t.Fatalf("got %d certificates and anchor %q", len(certs), anchor.Subject)
	}
	upper := "sha256:" + strings.ToUpper(strings.TrimPrefix(root.pin(), "sha256:"))
	if _, anchor, err = FetchPinnedCA(context.Background(), g.srv.URL, upper, nil); err != nil ||
		!anchor.Equal(root.cert) {
		t.Fatalf("upper-case pin: %v", err)
	}
}

func TestFetchPinnedCARejects(t *testing.T) {
	root := newTestCA(t, "root")
	rootPEM := root.pem()
	block := rootPEM[strings.Index(rootPEM, "\n")+1 : strings.Index(rootPEM, "-----END")]
	tests := []struct {
		name     string
		bundle   string
		status   int
		base     string // empty means the grantor's URL
		pin      string // empty means the root's pin
		wantCode string
	}{
		{name: "empty bundle", bundle: "", wantCode: "invalid_ca_bundle"},
		{name: "trailing text", bundle: rootPEM + "trailing", wantCode: "invalid_ca_bundle"},
		{name: "leading text", bundle: "leading\n" + rootPEM, wantCode: "invalid_ca_bundle"},
		{name: "wrong block type", wantCode: "invalid_ca_bundle",
			bundle: strings.ReplaceAll(rootPEM, "CERTIFICATE", "PRIVATE KEY")},
		{name: "PEM headers", wantCode: "invalid_ca_bundle",
			bundle: strings.Replace(rootPEM, "-----\n", "-----\nProc-Type: 4,ENCRYPTED\n\n", 1)},
		{name: "not DER", wantCode: "invalid_ca_bundle",
			bundle: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"},
		{name: "truncated block", wantCode: "invalid_ca_bundle",
			bundle: "-----BEGIN CERTIFICATE-----\n" + block},
		{name: "not found", status: http.StatusNotFound, wantCode: "not_found",
			bundle: `{"error":{"code":"not_found","message":"no such path"}}`},
		{name: "no match", bundle: rootPEM, wantCode: "pin_mismatch",
			pin: pki.Pin(newTestCA(t, "x").cert)},
		{name: "malformed pin", bundle: rootPEM, pin: "sha256:abc", wantCode: "invalid_pin"},
		{name: "plain http base", bundle: rootPEM, base: "http://127.0.0.1:1",
			wantCode: "invalid_base_url"},
		{name: "base with a path", bundle: rootPEM, base: "https://127.0.0.1:1/x",
			wantCode: "invalid_base_url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := startGrantor(t, grantorConfig{cert: root.serverCert(t), bundle: tt.bundle,
				bundleStatus: tt.status})
			base, pin := tt.base, tt.pin
			if base == "" {
				base = g.srv.URL
			}
			if pin == "" {
				pin = root.pin()
			}
			_, _, err := FetchPinnedCA(context.Background(), base, pin, nil)
			if mosaic.ErrorCode(err) != tt.wantCode {
				t.Fatalf("error %v, want code %s", err, tt.wantCode)
			}
		})
	}
}
