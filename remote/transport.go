package remote

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/mosaicgw/mosaic"
)

// newHTTPClient returns a client for one TLS configuration. It follows no
// redirects: a gateway never redirects a federation call, and following one
// would send an enrollment token or a client certificate elsewhere.
func newHTTPClient(tlsConf *tls.Config, timeout time.Duration) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: dialTimeout}).DialContext,
			TLSClientConfig:       tlsConf,
			TLSHandshakeTimeout:   tlsHandshakeTimeout,
			ResponseHeaderTimeout: responseHeaderTimeout,
			IdleConnTimeout:       idleConnTimeout,
			MaxIdleConnsPerHost:   4,
			ForceAttemptHTTP2:     true,
		},
		Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// readBody reads at most limit bytes of an answer; a longer one is an
// upstream error, not a truncated result.
func readBody(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, unreachable(err)
	}
	if int64(len(data)) > limit {
		return nil, mosaic.Errorf(mosaic.KindUpstream, "response_too_large",
			"the remote gateway's answer is larger than %d bytes", limit)
	}
	return data, nil
}

// unreachable turns a network or TLS failure into a KindUpstream
// "peer_unreachable" error. The *url.Error layer is dropped because it
// quotes the request URL, which for an enrollment holds the token.
func unreachable(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var (
		unknownCA x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		alert     tls.AlertError
	)
	msg := "the remote gateway could not be reached"
	switch {
	case errors.As(err, &unknownCA):
		msg = "the remote gateway's certificate is not issued by the trusted CA"
	case errors.As(err, &hostname):
		msg = "the remote gateway's certificate is not valid for its host name"
	case errors.As(err, &invalid):
		msg = "the remote gateway's certificate is expired or not usable"
	case errors.As(err, &alert):
		msg = "the remote gateway refused the TLS connection (" + alert.Error() + ")"
	case errors.Is(err, context.DeadlineExceeded):
		msg = "the remote gateway did not answer in time"
	case errors.Is(err, context.Canceled):
		msg = "the request to the remote gateway was cancelled"
	}
	return mosaic.WrapError(mosaic.KindUpstream, "peer_unreachable", msg, err)
}

// KindOfStatus maps an HTTP status code back to the error kind that
// produces it. A 500 from a remote gateway is KindUpstream: to us it is a
// dependency that failed.
func KindOfStatus(status int) mosaic.Kind {
	switch status {
	case http.StatusBadRequest:
		return mosaic.KindInvalid
	case http.StatusUnauthorized:
		return mosaic.KindUnauthorized
	case http.StatusForbidden:
		return mosaic.KindForbidden
	case http.StatusNotFound:
		return mosaic.KindNotFound
	case http.StatusConflict:
		return mosaic.KindConflict
	case http.StatusGone:
		return mosaic.KindGone
	case http.StatusRequestEntityTooLarge:
		return mosaic.KindTooLarge
	case http.StatusUnsupportedMediaType:
		return mosaic.KindUnsupported
	case http.StatusTooManyRequests:
		return mosaic.KindRateLimited
	case http.StatusServiceUnavailable:
		return mosaic.KindUnavailable
	}
	if status >= 400 && status < 500 {
		return mosaic.KindInvalid
	}
	return mosaic.KindUpstream
}

// errorEnvelope is the JSON error body of every Mosaic API.
type errorEnvelope struct {
	Error struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		RequestID string `json:"requestId"`
	} `json:"error"`
}

// DecodeError turns an error answer of a Mosaic API into an *mosaic.Error
// with the answer's code and message and the kind matching its status. The
// remote text is cleaned of control characters and bounded, since it ends up
// on an operator's terminal. The remote request id, if any, is kept as
// log-only detail. An answer that is not a Mosaic error is KindUpstream
// "unexpected_answer".
func DecodeError(status int, body []byte) error {
	var env errorEnvelope
	if err := json.Unmarshal(body, &env); err != nil || !validCode(env.Error.Code) {
		return mosaic.Errorf(mosaic.KindUpstream, "unexpected_answer",
			"the remote gateway answered HTTP %d without a valid error", status)
	}
	msg := cleanText(env.Error.Message, 300)
	if msg == "" {
		msg = strings.ToLower(http.StatusText(status))
	}
	e := &mosaic.Error{Kind: KindOfStatus(status), Code: env.Error.Code, Message: msg}
	if id := cleanText(env.Error.RequestID, 100); id != "" {
		e.Err = fmt.Errorf("remote request id %s", id)
	}
	return e
}

// validCode reports whether s looks like an error code: ASCII letters,
// digits and underscores, at most 64 characters. Codes that name a field
// keep the field's JSON spelling, such as "invalid_userId".
func validCode(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// cleanText turns white space in remote text into plain spaces, drops
// control and other unprintable characters, and cuts it to at most max
// runes.
func cleanText(s string, max int) string {
	var b strings.Builder
	n := 0
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		if n == max {
			break
		}
		if unicode.IsSpace(r) {
			r = ' '
		} else if !unicode.IsPrint(r) {
			continue
		}
		b.WriteRune(r)
		n++
	}
	return strings.TrimSpace(b.String())
}
