package remote

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"

	"github.com/mosaicgw/mosaic"
)

// Renew asks the gateway that issued creds.Cert for a new certificate for
// the key of csrPEM: POST BaseURL/api/federation/v1/renew over mutual TLS,
// presenting creds.Cert and trusting only creds.Roots for the server. The
// answer has the shape of an enrollment's; the certificate itself is
// checked by the gateway that stores it.
//
// An error answer comes back as an *mosaic.Error with the grantor's code
// and message and the kind of its status (a revoked grant is KindForbidden
// "grant_not_active"). A network or TLS failure is KindUpstream
// "peer_unreachable", an answer without a certificate or CA KindUpstream
// "invalid_renewal_answer", unusable credentials KindInvalid.
func Renew(ctx context.Context, creds Credentials, csrPEM string) (*EnrollResult, error) {
	base, err := creds.check()
	if err != nil {
		return nil, err
	}
	client := newHTTPClient(&tls.Config{
		MinVersion:   tls.VersionTLS12,
		RootCAs:      creds.Roots,
		Certificates: []tls.Certificate{creds.Cert},
	}, renewTimeout)
	defer client.CloseIdleConnections()

	body, err := json.Marshal(struct {
		CSRPEM string `json:"csrPem"`
	}{csrPEM})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+renewPath,
		bytes.NewReader(body))
	if err != nil {
		return nil, mosaic.WrapError(mosaic.KindInvalid, "invalid_base_url",
			"remote gateway URL is not usable", err)
	}
	data, err := postJSON(client, req)
	if err != nil {
		return nil, err
	}

	var res EnrollResult
	if err := json.Unmarshal(data, &res); err != nil {
		return nil, mosaic.WrapError(mosaic.KindUpstream, "invalid_renewal_answer",
			"the remote gateway's renewal answer is not valid JSON", err)
	}
	if res.CertPEM == "" || res.CAPEM == "" {
		return nil, mosaic.Errorf(mosaic.KindUpstream, "invalid_renewal_answer",
			"the remote gateway's renewal answer lacks a certificate or its CA")
	}
	return &res, nil
}
