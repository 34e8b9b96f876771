package httpapi

import (
	"net/http"

	"github.com/mosaicgw/mosaic"
)

// registerTeamRoutes adds the team routes of the admin API.
func (s *server) registerTeamRoutes(mux *routeMux) {
	mux.HandleFunc("POST /api/admin/teams", s.createTeam)
	mux.HandleFunc("GET /api/admin/teams", s.listTeams)
	mux.HandleFunc("POST /api/admin/teams/{id}/members", s.addTeamMember)
}

// createTeamRequest is the body of POST /api/admin/teams.
type createTeamRequest struct {
	Name      string   `json:"name"`
	MemberIDs []string `json:"memberIds"`
}

// createTeam adds a team with its first members.
func (s *server) createTeam(w http.ResponseWriter, r *http.Request) {
	var req createTeamRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	t, err := s.svc.CreateTeam(r.Context(), mosaic.Team{Name: req.Name, MemberIDs: req.MemberIDs})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, t)
}

// addMemberRequest is the body of POST /api/admin/teams/{id}/members.
type addMemberRequest struct {
	UserID string `json:"userId"`
}

// addTeamMember adds a user to a team.
func (s *server) addTeamMember(w http.ResponseWriter, r *http.Request) {
	var req addMemberRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.svc.AddTeamMember(r.Context(), r.PathValue("id"), req.UserID); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// listTeams lists every team with its members.
func (s *server) listTeams(w http.ResponseWriter, r *http.Request) {
	teams, err := s.svc.ListTeams(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, items(teams))
}
