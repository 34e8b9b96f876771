package seal

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// envOf returns an env lookup over a fixed map.
func envOf(vars map[string]string) func(string) string {
	return func(name string) string { return vars[name] }
}

// writeSecretFile writes a secret file with the given mode.
func writeSecretFile(t *testing.T, dir, text string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(dir, SecretFileName)
	if err := os.WriteFile(path, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadSecretSources(t *testing.T) {
	long := strings.Repeat("a", 40)
	alias := strings.Repeat("b", 40)
	inFile := strings.Repeat("c", 40)
	tests := []struct {
		name     string
		env      map[string]string
		file     string // written with mode 0600 when non-empty
		want     string
		wantFrom string // "file" and "generated" get the path appended
	}{
		{"MOSAIC_SECRET first", map[string]string{EnvSecret: long, EnvSecretAlias: alias}, inFile,
			long, "env MOSAIC_SECRET"},
		{"alias when MOSAIC_SECRET empty", map[string]string{EnvSecret: "", EnvSecretAlias: alias},
			inFile, alias, "env BETTER_AUTH_SECRET"},
		{"env value trimmed", map[string]string{EnvSecret: " " + long + "\n"}, "", long,
			"env MOSAIC_SECRET"},
		{"file when no env", nil, inFile + "\n", inFile, "file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, SecretFileName)
			if tt.file != "" {
				writeSecretFile(t, dir, tt.file, 0o600)
			}
			got, from, err := LoadSecret(envOf(tt.env), dir)
			if err != nil {
				t.Fatalf("LoadSecret: %v", err)
			}
			if string(got) != tt.want {
				t.Errorf("secret = %q, want %q", got, tt.want)
			}
			wantFrom := tt.wantFrom
			if wantFrom == "file" {
				wantFrom += " " + path
			}
			if from != wantFrom {
				t.Errorf("from = %q, want %q", from, wantFrom)
			}
			if strings.Contains(from, string(got)) {
				t.Errorf("description %q contains the secret", from)
			}
		})
	}
}

func TestLoadSecretRefuses(t *testing.T) {
	good := strings.Repeat("g", 40)
	tests := []struct {
		name string
		env  map[string]string
		file string
		mode os.FileMode
	}{
		{"short MOSAIC_SECRET", map[string]string{EnvSecret: "short"}, good, 0o600},
		{"short alias", map[string]string{EnvSecretAlias: strings.Repeat("x", 31)}, good, 0o600},
		{"short file", nil, "short\n", 0o600},
		{"only whitespace padding makes it long", nil, "short" + strings.Repeat(" ", 40), 0o600},
		{"file readable by group", nil, good, 0o640},
		{"file readable by others", nil, good, 0o604},
		{"file writable by group", nil, good, 0o620},
		{"file too large", nil, strings.Repeat("z", maxSecretFile+1), 0o600},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeSecretFile(t, dir, tt.file, tt.mode)
			got, from, err := LoadSecret(envOf(tt.env), dir)
			if err == nil {
				t.Fatalf("LoadSecret = %q from %q, want error", got, from)
			}
			if strings.Contains(err.Error(), good) {
				t.Errorf("error %q contains the secret", err)
			}
		})
	}
}

func TestLoadSecretAcceptsStricterMode(t *testing.T) {
	dir := t.TempDir()
	writeSecretFile(t, dir, strings.Repeat("r", 40), 0o400)
	if _, _, err := LoadSecret(envOf(nil), dir); err != nil {
		t.Fatalf("LoadSecret with mode 0400: %v", err)
	}
}

func TestLoadSecretRefusesDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, SecretFileName), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadSecret(envOf(nil), dir); err == nil {
		t.Fatalf("LoadSecret accepted a directory as the secret file")
	}
}

func TestLoadSecretGenerates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, SecretFileName)

	got, from, err := LoadSecret(envOf(nil), dir)
	if err != nil {
		t.Fatalf("LoadSecret: %v", err)
	}
	if from != "generated "+path {
		t.Errorf("from = %q, want %q", from, "generated "+path)
	}
	raw, err := base64.RawURLEncoding.DecodeString(string(got))
	if err != nil || len(raw) != generatedBytes {
		t.Errorf("generated secret is not %d base64url bytes: %v", generatedBytes, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("secret file mode = %04o, want 0600", st.Mode().Perm())
	}
	if _, err := New(got); err != nil {
		t.Errorf("generated secret is not usable: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("data directory holds %d entries, want only the secret file", len(entries))
	}

	// The next start reads the same secret from the file.
	again, from, err := LoadSecret(envOf(nil), dir)
	if err != nil || string(again) != string(got) {
		t.Fatalf("second LoadSecret = %v; want the generated secret", err)
	}
	if from != "file "+path {
		t.Errorf("second from = %q, want %q", from, "file "+path)
	}
}

func TestLoadSecretConcurrentStartersAgree(t *testing.T) {
	dir := t.TempDir()
	const starters = 8
	secrets := make([]string, starters)
	froms := make([]string, starters)
	errs := make([]error, starters)
	var wg sync.WaitGroup
	for i := range starters {
		wg.Go(func() {
			s, from, err := LoadSecret(envOf(nil), dir)
			secrets[i], froms[i], errs[i] = string(s), from, err
		})
	}
	wg.Wait()
	generated := 0
	for i := range starters {
		if errs[i] != nil {
			t.Fatalf("starter %d: %v", i, errs[i])
		}
		if secrets[i] != secrets[0] {
			t.Fatalf("starter %d got a different secret", i)
		}
		if strings.HasPrefix(froms[i], "generated ") {
			generated++
		}
	}
	if generated != 1 {
		t.Errorf("%d starters report generating the secret, want 1", generated)
	}
}
