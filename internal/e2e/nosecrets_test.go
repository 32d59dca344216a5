package e2e

import (
	"log/slog"
	"net"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// TestLogsHoldNoSecrets runs flows that handle every kind of secret and
// personal datum — passwords (right and wrong), a TOTP secret and codes, a
// national identity number in login_hint, authorization codes, access,
// refresh and ID tokens, client secrets — with debug logging, and checks
// that none of them reaches the log.
func TestLogsHoldNoSecrets(t *testing.T) {
	var logs syncBuffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.Users[0].NNIN = "01019012345"
	p := startLogged(t, ln, "http://"+ln.Addr().String(), openSQLite(t), cfg, log)
	r := newRP(t, p, confidentialID, confidentialSecret)

	var secrets []string
	b := newBrowser(t)
	// A wrong password, then a right one, with the nnin in login_hint.
	v := oauth2.GenerateVerifier()
	pg := b.get(r.oauth.AuthCodeURL("s", oauth2.S256ChallengeOption(v), oauth2.SetAuthURLParam("login_hint", "BIS:01019012345")))
	pg = b.submit(pg, url.Values{"username": {"alice"}, "password": {"wrong-password-x"}, "method": {"password"}})
	alice := &person{user: "alice", pw: "alice-password"}
	pg = alice.drive(t, b, pg)
	tok, err := r.oauth.Exchange(t.Context(), pg.Location.Query().Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, pg.Location.Query().Get("code"), tok.AccessToken, tok.RefreshToken, tok.Extra("id_token").(string))
	// A step-up with TOTP enrolment.
	tok2 := func() string {
		v := oauth2.GenerateVerifier()
		pg := alice.drive(t, b, b.get(r.oauth.AuthCodeURL("s", oauth2.S256ChallengeOption(v), oauth2.SetAuthURLParam("acr_values", "urn:okta:loa:2fa:any"))))
		tok, err := r.oauth.Exchange(t.Context(), pg.Location.Query().Get("code"), oauth2.VerifierOption(v))
		if err != nil {
			t.Fatal(err)
		}
		return tok.AccessToken
	}()
	secrets = append(secrets, tok2, alice.totpSecret, alice.lastCode)
	// Replays and bad tokens make the provider log warnings.
	tokenError(t, p, codeForm(pg.Location.Query().Get("code"), v), confidentialID, confidentialSecret)
	introspect(t, p, tok.AccessToken+"x")

	secrets = append(secrets, "alice-password", "wrong-password-x", "01019012345", confidentialSecret, v)
	out := logs.String()
	if !strings.Contains(out, "audit: authorization") {
		t.Fatalf("the log did not capture the flows:\n%s", out)
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(out, s) {
			t.Errorf("the log holds a secret or personal datum (%d characters, starting %q)", len(s), s[:min(4, len(s))])
		}
	}
}
