package gateway

import (
	"strings"
	"testing"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/seal"
)

func TestJudgeSealed(t *testing.T) {
	one, two := strings.Repeat("1", 40), strings.Repeat("2", 40)
	alone, err := seal.NewWithVersions(2, map[uint32][]byte{2: []byte(two)})
	if err != nil {
		t.Fatal(err)
	}
	both, err := seal.NewWithVersions(2, map[uint32][]byte{1: []byte(one), 2: []byte(two)})
	if err != nil {
		t.Fatal(err)
	}
	count := func(pairs ...int) []seal.VersionCount {
		var out []seal.VersionCount
		for i := 0; i < len(pairs); i += 2 {
			out = append(out, seal.VersionCount{Table: mosaic.SealedCredentials,
				Version: uint32(pairs[i]), Count: int64(pairs[i+1])})
		}
		return out
	}
	tests := []struct {
		name   string
		sealer *seal.Sealer
		counts []seal.VersionCount
		status mosaic.CheckStatus
		reason string
	}{
		{"all current", alone, count(2, 5), mosaic.CheckOK, "all 5 sealed values"},
		{"nothing sealed", alone, nil, mosaic.CheckOK, "all 0 sealed values"},
		{"rotation to finish", both, count(1, 3, 2, 4), mosaic.CheckWarn,
			"3 sealed values are still under the previous key version 1"},
		{"previous secret no longer needed", both, count(2, 7), mosaic.CheckWarn,
			"no longer needed"},
		{"version without its secret", alone, count(1, 2, 2, 1, 3, 1), mosaic.CheckWarn,
			"3 sealed values are under key version 1, 3, whose secret"},
		{"not sealed values", alone, count(0, 1, 2, 1), mosaic.CheckWarn,
			"under key version 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := judgeSealed(tt.sealer, tt.counts)
			if c.Name != "sealing" || c.Status != tt.status || !strings.Contains(c.Reason, tt.reason) {
				t.Errorf("check %+v, want %s with %q", c, tt.status, tt.reason)
			}
		})
	}
}
