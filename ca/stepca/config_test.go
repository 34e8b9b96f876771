package stepca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mosaicgw/mosaic/pki"
)

// envOf returns a lookup function over vars.
func envOf(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// writeFile writes data to a new file in dir with mode and returns its path.
func writeFile(t *testing.T, dir, name string, data []byte, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestConfigFromEnv(t *testing.T) {
	p := newTestPKI(t)
	key := mustKey(t)
	keyJSON := jwkJSON(t, key, "", "")
	secret := key.D.Text(16)
	dir := t.TempDir()
	rootPath := writeFile(t, dir, "root.crt", p.rootPEM(), 0o644)
	keyPath := writeFile(t, dir, "key.json", append(keyJSON, '\n'), 0o600)
	openKey := writeFile(t, dir, "open.json", keyJSON, 0o644)
	bigRoot := writeFile(t, dir, "big.crt", make([]byte, maxRootFile+1), 0o644)
	base := func(extra map[string]string) map[string]string {
		m := map[string]string{
			EnvURL:                "https://ca.example:9000",
			EnvProvisionerKeyJSON: string(keyJSON),
			EnvRootCertPath:       rootPath,
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}

	tests := []struct {
		name    string
		env     map[string]string
		want    Config // checked when msg is empty
		msg     string
		timeout time.Duration
	}{
		{"key from the variable", base(nil),
			Config{URL: "https://ca.example:9000", ProvisionerKeyJSON: keyJSON}, "", 0},
		{"key from a file", base(map[string]string{EnvProvisionerKeyJSON: "",
			EnvProvisionerKeyFile: keyPath}),
			Config{URL: "https://ca.example:9000", ProvisionerKeyJSON: keyJSON}, "", 0},
		{"provisioner and timeout", base(map[string]string{EnvProvisioner: " other ",
			EnvTimeout: "3s"}),
			Config{URL: "https://ca.example:9000", ProvisionerName: "other",
				ProvisionerKeyJSON: keyJSON}, "", 3 * time.Second},
		{"no URL", base(map[string]string{EnvURL: " "}), Config{}, EnvURL + " is not set", 0},
		{"no key", base(map[string]string{EnvProvisionerKeyJSON: ""}), Config{}, "must be set", 0},
		{"both keys", base(map[string]string{EnvProvisionerKeyFile: keyPath}), Config{},
			"not both", 0},
		{"key file missing", base(map[string]string{EnvProvisionerKeyJSON: "",
			EnvProvisionerKeyFile: filepath.Join(dir, "none")}), Config{}, "no such file", 0},
		{"key file open to others", base(map[string]string{EnvProvisionerKeyJSON: "",
			EnvProvisionerKeyFile: openKey}), Config{}, "mode 0644", 0},
		{"no root", base(map[string]string{EnvRootCertPath: ""}), Config{},
			EnvRootCertPath + " is not set", 0},
		{"root missing", base(map[string]string{EnvRootCertPath: filepath.Join(dir, "none")}),
			Config{}, "no such file", 0},
		{"root too large", base(map[string]string{EnvRootCertPath: bigRoot}), Config{},
			"larger than", 0},
		{"bad timeout", base(map[string]string{EnvTimeout: "soon"}), Config{}, EnvTimeout, 0},
		{"negative timeout", base(map[string]string{EnvTimeout: "-1s"}), Config{}, EnvTimeout, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ConfigFromEnv(envOf(tt.env))
			wantNoSecret(t, err, secret)
			if tt.msg != "" {
				if err == nil || !strings.Contains(err.Error(), tt.msg) {
					t.Fatalf("error = %v, want one saying %q", err, tt.msg)
				}
				return
			}
			if err != nil {
				t.Fatalf("ConfigFromEnv: %v", err)
			}
			if cfg.URL != tt.want.URL || cfg.ProvisionerName != tt.want.ProvisionerName ||
				string(cfg.ProvisionerKeyJSON) != string(tt.want.ProvisionerKeyJSON) ||
				string(cfg.RootPEM) != string(p.rootPEM()) || cfg.Timeout != tt.timeout {
				t.Errorf("config = %v, want URL %q provisioner %q timeout %s", cfg,
					tt.want.URL, tt.want.ProvisionerName, tt.timeout)
			}
			if _, err := New(cfg); err != nil {
				t.Errorf("New of the configuration: %v", err)
			}
		})
	}
}

func TestConfigDoesNotPrintTheKey(t *testing.T) {
	key := mustKey(t)
	cfg := Config{URL: "https://ca.example", ProvisionerKeyJSON: jwkJSON(t, key, "k", "")}
	secret := string(cfg.ProvisionerKeyJSON)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(verb, cfg)
		if strings.Contains(out, secret) || strings.Contains(out, `"d"`) {
			t.Errorf("%s prints the key: %s", verb, out)
		}
		if !strings.Contains(out, "https://ca.example") {
			t.Errorf("%s does not name the URL: %s", verb, out)
		}
	}
}

func TestNew(t *testing.T) {
	p := newTestPKI(t)
	key := mustKey(t)
	ca, err := New(Config{URL: "https://ca.example:9000/prefix/", RootPEM: p.rootPEM(),
		ProvisionerKeyJSON: jwkJSON(t, key, "", "")})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if ca.URL() != "https://ca.example:9000/prefix" {
		t.Errorf("URL = %q", ca.URL())
	}
	if ca.Provisioner() != DefaultProvisioner || ca.timeout != DefaultTimeout {
		t.Errorf("provisioner %q timeout %s, want the defaults", ca.Provisioner(), ca.timeout)
	}
	if ca.kid != thumbprint(t, key) {
		t.Errorf("kid = %q, want the key's thumbprint %q", ca.kid, thumbprint(t, key))
	}
	if ca.rootSHA != pki.Fingerprint(p.root) || !ca.Root().Equal(p.root) {
		t.Errorf("root not kept")
	}
	roots, err := ca.ClientRoots(t.Context())
	if err != nil || len(roots) != 1 || !roots[0].Equal(p.root) {
		t.Errorf("ClientRoots = %v, %v; want the root alone", roots, err)
	}

	withKid, err := New(Config{URL: "https://ca.example", RootPEM: p.rootPEM(),
		ProvisionerKeyJSON: jwkJSON(t, key, "given-kid", "ES256")})
	if err != nil || withKid.kid != "given-kid" {
		t.Errorf("kid of a JWK that names one = %v, %v", withKid, err)
	}
}

func TestNewRejects(t *testing.T) {
	p := newTestPKI(t)
	key := mustKey(t)
	good := jwkJSON(t, key, "", "")
	secret := key.D.Text(16)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	mismatched := mustKey(t)
	mismatched.PublicKey = mustKey(t).PublicKey
	// A key whose text is broken just after the private part: a parser
	// error that quoted its input would show the secret.
	broken := strings.Replace(string(good), `"d":"`, `"d":"`+secret+`!`, 1)
	other := newTestPKI(t)

	tests := []struct {
		name string
		cfg  Config
		msg  string
	}{
		{"no URL", Config{RootPEM: p.rootPEM(), ProvisionerKeyJSON: good}, "URL is not set"},
		{"http URL", Config{URL: "http://ca.example", RootPEM: p.rootPEM(),
			ProvisionerKeyJSON: good}, "https"},
		{"URL without host", Config{URL: "https:///x", RootPEM: p.rootPEM(),
			ProvisionerKeyJSON: good}, "no host"},
		{"URL with query", Config{URL: "https://ca.example/?a=b", RootPEM: p.rootPEM(),
			ProvisionerKeyJSON: good}, "query"},
		{"URL with user", Config{URL: "https://u:p@ca.example", RootPEM: p.rootPEM(),
			ProvisionerKeyJSON: good}, "user"},
		{"no key", Config{URL: "https://ca.example", RootPEM: p.rootPEM()}, "key is not set"},
		{"key not JSON", Config{URL: "https://ca.example", RootPEM: p.rootPEM(),
			ProvisionerKeyJSON: []byte(secret)}, "not valid JSON"},
		{"key JSON broken", Config{URL: "https://ca.example", RootPEM: p.rootPEM(),
			ProvisionerKeyJSON: []byte(broken)}, "not a usable JSON Web Key"},
		{"public key only", Config{URL: "https://ca.example", RootPEM: p.rootPEM(),
			ProvisionerKeyJSON: jwkJSON(t, &key.PublicKey, "", "")}, "public key"},
		{"P-384 key", Config{URL: "https://ca.example", RootPEM: p.rootPEM(),
			ProvisionerKeyJSON: jwkJSON(t, p384, "", "")}, "P-256"},
		{"RSA key", Config{URL: "https://ca.example", RootPEM: p.rootPEM(),
			ProvisionerKeyJSON: jwkJSON(t, rsaKey, "", "")}, "P-256"},
		{"other algorithm", Config{URL: "https://ca.example", RootPEM: p.rootPEM(),
			ProvisionerKeyJSON: jwkJSON(t, key, "", "ES384")}, "algorithm"},
		{"mismatched halves", Config{URL: "https://ca.example", RootPEM: p.rootPEM(),
			ProvisionerKeyJSON: jwkJSON(t, mismatched, "", "")}, "do not match"},
		{"no root", Config{URL: "https://ca.example", ProvisionerKeyJSON: good},
			"root certificate is not set"},
		{"root not PEM", Config{URL: "https://ca.example", RootPEM: []byte("root"),
			ProvisionerKeyJSON: good}, "root certificate"},
		{"two roots", Config{URL: "https://ca.example", ProvisionerKeyJSON: good,
			RootPEM: []byte(pki.EncodeCerts(p.root, other.root))}, "holds 2"},
		{"intermediate as root", Config{URL: "https://ca.example", ProvisionerKeyJSON: good,
			RootPEM: []byte(pki.EncodeCerts(p.inter))}, "not self-signed"},
		{"leaf as root", Config{URL: "https://ca.example", ProvisionerKeyJSON: good,
			RootPEM: []byte(pki.EncodeCerts(p.server.Leaf))}, "not a CA"},
		{"negative timeout", Config{URL: "https://ca.example", RootPEM: p.rootPEM(),
			ProvisionerKeyJSON: good, Timeout: -time.Second}, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if err == nil {
				t.Fatal("New accepted the configuration")
			}
			wantNoSecret(t, err, secret)
			wantNoSecret(t, err, string(tt.cfg.ProvisionerKeyJSON))
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not say %q", err, tt.msg)
			}
		})
	}
}
