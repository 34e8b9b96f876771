package gateway

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/ca/embedded"
	"github.com/mosaicgw/mosaic/pki"
	"github.com/mosaicgw/mosaic/seal"
	"github.com/mosaicgw/mosaic/sqlstore"
)

// TestCACheck reports the signing intermediate, and says to rotate once
// fewer than 90 days remain.
func TestCACheck(t *testing.T) {
	ctx := context.Background()
	db, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "mosaic.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	sealer, err := seal.New(bytes.Repeat([]byte("s"), 40))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := embedded.Load(ctx, db, sealer, embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	g := &gw{ca: ca}
	inter := ca.Intermediate()
	serial := pki.SerialHex(inter)

	tests := []struct {
		name   string
		now    time.Time
		status mosaic.CheckStatus
		rotate bool
	}{
		{"fresh", time.Now(), mosaic.CheckOK, false},
		{"ten days left", inter.NotAfter.Add(-10 * 24 * time.Hour), mosaic.CheckWarn, true},
		{"expired", inter.NotAfter.Add(time.Hour), mosaic.CheckFail, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := g.caCheck(tt.now)
			if c.Name != "ca" || c.Status != tt.status ||
				!strings.HasPrefix(c.Reason, "signing intermediate "+serial+" ") ||
				strings.Contains(c.Reason, "rotate-ca") != tt.rotate {
				t.Errorf("check = %+v, want %s naming %s (rotate-ca advice: %v)", c, tt.status,
					serial, tt.rotate)
			}
		})
	}
}

func TestCAReloadIntervalSetting(t *testing.T) {
	tests := []struct {
		name    string
		cfg     time.Duration
		env     string
		want    time.Duration
		wantErr bool
	}{
		{"default", 0, "", DefaultCAReloadInterval, false},
		{"configured", 5 * time.Second, "1h", 5 * time.Second, false},
		{"environment", 0, "30s", 30 * time.Second, false},
		{"not a duration", 0, "soon", 0, true},
		{"zero in the environment", 0, "0s", 0, true},
		{"negative", -time.Second, "", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Config{CAReloadInterval: tt.cfg, Env: func(k string) string {
				if k == EnvCAReloadInterval {
					return tt.env
				}
				return ""
			}}
			got, err := c.caReloadInterval()
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("caReloadInterval = %s, %v; want %s (error %v)", got, err, tt.want,
					tt.wantErr)
			}
		})
	}
}
