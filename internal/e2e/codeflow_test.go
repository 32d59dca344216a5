package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

func s256(v string) string {
	h := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// rp is a relying party built from the real client libraries.
type rp struct {
	oauth    *oauth2.Config
	verifier *oidc.IDTokenVerifier
	provider *oidc.Provider
}

func newRP(t *testing.T, p *provider, clientID, secret string) *rp {
	t.Helper()
	op, err := oidc.NewProvider(t.Context(), p.URL)
	if err != nil {
		t.Fatal(err)
	}
	ep := op.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInHeader
	if secret == "" {
		ep.AuthStyle = oauth2.AuthStyleInParams
	}
	return &rp{
		oauth: &oauth2.Config{ClientID: clientID, ClientSecret: secret, Endpoint: ep, RedirectURL: redirectURI,
			Scopes: []string{oidc.ScopeOpenID, "profile", "email"}},
		verifier: op.Verifier(&oidc.Config{ClientID: clientID, SupportedSigningAlgs: []string{"ES256", "RS256", "EdDSA"}}),
		provider: op,
	}
}

// authorize runs the front channel: it opens the authorization URL in b,
// signs in as user if a login page appears, and returns the callback query.
func (r *rp) authorize(t *testing.T, b *browser, user string, opts ...oauth2.AuthCodeOption) (cb url.Values, verifier string) {
	t.Helper()
	verifier = oauth2.GenerateVerifier()
	opts = append(opts, oauth2.S256ChallengeOption(verifier), oidc.Nonce("n-"+verifier[:8]))
	pg := b.get(r.oauth.AuthCodeURL("st-"+verifier[:8], opts...))
	if pg.Location == nil && user != "" {
		pg = b.login(pg, user, user+"-password")
	}
	if pg.Location == nil {
		t.Fatalf("no redirect to the client; page %s status %d:\n%s", pg.URL, pg.Status, pg.Body)
	}
	if got := pg.Location.Scheme + "://" + pg.Location.Host + pg.Location.Path; got != redirectURI {
		t.Fatalf("redirected to %s, want %s", got, redirectURI)
	}
	return pg.Location.Query(), verifier
}

func TestCodeFlowWithRealClientLibraries(t *testing.T) {
	p := startSQLite(t)
	ctx := t.Context()
	r := newRP(t, p, confidentialID, confidentialSecret)
	b := newBrowser(t)

	cb, verifier := r.authorize(t, b, "alice")
	if cb.Get("iss") != p.URL {
		t.Fatalf("iss = %q, want %q (RFC 9207)", cb.Get("iss"), p.URL)
	}
	if cb.Get("state") != "st-"+verifier[:8] {
		t.Fatalf("state = %q", cb.Get("state"))
	}
	tok, err := r.oauth.Exchange(ctx, cb.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := r.verifier.Verify(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Nonce    string   `json:"nonce"`
		ACR      string   `json:"acr"`
		AMR      []string `json:"amr"`
		AuthTime int64    `json:"auth_time"`
		AZP      string   `json:"azp"`
		SID      string   `json:"sid"`
		Email    string   `json:"email"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if claims.Nonce != "n-"+verifier[:8] || claims.ACR == "" || len(claims.AMR) == 0 || claims.AMR[0] != "pwd" ||
		claims.AuthTime == 0 || claims.AZP != confidentialID || claims.SID == "" || claims.Email != "alice@example.com" {
		t.Fatalf("ID token claims = %+v", claims)
	}

	// A second authorization rides the SSO session: no login page.
	cb2, _ := r.authorize(t, b, "")
	if cb2.Get("code") == "" {
		t.Fatalf("SSO authorization returned %v", cb2)
	}

	// Userinfo.
	ui, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatal(err)
	}
	if ui.Subject != idt.Subject || ui.Email != "alice@example.com" {
		t.Fatalf("userinfo = %+v", ui)
	}

	// Refresh: a new pair, the old refresh token is spent.
	old := tok.RefreshToken
	tok2, err := r.oauth.TokenSource(ctx, &oauth2.Token{RefreshToken: old}).Token()
	if err != nil {
		t.Fatal(err)
	}
	if tok2.RefreshToken == "" || tok2.RefreshToken == old || tok2.AccessToken == tok.AccessToken {
		t.Fatal("refresh did not rotate the tokens")
	}

	// Introspection of the new access token carries acr and auth_time.
	in := introspect(t, p, tok2.AccessToken)
	if in["active"] != true || in["acr"] != claims.ACR || in["auth_time"] == nil || in["client_id"] != confidentialID {
		t.Fatalf("introspection = %v", in)
	}

	// Revocation of the refresh token revokes the whole grant.
	form := url.Values{"token": {tok2.RefreshToken}}
	res := clientPost(t, p, "/revoke", form, confidentialID, confidentialSecret)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("revoke status %d", res.StatusCode)
	}
	if in := introspect(t, p, tok2.AccessToken); in["active"] != false {
		t.Fatalf("access token still active after revoking its grant: %v", in)
	}

	// Logout with id_token_hint returns to the registered URI with state.
	pg := b.get(p.URL + "/logout?" + url.Values{"id_token_hint": {raw}, "post_logout_redirect_uri": {logoutURI}, "state": {"bye"}}.Encode())
	if pg.Location == nil || pg.Location.Query().Get("state") != "bye" || !strings.HasPrefix(pg.Location.String(), logoutURI) {
		t.Fatalf("logout did not redirect: %d %v", pg.Status, pg.Location)
	}
	// The session is gone: prompt=none now fails with login_required.
	cb3, _ := r.authorize(t, b, "", oauth2.SetAuthURLParam("prompt", "none"))
	if cb3.Get("error") != "login_required" {
		t.Fatalf("after logout prompt=none gave %v", cb3)
	}
}

func clientPost(t *testing.T, p *provider, path string, form url.Values, id, secret string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, p.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if secret != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}

func introspect(t *testing.T, p *provider, tok string) map[string]any {
	t.Helper()
	res := clientPost(t, p, "/introspect", url.Values{"token": {tok}}, confidentialID, confidentialSecret)
	var out map[string]any
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

var _ = context.Background
