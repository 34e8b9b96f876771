package remote

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/pki"
)

// The seed corpus is in testdata/fuzz/FuzzParseEnrollmentURL/.
// scripts/fuzz.sh runs every target for a bounded time.

// FuzzParseEnrollmentURL checks that ParseEnrollmentURL never panics, that
// a refusal is "invalid_enrollment_url" and repeats no token-like text of
// the input, and that an accepted URL passes validate and round-trips its
// pieces: the base URL re-parses to itself, the token is the one in the
// text, the pin is its lower-case form, and the URL rebuilt from the pieces
// parses to the same pieces.
func FuzzParseEnrollmentURL(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseEnrollmentURL(s)
		if err != nil {
			if u != nil {
				t.Fatalf("ParseEnrollmentURL returned a URL with its error %v", err)
			}
			if mosaic.ErrorKind(err) != mosaic.KindInvalid ||
				mosaic.ErrorCode(err) != "invalid_enrollment_url" {
				t.Fatalf("error %v, want invalid_enrollment_url", err)
			}
			checkNoTokenText(t, s, err)
			return
		}
		checkEnrollmentPieces(t, s, u)

		rebuilt := u.BaseURL + enrollPathPrefix + u.Token.Reveal() + "#" + pinFragmentPrefix + u.Pin
		again, err := ParseEnrollmentURL(rebuilt)
		if err != nil {
			t.Fatalf("the URL rebuilt from %v does not parse: %v", u, err)
		}
		if *again != *u {
			t.Fatalf("the URL rebuilt from %v parses to %v", u, again)
		}
	})
}

// checkEnrollmentPieces checks the pieces of u, parsed from s.
func checkEnrollmentPieces(t *testing.T, s string, u *EnrollmentURL) {
	t.Helper()
	if err := u.validate(); err != nil {
		t.Fatalf("accepted URL %v does not validate: %v", u, err)
	}
	if base, err := parseBaseURL(u.BaseURL); err != nil || base != u.BaseURL {
		t.Fatalf("base URL %q re-parses to %q, %v", u.BaseURL, base, err)
	}
	tok := u.Token.Reveal()
	if !strings.Contains(s, enrollPathPrefix+tok+"#") {
		t.Fatalf("the token is not the path of the text")
	}
	pin, ok := strings.CutPrefix(s[strings.Index(s, "#")+1:], pinFragmentPrefix)
	if !ok || strings.ToLower(pin) != u.Pin {
		t.Fatalf("pin %q, the text's fragment holds %q", u.Pin, pin)
	}
	if _, err := pki.ParsePin(u.Pin); err != nil {
		t.Fatalf("accepted pin %q does not parse: %v", u.Pin, err)
	}
	// Printed, the URL is its pieces with the token left out. (The token
	// text may occur inside the pin or the host, so the form is compared.)
	want := u.BaseURL + enrollPathPrefix + "[redacted]#" + pinFragmentPrefix + u.Pin
	if text := fmt.Sprint(u); text != want {
		t.Fatalf("printing the URL gives %q, want %q", text, want)
	}
}

// minSecretRun is the shortest run of token characters treated as secret.
// The fixed texts of the errors hold no run of that length.
const minSecretRun = 24

// checkNoTokenText fails if any rendering of err, refusing s, shares with s
// minSecretRun base64url characters in a row, such as part of a token. The
// runs are taken from the short error text, so a long s costs little.
func checkNoTokenText(t *testing.T, s string, err error) {
	t.Helper()
	isOther := func(r rune) bool {
		return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' ||
			r == '-' || r == '_')
	}
	for _, text := range []string{
		err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err), mosaic.ErrorMessage(err),
	} {
		for _, run := range strings.FieldsFunc(text, isOther) {
			for i := 0; i+minSecretRun <= len(run); i++ {
				if strings.Contains(s, run[i:i+minSecretRun]) {
					t.Fatalf("error repeats %q of the URL: %s", run[i:i+minSecretRun], text)
				}
			}
		}
	}
}
