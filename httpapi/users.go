package httpapi

import (
	"net/http"

	"github.com/mosaicgw/mosaic"
)

// registerUserRoutes adds the user routes of the admin API.
func (s *server) registerUserRoutes(mux *routeMux) {
	mux.HandleFunc("POST /api/admin/users", s.createUser)
	mux.HandleFunc("GET /api/admin/users", s.listUsers)
}

// createUserRequest is the body of POST /api/admin/users.
type createUserRequest struct {
	Name          string `json:"name"`
	Email         string `json:"email"`
	EmailVerified bool   `json:"emailVerified"`
}

// createUser adds a user.
func (s *server) createUser(w http.ResponseWriter, r *http.Request) {
	var req createUserRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	u, err := s.svc.CreateUser(r.Context(), mosaic.User{
		Name: req.Name, Email: req.Email, EmailVerified: req.EmailVerified,
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, u)
}

// listUsers lists every user.
func (s *server) listUsers(w http.ResponseWriter, r *http.Request) {
	users, err := s.svc.ListUsers(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, items(users))
}
