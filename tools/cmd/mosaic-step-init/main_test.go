package main

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// testNow is the fixed clock of the tests.
var testNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// templateFile writes a template to a temporary file and returns its path.
func templateFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "federation.tpl")
	if err := os.WriteFile(path, []byte(`{"subject": {{ toJson .Token.sub }}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// runInit runs the command and returns its standard output.
func runInit(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(args, &stdout, &stderr, testNow)
	return stdout.String(), err
}

// readCert reads one PEM certificate.
func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	block, rest := pem.Decode(mustRead(t, path))
	if block == nil || block.Type != "CERTIFICATE" || len(bytes.TrimSpace(rest)) != 0 {
		t.Fatalf("%s is not one PEM certificate", path)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// readKey reads an "EC PRIVATE KEY" PEM file.
func readKey(t *testing.T, path string) *ecdsa.PrivateKey {
	t.Helper()
	block, _ := pem.Decode(mustRead(t, path))
	if block == nil || block.Type != "EC PRIVATE KEY" || len(block.Headers) != 0 {
		t.Fatalf("%s is not an unencrypted EC private key", path)
	}
	key, err := x509.ParseECPrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// mustRead reads a file.
func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// wantMode checks a file's permission bits.
func wantMode(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != mode {
		t.Errorf("%s has mode %04o, want %04o", path, info.Mode().Perm(), mode)
	}
}

func TestInit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	tmpl := templateFile(t)
	out, err := runInit(t, "-dir", dir, "-template", tmpl, "-address", "127.0.0.1:9443",
		"-max-lifetime", "48h")
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	l := newLayout(dir, &options{url: "https://127.0.0.1:9443", provisioner: "mosaic-fed"})

	// The environment, with the key named by its file only.
	want := "STEP_CA_URL=https://127.0.0.1:9443\n" +
		"STEP_CA_ROOT_CERT_PATH=" + l.rootCert + "\n" +
		"STEP_CA_PROVISIONER_KEY_FILE=" + l.provKey + "\n"
	if out != want {
		t.Errorf("output:\n%s\nwant:\n%s", out, want)
	}

	// Permissions: nothing open to others but certificates and template.
	wantMode(t, dir, 0o700)
	for _, sub := range []string{"certs", "secrets", "templates", "config", "db"} {
		wantMode(t, filepath.Join(dir, sub), 0o700)
	}
	for _, f := range []string{l.rootKey, l.interKey, l.provKey, l.caJSON} {
		wantMode(t, f, 0o600)
	}

	// The CA certificates and their keys.
	root, inter := readCert(t, l.rootCert), readCert(t, l.interCert)
	if err := root.CheckSignatureFrom(root); err != nil || !root.IsCA {
		t.Errorf("root is not a self-signed CA: %v", err)
	}
	if err := inter.CheckSignatureFrom(root); err != nil || !inter.IsCA ||
		inter.MaxPathLen != 0 || !inter.MaxPathLenZero {
		t.Errorf("intermediate is not a CA under the root limited to leaves: %v", err)
	}
	if inter.NotAfter.After(root.NotAfter) || !inter.NotBefore.Before(testNow) {
		t.Errorf("intermediate validity %s..%s, root until %s", inter.NotBefore, inter.NotAfter,
			root.NotAfter)
	}
	if !readKey(t, l.rootKey).PublicKey.Equal(root.PublicKey) ||
		!readKey(t, l.interKey).PublicKey.Equal(inter.PublicKey) {
		t.Errorf("a CA key does not match its certificate")
	}
	if string(mustRead(t, l.template)) != string(mustRead(t, tmpl)) {
		t.Errorf("template not copied")
	}

	checkProvisioner(t, l, mustRead(t, l.caJSON))
}

// checkProvisioner checks ca.json and the provisioner key file.
func checkProvisioner(t *testing.T, l *layout, data []byte) {
	t.Helper()
	var cfg caJSON
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatalf("ca.json: %v", err)
	}
	if cfg.Root != l.rootCert || cfg.Crt != l.interCert || cfg.Key != l.interKey ||
		cfg.Address != "127.0.0.1:9443" ||
		!slices.Equal(cfg.DNSNames, []string{"127.0.0.1", "localhost"}) ||
		cfg.DB.Type != "bbolt" || cfg.DB.DataSource != l.db || cfg.Authority.Backdate != "5m0s" {
		t.Errorf("ca.json = %s", data)
	}
	if len(cfg.Authority.Provisioners) != 1 {
		t.Fatalf("%d provisioners", len(cfg.Authority.Provisioners))
	}
	p := cfg.Authority.Provisioners[0]
	if p.Type != "JWK" || p.Name != "mosaic-fed" || p.Options.X509.TemplateFile != l.template {
		t.Errorf("provisioner = %s %s %s", p.Type, p.Name, p.Options.X509.TemplateFile)
	}
	c := p.Claims
	if c.MinTLSCertDuration != "5m0s" || c.DefaultTLSCertDuration != "24h0m0s" ||
		c.MaxTLSCertDuration != "48h0m0s" || !c.DisableRenewal || c.EnableSSHCA ||
		!c.DisableSmallstepExtensions {
		t.Errorf("claims = %+v", c)
	}
	if bytes.Contains(p.Key, []byte(`"d"`)) {
		t.Fatalf("ca.json holds the private provisioner key")
	}

	// The private key file and the public key in ca.json are one pair,
	// named by the thumbprint.
	var private, public jose.JSONWebKey
	if err := private.UnmarshalJSON(mustRead(t, l.provKey)); err != nil {
		t.Fatal(err)
	}
	if err := public.UnmarshalJSON(p.Key); err != nil {
		t.Fatal(err)
	}
	key, ok := private.Key.(*ecdsa.PrivateKey)
	if !ok || !public.IsPublic() || !key.PublicKey.Equal(public.Key) {
		t.Fatalf("key file and ca.json key are not one EC pair")
	}
	sum, err := public.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	kid := base64.RawURLEncoding.EncodeToString(sum)
	if private.KeyID != kid || public.KeyID != kid || public.Algorithm != "ES256" {
		t.Errorf("kid %q / %q alg %q, want thumbprint %q and ES256", private.KeyID,
			public.KeyID, public.Algorithm, kid)
	}
}

func TestInitProvisionerName(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	out, err := runInit(t, "-dir", dir, "-template", templateFile(t), "-provisioner", "other",
		"-dns", "ca.example", "-address", ":9000")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "STEP_CA_URL=https://ca.example:9000\n") ||
		!strings.HasSuffix(out, "STEP_CA_PROVISIONER=other\n") {
		t.Errorf("output:\n%s", out)
	}
}

func TestInitRefuses(t *testing.T) {
	tmpl := templateFile(t)
	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "ca.json"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		msg  string
	}{
		{"no dir", []string{"-template", tmpl}, "-dir is required"},
		{"no template", []string{"-dir", t.TempDir()}, "-template is required"},
		{"template missing", []string{"-dir", t.TempDir(), "-template", tmpl + ".none"},
			"no such file"},
		{"directory in use", []string{"-dir", full, "-template", tmpl}, "not empty"},
		{"address without port", []string{"-dir", t.TempDir(), "-template", tmpl,
			"-address", "127.0.0.1"}, "host:port"},
		{"URL host not a DNS name", []string{"-dir", t.TempDir(), "-template", tmpl,
			"-url", "https://elsewhere.example:9000"}, "not one of the -dns names"},
		{"http URL", []string{"-dir", t.TempDir(), "-template", tmpl,
			"-url", "http://127.0.0.1:9000"}, "https"},
		{"default above max", []string{"-dir", t.TempDir(), "-template", tmpl,
			"-default-lifetime", "100h", "-max-lifetime", "48h"}, "lifetimes"},
		{"no DNS names", []string{"-dir", t.TempDir(), "-template", tmpl, "-dns", " , "},
			"-dns"},
		{"extra argument", []string{"-dir", t.TempDir(), "-template", tmpl, "more"},
			"unexpected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runInit(t, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("error = %v, want one saying %q", err, tt.msg)
			}
		})
	}
	if entries, _ := os.ReadDir(full); len(entries) != 1 {
		t.Errorf("the directory in use was changed: %d entries", len(entries))
	}
}
