package seal

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Where LoadSecret looks for the secret, in order.
const (
	EnvSecret      = "MOSAIC_SECRET"
	EnvSecretAlias = "BETTER_AUTH_SECRET"
	SecretFileName = "secret"
)

// generatedBytes is the entropy of a generated secret.
const generatedBytes = 32

// maxSecretFile bounds what is read from the secret file.
const maxSecretFile = 4 << 10

// LoadSecret finds the operator's secret: the environment variable
// MOSAIC_SECRET, else BETTER_AUTH_SECRET, else the file <dataDir>/secret,
// which must not be readable or writable by group or others. If none exists,
// it generates 32 random bytes, writes them base64url-encoded to that file
// with mode 0600, and uses them. Surrounding whitespace is not part of a
// secret. A secret shorter than MinSecretLen bytes is refused.
//
// env looks up an environment variable (os.Getenv in production). The second
// result says where the secret came from ("env MOSAIC_SECRET",
// "file /path", "generated /path") and is safe to log; the secret is not.
func LoadSecret(env func(string) string, dataDir string) ([]byte, string, error) {
	secret, from, err := ReadSecret(env, dataDir)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return secret, from, err
	}

	path := filepath.Join(dataDir, SecretFileName)
	won, err := generateSecretFile(dataDir, path)
	if err != nil {
		return nil, "", err
	}
	secret, err = readSecretFile(path)
	if err != nil {
		return nil, "", err
	}
	if !won {
		// Another starter generated it first; both now use its secret.
		return secret, "file " + path, nil
	}
	return secret, "generated " + path, nil
}

// ReadSecret finds the operator's secret as LoadSecret does, in the
// environment or in <dataDir>/secret, but never generates one: when there
// is none the error matches fs.ErrNotExist.
func ReadSecret(env func(string) string, dataDir string) ([]byte, string, error) {
	for _, name := range []string{EnvSecret, EnvSecretAlias} {
		if v := strings.TrimSpace(env(name)); v != "" {
			if err := checkLen(v, "environment variable "+name); err != nil {
				return nil, "", err
			}
			return []byte(v), "env " + name, nil
		}
	}
	path := filepath.Join(dataDir, SecretFileName)
	secret, err := readSecretFile(path)
	if err != nil {
		return nil, "", err
	}
	return secret, "file " + path, nil
}

// checkLen refuses a secret shorter than MinSecretLen bytes.
func checkLen(secret, from string) error {
	if len(secret) < MinSecretLen {
		return fmt.Errorf("seal: secret from %s is shorter than %d bytes", from, MinSecretLen)
	}
	return nil
}

// readSecretFile reads the secret file, refusing one that others may read.
// A missing file is an error matching fs.ErrNotExist.
func readSecretFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("seal: open secret file: %w", err)
	}
	defer f.Close()

	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("seal: stat secret file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("seal: secret file %s is not a regular file", path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("seal: secret file %s has mode %04o, want 0600 or stricter",
			path, perm)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return nil, fmt.Errorf("seal: read secret file: %w", err)
	}
	if len(b) > maxSecretFile {
		return nil, fmt.Errorf("seal: secret file %s is larger than %d bytes", path, maxSecretFile)
	}
	v := strings.TrimSpace(string(b))
	if err := checkLen(v, "file "+path); err != nil {
		return nil, err
	}
	return []byte(v), nil
}

// generateSecretFile writes a new random secret to path unless the file
// exists, and reports whether this call created it. The secret is written
// to a private temporary file first and then linked to path, which fails if
// path exists: a concurrent starter never sees a partly written file, and
// of two starters exactly one secret wins.
func generateSecretFile(dataDir, path string) (bool, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return false, fmt.Errorf("seal: create data directory: %w", err)
	}
	raw := make([]byte, generatedBytes)
	if _, err := rand.Read(raw); err != nil {
		return false, fmt.Errorf("seal: generate secret: %w", err)
	}
	text := base64.RawURLEncoding.EncodeToString(raw) + "\n"

	tmp, err := os.CreateTemp(dataDir, ".secret-*")
	if err != nil {
		return false, fmt.Errorf("seal: create secret file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := writeAndClose(tmp, text); err != nil {
		return false, err
	}

	err = os.Link(tmp.Name(), path)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("seal: publish secret file: %w", err)
	}
	return true, nil
}

// writeAndClose writes text to f with mode 0600, syncs and closes it.
func writeAndClose(f *os.File, text string) error {
	err := f.Chmod(0o600)
	if err == nil {
		_, err = f.WriteString(text)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("seal: write secret file: %w", err)
	}
	return nil
}
