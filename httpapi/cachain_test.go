package httpapi_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/mosaicgw/mosaic/ca/embedded"
	"github.com/mosaicgw/mosaic/httpapi"
	"github.com/mosaicgw/mosaic/pki"
)

// TestCAEndpointAfterRotation serves the CA chain through WithCAChain: a
// rotation shows at the next request, as root, new intermediate, old one.
func TestCAEndpointAfterRotation(t *testing.T) {
	var ca *embedded.CA
	g := startGatewayWith(t, unlimited,
		httpapi.WithCAChain(func() string { return ca.ChainPEM() }))
	ca = g.CA
	old := ca.Intermediate()
	if _, err := ca.Rotate(context.Background()); err != nil {
		t.Fatal(err)
	}
	a := g.fedDo(t, g.fedClient(t), "GET", "/api/federation/ca", nil)
	a.wantStatus(t, http.StatusOK)
	certs, err := pki.ParseCerts(string(a.body))
	if err != nil || len(certs) != 3 || !certs[0].Equal(ca.Root()) ||
		!certs[1].Equal(ca.Intermediate()) || !certs[2].Equal(old) {
		t.Errorf("CA bundle after a rotation: %d certificates, %v; want root, new, old",
			len(certs), err)
	}
}
