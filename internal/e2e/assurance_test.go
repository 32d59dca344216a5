package e2e

import (
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/stepup-oidc/stepup/internal/config"
)

type idClaims struct {
	Sub      string   `json:"sub"`
	ACR      string   `json:"acr"`
	AMR      []string `json:"amr"`
	AuthTime int64    `json:"auth_time"`
}

func claimsOf(t *testing.T, r *rp, tok *oauth2.Token) idClaims {
	t.Helper()
	idt, err := r.verifier.Verify(t.Context(), tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	var c idClaims
	if err := idt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAssuranceRequests(t *testing.T) {
	cfg := testConfig()
	cfg.Clients = append(cfg.Clients,
		config.Client{ID: "lenient", Secret: "lenient-secret", RedirectURIs: []string{redirectURI}, ACRFallback: "best"},
		config.Client{ID: "floored", Secret: "floored-secret", RedirectURIs: []string{redirectURI}, MinACR: "phrh"})
	p := start(t, openSQLite(t), cfg)
	r := newRP(t, p, confidentialID, confidentialSecret)

	t.Run("essential_acr_that_cannot_be_met_fails_with_unmet_authentication_requirements", func(t *testing.T) {
		cb, _ := r.authorize(t, newBrowser(t), "alice",
			oauth2.SetAuthURLParam("claims", `{"id_token":{"acr":{"essential":true,"values":["phrh"]}}}`))
		if cb.Get("error") != "unmet_authentication_requirements" || cb.Get("iss") != p.URL {
			t.Fatalf("got %v", cb)
		}
	})
	t.Run("voluntary_acr_values_that_cannot_be_met_fail_by_default", func(t *testing.T) {
		cb, _ := r.authorize(t, newBrowser(t), "alice", oauth2.SetAuthURLParam("acr_values", "phr"))
		if cb.Get("error") != "unmet_authentication_requirements" {
			t.Fatalf("got %v", cb)
		}
	})
	t.Run("a_client_that_opted_out_gets_the_true_acr_instead", func(t *testing.T) {
		lenient := newRP(t, p, "lenient", "lenient-secret")
		tok := exchange(t, lenient, newBrowser(t), oauth2.SetAuthURLParam("acr_values", "phr"))
		if c := claimsOf(t, lenient, tok); c.ACR != "urn:okta:loa:1fa:pwd" {
			t.Fatalf("acr = %q, want the achieved urn:okta:loa:1fa:pwd", c.ACR)
		}
	})
	t.Run("a_client_floor_cannot_be_lowered_by_the_request", func(t *testing.T) {
		strict := newRP(t, p, "floored", "floored-secret")
		cb, _ := strict.authorize(t, newBrowser(t), "alice", oauth2.SetAuthURLParam("acr_values", "urn:okta:loa:1fa:any"))
		if cb.Get("error") != "unmet_authentication_requirements" {
			t.Fatalf("a request below the floor (phrh) was answered: %v", cb)
		}
	})
	t.Run("acr_values_are_an_ordered_preference", func(t *testing.T) {
		tok := exchange(t, r, newBrowser(t), oauth2.SetAuthURLParam("acr_values", "unknown:value urn:okta:loa:1fa:any urn:okta:loa:1fa:pwd"))
		if c := claimsOf(t, r, tok); c.ACR != "urn:okta:loa:1fa:any" {
			t.Fatalf("acr = %q, want the first satisfiable known value", c.ACR)
		}
	})
	t.Run("max_age_exceeded_asks_the_same_user_to_sign_in_again", func(t *testing.T) {
		b := newBrowser(t)
		first := claimsOf(t, r, exchange(t, r, b))
		p.Clock.Advance(10 * time.Minute)
		pg := b.get(r.oauth.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("max_age", "60")))
		if pg.Location != nil || !strings.Contains(pg.Body, `value="alice" readonly`) {
			t.Fatalf("max_age=60 after 10 minutes did not ask alice to sign in again (status %d)", pg.Status)
		}
		cb, v := r.authorize(t, b, "alice", oauth2.SetAuthURLParam("max_age", "60"))
		tok, err := r.oauth.Exchange(t.Context(), cb.Get("code"), oauth2.VerifierOption(v))
		if err != nil {
			t.Fatal(err)
		}
		second := claimsOf(t, r, tok)
		if second.Sub != first.Sub || second.AuthTime < first.AuthTime+600 {
			t.Fatalf("auth_time %d not refreshed (first %d) or sub changed", second.AuthTime, first.AuthTime)
		}
	})
	t.Run("max_age_within_window_uses_the_session", func(t *testing.T) {
		b := newBrowser(t)
		exchange(t, r, b)
		cb, _ := r.authorize(t, b, "", oauth2.SetAuthURLParam("max_age", "300"))
		if cb.Get("code") == "" {
			t.Fatalf("got %v", cb)
		}
	})
	t.Run("id_token_hint_for_another_user_never_yields_tokens_for_the_session_user", func(t *testing.T) {
		bobTok := exchange(t, r, newBrowser(t))
		_ = bobTok
		bb := newBrowser(t)
		cb, v := r.authorize(t, bb, "bob")
		tok, err := r.oauth.Exchange(t.Context(), cb.Get("code"), oauth2.VerifierOption(v))
		if err != nil {
			t.Fatal(err)
		}
		bobHint := tok.Extra("id_token").(string)
		ab := newBrowser(t)
		exchange(t, r, ab) // alice signed in
		cb, _ = r.authorize(t, ab, "", oauth2.SetAuthURLParam("prompt", "none"), oauth2.SetAuthURLParam("id_token_hint", bobHint))
		if cb.Get("error") != "login_required" {
			t.Fatalf("prompt=none with another user's hint: %v", cb)
		}
		pg := ab.get(r.oauth.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("id_token_hint", bobHint)))
		if !strings.Contains(pg.Body, `value="bob" readonly`) {
			t.Fatalf("login page does not require bob:\n%s", pg.Body)
		}
		if pg2 := ab.submit(pg, map[string][]string{"username": {"alice"}, "password": {"alice-password"}, "decision": {"login"}}); pg2.Location != nil {
			t.Fatal("alice signing in on bob's hinted login produced a redirect")
		}
	})
}
