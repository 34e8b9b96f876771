package seal

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Where ReadPreviousSecret looks for the secret a rotation moves away from,
// in order.
const (
	EnvSecretPrevious      = "MOSAIC_SECRET_PREVIOUS"
	PreviousSecretFileName = "secret.previous"
)

// ReadPreviousSecret finds the previous secret of a rotation: the
// environment variable MOSAIC_SECRET_PREVIOUS, else the file
// <dataDir>/secret.previous, checked like the secret file. With neither it
// returns nil and no error. The second result says where the secret came
// from and is safe to log; the secret is not.
func ReadPreviousSecret(env func(string) string, dataDir string) ([]byte, string, error) {
	if v := strings.TrimSpace(env(EnvSecretPrevious)); v != "" {
		if err := checkLen(v, "environment variable "+EnvSecretPrevious); err != nil {
			return nil, "", err
		}
		return []byte(v), "env " + EnvSecretPrevious, nil
	}
	path := filepath.Join(dataDir, PreviousSecretFileName)
	secret, err := readSecretFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	return secret, "file " + path, nil
}

// RotateSecretFile replaces the secret file of a data directory with a new
// random secret and keeps the old one as secret.previous. Each file is
// written to a private temporary file, synced, renamed into place and the
// directory synced, the previous one first: whenever the call stops, the
// files on disk hold every secret that any sealed value may be under.
// It returns where the new secret is, which is safe to log.
func RotateSecretFile(dataDir string) (string, error) {
	path := filepath.Join(dataDir, SecretFileName)
	old, err := readSecretFile(path)
	if err != nil {
		return "", err
	}
	raw := make([]byte, generatedBytes)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("seal: generate secret: %w", err)
	}

	if err := replaceFile(dataDir, PreviousSecretFileName, string(old)+"\n"); err != nil {
		return "", err
	}
	if err := replaceFile(dataDir, SecretFileName,
		base64.RawURLEncoding.EncodeToString(raw)+"\n"); err != nil {
		return "", err
	}
	return path, nil
}

// replaceFile durably writes text, mode 0600, to dataDir/name in place of
// whatever was there: a reader sees the old file or the new one, whole.
func replaceFile(dataDir, name, text string) error {
	tmp, err := os.CreateTemp(dataDir, ".secret-*")
	if err != nil {
		return fmt.Errorf("seal: create %s: %w", name, err)
	}
	defer os.Remove(tmp.Name())
	if err := writeAndClose(tmp, text); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dataDir, name)); err != nil {
		return fmt.Errorf("seal: replace %s: %w", name, err)
	}
	return syncDir(dataDir)
}

// syncDir makes the entries of a directory, such as a renamed file,
// durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("seal: sync %s: %w", dir, err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("seal: sync %s: %w", dir, err)
	}
	return nil
}
