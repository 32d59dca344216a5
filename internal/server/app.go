package server

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/stepup-oidc/stepup/internal/flow"
	"github.com/stepup-oidc/stepup/internal/oauth"
)

// backchannel is the CIBA backchannel authentication endpoint.
func (s *Server) backchannel(w http.ResponseWriter, r *http.Request) {
	c, err := s.authenticateClient(w, r)
	if err != nil {
		writeJSONError(w, r, s.cfg.Logger, err)
		return
	}
	req, oe := oauth.ParseBackchannel(r.PostForm)
	if oe != nil {
		writeJSONError(w, r, s.cfg.Logger, oe)
		return
	}
	res, err := s.cfg.Flow.Backchannel(r.Context(), c, req)
	if err != nil {
		writeJSONError(w, r, s.cfg.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

type pendingView struct {
	flow.PendingRequest
	Views     []detailView
	ExpiresIn int
}

// app is the authenticator app: the user's pending requests, live.
func (s *Server) app(w http.ResponseWriter, r *http.Request) {
	sess, err := s.session(r)
	if err != nil {
		s.renderError(w, r, http.StatusInternalServerError, err)
		return
	}
	data := map[string]any{"Title": "Stepup authenticator", "CSRF": s.cfg.Flow.CSRFToken(s.csrf(w, r)),
		"Message": r.URL.Query().Get("m"), "Manifest": "/app/manifest.webmanifest"}
	if sess == nil {
		s.render(w, r, http.StatusOK, "app.html", data)
		return
	}
	pending, err := s.cfg.Flow.PendingCIBA(r.Context(), sess.UserID)
	if err != nil {
		s.renderError(w, r, http.StatusInternalServerError, err)
		return
	}
	var views []pendingView
	now := s.cfg.Flow.Now()
	for _, p := range pending {
		views = append(views, pendingView{PendingRequest: p, Views: detailViews(p.Details),
			ExpiresIn: int(p.ExpiresAt.Sub(now) / time.Second)})
	}
	data["SignedIn"], data["Pending"] = true, views
	data["Version"] = s.cfg.Flow.PendingVersion(r.Context(), sess.UserID)
	data["Passkey"] = s.cfg.Flow.HasPasskey(r.Context(), sess.UserID)
	s.render(w, r, http.StatusOK, "app.html", data)
}

// appLogin signs the user in to the app through the usual login pages.
func (s *Server) appLogin(w http.ResponseWriter, r *http.Request) {
	sealed, err := s.cfg.Flow.Seal(s.cfg.Flow.AppTransaction())
	if err != nil {
		s.renderError(w, r, http.StatusInternalServerError, err)
		return
	}
	http.Redirect(w, r, "/login?tx="+sealed, http.StatusSeeOther)
}

// appDecide approves or denies a pending request. Approving needs a fresh
// authentication: a passkey assertion bound to the request when the user
// has a passkey, the password otherwise.
func (s *Server) appDecide(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if r.ParseForm() != nil || !s.checkCSRF(r) {
		s.renderError(w, r, http.StatusBadRequest, errFormExpired)
		return
	}
	sess, err := s.session(r)
	if err != nil || sess == nil {
		http.Redirect(w, r, "/app", http.StatusSeeOther)
		return
	}
	f := r.PostForm
	id := f.Get("id")
	done := func(msg string) { http.Redirect(w, r, "/app?m="+msg, http.StatusSeeOther) }
	if f.Get("decision") == "deny" {
		if err := s.cfg.Flow.DecideCIBA(r.Context(), sess, id, false, nil); err != nil && !errors.Is(err, flow.ErrBadTransaction) {
			s.renderError(w, r, http.StatusInternalServerError, err)
			return
		}
		done("denied")
		return
	}
	pending, err := s.cfg.Flow.PendingCIBA(r.Context(), sess.UserID)
	if err != nil {
		s.renderError(w, r, http.StatusInternalServerError, err)
		return
	}
	var req *flow.PendingRequest
	for i := range pending {
		if pending[i].ID == id {
			req = &pending[i]
		}
	}
	if req == nil {
		done("gone")
		return
	}
	u, err := s.cfg.Flow.User(r.Context(), sess.UserID)
	if err != nil {
		s.renderError(w, r, http.StatusInternalServerError, err)
		return
	}
	digest := flow.CIBADigest(*req)
	if s.cfg.Flow.HasPasskey(r.Context(), u.ID) {
		if resp := f.Get("response"); resp != "" {
			_, ev, err := s.cfg.Flow.FinishApproval(r.Context(), f.Get("state"), []byte(resp), u.ID, digest)
			if err != nil {
				done("failed")
				return
			}
			s.decided(w, r, done, s.cfg.Flow.DecideCIBA(r.Context(), sess, id, true, &ev))
			return
		}
		opts, state, err := s.cfg.Flow.BeginApproval(r.Context(), u, digest)
		if err != nil {
			s.renderError(w, r, http.StatusInternalServerError, err)
			return
		}
		s.render(w, r, http.StatusOK, "app_passkey.html", map[string]any{"Title": "Approve with passkey",
			"CSRF": f.Get("csrf"), "ID": id, "State": state, "Options": jsonValue(opts), "BindingMessage": req.BindingMessage})
		return
	}
	_, ev, err := s.cfg.Flow.CheckPassword(r.Context(), u.Username, f.Get("password"), clientIP(r), u.ID)
	if err != nil {
		done("failed")
		return
	}
	s.decided(w, r, done, s.cfg.Flow.DecideCIBA(r.Context(), sess, id, true, &ev))
}

func (s *Server) decided(w http.ResponseWriter, r *http.Request, done func(string), err error) {
	switch {
	case err == nil:
		done("approved")
	case errors.Is(err, flow.ErrUnmet):
		done("unmet")
	case errors.Is(err, flow.ErrBadTransaction):
		done("gone")
	default:
		s.renderError(w, r, http.StatusInternalServerError, err)
	}
}

// appEvents streams a "changed" event whenever the user's requests change
// (server-sent events), and a comment every 25 seconds to keep it open.
func (s *Server) appEvents(w http.ResponseWriter, r *http.Request) {
	sess, err := s.session(r)
	if err != nil || sess == nil {
		http.Error(w, "not signed in", http.StatusUnauthorized)
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	rc := http.NewResponseController(w)
	rc.SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	// Listen before telling the page it is connected, and tell it at once
	// if something changed since it was rendered (its version is stale).
	ch, stop := s.cfg.Flow.Wait(sess.UserID)
	fmt.Fprint(w, ": connected\n\n")
	if r.URL.Query().Get("v") != s.cfg.Flow.PendingVersion(r.Context(), sess.UserID) {
		fmt.Fprint(w, "event: changed\ndata: {}\n\n")
	}
	flusher.Flush()
	for {
		select {
		case <-r.Context().Done():
			stop()
			return
		case <-s.closing:
			stop()
			return
		case <-ch:
			fmt.Fprint(w, "event: changed\ndata: {}\n\n")
		case <-time.After(25 * time.Second):
			stop()
			fmt.Fprint(w, ": keep-alive\n\n")
		}
		flusher.Flush()
		ch, stop = s.cfg.Flow.Wait(sess.UserID)
	}
}

// manifest makes the app installable.
func (s *Server) manifest(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/manifest+json")
	fmt.Fprint(w, `{"name":"Stepup authenticator","short_name":"Stepup","start_url":"/app","scope":"/app","display":"standalone","background_color":"#f3f5f8","theme_color":"#1f5fbf","icons":[]}`)
}
