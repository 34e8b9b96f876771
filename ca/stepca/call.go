package stepca

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"unicode"

	"github.com/mosaicgw/mosaic"
)

// maxAnswer bounds what is read of an answer from step-ca.
const maxAnswer = 1 << 20

// maxDetail bounds the part of step-ca's error message kept in an error.
const maxDetail = 300

// call sends a request to step-ca with body in (nil for none) as JSON and
// decodes a 2xx answer into out. The whole exchange is bounded by the
// timeout. secret, when not empty, is text that must not appear in an
// error (the token the request carries), even if step-ca repeats it.
func (c *CA) call(ctx context.Context, method, path string, in any, secret string, out any) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return mosaic.WrapError(mosaic.KindUpstream, "ca_failed",
				"cannot encode the request to step-ca", fmt.Errorf("stepca: encode %s", path))
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return mosaic.WrapError(mosaic.KindUpstream, "ca_failed",
			"cannot make the request to step-ca", fmt.Errorf("stepca: %s %s: %w", method, path, err))
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "mosaic-gateway")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}

	resp, err := c.client.Do(req)
	if err != nil {
		return transportError(method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return transportError(method, path, err)
	}
	if len(data) > maxAnswer {
		return mosaic.WrapError(mosaic.KindUpstream, "ca_failed", "step-ca's answer is too large",
			fmt.Errorf("stepca: %s %s: answer larger than %d bytes", method, path, maxAnswer))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return statusError(method, path, resp.StatusCode, data, secret)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return mosaic.WrapError(mosaic.KindUpstream, "ca_failed", "step-ca's answer is not JSON",
			fmt.Errorf("stepca: %s %s: status %d: %w", method, path, resp.StatusCode, err))
	}
	return nil
}

// transportError classifies a failure to exchange a request with step-ca.
// A TLS certificate that does not verify is a configuration fault
// (KindUpstream "ca_failed"); everything else, refused connections and
// timeouts above all, is KindUnavailable "ca_unavailable".
func transportError(method, path string, err error) error {
	detail := fmt.Errorf("stepca: %s %s: %w", method, path, err)
	var (
		verify    *tls.CertificateVerificationError
		authority x509.UnknownAuthorityError
		host      x509.HostnameError
		invalid   x509.CertificateInvalidError
		netErr    net.Error
	)
	switch {
	case errors.As(err, &verify), errors.As(err, &authority), errors.As(err, &host),
		errors.As(err, &invalid):
		return mosaic.WrapError(mosaic.KindUpstream, "ca_failed",
			"step-ca's TLS certificate does not verify against the configured root", detail)
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return mosaic.WrapError(mosaic.KindUnavailable, "ca_unavailable",
			"step-ca did not answer in time", detail)
	case errors.Is(err, context.Canceled):
		return mosaic.WrapError(mosaic.KindUnavailable, "ca_unavailable",
			"the request to step-ca was cancelled", detail)
	}
	return mosaic.WrapError(mosaic.KindUnavailable, "ca_unavailable", "step-ca is unreachable", detail)
}

// statusError classifies an answer of step-ca that is not a success:
// 401 and 403 are a refusal (KindUpstream "ca_refused"), 429, 502, 503 and
// 504 a passing unavailability (KindUnavailable "ca_unavailable"), anything
// else a failure (KindUpstream "ca_failed"). step-ca's message is kept as
// log-only detail, cut short and cleaned of secret.
func statusError(method, path string, status int, body []byte, secret string) error {
	detail := &statusDetail{method: method, path: path, status: status,
		message: answerMessage(body, secret)}
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden:
		return mosaic.WrapError(mosaic.KindUpstream, "ca_refused",
			"step-ca refused the request", detail)
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable,
		http.StatusGatewayTimeout:
		return mosaic.WrapError(mosaic.KindUnavailable, "ca_unavailable",
			"step-ca is unavailable, try again", detail)
	}
	return mosaic.WrapError(mosaic.KindUpstream, "ca_failed",
		fmt.Sprintf("step-ca answered %d", status), detail)
}

// statusDetail is the log-only detail of an answer that was not a success.
type statusDetail struct {
	method, path string
	status       int
	message      string
}

// Error implements the error interface.
func (d *statusDetail) Error() string {
	return fmt.Sprintf("stepca: %s %s: status %d: %s", d.method, d.path, d.status, d.message)
}

// answerStatus returns the HTTP status of the step-ca answer err is about,
// or 0 when err is not about an answer.
func answerStatus(err error) int {
	var d *statusDetail
	if errors.As(err, &d) {
		return d.status
	}
	return 0
}

// answerMessage returns the message of a step-ca error answer ({"message":
// ...}) or the start of the body, printable, at most maxDetail bytes, with
// secret and each of its dot-separated parts (a JWT's header, payload and
// signature) replaced.
func answerMessage(body []byte, secret string) string {
	var e struct {
		Message string `json:"message"`
	}
	msg := string(body)
	if json.Unmarshal(body, &e) == nil && e.Message != "" {
		msg = e.Message
	}
	if secret != "" {
		msg = strings.ReplaceAll(msg, secret, "[token]")
		for _, part := range strings.Split(secret, ".") {
			if len(part) >= 8 {
				msg = strings.ReplaceAll(msg, part, "[token]")
			}
		}
	}
	msg = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return ' '
	}, msg)
	if len(msg) > maxDetail {
		msg = strings.ToValidUTF8(msg[:maxDetail], "") + "..."
	}
	return strings.TrimSpace(msg)
}
