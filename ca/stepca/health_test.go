package stepca

import (
	"net/http"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/pki"
)

func TestHealth(t *testing.T) {
	p := newTestPKI(t)
	tests := []struct {
		name   string
		status int
		body   any
		kind   mosaic.Kind
		code   string // empty: healthy
	}{
		{"ok", 200, map[string]string{"status": "ok"}, 0, ""},
		{"not ok", 200, map[string]string{"status": "starting"}, mosaic.KindUnavailable,
			"ca_unavailable"},
		{"503", 503, map[string]string{"message": "down"}, mosaic.KindUnavailable, "ca_unavailable"},
		{"500", 500, nil, mosaic.KindUpstream, "ca_failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var path string
			srv := startServer(t, p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				path = r.Method + " " + r.URL.Path
				answerJSON(w, tt.status, tt.body)
			}))
			err := newTestClient(t, p, srv.URL, 0).Health(t.Context())
			if path != "GET /health" {
				t.Errorf("request = %q", path)
			}
			if tt.code == "" {
				if err != nil {
					t.Fatalf("Health: %v", err)
				}
				return
			}
			wantError(t, err, tt.kind, tt.code)
		})
	}

	c := newTestClient(t, p, "https://"+silentListener(t), 200*time.Millisecond)
	wantError(t, c.Health(t.Context()), mosaic.KindUnavailable, "ca_unavailable")
}

func TestCheckRoot(t *testing.T) {
	p := newTestPKI(t)
	other := newTestPKI(t)
	tests := []struct {
		name   string
		status int
		body   any
		code   string // empty: the root is served
	}{
		{"served", 200, map[string]string{"ca": pki.EncodeCerts(p.root)}, ""},
		{"unknown to step-ca", 404, map[string]string{"message": "not found"}, "ca_root_mismatch"},
		{"another root served", 200, map[string]string{"ca": pki.EncodeCerts(other.root)},
			"ca_root_mismatch"},
		{"answer without a certificate", 200, map[string]string{"ca": ""}, "ca_failed"},
		{"refused", 403, nil, "ca_refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var path string
			srv := startServer(t, p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				path = r.Method + " " + r.URL.Path
				answerJSON(w, tt.status, tt.body)
			}))
			err := newTestClient(t, p, srv.URL, 0).CheckRoot(t.Context())
			if want := "GET /root/" + pki.Fingerprint(p.root); path != want {
				t.Errorf("request = %q, want %q", path, want)
			}
			if tt.code == "" {
				if err != nil {
					t.Fatalf("CheckRoot: %v", err)
				}
				return
			}
			wantError(t, err, mosaic.KindUpstream, tt.code)
		})
	}
}
