package cli

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/mosaicgw/mosaic/ca/embedded"
)

// TestRotateCA runs "gateway rotate-ca" on a data directory made by
// "gateway init": as text, then as JSON, each naming the intermediate the
// one before made; and on a directory without a gateway, where it fails
// with one line and creates nothing.
func TestRotateCA(t *testing.T) {
	dir := t.TempDir()
	flags := []string{"--data-dir", dir, "--admin-addr", "127.0.0.1:0",
		"--federation-addr", "127.0.0.1:0"}
	run(t, nil, "", append([]string{"gateway", "init"}, flags...)...).mustSucceed(t)

	r := run(t, nil, "", append([]string{"gateway", "rotate-ca"}, flags...)...).mustSucceed(t)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "new signing intermediate ") ||
		!strings.HasPrefix(lines[1], "previous intermediate ") ||
		!strings.HasPrefix(lines[2], "root unchanged: peers keep the pin sha256:") {
		t.Fatalf("rotate-ca output:\n%s", r.stdout)
	}
	first := strings.TrimSuffix(strings.Fields(lines[0])[3], ",")

	r = run(t, nil, "", append([]string{"gateway", "rotate-ca", "--json"}, flags...)...).
		mustSucceed(t)
	var rot embedded.Rotation
	if err := json.Unmarshal([]byte(r.stdout), &rot); err != nil {
		t.Fatalf("rotate-ca --json: %v: %s", err, r.stdout)
	}
	if rot.Old.Serial != first || rot.New.Serial == rot.Old.Serial ||
		rot.New.NotAfter.IsZero() || len(rot.Kept) != 3 || len(rot.Dropped) != 0 {
		t.Errorf("second rotation %+v, want it to follow %s", rot, first)
	}

	empty := t.TempDir()
	line := run(t, nil, "", "gateway", "rotate-ca", "--data-dir", empty).mustFail(t)
	if !strings.Contains(line, "no database at "+empty) {
		t.Errorf("rotate-ca without a gateway: %q", line)
	}
	if entries, _ := os.ReadDir(empty); len(entries) != 0 {
		t.Errorf("rotate-ca without a gateway left %d files behind", len(entries))
	}
}
