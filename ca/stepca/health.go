package stepca

import (
	"bytes"
	"context"
	"fmt"
	"net/http"

	"github.com/mosaicgw/mosaic"
)

// Health asks step-ca whether it is up (GET /health, which must answer
// {"status":"ok"}) over TLS verified against the configured root. Errors
// are those of Sign: KindUnavailable "ca_unavailable" when step-ca cannot
// be reached in time, KindUpstream otherwise.
func (c *CA) Health(ctx context.Context) error {
	var out struct {
		Status string `json:"status"`
	}
	if err := c.call(ctx, http.MethodGet, "/health", nil, "", &out); err != nil {
		return err
	}
	if out.Status != "ok" {
		return mosaic.WrapError(mosaic.KindUnavailable, "ca_unavailable",
			"step-ca is not healthy", fmt.Errorf("stepca: GET /health: status %q", out.Status))
	}
	return nil
}

// CheckRoot checks that step-ca serves the configured root: GET
// /root/<sha256 of the root> must answer with that very certificate. A
// step-ca that does not know the root is KindUpstream "ca_root_mismatch";
// other errors are those of Health.
func (c *CA) CheckRoot(ctx context.Context) error {
	var out struct {
		CA string `json:"ca"`
	}
	err := c.call(ctx, http.MethodGet, "/root/"+c.rootSHA, nil, "", &out)
	if answerStatus(err) == http.StatusNotFound {
		return mosaic.WrapError(mosaic.KindUpstream, "ca_root_mismatch",
			"step-ca does not serve the configured root certificate (sha256 "+c.rootSHA+")", err)
	}
	if err != nil {
		return err
	}
	served, err := oneCert("ca", out.CA)
	if err != nil {
		return mosaic.WrapError(mosaic.KindUpstream, "ca_failed",
			"step-ca's root answer is not usable", err)
	}
	if !bytes.Equal(served.Raw, c.root.Raw) {
		return mosaic.Errorf(mosaic.KindUpstream, "ca_root_mismatch",
			"step-ca serves another root certificate than the configured one (sha256 %s)", c.rootSHA)
	}
	return nil
}
