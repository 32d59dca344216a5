package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/stepup-oidc/stepup/internal/app"
)

// These tests use passkeys in a real Chromium, with the DevTools virtual
// authenticator standing in for the platform authenticator: it creates and
// uses credentials at once, with user verification, as a person who touches
// the fingerprint reader would.
//
// Passkeys need a domain for the WebAuthn relying party ID, so the provider
// here has the issuer http://localhost:<port>. Chromium treats
// http://localhost as a secure context.

var (
	// anyUsernameField matches the username field with or without the
	// passkey autofill token ("username webauthn").
	anyUsernameField    = chromedp.CSS(`input[autocomplete~="username"]`)
	passkeyButton       = chromedp.CSS(`button[name="method"][value="webauthn"]`)
	enrollPasskeyButton = chromedp.CSS(`button[name="method"][value="enroll:webauthn"]`)
)

// startPasskeyProvider runs a provider on SQLite with passkeys on (issuer
// http://localhost:<port>), whose clients redirect to a real relying party
// server.
func startPasskeyProvider(t *testing.T) (*provider, *relyingParty) {
	t.Helper()
	cb := newRelyingParty(t)
	cfg := testConfig()
	for i := range cfg.Clients {
		cfg.Clients[i].RedirectURIs = []string{cb.RedirectURI}
		if len(cfg.Clients[i].PostLogoutRedirectURIs) > 0 {
			cfg.Clients[i].PostLogoutRedirectURIs = []string{cb.LogoutURI}
		}
	}
	st := openSQLite(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Issuer = fmt.Sprintf("http://localhost:%d", ln.Addr().(*net.TCPAddr).Port)
	cfg.Listen = ln.Addr().String()
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		ln.Close()
		t.Fatal(err)
	}
	clk := &clock{}
	a, err := app.New(t.Context(), cfg, st, nil, clk.Now)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	// Passkeys are on when some user can reach phr.
	if !slices.Contains(a.Flow.SupportedACR(), "phr") {
		t.Fatalf("passkeys are off with issuer %s: supported acr %v", cfg.Issuer, a.Flow.SupportedACR())
	}
	return &provider{URL: cfg.Issuer, App: a, Clock: clk}, cb
}

// addAuthenticator enables the WebAuthn domain in the tab and adds a
// virtual platform authenticator that keeps discoverable credentials,
// verifies the user and answers presence tests at once. backup sets the
// backup eligibility and state of the credentials it creates (a synced
// passkey).
func addAuthenticator(tb *tab, backup bool) webauthn.AuthenticatorID {
	tb.t.Helper()
	res := mustRun(tb, chromedp.Action[webauthn.AddVirtualAuthenticatorResult](
		func(ctx context.Context, tg *chromedp.Target) (webauthn.AddVirtualAuthenticatorResult, error) {
			if _, err := cdp.Call(ctx, tg, webauthn.Enable, webauthn.EnableParams{}); err != nil {
				return webauthn.AddVirtualAuthenticatorResult{}, fmt.Errorf("enable WebAuthn: %w", err)
			}
			return cdp.Call(ctx, tg, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
				Options: &webauthn.VirtualAuthenticatorOptions{
					Protocol:                    webauthn.AuthenticatorProtocolCtap2,
					Ctap2version:                webauthn.Ctap2versionCtap21,
					Transport:                   webauthn.AuthenticatorTransportInternal,
					HasResidentKey:              true,
					HasUserVerification:         true,
					IsUserVerified:              true,
					AutomaticPresenceSimulation: true,
					DefaultBackupEligibility:    backup,
					DefaultBackupState:          backup,
				},
			})
		}))
	if res.AuthenticatorID == "" {
		tb.t.Fatal("the browser returned no authenticator ID")
	}
	return res.AuthenticatorID
}

// storedCredentials lists the credentials the virtual authenticator holds.
func storedCredentials(tb *tab, id webauthn.AuthenticatorID) []*webauthn.Credential {
	tb.t.Helper()
	res := mustRun(tb, chromedp.Action[webauthn.GetCredentialsResult](
		func(ctx context.Context, tg *chromedp.Target) (webauthn.GetCredentialsResult, error) {
			return cdp.Call(ctx, tg, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: id})
		}))
	return res.Credentials
}

// clearCookies removes every cookie of the browser, which ends the
// provider's session in it. The virtual authenticator stays.
func clearCookies(tb *tab) {
	tb.t.Helper()
	tb.do(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, network.ClearBrowserCookies, cdp.Empty{})
		return err
	}))
}

// in returns the tab for use in the subtest t.
func (b *tab) in(t *testing.T) *tab {
	nb := *b
	nb.t = t
	return &nb
}

// withoutPasskeyAutofill makes the tab a browser without passkey autofill
// (conditional mediation) until t ends: pages that offer it find it
// unavailable.
func withoutPasskeyAutofill(tb *tab) {
	tb.t.Helper()
	res := mustRun(tb, chromedp.Action[cdppage.AddScriptToEvaluateOnNewDocumentResult](
		func(ctx context.Context, tg *chromedp.Target) (cdppage.AddScriptToEvaluateOnNewDocumentResult, error) {
			return cdp.Call(ctx, tg, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{
				Source: `if (window.PublicKeyCredential) PublicKeyCredential.isConditionalMediationAvailable = () => Promise.resolve(false);`,
			})
		}))
	tb.t.Cleanup(func() {
		tabRun(tb, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, cdppage.RemoveScriptToEvaluateOnNewDocument,
				cdppage.RemoveScriptToEvaluateOnNewDocumentParams{Identifier: res.Identifier})
			return err
		}))
	})
}

// methodChoices lists the values of the method buttons on the page.
func methodChoices(tb *tab) []string {
	tb.t.Helper()
	return mustRun(tb, chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll('button[name="method"]'), b => b.value)`))
}

// has reports whether the page has an element matching sel.
func (b *tab) has(sel chromedp.CSS) bool {
	b.t.Helper()
	q, _ := json.Marshal(string(sel))
	return mustRun(b, chromedp.Evaluate[bool](fmt.Sprintf(`document.querySelector(%s) !== null`, q)))
}

// press waits for the button and clicks it.
func press(tb *tab, button chromedp.CSS, what string) {
	tb.t.Helper()
	tb.do(chromedp.WaitVisible(button))
	tb.need(button, what)
	tb.do(chromedp.Click(button))
}

// pressForStatus clicks the button and returns the HTTP status of the page
// it loads.
func pressForStatus(tb *tab, button chromedp.CSS, what string) int64 {
	tb.t.Helper()
	tb.do(chromedp.WaitVisible(button))
	tb.need(button, what)
	ctx, cancel := context.WithTimeout(tb.ctx, browserActionTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(button))
	if err != nil {
		tb.t.Fatalf("browser: %v\n%s", err, tb.describe())
	}
	return resp.Status
}

// redeemClaims exchanges the code of an authorization response, verifies
// the ID token with the client library (signature, issuer, audience,
// expiry, nonce) and returns its claims.
func redeemClaims(t *testing.T, r *rp, a authRequest, v url.Values) idClaims {
	t.Helper()
	if v.Get("error") != "" {
		t.Fatalf("authorization error %q: %s", v.Get("error"), v.Get("error_description"))
	}
	code := v.Get("code")
	if code == "" {
		t.Fatal("no code in the authorization response")
	}
	tok, err := r.oauth.Exchange(t.Context(), code, oauth2.VerifierOption(a.Verifier))
	if err != nil {
		t.Fatalf("code exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := r.verifier.Verify(t.Context(), raw)
	if err != nil {
		t.Fatalf("ID token: %v", err)
	}
	if idt.Nonce != a.Nonce {
		t.Fatalf("ID token nonce %q, want %q", idt.Nonce, a.Nonce)
	}
	var c idClaims
	if err := idt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	if c.Sub == "" {
		t.Fatal("ID token without sub")
	}
	return c
}

// wantPasskeyACR checks that claims record a user-verified passkey: acr phr,
// amr with swk or hwk, and mfa.
func wantPasskeyACR(t *testing.T, c idClaims) {
	t.Helper()
	if c.ACR != "phr" {
		t.Errorf("acr = %q, want phr", c.ACR)
	}
	if !slices.Contains(c.AMR, "swk") && !slices.Contains(c.AMR, "hwk") || !slices.Contains(c.AMR, "mfa") {
		t.Errorf("amr = %v, want swk or hwk, and mfa", c.AMR)
	}
}

// openPasskeyLogin navigates to the authorization URL and waits for the
// first login page, whose username field may offer passkeys.
func openPasskeyLogin(tb *tab, p *provider, a authRequest) {
	tb.t.Helper()
	tb.do(chromedp.Navigate(a.URL), chromedp.WaitVisible(anyUsernameField), chromedp.WaitVisible(passwordField))
	if loc := tb.location(); !strings.HasPrefix(loc, p.URL+"/login?") {
		tb.t.Fatalf("authorization led to %s, want the login page", loc)
	}
}

// typePassword fills the first login page and presses "Sign in".
func typePassword(tb *tab, user, password string) {
	tb.t.Helper()
	tb.need(anyUsernameField, "username field")
	tb.need(passwordField, "password field")
	tb.need(loginButton, "Sign in button")
	tb.do(
		chromedp.Clear(anyUsernameField), chromedp.SendKeys(anyUsernameField, user),
		chromedp.Clear(passwordField), chromedp.SendKeys(passwordField, password),
		chromedp.Click(loginButton),
	)
}

// passwordSignIn signs alice in with her password in tb and returns the ID
// token's claims.
func passwordSignIn(tb *tab, p *provider, cb *relyingParty, r *rp) idClaims {
	tb.t.Helper()
	a := newAuthRequest(r)
	openPasskeyLogin(tb, p, a)
	typePassword(tb, "alice", "alice-password")
	return redeemClaims(tb.t, r, a, wantAuthzResponse(tb.t, p, a, cb.await(tb), http.MethodGet))
}

// enrollPasskeyDuringStepUp asks for phr in a session signed in with the
// password; alice creates a passkey on the step page and then uses it. It
// returns the claims of the step-up's ID token.
func enrollPasskeyDuringStepUp(tb *tab, p *provider, cb *relyingParty, r *rp, auth webauthn.AuthenticatorID) idClaims {
	tb.t.Helper()
	t := tb.t
	a := newAuthRequest(r, oauth2.SetAuthURLParam("acr_values", "phr"))
	tb.do(chromedp.Navigate(a.URL), chromedp.WaitVisible(enrollPasskeyButton))
	if got := methodChoices(tb); !slices.Equal(got, []string{"enroll:webauthn"}) {
		t.Errorf("the step-up to phr of a user without a passkey offers %v, want only enroll:webauthn", got)
	}
	if tb.has(passwordField) {
		t.Errorf("the step-up to phr right after a password sign-in asks for the password again\n%s", tb.describe())
	}
	cb.assertNoCallback(t)

	// Create: the page runs navigator.credentials.create and posts the
	// result; the next step asks for the new passkey.
	press(tb, enrollPasskeyButton, `"Create a passkey" button`)
	tb.do(chromedp.WaitVisible(passkeyButton))
	if creds := storedCredentials(tb, auth); len(creds) != 1 || !creds[0].IsResidentCredential || creds[0].RpID != "localhost" {
		t.Fatalf("the authenticator holds %d credentials after enrolment, want one discoverable credential for localhost: %+v", len(creds), creds)
	}
	cb.assertNoCallback(t)

	// Use: the page runs navigator.credentials.get and posts the assertion.
	press(tb, passkeyButton, "Passkey button")
	c := redeemClaims(t, r, a, wantAuthzResponse(t, p, a, cb.await(tb), http.MethodGet))
	wantPasskeyACR(t, c)
	return c
}

func TestBrowserStepUpToPhrAsksOnlyForPasskey(t *testing.T) {
	p, relying := startPasskeyProvider(t)
	tb := newChrome(t)
	auth := addAuthenticator(tb, false)
	r := browserClient(t, p, relying, confidentialID, confidentialSecret)

	// A password alone: the strongest level it reaches for a user whose
	// only enrolled method is the password is 2fa:any:ifpossible
	// (docs/assurance.md).
	first := passwordSignIn(tb, p, relying, r)
	if !slices.Contains([]string{"urn:okta:loa:1fa:any", "urn:okta:loa:1fa:pwd", "urn:okta:loa:2fa:any:ifpossible"}, first.ACR) ||
		!slices.Equal(first.AMR, []string{"pwd"}) {
		t.Errorf("a password sign-in gave acr %q amr %v, want a one-factor level with amr [pwd]", first.ACR, first.AMR)
	}

	enrolled := enrollPasskeyDuringStepUp(tb, p, relying, r, auth)
	if enrolled.Sub != first.Sub {
		t.Fatalf("the step-up changed sub from %q to %q", first.Sub, enrolled.Sub)
	}

	// Later step-ups that need a fresh phr ask only for the passkey.
	for _, fresh := range []oauth2.AuthCodeOption{
		oauth2.SetAuthURLParam("max_age", "0"),
		oauth2.SetAuthURLParam("prompt", "login"),
	} {
		a := newAuthRequest(r, oauth2.SetAuthURLParam("acr_values", "phr"), fresh)
		tb.do(chromedp.Navigate(a.URL), chromedp.WaitVisible(passkeyButton))
		if tb.has(passwordField) {
			t.Errorf("a step-up to phr for a user with a passkey shows a password field\n%s", tb.describe())
		}
		if got := methodChoices(tb); !slices.Equal(got, []string{"webauthn"}) {
			t.Errorf("a step-up to phr for a user with a passkey offers %v, want only webauthn", got)
		}
		relying.assertNoCallback(t)
		press(tb, passkeyButton, "Passkey button")
		c := redeemClaims(t, r, a, wantAuthzResponse(t, p, a, relying.await(tb), http.MethodGet))
		wantPasskeyACR(t, c)
		if c.Sub != first.Sub {
			t.Fatalf("the second step-up changed sub from %q to %q", first.Sub, c.Sub)
		}
		if c.AuthTime < enrolled.AuthTime {
			t.Errorf("auth_time %d went back (was %d)", c.AuthTime, enrolled.AuthTime)
		}
	}
	if n := len(storedCredentials(tb, auth)); n != 1 {
		t.Errorf("the authenticator holds %d credentials, want the one passkey", n)
	}
}

func TestBrowserPasskeyEnrollmentRefusedForStaleSession(t *testing.T) {
	p, relying := startPasskeyProvider(t)
	tb := newChrome(t)
	auth := addAuthenticator(tb, true)
	r := browserClient(t, p, relying, confidentialID, confidentialSecret)
	first := passwordSignIn(tb, p, relying, r)

	// Ten minutes on, the session is too old to add a method.
	p.Clock.Advance(10 * time.Minute)
	a := newAuthRequest(r, oauth2.SetAuthURLParam("acr_values", "phr"))
	tb.do(chromedp.Navigate(a.URL), chromedp.WaitVisible(enrollPasskeyButton))
	status := pressForStatus(tb, enrollPasskeyButton, `"Create a passkey" button`)
	if status != http.StatusForbidden {
		t.Errorf("enrolment in a stale session answered %d, want 403", status)
	}
	tb.need(alertBox, "error message")
	if msg := mustRun(tb, chromedp.Text(alertBox)); !strings.Contains(msg, "confirm it is you with the methods you already have") {
		t.Errorf("the refusal says %q", msg)
	}
	if n := len(storedCredentials(tb, auth)); n != 0 {
		t.Fatalf("a passkey was created in a stale session: the authenticator holds %d credentials", n)
	}
	relying.assertNoCallback(t)

	// The page offers the password; entering it again lets enrolment
	// proceed.
	if !tb.has(passwordField) {
		t.Fatalf("the refusal offers %v and no password field: alice cannot confirm with the method she has\n%s",
			methodChoices(tb), tb.describe())
	}
	tb.do(chromedp.SendKeys(passwordField, "alice-password"))
	press(tb, chromedp.CSS(`button[name="method"][value="password"]`), "password button")
	tb.do(chromedp.WaitVisible(enrollPasskeyButton))
	press(tb, enrollPasskeyButton, `"Create a passkey" button`)
	tb.do(chromedp.WaitVisible(passkeyButton))
	if n := len(storedCredentials(tb, auth)); n != 1 {
		t.Fatalf("after confirming with the password the authenticator holds %d credentials, want 1", n)
	}
	press(tb, passkeyButton, "Passkey button")
	c := redeemClaims(t, r, a, wantAuthzResponse(t, p, a, relying.await(tb), http.MethodGet))
	wantPasskeyACR(t, c)
	if !slices.Contains(c.AMR, "swk") {
		t.Errorf("a synced (backup eligible) passkey gave amr %v, want swk", c.AMR)
	}
	if c.Sub != first.Sub {
		t.Fatalf("sub changed from %q to %q", first.Sub, c.Sub)
	}
}

func TestBrowserUsernameLessPasskeyLogin(t *testing.T) {
	p, relying := startPasskeyProvider(t)
	chrome := newChrome(t)
	auth := addAuthenticator(chrome, false)
	r := browserClient(t, p, relying, confidentialID, confidentialSecret)
	alice := passwordSignIn(chrome, p, relying, r)
	enrollPasskeyDuringStepUp(chrome, p, relying, r, auth)

	// The virtual authenticator belongs to the tab, so the cases share it;
	// each starts without a session (the passkey stays).
	tests := []struct {
		name string
		// autofill: the browser completes the passkey autofill
		// (conditional mediation) that the first login page starts; the
		// virtual authenticator picks the credential at once, as a person
		// choosing it in the username field's suggestions would. Otherwise
		// the browser has no passkey autofill and the person presses the
		// "Passkey" button.
		autofill bool
	}{
		{"passkey_button", false},
		{"passkey_autofill", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := chrome.in(t)
			clearCookies(tb)
			if !tt.autofill {
				withoutPasskeyAutofill(tb)
			}
			a := newAuthRequest(r)
			if tt.autofill {
				tb.do(chromedp.Navigate(a.URL))
			} else {
				tb.do(chromedp.Navigate(a.URL), chromedp.WaitVisible(passkeyButton))
				if loc := tb.location(); !strings.HasPrefix(loc, p.URL+"/login?") {
					t.Fatalf("authorization without a session led to %s, want the login page", loc)
				}
				tb.need(chromedp.CSS(`input[autocomplete="username webauthn"]`), "username field with passkey autofill")
				tb.need(passwordField, "password field")
				press(tb, passkeyButton, "Passkey button")
			}
			c := redeemClaims(t, r, a, wantAuthzResponse(t, p, a, relying.await(tb), http.MethodGet))
			if c.Sub != alice.Sub {
				t.Fatalf("username-less passkey sign-in gave sub %q, want alice's %q", c.Sub, alice.Sub)
			}
			if !slices.Contains(c.AMR, "mfa") || !slices.Contains(c.AMR, "swk") && !slices.Contains(c.AMR, "hwk") {
				t.Errorf("passkey sign-in gave amr %v, want swk or hwk, and mfa", c.AMR)
			}
		})
	}
}

func TestBrowserUnmetWhenNothingCanSatisfy(t *testing.T) {
	p, relying := startPasskeyProvider(t)
	tb := newChrome(t)
	r := browserClient(t, p, relying, confidentialID, confidentialSecret)
	a := newAuthRequest(r, oauth2.SetAuthURLParam("claims", `{"id_token":{"acr":{"essential":true,"values":["phrh"]}}}`))
	openPasskeyLogin(tb, p, a)
	typePassword(tb, "alice", "alice-password")
	v := wantAuthzResponse(t, p, a, relying.await(tb), http.MethodGet)
	if v.Get("error") != "unmet_authentication_requirements" || v.Get("code") != "" {
		t.Fatalf("an essential phrh without attestation roots gave %v, want error=unmet_authentication_requirements", v)
	}
}
