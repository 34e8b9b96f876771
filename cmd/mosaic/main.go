// Command mosaic runs a Mosaic federation gateway and administers it.
package main

import (
	"os"

	"github.com/mosaicgw/mosaic/cli"
)

func main() {
	os.Exit(cli.Main())
}
