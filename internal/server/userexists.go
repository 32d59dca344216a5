package server

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"

	"github.com/stepup-oidc/stepup/internal/flow"
	"github.com/stepup-oidc/stepup/internal/oauth"
)

// userExists answers {"exists": bool} for a BankID-style loginHint: whether
// the person can receive a CIBA request now. Client-authenticated
// (confidential clients), rate-limited per client, audited.
func (s *Server) userExists(w http.ResponseWriter, r *http.Request) {
	user, pass, ok := r.BasicAuth()
	if !ok {
		w.Header().Set("WWW-Authenticate", `Basic realm="stepup"`)
		writeJSONError(w, r, s.cfg.Logger, oauth.Err(oauth.InvalidClient, "client authentication required (basic)"))
		return
	}
	c, err := s.cfg.Flow.AuthenticateClient(r.Context(), oauth.ClientAuth{ClientID: user, Secret: pass, Method: "client_secret_basic"})
	if err != nil {
		writeJSONError(w, r, s.cfg.Logger, err)
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeJSONError(w, r, s.cfg.Logger, oauth.Err(oauth.InvalidRequest, "the body must be application/json"))
		return
	}
	var body struct {
		LoginHint []flow.LoginHintEntry `json:"loginHint"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 8<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		writeJSONError(w, r, s.cfg.Logger, oauth.Err(oauth.InvalidRequest, "malformed JSON body"))
		return
	}
	exists, err := s.cfg.Flow.UserExists(r.Context(), c, body.LoginHint)
	if errors.Is(err, flow.ErrTooManyLookups) {
		w.Header().Set("Retry-After", "60")
		writeJSON(w, http.StatusTooManyRequests, errorBody{Error: "too_many_requests", Description: err.Error()})
		return
	}
	if err != nil {
		writeJSONError(w, r, s.cfg.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"exists": exists})
}
