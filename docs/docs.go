// Package docs holds the documents the gateway serves exactly as they are
// committed in this directory.
package docs

import (
	"bytes"
	_ "embed" // for go:embed
)

// openAPI is openapi.json, embedded at build time.
//
//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the OpenAPI 3 description of the admin and federation
// APIs: the bytes of docs/openapi.json. The caller owns the copy.
func OpenAPI() []byte { return bytes.Clone(openAPI) }
