package httpapi

import (
	"net/http"

	"github.com/mosaicgw/mosaic"
	"github.com/mosaicgw/mosaic/federation"
)

// registerDataRoutes adds the routes of the resources users own: tasks,
// notes and credentials.
func (s *server) registerDataRoutes(mux *routeMux) {
	mux.HandleFunc("POST /api/admin/tasks", s.createTask)
	mux.HandleFunc("POST /api/admin/notes", s.createNote)
	mux.HandleFunc("POST /api/admin/credentials", s.createCredential)
	for _, res := range []mosaic.Resource{
		mosaic.ResourceTasks, mosaic.ResourceNotes, mosaic.ResourceCredentials,
	} {
		mux.HandleFunc("GET /api/admin/"+string(res), s.listResource(res))
	}
}

// createTaskRequest is the body of POST /api/admin/tasks.
type createTaskRequest struct {
	UserID string `json:"userId"`
	Title  string `json:"title"`
	Status string `json:"status"`
}

// createTask adds a task.
func (s *server) createTask(w http.ResponseWriter, r *http.Request) {
	var req createTaskRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	t, err := s.svc.CreateTask(r.Context(), mosaic.Task{
		UserID: req.UserID, Title: req.Title, Status: req.Status,
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, t)
}

// createNoteRequest is the body of POST /api/admin/notes.
type createNoteRequest struct {
	UserID string `json:"userId"`
	Title  string `json:"title"`
	Body   string `json:"body"`
}

// createNote adds a note.
func (s *server) createNote(w http.ResponseWriter, r *http.Request) {
	var req createNoteRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	n, err := s.svc.CreateNote(r.Context(), mosaic.Note{
		UserID: req.UserID, Title: req.Title, Body: req.Body,
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, n)
}

// createCredentialRequest is the body of POST /api/admin/credentials.
type createCredentialRequest struct {
	UserID string `json:"userId"`
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Secret string `json:"secret"`
}

// createCredential adds a credential; the answer holds its metadata only.
func (s *server) createCredential(w http.ResponseWriter, r *http.Request) {
	var req createCredentialRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	c, err := s.svc.CreateCredential(r.Context(), federation.CredentialInput{
		UserID: req.UserID, Name: req.Name, Kind: req.Kind, Secret: req.Secret,
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, c)
}

// listPage is the answer of a paged listing.
type listPage struct {
	Items      []any  `json:"items"`
	NextCursor string `json:"nextCursor"`
}

// listResource returns the handler that lists one page of res, optionally
// of one user only.
func (s *server) listResource(res mosaic.Resource) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		page, err := s.svc.ListResource(r.Context(), federation.ListInput{
			Resource: res,
			UserID:   q.Get("user"),
			Limit:    q.Get("limit"),
			Cursor:   q.Get("cursor"),
		})
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if page.Items == nil {
			page.Items = []any{}
		}
		writeJSON(w, http.StatusOK, listPage{Items: page.Items, NextCursor: page.NextCursor})
	}
}
