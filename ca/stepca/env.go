package stepca

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Environment variables read by ConfigFromEnv.
const (
	// EnvURL is step-ca's base URL (required).
	EnvURL = "STEP_CA_URL"
	// EnvProvisioner is the JWK provisioner's name (default
	// DefaultProvisioner).
	EnvProvisioner = "STEP_CA_PROVISIONER"
	// EnvProvisionerKeyJSON is the provisioner's private JWK itself.
	EnvProvisionerKeyJSON = "STEP_CA_PROVISIONER_KEY_JSON"
	// EnvProvisionerKeyFile is a file holding the provisioner's private JWK,
	// the alternative to EnvProvisionerKeyJSON.
	EnvProvisionerKeyFile = "STEP_CA_PROVISIONER_KEY_FILE"
	// EnvRootCertPath is the file of step-ca's root certificate (required).
	EnvRootCertPath = "STEP_CA_ROOT_CERT_PATH"
	// EnvTimeout optionally bounds each call to step-ca, as a Go duration
	// such as "10s".
	EnvTimeout = "STEP_CA_TIMEOUT"
)

// maxRootFile bounds what is read from the root certificate file.
const maxRootFile = 64 << 10

// ConfigFromEnv builds a Config from environment variables, reading the
// files they name. env looks a variable up (os.Getenv in production).
// Exactly one of STEP_CA_PROVISIONER_KEY_JSON and STEP_CA_PROVISIONER_KEY_FILE
// must be set; the key file must not be readable or writable by group or
// others. Errors name the variable or file at fault and never contain the
// key.
func ConfigFromEnv(env func(string) string) (Config, error) {
	cfg := Config{
		URL:             strings.TrimSpace(env(EnvURL)),
		ProvisionerName: strings.TrimSpace(env(EnvProvisioner)),
	}
	if cfg.URL == "" {
		return Config{}, fmt.Errorf("stepca: %s is not set", EnvURL)
	}

	keyJSON := strings.TrimSpace(env(EnvProvisionerKeyJSON))
	keyFile := strings.TrimSpace(env(EnvProvisionerKeyFile))
	switch {
	case keyJSON != "" && keyFile != "":
		return Config{}, fmt.Errorf("stepca: set %s or %s, not both",
			EnvProvisionerKeyJSON, EnvProvisionerKeyFile)
	case keyJSON != "":
		cfg.ProvisionerKeyJSON = []byte(keyJSON)
	case keyFile != "":
		data, err := readKeyFile(keyFile)
		if err != nil {
			return Config{}, err
		}
		cfg.ProvisionerKeyJSON = data
	default:
		return Config{}, fmt.Errorf("stepca: %s or %s must be set",
			EnvProvisionerKeyJSON, EnvProvisionerKeyFile)
	}

	rootPath := strings.TrimSpace(env(EnvRootCertPath))
	if rootPath == "" {
		return Config{}, fmt.Errorf("stepca: %s is not set", EnvRootCertPath)
	}
	root, err := readFile(rootPath, maxRootFile)
	if err != nil {
		return Config{}, fmt.Errorf("stepca: %s: %w", EnvRootCertPath, err)
	}
	cfg.RootPEM = root

	if v := strings.TrimSpace(env(EnvTimeout)); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return Config{}, fmt.Errorf("stepca: %s %q is not a positive duration such as 10s",
				EnvTimeout, v)
		}
		cfg.Timeout = d
	}
	return cfg, nil
}

// readKeyFile reads the provisioner key file, which must not be open to
// group or others.
func readKeyFile(path string) ([]byte, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("stepca: %s: %w", EnvProvisionerKeyFile, err)
	}
	if info.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("stepca: %s: %s has mode %04o; it must not be readable or "+
			"writable by group or others (chmod 600)", EnvProvisionerKeyFile, path, info.Mode().Perm())
	}
	data, err := readFile(path, maxKeyJSON)
	if err != nil {
		return nil, fmt.Errorf("stepca: %s: %w", EnvProvisionerKeyFile, err)
	}
	return []byte(strings.TrimSpace(string(data))), nil
}

// readFile reads at most limit bytes of path; a larger file is an error.
func readFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return data, nil
}
