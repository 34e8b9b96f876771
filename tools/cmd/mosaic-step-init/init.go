package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// defaultProvisioner is the provisioner name the gateway assumes when
// STEP_CA_PROVISIONER is not set.
const defaultProvisioner = "mosaic-fed"

// check validates the options and fills in the URL.
func (o *options) check() error {
	switch {
	case o.dir == "":
		return errors.New("-dir is required")
	case o.template == "":
		return errors.New("-template is required")
	case len(o.dnsNames) == 0:
		return errors.New("-dns names no host")
	case o.provisioner == "":
		return errors.New("-provisioner is empty")
	case o.minLifetime <= 0 || o.minLifetime > o.defaultLifetime ||
		o.defaultLifetime > o.maxLifetime:
		return errors.New("lifetimes must satisfy " +
			"0 < -min-lifetime <= -default-lifetime <= -max-lifetime")
	case o.backdate < 0:
		return errors.New("-backdate is negative")
	}
	_, port, err := net.SplitHostPort(o.address)
	if err != nil || port == "" {
		return fmt.Errorf("-address %q: want host:port", o.address)
	}
	if o.url == "" {
		o.url = "https://" + net.JoinHostPort(o.dnsNames[0], port)
	}
	u, err := url.Parse(o.url)
	if err != nil || u.Scheme != "https" || u.Hostname() == "" {
		return fmt.Errorf("-url %q: want an https URL", o.url)
	}
	// step-ca accepts a token only if its audience names one of its DNS
	// names; the gateway's audience is built from this URL.
	if !slices.Contains(o.dnsNames, u.Hostname()) {
		return fmt.Errorf("-url host %q is not one of the -dns names %q: step-ca would refuse "+
			"the gateway's tokens", u.Hostname(), o.dnsNames)
	}
	return nil
}

// layout is where the files of one CA directory go.
type layout struct {
	dir         string
	rootCert    string
	rootKey     string
	interCert   string
	interKey    string
	provKey     string
	template    string
	caJSON      string
	db          string
	url         string
	provisioner string
}

// newLayout returns the layout of the CA directory dir (absolute).
func newLayout(dir string, o *options) *layout {
	return &layout{
		dir:         dir,
		rootCert:    filepath.Join(dir, "certs", "root_ca.crt"),
		rootKey:     filepath.Join(dir, "secrets", "root_ca_key"),
		interCert:   filepath.Join(dir, "certs", "intermediate_ca.crt"),
		interKey:    filepath.Join(dir, "secrets", "intermediate_ca_key"),
		provKey:     filepath.Join(dir, "secrets", "provisioner.jwk.json"),
		template:    filepath.Join(dir, "templates", "federation.tpl"),
		caJSON:      filepath.Join(dir, "config", "ca.json"),
		db:          filepath.Join(dir, "db", "step.db"),
		url:         o.url,
		provisioner: o.provisioner,
	}
}

// environment returns the gateway's settings as NAME=value lines. The
// provisioner key is named by its file, never printed.
func (l *layout) environment() []string {
	env := []string{
		"STEP_CA_URL=" + l.url,
		"STEP_CA_ROOT_CERT_PATH=" + l.rootCert,
		"STEP_CA_PROVISIONER_KEY_FILE=" + l.provKey,
	}
	if l.provisioner != defaultProvisioner {
		env = append(env, "STEP_CA_PROVISIONER="+l.provisioner)
	}
	return env
}

// initialize writes a new CA directory for o and returns its layout.
func initialize(o *options, now time.Time) (*layout, error) {
	dir, err := filepath.Abs(o.dir)
	if err != nil {
		return nil, err
	}
	tmpl, err := os.ReadFile(o.template)
	if err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	if err := makeEmptyDir(dir); err != nil {
		return nil, err
	}
	l := newLayout(dir, o)
	for _, sub := range []string{"certs", "secrets", "templates", "config", "db"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, err
		}
	}

	pki, err := newPKI(o.caName, now)
	if err != nil {
		return nil, err
	}
	prov, err := newProvisionerKey()
	if err != nil {
		return nil, err
	}
	files := []struct {
		path string
		data []byte
		mode os.FileMode
	}{
		{l.rootCert, certPEM(pki.root), 0o644},
		{l.interCert, certPEM(pki.inter), 0o644},
		{l.rootKey, pki.rootKeyPEM, 0o600},
		{l.interKey, pki.interKeyPEM, 0o600},
		{l.provKey, prov.private, 0o600},
		{l.template, tmpl, 0o644},
	}
	for _, f := range files {
		if err := writeNew(f.path, f.data, f.mode); err != nil {
			return nil, err
		}
	}
	config, err := json.MarshalIndent(caConfig(o, l, prov.public), "", "\t")
	if err != nil {
		return nil, fmt.Errorf("ca.json: %w", err)
	}
	if err := writeNew(l.caJSON, append(config, '\n'), 0o600); err != nil {
		return nil, err
	}
	return l, nil
}

// makeEmptyDir creates dir with mode 0700, or takes an existing empty one
// and sets that mode. A directory with anything in it is refused, so that
// no CA is ever overwritten.
func makeEmptyDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Readdirnames(1); !errors.Is(err, io.EOF) {
		if err == nil {
			return fmt.Errorf("%s is not empty; refusing to overwrite a CA", dir)
		}
		return err
	}
	return os.Chmod(dir, 0o700)
}

// writeNew writes data to a file that must not exist yet.
func writeNew(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}
