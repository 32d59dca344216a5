package rp_test

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stepup-oidc/stepup/rp"
)

func TestAuthCodeURLRefusesBadOptions(t *testing.T) {
	op := newFakeOP()
	t.Cleanup(op.Close)
	c := newFakeClient(t, op, nil)
	for _, tc := range []struct {
		name string
		opt  rp.AuthOption
		want string
	}{
		{"negative_max_age", rp.MaxAge(-time.Second), "negative"},
		{"acr_value_with_a_space", rp.ACRValues("phr phrh"), "invalid value"},
		{"empty_acr_value", rp.ACRValues(""), "invalid value"},
		{"essential_acr_without_values", rp.ClaimsEssentialACR(), "no values"},
		{"details_that_are_not_json", rp.AuthorizationDetails(json.RawMessage(`[{"type":`)), "AuthorizationDetails"},
		{"details_that_are_not_an_array", rp.AuthorizationDetails(json.RawMessage(`{"type":"text.v1"}`)), "JSON array"},
		{"param_overriding_the_pkce_challenge", rp.Param("code_challenge", "x"), "cannot be set"},
		{"param_overriding_the_redirect_uri", rp.Param("redirect_uri", "https://evil.example"), "cannot be set"},
		{"param_with_a_request_uri", rp.Param("request_uri", "urn:x"), "cannot be set"},
		{"param_with_a_max_age_exchange_would_not_check", rp.Param("max_age", "0"), "cannot be set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, st, err := c.AuthCodeURL(t.Context(), tc.opt)
			if err == nil || !strings.Contains(err.Error(), tc.want) || u != "" || st != nil {
				t.Fatalf("AuthCodeURL = %q, %v, %v; want an error about %q", u, st, err, tc.want)
			}
		})
	}
}

func TestAuthCodeURLIsFreshEveryTime(t *testing.T) {
	op := newFakeOP()
	t.Cleanup(op.Close)
	c := newFakeClient(t, op, nil)
	_, a, err := c.AuthCodeURL(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	_, b, err := c.AuthCodeURL(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if a.State == b.State || a.Nonce == b.Nonce || a.CodeVerifier == b.CodeVerifier || len(a.CodeVerifier) < 43 {
		t.Fatalf("two requests share secrets: %+v %+v", a, b)
	}
}

func TestLaterOptionsOverrideEarlierOnes(t *testing.T) {
	op := newFakeOP()
	t.Cleanup(op.Close)
	c := newFakeClient(t, op, nil)
	u, st, err := c.AuthCodeURL(t.Context(), rp.Prompt("login"), rp.Prompt(), rp.MaxAge(time.Hour), rp.MaxAge(time.Minute),
		rp.ACRValues("phr"), rp.ACRValues())
	if err != nil {
		t.Fatal(err)
	}
	q := query(u)
	if q.Has("prompt") || q.Get("max_age") != "60" || q.Has("acr_values") || st.ACRValues != nil || *st.MaxAge != 60 {
		t.Fatalf("query %v, State %+v", q, st)
	}
}

func TestAProviderRequiringPARGetsEveryRequestPushed(t *testing.T) {
	op := newFakeOP()
	t.Cleanup(op.Close)
	op.setMeta("require_pushed_authorization_requests", true)
	c := newFakeClient(t, op, nil)
	u, st, err := c.AuthCodeURL(t.Context(), rp.ACRValues("phr"))
	if err != nil {
		t.Fatal(err)
	}
	if keys := slices.Sorted(maps.Keys(query(u))); !slices.Equal(keys, []string{"client_id", "request_uri"}) {
		t.Fatalf("URL carries %v", keys)
	}
	tok, err := c.Exchange(t.Context(), st, op.Authorize(u))
	if err != nil || tok.Claims.ACR != "phr" {
		t.Fatalf("Exchange = %v, %v", tok, err)
	}
}

func TestNewRefuses(t *testing.T) {
	op := newFakeOP()
	t.Cleanup(op.Close)
	base := rp.Config{Issuer: op.URL, ClientID: "bank", RedirectURL: "https://bank.example/callback"}
	for _, tc := range []struct {
		name string
		edit func(*rp.Config)
		meta map[string]any
		want string
	}{
		{name: "no_client_id", edit: func(c *rp.Config) { c.ClientID = "" }, want: "are required"},
		{name: "no_redirect_url", edit: func(c *rp.Config) { c.RedirectURL = "" }, want: "are required"},
		{name: "scopes_without_openid", edit: func(c *rp.Config) { c.Scopes = []string{"email"} }, want: `include "openid"`},
		{name: "client_secret_post_without_a_secret", edit: func(c *rp.Config) { c.TokenEndpointAuthMethod = "client_secret_post" },
			want: "needs a ClientSecret"},
		{name: "an_unknown_auth_method", edit: func(c *rp.Config) { c.ClientSecret, c.TokenEndpointAuthMethod = "s", "private_key_jwt" },
			want: "unsupported TokenEndpointAuthMethod"},
		{name: "a_plain_http_issuer_off_loopback", edit: func(c *rp.Config) { c.Issuer = "http://id.example.com" }, want: "must use https"},
		{name: "discovery_without_a_token_endpoint", meta: map[string]any{"token_endpoint": ""}, want: "token_endpoint is missing"},
		{name: "a_plain_http_endpoint_off_loopback", meta: map[string]any{"token_endpoint": "http://id.example.com/token"},
			want: "must use https"},
		{name: "only_unsupported_signing_algorithms", meta: map[string]any{"id_token_signing_alg_values_supported": []string{"HS256", "none"}},
			want: "none of the ID token algorithms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			if tc.edit != nil {
				tc.edit(&cfg)
			}
			op := op
			if tc.meta != nil {
				op = newFakeOP()
				t.Cleanup(op.Close)
				cfg.Issuer = op.URL
				for k, v := range tc.meta {
					op.setMeta(k, v)
				}
			}
			if c, err := rp.New(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, %v; want an error about %q", c, err, tc.want)
			}
		})
	}
	t.Run("http_off_loopback_with_AllowInsecureHTTP", func(t *testing.T) {
		op := newFakeOP()
		t.Cleanup(op.Close)
		op.setMeta("token_endpoint", "http://stepup.internal:8080/token")
		cfg := base
		cfg.Issuer, cfg.AllowInsecureHTTP = op.URL, true
		if _, err := rp.New(t.Context(), cfg); err != nil {
			t.Fatal(err)
		}
	})
}
