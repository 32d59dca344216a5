package server

import (
	"mime"
	"net/http"
	"strings"

	"github.com/stepup-oidc/stepup/internal/oauth"
	"github.com/stepup-oidc/stepup/internal/store"
)

// parseForm reads an application/x-www-form-urlencoded body of at most 64 KiB.
func parseForm(w http.ResponseWriter, r *http.Request) *oauth.Error {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/x-www-form-urlencoded" {
		return oauth.Err(oauth.InvalidRequest, "the body must be application/x-www-form-urlencoded")
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		return oauth.Err(oauth.InvalidRequest, "malformed request body")
	}
	if len(r.URL.RawQuery) > 0 {
		for k := range r.URL.Query() {
			if r.PostForm.Has(k) {
				return oauth.Err(oauth.InvalidRequest, "parameter %s sent in both query and body", k)
			}
		}
	}
	return nil
}

// authenticateClient parses and checks client authentication.
func (s *Server) authenticateClient(w http.ResponseWriter, r *http.Request) (store.Client, error) {
	if oe := parseForm(w, r); oe != nil {
		return store.Client{}, oe
	}
	user, pass, hasBasic := r.BasicAuth()
	if !hasBasic && strings.HasPrefix(strings.ToLower(r.Header.Get("Authorization")), "basic ") {
		return store.Client{}, oauth.Err(oauth.InvalidClient, "malformed basic credentials")
	}
	ca, oe := oauth.ParseClientAuth(user, pass, hasBasic, r.PostForm)
	if oe != nil {
		return store.Client{}, oe
	}
	return s.cfg.Flow.AuthenticateClient(r.Context(), ca)
}

// token is the token endpoint.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	c, err := s.authenticateClient(w, r)
	if err != nil {
		writeJSONError(w, r, s.cfg.Logger, err)
		return
	}
	req, oe := oauth.ParseTokenRequest(r.PostForm)
	if oe != nil {
		writeJSONError(w, r, s.cfg.Logger, oe)
		return
	}
	res, err := s.cfg.Flow.Token(r.Context(), c, req)
	if err != nil {
		writeJSONError(w, r, s.cfg.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// introspect is the RFC 7662 endpoint; confidential clients only.
func (s *Server) introspect(w http.ResponseWriter, r *http.Request) {
	c, err := s.authenticateClient(w, r)
	if err == nil && c.SecretHash == "" {
		err = oauth.Err(oauth.InvalidClient, "public clients may not introspect")
	}
	if err != nil {
		writeJSONError(w, r, s.cfg.Logger, err)
		return
	}
	tok := r.PostForm.Get("token")
	if tok == "" {
		writeJSONError(w, r, s.cfg.Logger, oauth.Err(oauth.InvalidRequest, "missing token parameter"))
		return
	}
	res, err := s.cfg.Flow.Introspect(r.Context(), c, tok, r.PostForm.Get("token_type_hint"))
	if err != nil {
		writeJSONError(w, r, s.cfg.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// revoke is the RFC 7009 endpoint.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	c, err := s.authenticateClient(w, r)
	if err != nil {
		writeJSONError(w, r, s.cfg.Logger, err)
		return
	}
	tok := r.PostForm.Get("token")
	if tok == "" {
		writeJSONError(w, r, s.cfg.Logger, oauth.Err(oauth.InvalidRequest, "missing token parameter"))
		return
	}
	if err := s.cfg.Flow.Revoke(r.Context(), c, tok, r.PostForm.Get("token_type_hint")); err != nil {
		writeJSONError(w, r, s.cfg.Logger, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// userinfo is the OIDC UserInfo endpoint; the bearer token comes from the
// Authorization header, or the body of a POST (RFC 6750 §2.2).
func (s *Server) userinfo(w http.ResponseWriter, r *http.Request) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok && r.Method == http.MethodPost && parseForm(w, r) == nil {
		tok = r.PostForm.Get("access_token")
	}
	if tok == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="stepup"`)
		writeJSON(w, http.StatusUnauthorized, errorBody{Error: oauth.InvalidToken, Description: "missing bearer token"})
		return
	}
	claims, err := s.cfg.Flow.UserInfo(r.Context(), tok)
	if err != nil {
		oe := toOAuth(r, s.cfg.Logger, err)
		if oe.Code == oauth.InvalidToken || oe.Code == oauth.InsufficientScope {
			w.Header().Set("WWW-Authenticate", `Bearer error="`+string(oe.Code)+`", error_description="`+oe.Description+`"`)
		}
		writeJSON(w, oe.Code.Status(), errorBody{Error: oe.Code, Description: oe.Description})
		return
	}
	writeJSON(w, http.StatusOK, claims)
}
