package cli

import (
	"strings"
	"testing"
)

func TestUnknownSubcommandFails(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"top level", []string{"bogus"}, `unknown command "bogus" for "mosaic"`},
		{"group", []string{"federation", "grnt", "list"},
			`unknown command "grnt" for "mosaic federation"`},
		{"nested group", []string{"federation", "grant", "lst"},
			`unknown command "lst" for "mosaic federation grant"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := run(t, nil, "", tt.args...).mustFail(t)
			if !strings.Contains(msg, tt.want) {
				t.Errorf("error = %q, want it to contain %q", msg, tt.want)
			}
		})
	}
}

func TestGroupWithoutSubcommandPrintsHelp(t *testing.T) {
	r := run(t, nil, "", "federation").mustSucceed(t)
	if !strings.Contains(r.stdout, "grant") || !strings.Contains(r.stdout, "peer") {
		t.Errorf("help = %q", r.stdout)
	}
}
