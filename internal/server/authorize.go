package server

import (
	"errors"
	"net"
	"net/http"
	"net/url"

	"github.com/stepup-oidc/stepup/internal/flow"
	"github.com/stepup-oidc/stepup/internal/oauth"
	"github.com/stepup-oidc/stepup/internal/store"
)

// authorize is the authorization endpoint (GET and POST).
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	var v url.Values
	if r.Method == http.MethodPost {
		if err := r.ParseForm(); err != nil {
			s.renderError(w, r, http.StatusBadRequest, oauth.Err(oauth.InvalidRequest, "malformed request body"))
			return
		}
		v = r.PostForm
	} else {
		v = r.URL.Query()
	}
	if v.Has(oauth.ParamRequestURI) {
		s.authorizePushed(w, r, v)
		return
	}
	areq, err := oauth.ParseAuthorize(v)
	if err != nil {
		s.renderError(w, r, http.StatusBadRequest, err)
		return
	}
	c, err := s.cfg.Flow.CheckClient(r.Context(), &areq)
	if err != nil {
		s.renderError(w, r, http.StatusBadRequest, err)
		return
	}
	// From here on the redirect URI is validated: errors go back to it.
	to := authzResponse{RedirectURI: areq.RedirectURI, ResponseMode: "query", State: v.Get(oauth.ParamState)}
	if oe := areq.Validate(); oe != nil {
		s.redirectError(w, r, to, oe)
		return
	}
	to.ResponseMode = areq.ResponseMode
	if s.cfg.Flow.RequirePAR() {
		s.redirectError(w, r, to, oauth.Err(oauth.InvalidRequest, "authorization requests must be pushed (PAR) first"))
		return
	}
	tx, oe := s.cfg.Flow.Begin(r.Context(), c, &areq)
	if oe != nil {
		s.redirectError(w, r, to, oe)
		return
	}
	sess, err := s.session(r)
	if err != nil {
		s.redirectError(w, r, to, err)
		return
	}
	s.proceed(w, r, tx, sess)
}

// authorizePushed continues a pushed authorization request (RFC 9126):
// only client_id and request_uri are read from the browser.
func (s *Server) authorizePushed(w http.ResponseWriter, r *http.Request, v url.Values) {
	for _, p := range []string{oauth.ParamClientID, oauth.ParamRequestURI} {
		if len(v[p]) > 1 {
			s.renderError(w, r, http.StatusBadRequest, oauth.Err(oauth.InvalidRequest, "duplicate %s parameter", p))
			return
		}
	}
	tx, err := s.cfg.Flow.Pull(r.Context(), v.Get(oauth.ParamClientID), v.Get(oauth.ParamRequestURI))
	if err != nil {
		s.renderError(w, r, http.StatusBadRequest, err)
		return
	}
	sess, err := s.session(r)
	if err != nil {
		s.renderError(w, r, http.StatusInternalServerError, err)
		return
	}
	s.proceed(w, r, tx, sess)
}

// par is the pushed authorization request endpoint (RFC 9126).
func (s *Server) par(w http.ResponseWriter, r *http.Request) {
	c, err := s.authenticateClient(w, r)
	if err != nil {
		writeJSONError(w, r, s.cfg.Logger, err)
		return
	}
	res, err := s.cfg.Flow.Push(r.Context(), c, r.PostForm)
	if err != nil {
		writeJSONError(w, r, s.cfg.Logger, err)
		return
	}
	writeJSON(w, http.StatusCreated, res)
}

// proceed asks the flow what comes next for tx and does it.
func (s *Server) proceed(w http.ResponseWriter, r *http.Request, tx *flow.Transaction, sess *store.Session) {
	to := authzResponse{RedirectURI: tx.RedirectURI, ResponseMode: tx.ResponseMode, State: tx.State}
	res, err := s.cfg.Flow.Authorize(r.Context(), tx, sess)
	if err != nil {
		s.redirectError(w, r, to, err)
		return
	}
	if res.Done {
		http.Redirect(w, r, "/app", http.StatusSeeOther)
		return
	}
	if res.Code != "" {
		s.redirectCode(w, r, to, res.Code)
		return
	}
	sealed, err := s.cfg.Flow.Seal(tx)
	if err != nil {
		s.redirectError(w, r, to, err)
		return
	}
	http.Redirect(w, r, "/login?tx="+url.QueryEscape(sealed), http.StatusSeeOther)
}

// session returns the browser's live session, or nil.
func (s *Server) session(r *http.Request) (*store.Session, error) {
	c, err := r.Cookie(s.cfg.SessionCookie)
	if err != nil {
		return nil, nil
	}
	return s.cfg.Flow.Session(r.Context(), c.Value)
}

// csrfCookie is named after the session cookie (stepup_session_csrf), so
// two providers on one host keep apart.
func (s *Server) csrfCookie() string { return s.cfg.SessionCookie + "_csrf" }

// csrf returns the browser's CSRF cookie value, setting one if missing.
func (s *Server) csrf(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(s.csrfCookie()); err == nil && len(c.Value) >= 32 {
		return c.Value
	}
	v := randomNonce() + randomNonce()
	http.SetCookie(w, s.cookie(s.csrfCookie(), v, 0))
	return v
}

func (s *Server) checkCSRF(r *http.Request) bool {
	c, err := r.Cookie(s.csrfCookie())
	if err != nil {
		return false
	}
	return s.cfg.Flow.CheckCSRF(c.Value, r.PostForm.Get("csrf"))
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

var errFormExpired = oauth.Err(oauth.InvalidRequest, "this form has expired; go back to the application and start again")

func isBadTx(err error) bool { return errors.Is(err, flow.ErrBadTransaction) }
