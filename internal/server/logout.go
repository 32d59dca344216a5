package server

import (
	"net/http"
	"net/url"

	"github.com/stepup-oidc/stepup/internal/flow"
	"github.com/stepup-oidc/stepup/internal/oauth"
)

// logout is the RP-initiated logout endpoint. A request that does not prove
// it comes from an application of the signed-in user is confirmed first.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	var v url.Values
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			s.renderError(w, r, http.StatusBadRequest, oauth.Err(oauth.InvalidRequest, "malformed form"))
			return
		}
		v = r.PostForm
	} else {
		v = r.URL.Query()
	}
	req := flow.LogoutRequest{IDTokenHint: v.Get("id_token_hint"), ClientID: v.Get("client_id"),
		PostLogoutRedirectURI: v.Get("post_logout_redirect_uri"), State: v.Get("state")}
	sess, err := s.session(r)
	if err != nil {
		s.renderError(w, r, http.StatusInternalServerError, err)
		return
	}
	plan, err := s.cfg.Flow.PlanLogout(r.Context(), req, sess)
	if err != nil {
		s.renderError(w, r, http.StatusBadRequest, err)
		return
	}
	confirmed := r.Method == http.MethodPost && v.Has("decision") && s.checkCSRF(r)
	if plan.Confirm && !confirmed {
		s.renderForm(w, r, http.StatusOK, "logout.html", map[string]any{"Title": "Sign out", "ClientName": plan.ClientName,
			"CSRF": s.cfg.Flow.CSRFToken(s.csrf(w, r)), "Req": req})
		return
	}
	if !confirmed || v.Get("decision") == "logout" {
		if err := s.cfg.Flow.EndSession(r.Context(), sess); err != nil {
			s.renderError(w, r, http.StatusInternalServerError, err)
			return
		}
		http.SetCookie(w, s.cookie(s.cfg.SessionCookie, "", -1))
	}
	if plan.Redirect != "" {
		http.Redirect(w, r, plan.Redirect, http.StatusSeeOther)
		return
	}
	msg := "You are signed out."
	if confirmed && v.Get("decision") != "logout" {
		msg = "You are still signed in."
	}
	s.render(w, r, http.StatusOK, "message.html", map[string]any{"Title": "Sign out", "Message": msg})
}
