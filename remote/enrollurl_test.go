package remote

import (
	"crypto/rand"
	"fmt"
	"strings"
	"testing"

	"github.com/mosaicgw/mosaic"
)

// newToken returns a fresh, well-formed token text.
func newToken(t *testing.T) string {
	t.Helper()
	tok, err := mosaic.NewTokenSecret(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return tok.Reveal()
}

// assertNoSecret fails if any rendering of err contains secret.
func assertNoSecret(t *testing.T, err error, secret string) {
	t.Helper()
	for _, text := range []string{
		err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err), mosaic.ErrorMessage(err),
	} {
		if strings.Contains(text, secret) {
			t.Fatalf("error reveals the token: %s", text)
		}
	}
}

func TestParseEnrollmentURL(t *testing.T) {
	tok := newToken(t)
	hex := strings.Repeat("ab", 32)
	path := "/api/federation/enrollment/"

	u, err := ParseEnrollmentURL("https://b.example:8443" + path + tok + "#ca=sha256:" + hex)
	if err != nil {
		t.Fatalf("valid URL: %v", err)
	}
	if u.BaseURL != "https://b.example:8443" || u.Token.Reveal() != tok || u.Pin != "sha256:"+hex {
		t.Fatalf("parsed %+v", u)
	}
	for _, text := range []string{fmt.Sprint(u), fmt.Sprint(*u), fmt.Sprintf("%+v", *u)} {
		if strings.Contains(text, tok) {
			t.Fatalf("printing the URL reveals the token: %s", text)
		}
	}

	// Upper-case hex is accepted and normalised.
	u, err = ParseEnrollmentURL("https://[::1]" + path + tok + "#ca=sha256:" + strings.ToUpper(hex))
	if err != nil || u.Pin != "sha256:"+hex || u.BaseURL != "https://[::1]" {
		t.Fatalf("upper-case pin: %+v, %v", u, err)
	}
}

func TestParseEnrollmentURLRejects(t *testing.T) {
	tok := newToken(t)
	frag := "#ca=sha256:" + strings.Repeat("0f", 32)
	path := "/api/federation/enrollment/"
	host := "https://b.example"
	good := host + ":8443" + path + tok + frag
	if _, err := ParseEnrollmentURL(good); err != nil {
		t.Fatalf("the base case must parse: %v", err)
	}

	tests := []struct {
		name string
		url  string
	}{
		{"http", "http://b.example:8443" + path + tok + frag},
		{"no scheme", "b.example:8443" + path + tok + frag},
		{"opaque", "https:b.example" + path + tok + frag},
		{"user info", "https://admin@b.example" + path + tok + frag},
		{"user and password", "https://admin:pw@b.example" + path + tok + frag},
		{"no host", "https://" + path + tok + frag},
		{"empty port", "https://b.example:" + path + tok + frag},
		{"bad port", "https://b.example:port" + path + tok + frag},
		{"query", "https://b.example" + path + tok + "?a=b" + frag},
		{"empty query", "https://b.example" + path + tok + "?" + frag},
		{"wrong path", "https://b.example/api/federation/enroll/" + tok + frag},
		{"path prefix", "https://b.example/x" + path + tok + frag},
		{"extra segment", "https://b.example" + path + tok + "/more" + frag},
		{"trailing slash", "https://b.example" + path + tok + "/" + frag},
		{"encoded token", host + path + "%" + fmt.Sprintf("%X", tok[0]) + tok[1:] + frag},
		{"dot segment", "https://b.example" + path + "../" + tok + frag},
		{"short token", "https://b.example" + path + tok[:42] + frag},
		{"long token", "https://b.example" + path + tok + "A" + frag},
		{"bad token character", "https://b.example" + path + tok[:42] + "*" + frag},
		{"padded token", "https://b.example" + path + tok[:42] + "=" + frag},
		{"no fragment", "https://b.example" + path + tok},
		{"empty fragment", host + path + tok + "#"},
		{"fragment without ca", host + path + tok + "#sha256:" + strings.Repeat("0f", 32)},
		{"fragment other hash", host + path + tok + "#ca=sha1:" + strings.Repeat("0f", 20)},
		{"fragment short pin", host + path + tok + "#ca=sha256:" + strings.Repeat("0f", 31)},
		{"fragment long pin", "https://b.example" + path + tok + frag + "00"},
		{"fragment not hex", host + path + tok + "#ca=sha256:" + strings.Repeat("zz", 32)},
		{"fragment extra parameter", "https://b.example" + path + tok + frag + "&x=1"},
		{"fragment encoded", host + path + tok + "#ca=sha256%3A" + strings.Repeat("0f", 32)},
		{"space", "https://b.example" + path + tok + frag + " "},
		{"newline", "https://b.example" + path + tok + "\n" + frag},
		{"too long", good + strings.Repeat("0", 3000)},
		{"empty", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := ParseEnrollmentURL(tt.url)
			if err == nil {
				t.Fatalf("accepted: %+v", u)
			}
			if !mosaic.IsKind(err, mosaic.KindInvalid) ||
				mosaic.ErrorCode(err) != "invalid_enrollment_url" {
				t.Fatalf("error %v: want KindInvalid invalid_enrollment_url", err)
			}
			// Any run of the token long enough to matter must not appear.
			assertNoSecret(t, err, tok[1:17])
			assertNoSecret(t, err, tok[20:36])
		})
	}
}
