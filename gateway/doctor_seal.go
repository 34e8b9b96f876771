package gateway

import (
	"os"
	"path/filepath"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/seal"
)

// previousSecretChecks reports the previous secret of a rotation when one
// is given in this environment or the data directory: fail when its file
// is open to other users or it is too short, ok otherwise, with what to do
// about it as the gateway's sealing check (zero when unknown) found.
// Without one there is no check.
func previousSecretChecks(cfg Config, sealing mosaic.Check) mosaic.Checks {
	c := mosaic.Check{Name: "previous_secret", Status: mosaic.CheckOK}
	advice := previousSecretAdvice(sealing)
	if v := cfg.Env(seal.EnvSecretPrevious); v != "" {
		c.Reason = "from " + seal.EnvSecretPrevious + "; " + advice
		if len(v) < seal.MinSecretLen {
			c.Status, c.Reason = mosaic.CheckFail, seal.EnvSecretPrevious+" is shorter than 32 bytes"
		}
		return mosaic.Checks{c}
	}
	path := filepath.Join(cfg.DataDir, seal.PreviousSecretFileName)
	st, err := os.Stat(path)
	switch {
	case err != nil:
		return nil
	case st.Mode().Perm()&0o077 != 0:
		c.Status, c.Reason = mosaic.CheckFail, path+" is readable by other users"
	default:
		c.Reason = "from " + path + "; " + advice
	}
	return mosaic.Checks{c}
}

// previousSecretAdvice says what to do with the previous secret, as the
// sealing check judged the sealed values: remove it now when every value
// is under the current key version, keep it while values are under the
// previous one, and remove it once none is when the count is unknown.
func previousSecretAdvice(sealing mosaic.Check) string {
	switch {
	case sealing.Name != checkSealing:
	case sealing.Status == mosaic.CheckOK || sealing.Code == sealCodePreviousUnneeded:
		return "every value is under the current key version: remove it now"
	case sealing.Code == sealCodeStillPrevious:
		return "values still need it: run mosaic gateway rotate-secret, then remove it"
	}
	return "remove it once every value is under the current key version"
}
