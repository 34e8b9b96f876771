package bench

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"text/template"
	"time"

	"github.com/mosaicgw/mosaic/pki"
)

// NginxOptions say how to run nginx beside the gateway.
type NginxOptions struct {
	// Bin is the nginx binary.
	Bin string
	// Dir holds the configuration, certificates, logs and the static file.
	Dir string
	// Body is the JSON the gateway answered, served as a static file at
	// Path.
	Body []byte
	Path string
	// ClientCAPEM holds the CA certificates that verify client
	// certificates (the gateway's root and intermediate).
	ClientCAPEM string
	// Workers is nginx's worker_processes.
	Workers int
}

// Nginx is a running nginx master process with its own configuration,
// serving one static file over TLS with client certificates required.
type Nginx struct {
	// URL is the static file's URL; CAFile verifies the server.
	URL    string
	CAFile string
	cmd    *exec.Cmd
	done   chan error
}

// nginxConf is the configuration: TLS 1.2 and 1.3 like the gateway, a
// P-256 server certificate, ssl_verify_client on, keep-alive connections
// kept as long as the gateway keeps them (no request cap), the default
// access log on as the gateway's request log is.
var nginxConf = template.Must(template.New("nginx").Parse(`daemon off;
master_process on;
worker_processes {{.Workers}};
pid {{.Dir}}/nginx.pid;
error_log {{.Dir}}/error.log warn;
events { worker_connections 1024; }
http {
    access_log {{.Dir}}/access.log;
    client_body_temp_path {{.Dir}}/tmp/body;
    proxy_temp_path {{.Dir}}/tmp/proxy;
    fastcgi_temp_path {{.Dir}}/tmp/fastcgi;
    uwsgi_temp_path {{.Dir}}/tmp/uwsgi;
    scgi_temp_path {{.Dir}}/tmp/scgi;
    keepalive_timeout 120s;
    keepalive_requests 1000000000;
    server {
        listen {{.Addr}} ssl;
        ssl_certificate {{.Dir}}/server.pem;
        ssl_certificate_key {{.Dir}}/server.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_client_certificate {{.Dir}}/client-ca.pem;
        ssl_verify_client on;
        ssl_verify_depth 2;
        location = {{.Path}} {
            default_type application/json;
            alias {{.Dir}}/www/page.json;
        }
    }
}
`))

// StartNginx writes the configuration, a test CA and its P-256 server
// certificate for 127.0.0.1, and starts nginx on a free loopback port.
func StartNginx(ctx context.Context, opts NginxOptions) (*Nginx, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	for _, d := range []string{"tmp", "www"} {
		if err := os.MkdirAll(filepath.Join(opts.Dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	// nginx's workers may run as another user: the tree must be readable.
	if err := os.Chmod(opts.Dir, 0o755); err != nil {
		return nil, err
	}
	n := &Nginx{URL: "https://" + addr + opts.Path, CAFile: filepath.Join(opts.Dir, "server-ca.pem")}
	if err := writeNginxFiles(opts, addr, n.CAFile); err != nil {
		return nil, err
	}

	conf := filepath.Join(opts.Dir, "nginx.conf")
	n.cmd = exec.Command(opts.Bin, "-p", opts.Dir, "-c", conf,
		"-e", filepath.Join(opts.Dir, "error.log"))
	log, err := os.Create(filepath.Join(opts.Dir, "stderr.log"))
	if err != nil {
		return nil, err
	}
	defer log.Close()
	n.cmd.Stdout, n.cmd.Stderr = log, log
	n.cmd.SysProcAttr = childAttr()
	if err := n.cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start nginx: %w", err)
	}
	n.done = make(chan error, 1)
	go func() { n.done <- n.cmd.Wait() }()
	if err := n.waitListening(ctx, addr); err != nil {
		n.Stop()
		return nil, fmt.Errorf("%w (see %s)", err, filepath.Join(opts.Dir, "error.log"))
	}
	return n, nil
}

// writeNginxFiles writes the configuration, the page, the client CA and a
// fresh server certificate with the CA that verifies it.
func writeNginxFiles(opts NginxOptions, addr, serverCAFile string) error {
	var conf strings.Builder
	err := nginxConf.Execute(&conf, map[string]any{
		"Workers": opts.Workers, "Dir": opts.Dir, "Addr": addr, "Path": opts.Path,
	})
	if err != nil {
		return err
	}
	certPEM, keyPEM, caPEM, err := serverCertificate()
	if err != nil {
		return err
	}
	files := []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{"nginx.conf", []byte(conf.String()), 0o644},
		{"www/page.json", opts.Body, 0o644},
		{"client-ca.pem", []byte(opts.ClientCAPEM), 0o644},
		{"server.pem", certPEM, 0o644},
		{"server.key", keyPEM, 0o600},
		{filepath.Base(serverCAFile), caPEM, 0o644},
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(opts.Dir, f.name), f.data, f.mode); err != nil {
			return err
		}
	}
	return nil
}

// waitListening waits until nginx accepts TCP connections on addr.
func (n *Nginx) waitListening(ctx context.Context, addr string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		c, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", addr)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case err := <-n.done:
			n.done <- err
			return fmt.Errorf("bench: nginx exited: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return errors.New("bench: nginx not listening in time")
}

// Stop ends nginx (fast shutdown).
func (n *Nginx) Stop() {
	if n.cmd == nil {
		return
	}
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(stopTimeout):
		_ = n.cmd.Process.Kill()
		<-n.done
	}
	n.cmd = nil
}

// serverCertificate makes a throwaway P-256 CA and a P-256 TLS server
// certificate for 127.0.0.1 signed by it, the key types of the gateway's
// own.
func serverCertificate() (certPEM, keyPEM, caPEM []byte, err error) {
	caKey, err := pki.GenerateKey()
	if err != nil {
		return nil, nil, nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Bench nginx CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, nil, nil, err
	}
	key, err := pki.GenerateKey()
	if err != nil {
		return nil, nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	keyPEM, err = ecKeyPEM(key)
	if err != nil {
		return nil, nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM,
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), nil
}

// ecKeyPEM encodes a private key as PKCS #8 PEM.
func ecKeyPEM(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}
