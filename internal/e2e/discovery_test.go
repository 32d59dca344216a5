package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/stepup-oidc/stepup/internal/config"
)

// TestDiscoveryIsTruthful walks the discovery document and exercises every
// endpoint, grant type, client authentication method, signing algorithm,
// response mode, prompt value and acr value it advertises.
func TestDiscoveryIsTruthful(t *testing.T) {
	cfg := testConfig()
	for _, c := range []config.Client{
		{ID: "post-rs256", Secret: "post-secret", TokenEndpointAuthMethod: "client_secret_post", IDTokenSignedResponseAlg: "RS256"},
		{ID: "basic-eddsa", Secret: "basic-secret", TokenEndpointAuthMethod: "client_secret_basic", IDTokenSignedResponseAlg: "EdDSA"},
		{ID: "basic-es256", Secret: "basic-secret", TokenEndpointAuthMethod: "client_secret_basic", IDTokenSignedResponseAlg: "ES256"},
		{ID: "none-es256", TokenEndpointAuthMethod: "none", IDTokenSignedResponseAlg: "ES256"},
	} {
		c.RedirectURIs = []string{redirectURI}
		c.GrantTypes = []string{"authorization_code", "refresh_token"}
		if c.Secret != "" {
			c.GrantTypes = append(c.GrantTypes, "client_credentials")
		}
		cfg.Clients = append(cfg.Clients, c)
	}
	cfg.Users = append(cfg.Users, config.User{Username: "carol", Password: "carol-password"})
	cfg.Clients = append(cfg.Clients, config.Client{ID: "ciba", Secret: "ciba-secret",
		GrantTypes: []string{"urn:openid:params:grant-type:ciba"}})
	p := start(t, openSQLite(t), cfg)
	res, err := http.Get(p.URL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	json.NewDecoder(res.Body).Decode(&d)
	res.Body.Close()
	list := func(k string) []string {
		var out []string
		for _, v := range d[k].([]any) {
			out = append(out, v.(string))
		}
		return out
	}
	if d["issuer"] != p.URL {
		t.Fatalf("issuer %v", d["issuer"])
	}
	// The RFC 8414 document is the same.
	res, _ = http.Get(p.URL + "/.well-known/oauth-authorization-server")
	var d2 map[string]any
	json.NewDecoder(res.Body).Decode(&d2)
	res.Body.Close()
	if d2["token_endpoint"] != d["token_endpoint"] {
		t.Fatal("oauth-authorization-server differs from openid-configuration")
	}

	t.Run("endpoints_answer", func(t *testing.T) {
		for _, tc := range []struct {
			key, method string
			want        int
		}{
			{"authorization_endpoint", "GET", 400}, // no client_id: error page
			{"token_endpoint", "POST", 401},        // no client authentication
			{"userinfo_endpoint", "GET", 401},
			{"jwks_uri", "GET", 200},
			{"revocation_endpoint", "POST", 401},
			{"introspection_endpoint", "POST", 401},
			{"end_session_endpoint", "GET", 200},
			{"backchannel_authentication_endpoint", "POST", 401},
			{"pushed_authorization_request_endpoint", "POST", 401},
		} {
			u, _ := d[tc.key].(string)
			if !strings.HasPrefix(u, p.URL+"/") {
				t.Errorf("%s = %q is not under the issuer", tc.key, u)
				continue
			}
			req, _ := http.NewRequest(tc.method, u, strings.NewReader(""))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != tc.want {
				t.Errorf("%s %s: status %d, want %d", tc.method, tc.key, res.StatusCode, tc.want)
			}
		}
	})

	clientFor := map[string]struct{ id, secret string }{
		"client_secret_basic": {"basic-es256", "basic-secret"},
		"client_secret_post":  {"post-rs256", "post-secret"},
		"none":                {"none-es256", ""},
	}
	t.Run("token_endpoint_auth_methods", func(t *testing.T) {
		for _, m := range list("token_endpoint_auth_methods_supported") {
			c, ok := clientFor[m]
			if !ok {
				t.Errorf("advertised auth method %q has no test", m)
				continue
			}
			r := newRP(t, p, c.id, c.secret)
			if m == "client_secret_post" {
				r.oauth.Endpoint.AuthStyle = oauth2.AuthStyleInParams
			}
			exchange(t, r, newBrowser(t))
		}
	})
	algClient := map[string]string{"ES256": "basic-es256", "RS256": "post-rs256", "EdDSA": "basic-eddsa"}
	t.Run("id_token_signing_algs", func(t *testing.T) {
		for _, alg := range list("id_token_signing_alg_values_supported") {
			id, ok := algClient[alg]
			if !ok {
				t.Errorf("advertised alg %q has no test", alg)
				continue
			}
			c := clientFor["client_secret_basic"]
			if id == "post-rs256" {
				c = clientFor["client_secret_post"]
			}
			r := newRP(t, p, id, c.secret)
			if id == "post-rs256" {
				r.oauth.Endpoint.AuthStyle = oauth2.AuthStyleInParams
			}
			tok := exchange(t, r, newBrowser(t))
			raw := tok.Extra("id_token").(string)
			strict := r.provider.Verifier(&oidc.Config{ClientID: id, SupportedSigningAlgs: []string{alg}})
			if _, err := strict.Verify(t.Context(), raw); err != nil {
				t.Errorf("%s: %v", alg, err)
			}
		}
	})
	t.Run("grant_types", func(t *testing.T) {
		r := newRP(t, p, "basic-es256", "basic-secret")
		for _, g := range list("grant_types_supported") {
			switch g {
			case "authorization_code":
				exchange(t, r, newBrowser(t))
			case "refresh_token":
				tok := exchange(t, r, newBrowser(t))
				if _, err := r.oauth.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err != nil {
					t.Errorf("refresh_token: %v", err)
				}
			case "urn:openid:params:grant-type:ciba":
				res := clientPost(t, p, "/bc-authorize", url.Values{"scope": {"openid"}, "login_hint": {"alice"}}, "ciba", "ciba-secret")
				var ack map[string]any
				json.NewDecoder(res.Body).Decode(&ack)
				id, _ := ack["auth_req_id"].(string)
				if res.StatusCode != 200 || id == "" {
					t.Errorf("ciba: backchannel %d %v", res.StatusCode, ack)
					continue
				}
				res = clientPost(t, p, "/token", url.Values{"grant_type": {g}, "auth_req_id": {id}}, "ciba", "ciba-secret")
				json.NewDecoder(res.Body).Decode(&ack)
				if ack["error"] != "authorization_pending" {
					t.Errorf("ciba: poll %d %v", res.StatusCode, ack)
				}
			case "client_credentials":
				res := clientPost(t, p, "/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"payments"}}, "basic-es256", "basic-secret")
				var body map[string]any
				json.NewDecoder(res.Body).Decode(&body)
				if res.StatusCode != 200 || body["access_token"] == nil {
					t.Errorf("client_credentials: %d %v", res.StatusCode, body)
				}
			default:
				t.Errorf("advertised grant %q has no test", g)
			}
		}
	})
	t.Run("response_modes", func(t *testing.T) {
		for _, m := range list("response_modes_supported") {
			r := newRP(t, p, "basic-es256", "basic-secret")
			b := newBrowser(t)
			r.authorize(t, b, "alice") // session
			pg := b.get(r.oauth.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("response_mode", m)))
			switch m {
			case "query":
				if pg.Location == nil || pg.Location.Query().Get("code") == "" {
					t.Errorf("query: no code in redirect")
				}
			case "form_post":
				if pg.Status != 200 || !strings.Contains(pg.Body, `action="`+redirectURI+`"`) || !strings.Contains(pg.Body, `name="code"`) {
					t.Errorf("form_post: status %d body %s", pg.Status, pg.Body)
				}
			default:
				t.Errorf("advertised response mode %q has no test", m)
			}
		}
	})
	t.Run("prompt_values", func(t *testing.T) {
		r := newRP(t, p, "basic-es256", "basic-secret")
		b := newBrowser(t)
		for _, pv := range list("prompt_values_supported") {
			switch pv {
			case "none":
				cb, _ := r.authorize(t, newBrowser(t), "", oauth2.SetAuthURLParam("prompt", "none"))
				if cb.Get("error") != "login_required" {
					t.Errorf("prompt=none without session: %v", cb)
				}
			case "login", "select_account":
				r.authorize(t, b, "alice")
				pg := b.get(r.oauth.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("prompt", pv)))
				if pg.Location != nil || !strings.Contains(pg.Body, `autocomplete="current-password"`) {
					t.Errorf("prompt=%s with a session did not ask to sign in again", pv)
				}
			default:
				t.Errorf("advertised prompt %q has no test", pv)
			}
		}
	})
	t.Run("acr_values", func(t *testing.T) {
		r := newRP(t, p, "basic-es256", "basic-secret")
		carol := &person{user: "carol", pw: "carol-password"} // enrols an app when a level needs it
		for _, acr := range list("acr_values_supported") {
			for _, how := range []oauth2.AuthCodeOption{
				oauth2.SetAuthURLParam("acr_values", acr),
				oauth2.SetAuthURLParam("claims", `{"id_token":{"acr":{"essential":true,"values":["`+acr+`"]}}}`),
			} {
				b := newBrowser(t)
				v := oauth2.GenerateVerifier()
				pg := carol.drive(t, b, b.get(r.oauth.AuthCodeURL("s", how, oauth2.S256ChallengeOption(v))))
				tok, err := r.oauth.Exchange(t.Context(), pg.Location.Query().Get("code"), oauth2.VerifierOption(v))
				if err != nil {
					t.Fatalf("%s: %v (callback %v)", acr, err, pg.Location.Query())
				}
				idt, err := r.verifier.Verify(t.Context(), tok.Extra("id_token").(string))
				if err != nil {
					t.Fatal(err)
				}
				var c struct{ ACR string }
				idt.Claims(&c)
				if c.ACR != acr {
					t.Errorf("requested acr %q, got %q", acr, c.ACR)
				}
			}
		}
		if !d["claims_parameter_supported"].(bool) {
			t.Error("claims parameter not advertised")
		}
	})
	t.Run("scopes_and_pkce", func(t *testing.T) {
		if got := list("code_challenge_methods_supported"); !slices.Equal(got, []string{"S256"}) {
			t.Errorf("code_challenge_methods_supported = %v", got)
		}
		if got := list("response_types_supported"); !slices.Equal(got, []string{"code"}) {
			t.Errorf("response_types_supported = %v", got)
		}
		if d["authorization_response_iss_parameter_supported"] != true {
			t.Error("RFC 9207 iss not advertised")
		}
	})
}

// exchange runs a full login as alice and the code exchange.
func exchange(t *testing.T, r *rp, b *browser, opts ...oauth2.AuthCodeOption) *oauth2.Token {
	t.Helper()
	cb, v := r.authorize(t, b, "alice", opts...)
	if cb.Get("error") != "" {
		t.Fatalf("authorization failed: %v", cb)
	}
	tok, err := r.oauth.Exchange(t.Context(), cb.Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
