package httpapi

import (
	"net/http"
	"slices"
)

// routeMux is a ServeMux that remembers the patterns registered on it, so
// that the API description can be checked against the real routes.
type routeMux struct {
	*http.ServeMux
	patterns []string
}

// newRouteMux returns an empty routeMux.
func newRouteMux() *routeMux { return &routeMux{ServeMux: http.NewServeMux()} }

// Handle registers h for pattern.
func (m *routeMux) Handle(pattern string, h http.Handler) {
	m.ServeMux.Handle(pattern, h)
	m.patterns = append(m.patterns, pattern)
}

// HandleFunc registers f for pattern.
func (m *routeMux) HandleFunc(pattern string, f func(http.ResponseWriter, *http.Request)) {
	m.Handle(pattern, http.HandlerFunc(f))
}

// apiHandler is one API's handler with the routes it registered.
type apiHandler struct {
	http.Handler
	patterns []string
}

// Routes returns the route patterns ("METHOD /path", such as
// "GET /api/admin/federation/grants/{id}") that a handler returned by
// NewAdminHandler or NewFederationHandler registered, sorted; nil for any
// other handler. A GET route also answers HEAD.
func Routes(h http.Handler) []string {
	api, ok := h.(*apiHandler)
	if !ok {
		return nil
	}
	out := slices.Clone(api.patterns)
	slices.Sort(out)
	return out
}
