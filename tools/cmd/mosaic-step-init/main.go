// Command mosaic-step-init prepares a step-ca server to issue the client
// certificates of a Mosaic gateway's federation peers, without the step
// CLI. Into a new directory it writes a root CA and an intermediate CA
// (ECDSA P-256), the JWK provisioner key the gateway signs its one-time
// tokens with, a copy of the provisioner's X.509 template and the ca.json
// that step-ca runs from; then it prints the gateway's environment:
//
//	STEP_CA_URL=https://127.0.0.1:9000
//	STEP_CA_ROOT_CERT_PATH=<dir>/certs/root_ca.crt
//	STEP_CA_PROVISIONER_KEY_FILE=<dir>/secrets/provisioner.jwk.json
//
// and STEP_CA_PROVISIONER when the provisioner is not named "mosaic-fed".
// Private keys are written unencrypted with mode 0600 in directories of
// mode 0700, so step-ca starts without a password; the root key is not
// needed by step-ca and belongs offline. deploy/step-ca/init.sh runs it.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr, time.Now()); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "mosaic-step-init:", err)
		os.Exit(1)
	}
}

// run parses the arguments, writes the configuration and prints the
// environment to stdout and what to do next to stderr.
func run(args []string, stdout, stderr io.Writer, now time.Time) error {
	opts, err := parseOptions(args, stderr)
	if err != nil {
		return err
	}
	out, err := initialize(opts, now)
	if err != nil {
		return err
	}
	for _, line := range out.environment() {
		fmt.Fprintln(stdout, line)
	}
	fmt.Fprintf(stderr, "step-ca configuration written to %s\n", out.dir)
	fmt.Fprintf(stderr, "start it with: step-ca %s\n", out.caJSON)
	fmt.Fprintf(stderr, "move %s offline: step-ca does not need it\n", out.rootKey)
	return nil
}

// options are the command's settings.
type options struct {
	dir             string
	template        string
	address         string
	dnsNames        []string
	url             string
	provisioner     string
	caName          string
	defaultLifetime time.Duration
	maxLifetime     time.Duration
	minLifetime     time.Duration
	backdate        time.Duration
}

// parseOptions reads the flags and checks them.
func parseOptions(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("mosaic-step-init", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{}
	var dns string
	fs.StringVar(&o.dir, "dir", "",
		"new `directory` for the CA (required; must not exist or be empty)")
	fs.StringVar(&o.template, "template", "",
		"X.509 template `file` (required; deploy/step-ca/federation.tpl)")
	fs.StringVar(&o.address, "address", "127.0.0.1:9000", "`host:port` step-ca listens on")
	fs.StringVar(&dns, "dns", "127.0.0.1,localhost",
		"comma-separated `names` step-ca serves TLS for; the first is the URL's host")
	fs.StringVar(&o.url, "url", "",
		"step-ca `URL` for the gateway (default https://<first dns name>:<port>)")
	fs.StringVar(&o.provisioner, "provisioner", "mosaic-fed", "JWK provisioner `name`")
	fs.StringVar(&o.caName, "ca-name", "Mosaic Federation CA",
		"common `name` prefix of the CA certificates")
	fs.DurationVar(&o.defaultLifetime, "default-lifetime", 24*time.Hour,
		"lifetime of a peer certificate when the gateway asks for none")
	fs.DurationVar(&o.maxLifetime, "max-lifetime", 7*24*time.Hour, "longest peer certificate lifetime")
	fs.DurationVar(&o.minLifetime, "min-lifetime", 5*time.Minute, "shortest peer certificate lifetime")
	fs.DurationVar(&o.backdate, "backdate", 5*time.Minute,
		"how far notBefore is set before the time of issue, for clock skew")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() != 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	for _, n := range strings.Split(dns, ",") {
		if n = strings.TrimSpace(n); n != "" {
			o.dnsNames = append(o.dnsNames, n)
		}
	}
	if err := o.check(); err != nil {
		return nil, err
	}
	return o, nil
}
