package remote

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/pki"
)

// EnrollResult is a grantor's answer to an enrollment: the client
// certificate it issued, that certificate's chain (intermediates, then
// root), and the grantor's CA root, the pinned one.
type EnrollResult struct {
	CertPEM      string `json:"certPem"`
	CertChainPEM string `json:"certChainPem"`
	CAPEM        string `json:"caPem"`
}

// Enroll redeems an enrollment URL with a certificate signing request. It
// first fetches the grantor's CA and checks it against the URL's pin (see
// FetchPinnedCA); only then does it post the CSR, over TLS 1.2 or later,
// trusting only the pinned CA and checking the host name as usual. Nothing
// is sent to the enrollment endpoint when the pin does not match.
//
// An error answer of the grantor comes back as an *mosaic.Error with the
// grantor's code and message and the kind of its status (a used token is
// KindGone "token_used"). A network or TLS failure is KindUpstream
// "peer_unreachable". No error ever holds the token.
func Enroll(ctx context.Context, u *EnrollmentURL, csrPEM string) (*EnrollResult, error) {
	if err := u.validate(); err != nil {
		return nil, err
	}
	_, anchor, err := FetchPinnedCA(ctx, u.BaseURL, u.Pin, nil)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(anchor)
	client := newHTTPClient(&tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots},
		enrollTimeout)
	defer client.CloseIdleConnections()

	body, err := json.Marshal(struct {
		CSRPEM string `json:"csrPem"`
	}{csrPEM})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.endpoint(),
		bytes.NewReader(body))
	if err != nil {
		// Not wrapped: the error would quote the URL and its token.
		return nil, urlError("not usable for a request")
	}
	data, err := postJSON(client, req)
	if err != nil {
		return nil, err
	}
	return decodeEnrollResult(data, anchor)
}

// decodeEnrollResult decodes an enrollment answer and checks that it is
// complete and that its CA is the pinned one. The certificate itself is
// checked by the gateway that stores it.
func decodeEnrollResult(data []byte, anchor *x509.Certificate) (*EnrollResult, error) {
	var res EnrollResult
	if err := json.Unmarshal(data, &res); err != nil {
		return nil, mosaic.WrapError(mosaic.KindUpstream, "invalid_enrollment_answer",
			"the remote gateway's enrollment answer is not valid JSON", err)
	}
	if res.CertPEM == "" || res.CAPEM == "" {
		return nil, mosaic.Errorf(mosaic.KindUpstream, "invalid_enrollment_answer",
			"the remote gateway's enrollment answer lacks a certificate or its CA")
	}
	cas, err := pki.ParseCerts(res.CAPEM)
	if err != nil {
		return nil, mosaic.WrapError(mosaic.KindUpstream, "invalid_enrollment_answer",
			"the CA in the remote gateway's enrollment answer is malformed", err)
	}
	if findPinned(cas, pinDigest(anchor)) == nil {
		return nil, mosaic.Errorf(mosaic.KindUpstream, "ca_mismatch",
			"the CA in the remote gateway's enrollment answer is not the pinned one")
	}
	return &res, nil
}

// postJSON sends req, a POST with a JSON body, and returns the body of a
// 200 answer. Any other answer is the remote gateway's error (DecodeError);
// no answer at all is KindUpstream "peer_unreachable".
func postJSON(client *http.Client, req *http.Request) ([]byte, error) {
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, unreachable(err)
	}
	defer resp.Body.Close()
	data, err := readBody(resp.Body, maxSmallBody)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, DecodeError(resp.StatusCode, data)
	}
	return data, nil
}
