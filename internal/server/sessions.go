package server

import (
	"net/http"
	"strings"
	"time"

	"github.com/stepup-oidc/stepup/internal/store"
)

type sessionView struct {
	ID, Started, Expires, Methods string
	Current                       bool
}

// sessions shows the signed-in user's sessions, each with a button to end it.
func (s *Server) sessions(w http.ResponseWriter, r *http.Request) {
	sess, err := s.session(r)
	if err != nil {
		s.renderError(w, r, http.StatusInternalServerError, err)
		return
	}
	if sess == nil {
		s.render(w, r, http.StatusUnauthorized, "message.html", map[string]any{"Title": "Your sessions",
			"Message": "You are not signed in."})
		return
	}
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
		if r.ParseForm() != nil || !s.checkCSRF(r) {
			s.renderError(w, r, http.StatusBadRequest, errFormExpired)
			return
		}
		if err := s.cfg.Flow.EndUserSession(r.Context(), sess, r.PostForm.Get("end")); err != nil {
			s.renderError(w, r, http.StatusInternalServerError, err)
			return
		}
		if r.PostForm.Get("end") == sess.ID {
			http.SetCookie(w, s.cookie(s.cfg.SessionCookie, "", -1))
			s.render(w, r, http.StatusOK, "message.html", map[string]any{"Title": "Your sessions", "Message": "You are signed out."})
			return
		}
		http.Redirect(w, r, "/sessions", http.StatusSeeOther)
		return
	}
	all, err := s.cfg.Flow.UserSessions(r.Context(), sess)
	if err != nil {
		s.renderError(w, r, http.StatusInternalServerError, err)
		return
	}
	var views []sessionView
	for _, x := range all {
		views = append(views, sessionView{ID: x.ID, Started: x.CreatedAt.UTC().Format(time.RFC1123),
			Expires: x.ExpiresAt.UTC().Format(time.RFC1123), Methods: methodsOf(x), Current: x.ID == sess.ID})
	}
	s.render(w, r, http.StatusOK, "sessions.html", map[string]any{"Title": "Your sessions", "Sessions": views,
		"CSRF": s.cfg.Flow.CSRFToken(s.csrf(w, r))})
}

func methodsOf(x store.Session) string {
	var m []string
	for _, e := range x.Events {
		m = append(m, e.Method)
	}
	return strings.Join(m, ", ")
}
