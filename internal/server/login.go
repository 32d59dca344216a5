package server

import (
	"errors"
	"net/http"

	"github.com/stepup-oidc/stepup/internal/flow"
	"github.com/stepup-oidc/stepup/internal/oauth"
	"github.com/stepup-oidc/stepup/internal/store"
)

type loginView struct {
	TX, CSRF, Error, Username string
	UsernameFixed, StepUp     bool
	Level                     string
}

// loginPage renders the sign-in form for a sealed transaction.
func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	sealed := r.URL.Query().Get("tx")
	tx, err := s.cfg.Flow.Unseal(sealed)
	if err != nil {
		s.renderError(w, r, http.StatusBadRequest, errFormExpired)
		return
	}
	sess, err := s.session(r)
	if err != nil {
		s.renderError(w, r, http.StatusInternalServerError, err)
		return
	}
	s.showLogin(w, r, http.StatusOK, tx, sealed, sess, "")
}

func (s *Server) showLogin(w http.ResponseWriter, r *http.Request, status int, tx *flow.Transaction, sealed string, sess *store.Session, msg string) {
	v := loginView{TX: sealed, CSRF: s.cfg.Flow.CSRFToken(s.csrf(w, r)), Error: msg}
	res, err := s.cfg.Flow.Authorize(r.Context(), tx, sess)
	if err == nil && res.Login != nil {
		v.StepUp = res.Login.StepUp
		if res.Login.Missing != nil {
			v.Level = res.Login.Missing.ACR
		}
		if res.Login.UserID != "" {
			if u, err := s.cfg.Flow.User(r.Context(), res.Login.UserID); err == nil {
				v.Username, v.UsernameFixed = u.Username, true
			}
		}
	}
	if !v.UsernameFixed && tx.LoginHint != "" && len(tx.LoginHint) <= 256 {
		v.Username = tx.LoginHint
	}
	title := "Sign in"
	if v.StepUp {
		title = "Confirm it's you"
	}
	s.renderForm(w, status, "login.html", map[string]any{"Title": title, "ClientName": tx.ClientName,
		"TX": v.TX, "CSRF": v.CSRF, "Error": v.Error, "Username": v.Username, "UsernameFixed": v.UsernameFixed,
		"StepUp": v.StepUp, "Level": v.Level}, tx.RedirectURI)
}

// login handles the sign-in form.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		s.renderError(w, r, http.StatusBadRequest, oauth.Err(oauth.InvalidRequest, "malformed form"))
		return
	}
	sealed := r.PostForm.Get("tx")
	tx, err := s.cfg.Flow.Unseal(sealed)
	if err != nil || !s.checkCSRF(r) {
		s.renderError(w, r, http.StatusBadRequest, errFormExpired)
		return
	}
	to := authzResponse{RedirectURI: tx.RedirectURI, ResponseMode: tx.ResponseMode, State: tx.State}
	if r.PostForm.Get("decision") == "cancel" {
		s.redirectError(w, r, to, oauth.Err(oauth.AccessDenied, "the user cancelled the sign-in"))
		return
	}
	sess, err := s.session(r)
	if err != nil {
		s.redirectError(w, r, to, err)
		return
	}
	mustBe := tx.HintSubject
	if res, err := s.cfg.Flow.Authorize(r.Context(), tx, sess); err == nil && res.Login != nil && res.Login.UserID != "" {
		mustBe = res.Login.UserID
	}
	u, ev, err := s.cfg.Flow.CheckPassword(r.Context(), r.PostForm.Get("username"), r.PostForm.Get("password"), clientIP(r), mustBe)
	switch {
	case errors.Is(err, flow.ErrThrottled):
		s.showLogin(w, r, http.StatusTooManyRequests, tx, sealed, sess, "Too many failed attempts. Wait a few minutes and try again.")
		return
	case errors.Is(err, flow.ErrBadCredentials):
		s.showLogin(w, r, http.StatusUnauthorized, tx, sealed, sess, "Wrong username or password.")
		return
	case errors.Is(err, flow.ErrWrongUser):
		s.showLogin(w, r, http.StatusForbidden, tx, sealed, sess, "Sign in as the account shown.")
		return
	case err != nil:
		s.redirectError(w, r, to, err)
		return
	}
	ns, handle, err := s.cfg.Flow.RecordEvent(r.Context(), sess, u, ev)
	if err != nil {
		s.redirectError(w, r, to, err)
		return
	}
	http.SetCookie(w, s.cookie(s.cfg.SessionCookie, handle, int(s.cfg.Flow.SessionTTL().Seconds())))
	tx.InteractionHappened = true
	s.proceed(w, r, tx, ns)
}
