package e2e

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/stepup-oidc/stepup/internal/oauth"
)

const payment = `[{"type":"payment.v1","instructedAmount":{"amount":"5000.00","currency":"NOK"},"creditorName":"Acme AS"}]`

// push sends a pushed authorization request and returns status and body.
func push(t *testing.T, p *provider, form url.Values, id, secret string) (int, map[string]any) {
	t.Helper()
	res := clientPost(t, p, "/par", form, id, secret)
	var body map[string]any
	json.NewDecoder(res.Body).Decode(&body)
	return res.StatusCode, body
}

func parForm(verifier string, extra ...string) url.Values {
	f := url.Values{"response_type": {"code"}, "scope": {"openid"}, "redirect_uri": {redirectURI}, "state": {"s1"},
		"nonce": {"n1"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"}}
	for i := 0; i < len(extra); i += 2 {
		f.Set(extra[i], extra[i+1])
	}
	return f
}

func TestPushedRequestWithPaymentApproval(t *testing.T) {
	p := startSQLite(t)
	r := newRP(t, p, confidentialID, confidentialSecret)
	v := oauth2.GenerateVerifier()
	status, body := push(t, p, parForm(v, "authorization_details", payment), confidentialID, confidentialSecret)
	uri, _ := body["request_uri"].(string)
	if status != 201 || !strings.HasPrefix(uri, "urn:ietf:params:oauth:request_uri:") || body["expires_in"] != float64(60) {
		t.Fatalf("PAR: %d %v", status, body)
	}
	b := newBrowser(t)
	authURL := p.URL + "/authorize?" + url.Values{"client_id": {confidentialID}, "request_uri": {uri}}.Encode()
	pg := b.login(b.get(authURL), "alice", "alice-password")
	for _, want := range []string{`id="amount">5000.00 NOK<`, `id="payee">Acme AS<`, "Test Bank", `value="approve"`, `value="deny"`} {
		if !strings.Contains(pg.Body, want) {
			t.Fatalf("approval page lacks %q:\n%s", want, pg.Body)
		}
	}
	pg = b.submit(pg, url.Values{"decision": {"approve"}})
	if pg.Location == nil || pg.Location.Query().Get("state") != "s1" {
		t.Fatalf("no code after approval: %d\n%s", pg.Status, pg.Body)
	}
	tok, err := r.oauth.Exchange(t.Context(), pg.Location.Query().Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	_, canonical, _ := oauth.ParseAuthorizationDetails(payment)
	granted, _ := json.Marshal(tok.Extra("authorization_details"))
	if string(granted) != canonical {
		t.Fatalf("token response authorization_details = %s, want %s", granted, canonical)
	}
	parts := strings.Split(tok.AccessToken, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var at struct {
		Details json.RawMessage `json:"authorization_details"`
	}
	json.Unmarshal(payload, &at)
	if string(at.Details) != canonical {
		t.Fatalf("access token authorization_details = %s", at.Details)
	}
	idt, err := r.verifier.Verify(t.Context(), tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Digest string `json:"permission_digest"`
	}
	idt.Claims(&c)
	if c.Digest != oauth.DetailsDigest(canonical) {
		t.Fatalf("permission_digest = %q, want %q", c.Digest, oauth.DetailsDigest(canonical))
	}
	if in := introspect(t, p, tok.AccessToken); in["authorization_details"] == nil {
		t.Fatalf("introspection lacks authorization_details: %v", in)
	}
	// The request_uri was used once.
	if again := b.get(authURL); again.Location != nil || again.Status != 400 || !strings.Contains(again.Body, "invalid_request_uri") {
		t.Fatalf("a reused request_uri gave %d %v", again.Status, again.Location)
	}
}

func TestPushedRequestRejects(t *testing.T) {
	p := startSQLite(t)
	v := oauth2.GenerateVerifier()
	t.Run("malformed_authorization_details", func(t *testing.T) {
		status, body := push(t, p, parForm(v, "authorization_details", `[{"type":"payment.v1","instructedAmount":{"amount":5000,"currency":"NOK"},"creditorName":"A"}]`), confidentialID, confidentialSecret)
		if status != 400 || body["error"] != "invalid_authorization_details" {
			t.Fatalf("%d %v", status, body)
		}
	})
	t.Run("request_uri_inside_a_push", func(t *testing.T) {
		status, body := push(t, p, parForm(v, "request_uri", "urn:x"), confidentialID, confidentialSecret)
		if status != 400 || body["error"] != "invalid_request" {
			t.Fatalf("%d %v", status, body)
		}
	})
	t.Run("unregistered_redirect_uri", func(t *testing.T) {
		status, body := push(t, p, parForm(v, "redirect_uri", "http://127.0.0.1:9999/evil"), confidentialID, confidentialSecret)
		if status != 400 || body["error"] != "invalid_request" {
			t.Fatalf("%d %v", status, body)
		}
	})
	t.Run("wrong_client_secret", func(t *testing.T) {
		if status, body := push(t, p, parForm(v), confidentialID, "nope"); status != 401 || body["error"] != "invalid_client" {
			t.Fatalf("%d %v", status, body)
		}
	})
	t.Run("request_uri_of_another_client", func(t *testing.T) {
		_, body := push(t, p, parForm(v), confidentialID, confidentialSecret)
		pg := newBrowser(t).get(p.URL + "/authorize?" + url.Values{"client_id": {publicID}, "request_uri": {body["request_uri"].(string)}}.Encode())
		if pg.Status != 400 || !strings.Contains(pg.Body, "invalid_request_uri") {
			t.Fatalf("%d\n%s", pg.Status, pg.Body)
		}
	})
	t.Run("expired_request_uri", func(t *testing.T) {
		_, body := push(t, p, parForm(v), confidentialID, confidentialSecret)
		p.Clock.Advance(2 * time.Minute)
		pg := newBrowser(t).get(p.URL + "/authorize?" + url.Values{"client_id": {confidentialID}, "request_uri": {body["request_uri"].(string)}}.Encode())
		if pg.Status != 400 || !strings.Contains(pg.Body, "invalid_request_uri") {
			t.Fatalf("%d\n%s", pg.Status, pg.Body)
		}
	})
	t.Run("deny_returns_access_denied", func(t *testing.T) {
		_, body := push(t, p, parForm(v, "authorization_details", payment), confidentialID, confidentialSecret)
		b := newBrowser(t)
		pg := b.login(b.get(p.URL+"/authorize?"+url.Values{"client_id": {confidentialID}, "request_uri": {body["request_uri"].(string)}}.Encode()), "alice", "alice-password")
		pg = b.submit(pg, url.Values{"decision": {"deny"}})
		if pg.Location == nil || pg.Location.Query().Get("error") != "access_denied" {
			t.Fatalf("deny gave %d %v", pg.Status, pg.Location)
		}
	})
	t.Run("authorization_details_in_the_front_channel_are_validated_too", func(t *testing.T) {
		q := parForm(v, "authorization_details", `[{"type":"nope"}]`)
		q.Set("client_id", confidentialID)
		pg := newBrowser(t).get(p.URL + "/authorize?" + q.Encode())
		if pg.Location == nil || pg.Location.Query().Get("error") != "invalid_authorization_details" {
			t.Fatalf("%d %v", pg.Status, pg.Location)
		}
	})
}
