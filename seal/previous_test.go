package seal

import (
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writePrevious writes a previous-secret file with the given mode.
func writePrevious(t *testing.T, dir, text string, mode os.FileMode) {
	t.Helper()
	path := filepath.Join(dir, PreviousSecretFileName)
	if err := os.WriteFile(path, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func TestReadPreviousSecret(t *testing.T) {
	env := strings.Repeat("e", 40)
	file := strings.Repeat("f", 40)
	tests := []struct {
		name     string
		env      map[string]string
		file     string
		want     string
		wantFrom string
	}{
		{"none", nil, "", "", ""},
		{"environment first", map[string]string{EnvSecretPrevious: env}, file, env,
			"env " + EnvSecretPrevious},
		{"file", nil, file + "\n", file, "file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.file != "" {
				writePrevious(t, dir, tt.file, 0o600)
			}
			got, from, err := ReadPreviousSecret(envOf(tt.env), dir)
			if err != nil {
				t.Fatalf("ReadPreviousSecret: %v", err)
			}
			if string(got) != tt.want {
				t.Errorf("secret = %q, want %q", got, tt.want)
			}
			if tt.wantFrom == "file" {
				tt.wantFrom = "file " + filepath.Join(dir, PreviousSecretFileName)
			}
			if from != tt.wantFrom {
				t.Errorf("from = %q, want %q", from, tt.wantFrom)
			}
		})
	}
}

func TestReadPreviousSecretRefuses(t *testing.T) {
	good := strings.Repeat("g", 40)
	tests := []struct {
		name string
		env  map[string]string
		file string
		mode os.FileMode
	}{
		{"short environment variable", map[string]string{EnvSecretPrevious: "short"}, "", 0},
		{"short file", nil, "short", 0o600},
		{"file readable by others", nil, good, 0o644},
		{"file writable by group", nil, good, 0o620},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.file != "" {
				writePrevious(t, dir, tt.file, tt.mode)
			}
			got, _, err := ReadPreviousSecret(envOf(tt.env), dir)
			if err == nil {
				t.Fatalf("ReadPreviousSecret = %q, want error", got)
			}
			if strings.Contains(err.Error(), good) {
				t.Errorf("error %q holds the secret", err)
			}
		})
	}
}

func TestReadSecretNeverGenerates(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := ReadSecret(envOf(nil), dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("ReadSecret of an empty directory: %v, want fs.ErrNotExist", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("ReadSecret wrote %d files", len(entries))
	}
}

func TestRotateSecretFile(t *testing.T) {
	dir := t.TempDir()
	old, _, err := LoadSecret(envOf(nil), dir)
	if err != nil {
		t.Fatal(err)
	}
	writePrevious(t, dir, strings.Repeat("p", 40), 0o600) // an older rotation's

	path, err := RotateSecretFile(dir)
	if err != nil {
		t.Fatalf("RotateSecretFile: %v", err)
	}
	if path != filepath.Join(dir, SecretFileName) {
		t.Errorf("path = %q", path)
	}
	fresh, _, err := ReadSecret(envOf(nil), dir)
	if err != nil {
		t.Fatal(err)
	}
	prev, _, err := ReadPreviousSecret(envOf(nil), dir)
	if err != nil {
		t.Fatal(err)
	}
	if string(prev) != string(old) {
		t.Error("secret.previous does not hold the secret that was current")
	}
	if string(fresh) == string(old) {
		t.Error("the new secret is the old one")
	}
	if raw, err := base64.RawURLEncoding.DecodeString(string(fresh)); err != nil ||
		len(raw) != generatedBytes {
		t.Errorf("the new secret is not %d base64url bytes: %v", generatedBytes, err)
	}
	for _, name := range []string{SecretFileName, PreviousSecretFileName} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v; want 0600", name, err, st.Mode().Perm())
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("data directory holds %d entries, want the two secret files", len(entries))
	}
}

func TestRotateSecretFileWithoutSecret(t *testing.T) {
	dir := t.TempDir()
	if _, err := RotateSecretFile(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("RotateSecretFile without a secret file: %v, want fs.ErrNotExist", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("RotateSecretFile wrote %d files", len(entries))
	}
}
