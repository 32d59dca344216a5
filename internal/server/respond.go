package server

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/stepup-oidc/stepup/internal/oauth"
)

// writeJSON writes a JSON body that must never be cached.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"server_error"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	w.Write(b)
}

// errorBody is the JSON error body of RFC 6749 §5.2.
type errorBody struct {
	Error       oauth.Code `json:"error"`
	Description string     `json:"error_description,omitempty"`
}

// writeJSONError serves errors of the token, introspection, revocation and
// userinfo endpoints. Non-OAuth errors become server_error and are logged.
func writeJSONError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	oe := toOAuth(r, log, err)
	if oe.Code == oauth.InvalidClient {
		if _, _, ok := r.BasicAuth(); ok {
			w.Header().Set("WWW-Authenticate", `Basic realm="stepup"`)
		}
	}
	writeJSON(w, oe.Code.Status(), errorBody{Error: oe.Code, Description: oe.Description})
}

// toOAuth maps err to an *oauth.Error, logging internal failures once.
func toOAuth(r *http.Request, log *slog.Logger, err error) *oauth.Error {
	var oe *oauth.Error
	if errors.As(err, &oe) {
		return oe
	}
	log.ErrorContext(r.Context(), "internal error", "path", r.URL.Path, "err", err)
	return oauth.Err(oauth.ServerError, "internal error")
}

// authzResponse is where an authorization response goes: a validated
// redirect URI, its response mode and the state to echo.
type authzResponse struct {
	RedirectURI  string
	ResponseMode string
	State        string
}

// redirectError sends an authorization error to the validated redirect URI.
func (s *Server) redirectError(w http.ResponseWriter, r *http.Request, to authzResponse, err error) {
	oe := toOAuth(r, s.cfg.Logger, err)
	v := url.Values{"error": {string(oe.Code)}}
	if oe.Description != "" {
		v.Set("error_description", oe.Description)
	}
	s.respondAuthz(w, r, to, v)
}

// redirectCode sends the authorization code.
func (s *Server) redirectCode(w http.ResponseWriter, r *http.Request, to authzResponse, code string) {
	s.respondAuthz(w, r, to, url.Values{"code": {code}})
}

// respondAuthz adds state and iss (RFC 9207) and delivers per response mode:
// a 303 redirect with the query, or an auto-submitting form (form_post).
func (s *Server) respondAuthz(w http.ResponseWriter, r *http.Request, to authzResponse, v url.Values) {
	if to.State != "" {
		v.Set("state", to.State)
	}
	v.Set("iss", s.cfg.Issuer)
	if to.ResponseMode == "form_post" {
		type field struct{ Name, Value string }
		var fields []field
		for _, k := range []string{"code", "error", "error_description", "state", "iss"} {
			if v.Has(k) {
				fields = append(fields, field{k, v.Get(k)})
			}
		}
		nonce := randomNonce()
		// No form-action: the client's callback may redirect anywhere, and
		// browsers check every hop of a form submission's redirects.
		w.Header().Set("Content-Security-Policy", fmt.Sprintf(
			"default-src 'none'; script-src 'nonce-%s'; frame-ancestors 'none'", nonce))
		s.renderRaw(w, http.StatusOK, "form_post.html", map[string]any{"Action": to.RedirectURI, "Fields": fields, "Nonce": nonce})
		return
	}
	u, err := url.Parse(to.RedirectURI)
	if err != nil {
		s.renderError(w, r, http.StatusBadRequest, oauth.Err(oauth.InvalidRequest, "invalid redirect_uri"))
		return
	}
	q := u.Query()
	for k, vs := range v {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

func randomNonce() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// pageHeaders are set on every HTML page: no framing, no caching, no sniffing.
func pageHeaders(w http.ResponseWriter) {
	h := w.Header()
	if h.Get("Content-Security-Policy") == "" {
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; manifest-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	}
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "text/html; charset=utf-8")
}

// render writes a page built on the layout, in the user's language.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, data map[string]any) {
	s.localize(r, data)
	s.renderRaw(w, status, name, data)
}

// localize adds the page language and its translator to data. A page of a
// login transaction passes the request's ui_locales as data["UILocales"].
func (s *Server) localize(r *http.Request, data map[string]any) {
	ui, _ := data["UILocales"].([]string)
	l := lang(r, ui)
	data["Lang"], data["T"] = l, s.translator(l)
}

// renderForm writes a page whose form, once posted, leads the browser
// through redirects to other origins (the client, an upstream provider, and
// wherever the client's callback sends it next). Browsers apply the CSP
// form-action directive to every hop of that chain, so these pages carry
// none: their forms post to fixed paths of this provider.
func (s *Server) renderForm(w http.ResponseWriter, r *http.Request, status int, name string, data map[string]any) {
	s.localize(r, data)
	w.Header().Set("Content-Security-Policy", formPageCSP)
	s.renderRaw(w, status, name, data)
}

// formPageCSP is pageCSP without form-action (see renderForm).
const formPageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; manifest-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'"

func (s *Server) renderRaw(w http.ResponseWriter, status int, name string, data any) {
	var buf bytes.Buffer
	if err := s.tmpl.ExecuteTemplate(&buf, name, data); err != nil {
		s.cfg.Logger.Error("render template", "template", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	pageHeaders(w)
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// renderError shows an error page: used where redirecting would be unsafe.
func (s *Server) renderError(w http.ResponseWriter, r *http.Request, status int, err error) {
	oe := toOAuth(r, s.cfg.Logger, err)
	if oe.Code == oauth.ServerError {
		status = http.StatusInternalServerError
	}
	s.render(w, r, status, "error.html", map[string]any{"Title": "Something went wrong", "Message": oe.Description, "Code": string(oe.Code)})
}

// cookie builds a strict cookie: HttpOnly, SameSite=Lax, Secure on https.
func (s *Server) cookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: s.secure,
		SameSite: http.SameSiteLaxMode, MaxAge: maxAge}
}
