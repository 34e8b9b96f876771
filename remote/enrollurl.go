package remote

import (
	"encoding/hex"
	"net/url"
	"strings"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/pki"
)

// maxEnrollmentURL bounds the text ParseEnrollmentURL looks at.
const maxEnrollmentURL = 2048

// pinFragmentPrefix opens the fragment of an enrollment URL.
const pinFragmentPrefix = "ca="

// EnrollmentURL is a parsed enrollment URL, as printed by "mosaic federation
// grant token" on the grantor:
//
//	https://b.example:8443/api/federation/enrollment/<token>#ca=sha256:<hex>
//
// The whole URL is a secret until it is used, because it carries the token.
type EnrollmentURL struct {
	// BaseURL is the grantor's federation API: "https://" and host[:port].
	BaseURL string
	// Token is the single-use enrollment token.
	Token mosaic.TokenSecret
	// Pin is the grantor's CA pin, "sha256:" and 64 lower-case hex digits.
	Pin string
}

// String returns the URL with its token redacted, so that printing an
// EnrollmentURL never reveals the token.
func (u EnrollmentURL) String() string {
	return u.BaseURL + enrollPathPrefix + "[redacted]#" + pinFragmentPrefix + u.Pin
}

// endpoint returns the URL the enrollment request is posted to. It holds the
// token: it must never reach a log or an error message.
func (u *EnrollmentURL) endpoint() string {
	return u.BaseURL + enrollPathPrefix + u.Token.Reveal()
}

// validate checks an EnrollmentURL that may not have come from
// ParseEnrollmentURL.
func (u *EnrollmentURL) validate() error {
	if u == nil {
		return urlError("missing")
	}
	if _, err := parseBaseURL(u.BaseURL); err != nil {
		return err
	}
	if _, err := mosaic.ParseTokenSecret(u.Token.Reveal()); err != nil {
		return urlError("the token is malformed")
	}
	if _, err := pki.ParsePin(u.Pin); err != nil {
		return err
	}
	return nil
}

// ParseEnrollmentURL parses an enrollment URL strictly: https only, a host,
// no user information, no query, the path exactly
// /api/federation/enrollment/<token> with a well-formed token and no
// percent-encoding, and the fragment exactly "ca=sha256:<64 hex digits>".
// Errors are KindInvalid with code "invalid_enrollment_url"; they never
// repeat any part of the text, since it may hold a token.
func ParseEnrollmentURL(s string) (*EnrollmentURL, error) {
	if len(s) > maxEnrollmentURL {
		return nil, urlError("too long")
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return nil, urlError("contains spaces or control characters")
		}
	}
	u, err := url.Parse(s)
	if err != nil {
		// The parser's error quotes the URL: it is dropped, not wrapped.
		return nil, urlError("not a valid URL")
	}
	base, err := enrollmentBase(u)
	if err != nil {
		return nil, err
	}

	// The path carries the token and nothing else.
	rest, ok := strings.CutPrefix(u.Path, enrollPathPrefix)
	if !ok || u.RawPath != "" {
		return nil, urlError("the path must be " + enrollPathPrefix + "<token>")
	}
	token, err := mosaic.ParseTokenSecret(rest)
	if err != nil {
		return nil, urlError("the token is malformed")
	}

	// The fragment carries the CA pin and nothing else.
	pinText, ok := strings.CutPrefix(u.Fragment, pinFragmentPrefix)
	if !ok || u.RawFragment != "" {
		return nil, urlError("it must end with #ca=sha256:<64 hex digits>")
	}
	digest, err := pki.ParsePin(pinText)
	if err != nil {
		return nil, urlError("it must end with #ca=sha256:<64 hex digits>")
	}
	return &EnrollmentURL{
		BaseURL: base,
		Token:   token,
		Pin:     pki.PinPrefix + hex.EncodeToString(digest),
	}, nil
}

// enrollmentBase checks the scheme, authority and query of an enrollment URL
// and returns its base URL.
func enrollmentBase(u *url.URL) (string, error) {
	switch {
	case u.Scheme != "https":
		return "", urlError("must use https")
	case u.Opaque != "":
		return "", urlError("must be an absolute https URL")
	case u.User != nil:
		return "", urlError("must not carry a user name or password")
	case u.Host == "" || u.Hostname() == "" || strings.HasSuffix(u.Host, ":"):
		return "", urlError("a host is required")
	case u.RawQuery != "" || u.ForceQuery:
		return "", urlError("must not have a query")
	}
	return originURL(u), nil
}

// parseBaseURL checks a remote gateway's base URL, https://host[:port] with
// at most a trailing slash, and returns it without the slash.
func parseBaseURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Opaque != "" || u.User != nil ||
		u.Host == "" || u.Hostname() == "" || strings.HasSuffix(u.Host, ":") ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery ||
		u.Fragment != "" {
		return "", mosaic.Errorf(mosaic.KindInvalid, "invalid_base_url",
			"remote gateway URL must be https://host[:port]")
	}
	return originURL(u), nil
}

// originURL returns "https://" and the host of u, escaped again: url.Parse
// decodes the host, and a decoded one such as "a%b" or an IPv6 zone
// ("[fe80::1%en0]") would not parse back.
func originURL(u *url.URL) string {
	return (&url.URL{Scheme: "https", Host: u.Host}).String()
}

// urlError is the KindInvalid error of a rejected enrollment URL.
func urlError(why string) error {
	return mosaic.Errorf(mosaic.KindInvalid, "invalid_enrollment_url", "enrollment URL: %s", why)
}
