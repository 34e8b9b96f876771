package httpapi

import (
	"net/http"

	"github.com/mosaicgw/mosaic/docs"
)

// openAPIRoute serves the API description on the admin listener.
const openAPIRoute = "GET /api/openapi.json"

// serveOpenAPI returns the handler that serves the OpenAPI document of
// both APIs, the bytes of docs/openapi.json as built into the binary. It
// describes routes, not data, and is served without the admin token.
func serveOpenAPI() http.HandlerFunc {
	body := docs.OpenAPI()
	return func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(body)
	}
}
