package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mosaicgw/mosaic/gateway"
)

// maxAdminFile bounds admin.json and token files.
const maxAdminFile = 64 << 10

// setting returns a flag's value if it was given, else the environment
// variable's if set, else the flag's default: flag > env > default.
func (a *app) setting(cmd *cobra.Command, flag, env string) string {
	f := cmd.Flags().Lookup(flag)
	if f.Changed {
		return f.Value.String()
	}
	if v := a.env(env); v != "" {
		return v
	}
	return f.DefValue
}

// dataDir returns the data directory: --data-dir, MOSAIC_DATA_DIR or
// ./mosaic-data.
func (a *app) dataDir(cmd *cobra.Command) string {
	return a.setting(cmd, "data-dir", envDataDir)
}

// client returns an admin API client. The URL and the token are each taken
// from the first of: the flags (--admin-url; --admin-token or
// --admin-token-file), the environment (MOSAIC_ADMIN_URL,
// MOSAIC_ADMIN_TOKEN), and <data-dir>/admin.json, which is read only when
// one of them is still missing.
func (a *app) client(cmd *cobra.Command) (*adminClient, error) {
	rawURL, token := a.adminURL, a.adminToken
	if a.adminTokenFile != "" {
		t, err := readTokenFile(a.adminTokenFile)
		if err != nil {
			return nil, err
		}
		token = t
	}
	if rawURL == "" {
		rawURL = a.env(envAdminURL)
	}
	if token == "" {
		token = a.env(envAdminToken)
	}
	if rawURL == "" || token == "" {
		info, err := readAdminFile(filepath.Join(a.dataDir(cmd), gateway.AdminFile))
		if err != nil {
			return nil, err
		}
		if rawURL == "" {
			rawURL = info.AdminURL
		}
		if token == "" {
			token = info.AdminToken
		}
	}

	base, err := parseAdminURL(rawURL)
	if err != nil {
		return nil, err
	}
	if err := checkToken(token); err != nil {
		return nil, err
	}
	if !isLoopback(base) && strings.HasPrefix(base, "http:") {
		fmt.Fprintln(a.stderr,
			"mosaic: warning: the admin token goes in the clear over http to a non-loopback host")
	}
	return newAdminClient(base, token), nil
}

// readAdminFile reads the admin connection a gateway wrote into its data
// directory. Its errors never quote the file's content.
func readAdminFile(path string) (*gateway.AdminInfo, error) {
	data, err := readSmallFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no admin connection: %s not found; start the gateway "+
			"(mosaic gateway serve --data-dir DIR), pass --data-dir, or set --admin-url "+
			"and --admin-token", path)
	}
	if err != nil {
		return nil, err
	}
	var info gateway.AdminInfo
	if err := json.Unmarshal(data, &info); err != nil {
		return nil, fmt.Errorf("%s is not a valid admin connection file (not JSON)", path)
	}
	if info.AdminURL == "" || info.AdminToken == "" {
		return nil, fmt.Errorf("%s is not a valid admin connection file "+
			"(adminUrl or adminToken missing)", path)
	}
	return &info, nil
}

// readTokenFile reads an admin token from a file, without surrounding
// whitespace.
func readTokenFile(path string) (string, error) {
	data, err := readSmallFile(path)
	if err != nil {
		return "", err
	}
	token := strings.TrimSpace(string(data))
	if token == "" {
		return "", fmt.Errorf("admin token file %s is empty", path)
	}
	return token, nil
}

// readSmallFile reads a file of at most maxAdminFile bytes.
func readSmallFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxAdminFile+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(data) > maxAdminFile {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxAdminFile)
	}
	return data, nil
}

// parseAdminURL checks an admin API URL, http(s)://host[:port], and returns
// it without a trailing slash.
func parseAdminURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.Opaque != "" || u.User != nil || (u.Path != "" && u.Path != "/") ||
		u.RawQuery != "" || u.Fragment != "" {
		return "", errors.New("the admin URL must be http(s)://host[:port]")
	}
	return u.Scheme + "://" + u.Host, nil
}

// checkToken refuses an admin token that cannot go into a header. The error
// does not quote it.
func checkToken(token string) error {
	for i := 0; i < len(token); i++ {
		if token[i] <= ' ' || token[i] >= 0x7f {
			return errors.New("the admin token contains spaces or control characters")
		}
	}
	return nil
}

// isLoopback reports whether a base URL names localhost or a loopback
// address.
func isLoopback(base string) bool {
	u, err := url.Parse(base)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
