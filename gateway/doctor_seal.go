package gateway

import (
	"os"
	"path/filepath"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/seal"
)

// previousSecretChecks reports the previous secret of a rotation when one
// is given in this environment or the data directory: fail when its file
// is open to other users or it is too short, ok otherwise (the gateway's
// sealing check says whether it is still needed). Without one there is no
// check.
func previousSecretChecks(cfg Config) mosaic.Checks {
	c := mosaic.Check{Name: "previous_secret", Status: mosaic.CheckOK}
	if v := cfg.Env(seal.EnvSecretPrevious); v != "" {
		c.Reason = "from " + seal.EnvSecretPrevious + "; remove it once every value is " +
			"under the current key version"
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
		c.Reason = "from " + path + "; remove it once every value is under the current " +
			"key version"
	}
	return mosaic.Checks{c}
}
