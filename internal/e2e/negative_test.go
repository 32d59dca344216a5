package e2e

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// tokenError posts a token request and returns status and error code.
func tokenError(t *testing.T, p *provider, form url.Values, id, secret string) (int, string) {
	t.Helper()
	res := clientPost(t, p, "/token", form, id, secret)
	var body struct {
		Error string `json:"error"`
	}
	json.NewDecoder(res.Body).Decode(&body)
	return res.StatusCode, body.Error
}

func codeForm(code, verifier string) url.Values {
	f := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}}
	if verifier != "" {
		f.Set("code_verifier", verifier)
	}
	return f
}

func TestTokenEndpointRejects(t *testing.T) {
	p := startSQLite(t)
	r := newRP(t, p, confidentialID, confidentialSecret)
	b := newBrowser(t)
	r.authorize(t, b, "alice") // establish the session

	tests := []struct {
		name       string
		run        func(t *testing.T) (int, string)
		wantStatus int
		wantError  string
	}{
		{"wrong_pkce_verifier", func(t *testing.T) (int, string) {
			cb, _ := r.authorize(t, b, "")
			return tokenError(t, p, codeForm(cb.Get("code"), oauth2.GenerateVerifier()), confidentialID, confidentialSecret)
		}, 400, "invalid_grant"},
		{"missing_pkce_verifier", func(t *testing.T) (int, string) {
			cb, _ := r.authorize(t, b, "")
			return tokenError(t, p, codeForm(cb.Get("code"), ""), confidentialID, confidentialSecret)
		}, 400, "invalid_grant"},
		{"pkce_downgrade_verifier_without_challenge", func(t *testing.T) (int, string) {
			pg := b.get(p.URL + "/authorize?" + url.Values{"client_id": {confidentialID}, "response_type": {"code"},
				"scope": {"openid"}, "redirect_uri": {redirectURI}}.Encode())
			code := pg.Location.Query().Get("code")
			return tokenError(t, p, codeForm(code, oauth2.GenerateVerifier()), confidentialID, confidentialSecret)
		}, 400, "invalid_grant"},
		{"unknown_code", func(t *testing.T) (int, string) {
			return tokenError(t, p, codeForm("nope", oauth2.GenerateVerifier()), confidentialID, confidentialSecret)
		}, 400, "invalid_grant"},
		{"wrong_client_secret", func(t *testing.T) (int, string) {
			cb, v := r.authorize(t, b, "")
			return tokenError(t, p, codeForm(cb.Get("code"), v), confidentialID, "wrong")
		}, 401, "invalid_client"},
		{"unknown_client", func(t *testing.T) (int, string) {
			return tokenError(t, p, codeForm("x", ""), "nobody", "secret")
		}, 401, "invalid_client"},
		{"redirect_uri_mismatch", func(t *testing.T) (int, string) {
			cb, v := r.authorize(t, b, "")
			f := codeForm(cb.Get("code"), v)
			f.Set("redirect_uri", "http://127.0.0.1:9999/other")
			return tokenError(t, p, f, confidentialID, confidentialSecret)
		}, 400, "invalid_grant"},
		{"expired_code", func(t *testing.T) (int, string) {
			cb, v := r.authorize(t, b, "")
			p.Clock.Advance(2 * time.Minute)
			return tokenError(t, p, codeForm(cb.Get("code"), v), confidentialID, confidentialSecret)
		}, 400, "invalid_grant"},
		{"unsupported_grant_type", func(t *testing.T) (int, string) {
			return tokenError(t, p, url.Values{"grant_type": {"password"}}, confidentialID, confidentialSecret)
		}, 400, "unsupported_grant_type"},
		{"public_client_may_not_use_client_credentials", func(t *testing.T) (int, string) {
			return tokenError(t, p, url.Values{"grant_type": {"client_credentials"}, "client_id": {publicID}}, "", "")
		}, 400, "unauthorized_client"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, code := tc.run(t)
			if status != tc.wantStatus || code != tc.wantError {
				t.Fatalf("got %d %q, want %d %q", status, code, tc.wantStatus, tc.wantError)
			}
		})
	}
}

func TestReplayedCodeRevokesItsTokens(t *testing.T) {
	p := startSQLite(t)
	r := newRP(t, p, confidentialID, confidentialSecret)
	b := newBrowser(t)
	cb, v := r.authorize(t, b, "alice")
	tok, err := r.oauth.Exchange(t.Context(), cb.Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	if status, code := tokenError(t, p, codeForm(cb.Get("code"), v), confidentialID, confidentialSecret); status != 400 || code != "invalid_grant" {
		t.Fatalf("replay gave %d %q, want 400 invalid_grant", status, code)
	}
	if in := introspect(t, p, tok.AccessToken); in["active"] != false {
		t.Fatalf("access token from a replayed code still active: %v", in)
	}
	f := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}
	if status, code := tokenError(t, p, f, confidentialID, confidentialSecret); status != 400 || code != "invalid_grant" {
		t.Fatalf("refresh after replay gave %d %q", status, code)
	}
}

func TestRefreshTokenReuseRevokesFamily(t *testing.T) {
	p := startSQLite(t)
	r := newRP(t, p, confidentialID, confidentialSecret)
	cb, v := r.authorize(t, newBrowser(t), "alice")
	tok, err := r.oauth.Exchange(t.Context(), cb.Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	refresh := func(rt string) (int, string, string) {
		res := clientPost(t, p, "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, confidentialID, confidentialSecret)
		var body struct{ Error, RefreshToken string }
		var raw map[string]any
		json.NewDecoder(res.Body).Decode(&raw)
		body.Error, _ = raw["error"].(string)
		body.RefreshToken, _ = raw["refresh_token"].(string)
		return res.StatusCode, body.Error, body.RefreshToken
	}
	status, _, next := refresh(tok.RefreshToken)
	if status != 200 || next == "" {
		t.Fatalf("first refresh: %d", status)
	}
	if status, code, _ := refresh(tok.RefreshToken); status != 400 || code != "invalid_grant" {
		t.Fatalf("reuse gave %d %q, want 400 invalid_grant", status, code)
	}
	if status, code, _ := refresh(next); status != 400 || code != "invalid_grant" {
		t.Fatalf("the family's newest token still works after reuse: %d %q", status, code)
	}
}

func TestAuthorizeErrors(t *testing.T) {
	p := startSQLite(t)
	b := newBrowser(t)
	base := url.Values{"client_id": {confidentialID}, "response_type": {"code"}, "scope": {"openid"},
		"redirect_uri": {redirectURI}, "state": {"s1"}, "code_challenge": {s256(oauth2.GenerateVerifier())},
		"code_challenge_method": {"S256"}}
	with := func(kv ...string) string {
		v := url.Values{}
		for k, vs := range base {
			v[k] = vs
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				v.Del(kv[i])
			} else {
				v.Set(kv[i], kv[i+1])
			}
		}
		return p.URL + "/authorize?" + v.Encode()
	}
	t.Run("page_errors_never_redirect", func(t *testing.T) {
		for name, u := range map[string]string{
			"unknown_client":             with("client_id", "nobody"),
			"unregistered_redirect_uri":  with("redirect_uri", "http://127.0.0.1:9999/evil"),
			"redirect_uri_prefix_attack": with("redirect_uri", redirectURI+"/../evil"),
			"missing_redirect_uri":       with("redirect_uri", ""),
			"missing_client_id":          with("client_id", ""),
		} {
			pg := b.get(u)
			if pg.Location != nil || pg.Status != http.StatusBadRequest || !strings.Contains(pg.Body, "invalid_request") {
				t.Errorf("%s: status %d location %v", name, pg.Status, pg.Location)
			}
		}
	})
	t.Run("redirected_errors", func(t *testing.T) {
		for _, tc := range []struct{ name, url, want string }{
			{"prompt_none_without_session", with("prompt", "none"), "login_required"},
			{"unsupported_response_type", with("response_type", "token"), "unsupported_response_type"},
			{"plain_pkce_refused", with("code_challenge_method", "plain"), "invalid_request"},
			{"prompt_none_with_login", with("prompt", "none login"), "invalid_request"},
			{"bad_max_age", with("max_age", "-1"), "invalid_request"},
			{"request_object_unsupported", with("request", "eyJ"), "request_not_supported"},
			{"public_client_without_pkce", p.URL + "/authorize?" + url.Values{"client_id": {publicID}, "response_type": {"code"},
				"scope": {"openid"}, "redirect_uri": {redirectURI}, "state": {"s1"}}.Encode(), "invalid_request"},
			{"tampered_id_token_hint", with("id_token_hint", "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.AAAA"), "invalid_request"},
			{"alg_none_id_token_hint", with("id_token_hint", algNone(p.URL)), "invalid_request"},
		} {
			pg := b.get(tc.url)
			if pg.Location == nil {
				t.Errorf("%s: no redirect (status %d)", tc.name, pg.Status)
				continue
			}
			q := pg.Location.Query()
			if q.Get("error") != tc.want || q.Get("state") != "s1" || q.Get("iss") != p.URL {
				t.Errorf("%s: got %v, want error=%s with state and iss", tc.name, q, tc.want)
			}
		}
	})
}

// algNone builds an unsigned token naming the issuer.
func algNone(iss string) string {
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	c := base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"` + iss + `","sub":"x","aud":"bank","exp":9999999999,"iat":1}`))
	return h + "." + c + "."
}

func TestTamperedTokensAreRejected(t *testing.T) {
	p := startSQLite(t)
	r := newRP(t, p, confidentialID, confidentialSecret)
	cb, v := r.authorize(t, newBrowser(t), "alice")
	tok, err := r.oauth.Exchange(t.Context(), cb.Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	raw := tok.Extra("id_token").(string)
	parts := strings.Split(raw, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	forged := strings.Replace(string(payload), `"sub":"`, `"sub":"x`, 1)
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(forged)) + "." + parts[2]
	if _, err := r.verifier.Verify(t.Context(), tampered); err == nil {
		t.Error("a tampered ID token verified")
	}
	if _, err := r.verifier.Verify(t.Context(), algNone(p.URL)); err == nil {
		t.Error("an alg=none ID token verified")
	}
	// Our own endpoints refuse them too.
	for name, bearer := range map[string]string{"alg_none": algNone(p.URL), "tampered": tampered,
		"tampered_access": tok.AccessToken[:len(tok.AccessToken)-4] + "AAAA"} {
		req, _ := http.NewRequest(http.MethodGet, p.URL+"/userinfo", nil)
		req.Header.Set("Authorization", "Bearer "+bearer)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 401 || !strings.Contains(res.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Errorf("%s: userinfo gave %d %q", name, res.StatusCode, res.Header.Get("WWW-Authenticate"))
		}
	}
}

func TestACodeRefusedForAWrongVerifierCannotBeRetried(t *testing.T) {
	p := startSQLite(t)
	r := newRP(t, p, confidentialID, confidentialSecret)
	cb, v := r.authorize(t, newBrowser(t), "alice")
	if status, code := tokenError(t, p, codeForm(cb.Get("code"), oauth2.GenerateVerifier()), confidentialID, confidentialSecret); status != 400 || code != "invalid_grant" {
		t.Fatalf("wrong verifier: %d %q", status, code)
	}
	if status, code := tokenError(t, p, codeForm(cb.Get("code"), v), confidentialID, confidentialSecret); status != 400 || code != "invalid_grant" {
		t.Fatalf("the right verifier after a wrong one redeemed the code: %d %q", status, code)
	}
}

func TestFailedLoginsAreThrottled(t *testing.T) {
	p := startSQLite(t)
	r := newRP(t, p, confidentialID, confidentialSecret)
	b := newBrowser(t)
	pg := b.get(r.oauth.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	for i := range 5 {
		pg = b.submit(pg, url.Values{"username": {"alice"}, "password": {"wrong"}, "method": {"password"}})
		if pg.Status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: status %d", i+1, pg.Status)
		}
	}
	// The sixth attempt is refused even with the right password.
	pg = b.submit(pg, url.Values{"username": {"alice"}, "password": {"alice-password"}, "method": {"password"}})
	if pg.Status != http.StatusTooManyRequests || pg.Location != nil {
		t.Fatalf("after 5 failures: status %d, location %v", pg.Status, pg.Location)
	}
	if !strings.Contains(pg.Body, "Too many failed attempts") {
		t.Fatalf("the throttled page does not say why:\n%s", pg.Body)
	}
	// Another account is not locked by alice's failures (per account), and
	// the window passing lifts the lock.
	pg = b.submit(pg, url.Values{"username": {"bob"}, "password": {"bob-password"}, "method": {"password"}})
	if pg.Location == nil {
		t.Fatalf("bob was locked out by alice's failures: %d", pg.Status)
	}
	p.Clock.Advance(16 * time.Minute)
	b2 := newBrowser(t)
	if cb, _ := r.authorize(t, b2, "alice"); cb.Get("code") == "" {
		t.Fatalf("alice still locked after the window: %v", cb)
	}
}

func TestRefreshWithTooWideAScopeLeavesTheTokenUsable(t *testing.T) {
	p := startSQLite(t)
	r := newRP(t, p, confidentialID, confidentialSecret)
	tok := exchange(t, r, newBrowser(t))
	f := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "scope": {"openid payments"}}
	if status, code := tokenError(t, p, f, confidentialID, confidentialSecret); status != 400 || code != "invalid_scope" {
		t.Fatalf("widened scope: %d %q", status, code)
	}
	f.Set("scope", "openid")
	res := clientPost(t, p, "/token", f, confidentialID, confidentialSecret)
	if res.StatusCode != 200 {
		t.Fatalf("the refresh token was spent by a refused request: %d", res.StatusCode)
	}
}

func TestReadyzTurnsUnavailableWhenShuttingDown(t *testing.T) {
	p := startSQLite(t)
	get := func() int {
		res, err := http.Get(p.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := get(); got != 200 {
		t.Fatalf("readyz %d before shutdown", got)
	}
	p.App.Server.Close() // what the HTTP server's shutdown calls first
	if got := get(); got != 503 {
		t.Fatalf("readyz %d while shutting down, want 503", got)
	}
}
