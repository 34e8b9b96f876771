package bench

import (
	"os"
	"strings"
	"testing"
)

func TestParseKB(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    int64
		wantErr bool
	}{
		{"proc spacing", "\t  123456 kB", 123456 << 10, false},
		{"zero", "0 kB", 0, false},
		{"no unit", "123", 0, true},
		{"other unit", "12 MB", 0, true},
		{"not a number", "x kB", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseKB(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("parseKB(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestProcField(t *testing.T) {
	text := "processor\t: 0\nmodel name\t: Some CPU @ 2.0GHz\nmodel name\t: second\n" +
		"PRETTY_NAME=\"Debian\"\n"
	tests := []struct{ key, want string }{
		{"model name", "Some CPU @ 2.0GHz"},
		{"processor", "0"},
		{"PRETTY_NAME", `"Debian"`},
		{"absent", ""},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			if got := procField(strings.NewReader(text), tt.key); got != tt.want {
				t.Errorf("procField(%q) = %q, want %q", tt.key, got, tt.want)
			}
		})
	}
}

func TestPeakRSSOfThisProcess(t *testing.T) {
	rss, err := PeakRSS(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if rss < 1<<20 {
		t.Errorf("peak RSS of this test process = %d bytes, implausibly small", rss)
	}
	if _, err := PeakRSS(-1); err == nil {
		t.Error("PeakRSS of pid -1 did not fail")
	}
}

func TestDescribeMachine(t *testing.T) {
	m := DescribeMachine()
	if m.CPUs < 1 || m.GoVersion == "" || m.MemoryMiB <= 0 {
		t.Errorf("DescribeMachine() = %+v: CPUs, Go version and memory must be known", m)
	}
	if _, ok := LoadAverage(); !ok {
		t.Error("no load average from /proc/loadavg")
	}
}
