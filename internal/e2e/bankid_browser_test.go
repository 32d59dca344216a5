package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/stepup-oidc/stepup/internal/config"
	"github.com/stepup-oidc/stepup/internal/store/sqlite"
)

// These tests drive the bankid acr preset in a real Chromium: the passkey
// (urn:bankid:bis) and the BankID High upstream (urn:bankid:bih, and the
// fallback for bis), with the login_hint grammar of docs/assurance.md. The
// upstream is a second Stepup on 127.0.0.1 whose login page the browser
// fills in; the provider under test runs on localhost, so passkeys work and
// the two keep their cookies apart.

const (
	aliceNNIN = "01019012345"
	bobNNIN   = "02029012345"
	// highUpstream is the method choice of the BankID High upstream.
	highUpstream = "upstream:bankid-high"
)

var upstreamButton = chromedp.CSS(`button[name="method"][value="upstream:bankid-high"]`)

// returnsThroughUpstream is the response mode of requests that end with the
// return from the upstream: form_post. With a redirect (query), the
// provider's 303 to the client ends the chain of redirects that started
// with the form on the upstream's login page, and Chromium applies that
// page's CSP form-action to all of it; Stepup's form-action names only the
// client's redirect URI origin (here the broker's callback), so the browser
// blocks the last hop (see TestBrowserBankIDUpstreamReturnToRedirectingClient).
var returnsThroughUpstream = oauth2.SetAuthURLParam("response_mode", "form_post")

// bankIDRig is brokered() for a real browser: the provider under test
// ("down", bankid preset) and, optionally, the BankID High upstream ("up"),
// with clients that redirect to a real relying party server.
type bankIDRig struct {
	down, up *provider
	rp       *relyingParty
	// dbPath is the downstream's SQLite database, which the enrolment
	// provider shares.
	dbPath string
	cfg    *config.Config // the downstream's configuration
}

// startBankIDRig runs the downstream (bankid preset, issuer
// http://localhost:<port>, alice with nnin 01019012345, bob with
// 02029012345) and, when withUpstream is set, the upstream (issuer
// http://127.0.0.1:<port>, alice-bankid and bob-bankid with the same
// numbers) offered downstream as "bankid-high" with assurance high,
// linking by nnin.
func startBankIDRig(t *testing.T, withUpstream bool) *bankIDRig {
	t.Helper()
	rig := &bankIDRig{rp: newRelyingParty(t)}
	downLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	downIssuer := fmt.Sprintf("http://localhost:%d", downLn.Addr().(*net.TCPAddr).Port)

	dcfg := testConfig()
	dcfg.ACR.Preset = "bankid"
	for i := range dcfg.Clients {
		dcfg.Clients[i].RedirectURIs = []string{rig.rp.RedirectURI}
		if len(dcfg.Clients[i].PostLogoutRedirectURIs) > 0 {
			dcfg.Clients[i].PostLogoutRedirectURIs = []string{rig.rp.LogoutURI}
		}
	}
	dcfg.Users[0].NNIN = aliceNNIN // alice
	dcfg.Users[1].NNIN = bobNNIN   // bob

	if withUpstream {
		upLn, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			downLn.Close()
			t.Fatal(err)
		}
		ucfg := testConfig()
		ucfg.Session.CookieName = "bankid_session"
		ucfg.Clients = []config.Client{{ID: "broker", Name: "Stepup broker", Secret: "broker-secret", AllowNNIN: true,
			RedirectURIs: []string{downIssuer + "/upstream/callback"}}}
		ucfg.Users = []config.User{
			{Username: "alice-bankid", Password: "alice-password", NNIN: aliceNNIN},
			{Username: "bob-bankid", Password: "bob-password", NNIN: bobNNIN},
		}
		rig.up = startOn(t, upLn, "http://"+upLn.Addr().String(), openSQLite(t), ucfg)
		dcfg.Upstreams = []config.Upstream{{Name: "bankid-high", DisplayName: "BankID", Issuer: rig.up.URL,
			ClientID: "broker", ClientSecret: "broker-secret", Scopes: []string{"openid", "nnin"},
			Assurance: "high", LinkClaim: "nnin"}}
	}

	rig.dbPath = filepath.Join(t.TempDir(), "stepup.db")
	st, err := sqlite.Open(t.Context(), rig.dbPath)
	if err != nil {
		downLn.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	rig.down = startOn(t, downLn, downIssuer, st, dcfg)
	rig.cfg = dcfg
	return rig
}

// startEnrolmentProvider runs a second provider on the downstream's
// database with the okta preset, which allows passkey enrolment during a
// step-up (the bankid preset does not). Its issuer is
// http://localhost:<another port>: WebAuthn scopes credentials to the RP ID
// "localhost" whatever the port, so a passkey created there works
// downstream. It declares the same clients and users as the downstream, so
// that seeding them changes nothing, and a session cookie of its own.
func startEnrolmentProvider(t *testing.T, rig *bankIDRig) *provider {
	t.Helper()
	cfg := testConfig()
	cfg.Session.CookieName = "enrolment_session"
	cfg.Clients = slices.Clone(rig.cfg.Clients)
	cfg.Users = slices.Clone(rig.cfg.Users)
	st, err := sqlite.Open(t.Context(), rig.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := startOn(t, ln, fmt.Sprintf("http://localhost:%d", ln.Addr().(*net.TCPAddr).Port), st, cfg)
	if !slices.Contains(p.App.Flow.SupportedACR(), "phr") {
		t.Fatalf("passkeys are off on the enrolment provider %s", p.URL)
	}
	return p
}

// enrolAlicePasskey gives alice a passkey in tb's virtual authenticator and
// in the downstream's store: she signs in with her password on the
// enrolment provider and creates the passkey during a step-up to phr. The
// browser's cookies are cleared afterwards. It returns alice's sub.
func enrolAlicePasskey(tb *tab, rig *bankIDRig) string {
	tb.t.Helper()
	t := tb.t
	enrol := startEnrolmentProvider(t, rig)
	auth := addAuthenticator(tb, false)
	r := browserClient(t, enrol, rig.rp, confidentialID, confidentialSecret)
	first := passwordSignIn(tb, enrol, rig.rp, r)
	if c := enrollPasskeyDuringStepUp(tb, enrol, rig.rp, r, auth); c.Sub != first.Sub {
		t.Fatalf("the enrolment step-up changed sub from %q to %q", first.Sub, c.Sub)
	}
	clearCookies(tb)

	// The downstream sees the passkey.
	alice, err := rig.down.App.Store.GetUserByUsername(t.Context(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if alice.NNIN != aliceNNIN {
		t.Fatalf("the enrolment provider changed alice's nnin to %q", alice.NNIN)
	}
	creds, err := rig.down.App.Store.ListCredentials(t.Context(), alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(creds) != 1 {
		t.Fatalf("alice has %d credentials in the downstream's store after enrolment, want her passkey", len(creds))
	}
	return first.Sub
}

// bankIDClaims are the ID token claims these tests look at.
type bankIDClaims struct {
	idClaims
	Email string `json:"email"`
}

// redeemBankID checks that v carries a code, exchanges it with the client
// library, verifies the ID token (signature, issuer, audience, expiry,
// nonce) and returns its claims.
func redeemBankID(t *testing.T, r *rp, a authRequest, v url.Values) bankIDClaims {
	t.Helper()
	if v.Get("error") != "" {
		t.Fatalf("authorization error %q: %s", v.Get("error"), v.Get("error_description"))
	}
	if v.Get("code") == "" {
		t.Fatal("no code in the authorization response")
	}
	tok, err := r.oauth.Exchange(t.Context(), v.Get("code"), oauth2.VerifierOption(a.Verifier))
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
	var c bankIDClaims
	if err := idt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	if c.Sub == "" {
		t.Fatal("ID token without sub")
	}
	return c
}

// wantBankID checks acr, amr and the user of an ID token.
func wantBankID(t *testing.T, c bankIDClaims, acr string, amr []string, email string) {
	t.Helper()
	if c.ACR != acr || !slices.Equal(c.AMR, amr) || c.Email != email {
		t.Errorf("ID token: acr %q amr %v email %q; want acr %q amr %v email %q", c.ACR, c.AMR, c.Email, acr, amr, email)
	}
}

// wantBISPasskey checks the ID token of a passkey that met urn:bankid:bis.
func wantBISPasskey(t *testing.T, c bankIDClaims, sub string) {
	t.Helper()
	if c.ACR != "urn:bankid:bis;LOA=3" || !slices.Contains(c.AMR, "bis-mfa") || slices.Contains(c.AMR, "bis-bid") {
		t.Errorf("a passkey gave acr %q amr %v, want urn:bankid:bis;LOA=3 with bis-mfa", c.ACR, c.AMR)
	}
	if c.Sub != sub || c.Email != "alice@example.com" {
		t.Errorf("ID token for sub %q email %q, want alice (%q)", c.Sub, c.Email, sub)
	}
}

// wantLoginPage checks that the tab shows a login page of p (not the
// client's page) and lists the method buttons it offers.
func wantLoginPage(tb *tab, p *provider) []string {
	tb.t.Helper()
	if loc := tb.location(); !strings.HasPrefix(loc, p.URL+"/") || strings.HasPrefix(loc, p.URL+"/authorize") {
		tb.t.Fatalf("the browser is at %s, want a login page of %s\n%s", loc, p.URL, tb.describe())
	}
	return methodChoices(tb)
}

// waitUntil evaluates the JavaScript condition cond in the tab until it
// holds, across navigations; what names it for the failure message.
func waitUntil(tb *tab, cond, what string) {
	tb.t.Helper()
	deadline := time.Now().Add(browserActionTimeout)
	for {
		ctx, cancel := context.WithTimeout(tb.ctx, 2*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](cond))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			tb.t.Fatalf("the browser did not reach %s within %s (last error: %v)\n%s", what, browserActionTimeout, err, tb.describe())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitForStepUp waits for the provider's step-up page ("Confirm it's
// you"), which follows a first method that was not enough.
func waitForStepUp(tb *tab) {
	tb.t.Helper()
	waitUntil(tb, `document.readyState === "complete" && document.title.startsWith("Confirm it's you")`, "the step-up page")
}

// upstreamSignIn answers the upstream's login page (Stepup's own: username
// and password) once the browser has been sent there.
func upstreamSignIn(tb *tab, rig *bankIDRig, user, password string) {
	tb.t.Helper()
	q, _ := json.Marshal(rig.up.URL + "/login?")
	waitUntil(tb, fmt.Sprintf(`location.href.startsWith(%s) && document.readyState === "complete"`, q), "the upstream's login page")
	tb.do(chromedp.WaitVisible(usernameField), chromedp.WaitVisible(passwordField))
	typeCredentials(tb, user, password)
}

func TestBrowserBankIDLoginHintBISWithID(t *testing.T) {
	rig := startBankIDRig(t, true)
	chrome := newChrome(t)
	aliceSub := enrolAlicePasskey(chrome, rig)
	r := browserClient(t, rig.down, rig.rp, confidentialID, confidentialSecret)

	t.Run("the_page_does_not_reveal_the_preselected_person", func(t *testing.T) {
		tb := chrome.in(t)
		clearCookies(tb)
		withoutPasskeyAutofill(tb)
		// No acr_values: the preset's default, urn:bankid:bis.
		a := newAuthRequest(r, oauth2.SetAuthURLParam("login_hint", "BIS:"+aliceNNIN))
		tb.do(chromedp.Navigate(a.URL), chromedp.WaitVisible(passkeyButton))
		got := wantLoginPage(tb, rig.down)
		var body string
		body = mustRun(tb, chromedp.Text(chromedp.CSS("body")))
		if strings.Contains(body, "alice") || !tb.has(passwordField) || !slices.Contains(got, "webauthn") {
			t.Errorf("the page for BIS:<nnin> reveals the person or lacks the anonymous choices (%v, password field %v):\n%s",
				got, tb.has(passwordField), body)
		}
		rig.rp.assertNoCallback(t)

		// Alice's discoverable passkey satisfies the pre-selection.
		press(tb, passkeyButton, "Passkey button")
		c := redeemBankID(t, r, a, wantAuthzResponse(t, rig.down, a, rig.rp.await(tb), http.MethodGet))
		wantBISPasskey(t, c, aliceSub)
	})

	t.Run("anyone_else_signing_in_is_refused", func(t *testing.T) {
		tb := chrome.in(t)
		clearCookies(tb)
		withoutPasskeyAutofill(tb)
		a := newAuthRequest(r, oauth2.SetAuthURLParam("login_hint", "BIS:"+aliceNNIN))
		tb.do(chromedp.Navigate(a.URL), chromedp.WaitVisible(passwordField))
		wantLoginPage(tb, rig.down)
		typeCredentials(tb, "bob", "bob-password")
		tb.do(chromedp.WaitVisible(alertBox))
		if loc := tb.location(); loc != rig.down.URL+"/login" {
			t.Errorf("after bob's password the browser is at %s, want the login page", loc)
		}
		rig.rp.assertNoCallback(t)

		// Bob at BankID: his password there proves bob, not alice.
		press(tb, upstreamButton, "BankID button")
		upstreamSignIn(tb, rig, "bob-bankid", "bob-password")
		tb.do(chromedp.WaitVisible(alertBox))
		if msg := mustRun(tb, chromedp.Text(alertBox)); !strings.Contains(msg, "another account") {
			t.Errorf("bob's BankID on alice's page: the alert says %q", msg)
		}
		if loc := tb.location(); !strings.HasPrefix(loc, rig.down.URL+"/") {
			t.Errorf("after bob's BankID the browser is at %s, want the provider's page", loc)
		}
		rig.rp.assertNoCallback(t)

		// The page still offers a passkey, and alice's still works.
		if got := methodChoices(tb); !slices.Contains(got, "webauthn") {
			t.Fatalf("after the refusal the page offers %v, want a passkey", got)
		}
		press(tb, passkeyButton, "Passkey button")
		c := redeemBankID(t, r, a, wantAuthzResponse(t, rig.down, a, rig.rp.await(tb), http.MethodGet))
		wantBISPasskey(t, c, aliceSub)
	})
}

func TestBrowserBankIDFallsBackToHighWithoutPasskey(t *testing.T) {
	rig := startBankIDRig(t, true)
	tb := newChrome(t)
	r := browserClient(t, rig.down, rig.rp, confidentialID, confidentialSecret)

	a := newAuthRequest(r, oauth2.SetAuthURLParam("acr_values", "urn:bankid:bis"), returnsThroughUpstream)
	openPasskeyLogin(tb, rig.down, a)
	typePassword(tb, "bob", "bob-password")

	// The password alone is not bis; bob has no passkey: only High remains.
	waitForStepUp(tb)
	if got := wantLoginPage(tb, rig.down); !slices.Equal(got, []string{highUpstream}) || tb.has(passwordField) {
		t.Errorf("the step after bob's password offers %v (password field: %v), want only %s",
			got, tb.has(passwordField), highUpstream)
	}
	rig.rp.assertNoCallback(t)

	press(tb, upstreamButton, "BankID button")
	upstreamSignIn(tb, rig, "bob-bankid", "bob-password")
	c := redeemBankID(t, r, a, wantAuthzResponse(t, rig.down, a, rig.rp.await(tb), http.MethodPost))
	wantBankID(t, c, "urn:bankid:bis;LOA=3", []string{"bis-bid"}, "bob@example.com")
}

func TestBrowserBankIDForcedHigh(t *testing.T) {
	rig := startBankIDRig(t, true)
	chrome := newChrome(t)
	aliceSub := enrolAlicePasskey(chrome, rig)
	r := browserClient(t, rig.down, rig.rp, confidentialID, confidentialSecret)

	// afterPasskey answers the step that follows alice's passkey for a
	// request that needs High (response_mode=form_post): only the upstream
	// is offered, and alice at BankID completes it.
	afterPasskey := func(tb *tab, a authRequest) {
		tb.t.Helper()
		t := tb.t
		waitForStepUp(tb)
		if got := wantLoginPage(tb, rig.down); !slices.Equal(got, []string{highUpstream}) {
			t.Errorf("after the passkey the step offers %v, want only %s", got, highUpstream)
		}
		rig.rp.assertNoCallback(t)
		press(tb, upstreamButton, "BankID button")
		upstreamSignIn(tb, rig, "alice-bankid", "alice-password")
		c := redeemBankID(t, r, a, wantAuthzResponse(t, rig.down, a, rig.rp.await(tb), http.MethodPost))
		wantBankID(t, c, "urn:bankid:bid;LOA=4", []string{"bid"}, "alice@example.com")
		if c.Sub != aliceSub {
			t.Errorf("sub %q, want alice's %q", c.Sub, aliceSub)
		}
	}

	t.Run("bih_is_not_met_by_the_passkey", func(t *testing.T) {
		tb := chrome.in(t)
		clearCookies(tb)
		withoutPasskeyAutofill(tb)
		a := newAuthRequest(r, oauth2.SetAuthURLParam("acr_values", "urn:bankid:bih"), returnsThroughUpstream)
		tb.do(chromedp.Navigate(a.URL), chromedp.WaitVisible(passkeyButton))
		wantLoginPage(tb, rig.down)
		press(tb, passkeyButton, "Passkey button")
		afterPasskey(tb, a)
	})

	t.Run("bih_before_bis_requires_high", func(t *testing.T) {
		tb := chrome.in(t)
		clearCookies(tb)
		withoutPasskeyAutofill(tb)

		// A passkey session: bis is met.
		a := newAuthRequest(r)
		tb.do(chromedp.Navigate(a.URL), chromedp.WaitVisible(passkeyButton))
		press(tb, passkeyButton, "Passkey button")
		wantBISPasskey(t, redeemBankID(t, r, a, wantAuthzResponse(t, rig.down, a, rig.rp.await(tb), http.MethodGet)), aliceSub)

		// ["urn:bankid:bis","urn:bankid:bih"] behaves as ["urn:bankid:bis"]:
		// the session meets it at once.
		a = newAuthRequest(r, oauth2.SetAuthURLParam("acr_values", "urn:bankid:bis urn:bankid:bih"))
		tb.do(chromedp.Navigate(a.URL))
		wantBISPasskey(t, redeemBankID(t, r, a, wantAuthzResponse(t, rig.down, a, rig.rp.await(tb), http.MethodGet)), aliceSub)

		// ["urn:bankid:bih","urn:bankid:bis"] requires High: no bis answer
		// from the passkey session, but the step to the upstream.
		a = newAuthRequest(r, oauth2.SetAuthURLParam("acr_values", "urn:bankid:bih urn:bankid:bis"), returnsThroughUpstream)
		tb.do(chromedp.Navigate(a.URL))
		select {
		case req := <-rig.rp.reqs:
			t.Fatalf("bih before bis was answered from the passkey session: %v", req.Params())
		default:
		}
		afterPasskey(tb, a)
	})
}

func TestBrowserBankIDUnmet(t *testing.T) {
	rig := startBankIDRig(t, false) // no upstream: nothing reaches bih
	if slices.Contains(rig.down.App.Flow.SupportedACR(), "urn:bankid:bih") {
		t.Errorf("without an upstream urn:bankid:bih is advertised: %v", rig.down.App.Flow.SupportedACR())
	}
	tb := newChrome(t)
	r := browserClient(t, rig.down, rig.rp, confidentialID, confidentialSecret)
	a := newAuthRequest(r, oauth2.SetAuthURLParam("acr_values", "urn:bankid:bih"))
	openPasskeyLogin(tb, rig.down, a)
	typePassword(tb, "alice", "alice-password")
	v := wantAuthzResponse(t, rig.down, a, rig.rp.await(tb), http.MethodGet)
	if v.Get("error") != "unmet_authentication_requirements" || v.Has("code") {
		t.Fatalf("urn:bankid:bih without an upstream gave %v, want error=unmet_authentication_requirements", v)
	}
}

// TestBrowserBankIDUpstreamReturnToRedirectingClient is the return from
// the upstream to a client that takes the response by redirect (the default
// response mode). It guards against the bug it found: a login page whose
// CSP form-action allowed only its client's origin made Chromium block the
// downstream's redirect to its own client (form-action applies to every
// hop of a submission's redirects), so login pages carry no form-action.
func TestBrowserBankIDUpstreamReturnToRedirectingClient(t *testing.T) {
	rig := startBankIDRig(t, true)
	tb := newChrome(t)
	r := browserClient(t, rig.down, rig.rp, confidentialID, confidentialSecret)
	a := newAuthRequest(r, oauth2.SetAuthURLParam("acr_values", "urn:bankid:bih"))
	openPasskeyLogin(tb, rig.down, a)
	press(tb, upstreamButton, "BankID button")
	upstreamSignIn(tb, rig, "alice-bankid", "alice-password")
	var got callbackRequest
	select {
	case msg := <-tb.blocked:
		t.Fatalf("the browser blocked the redirect to the client after the upstream "+
			"(a CSP form-action on a login page applies to the whole redirect chain): %s", msg)
	case got = <-rig.rp.reqs:
	case <-time.After(browserActionTimeout):
		t.Fatalf("the client received no request within %s\n%s", browserActionTimeout, tb.describe())
	}
	tb.do(chromedp.WaitVisible(callbackOK))
	c := redeemBankID(t, r, a, wantAuthzResponse(t, rig.down, a, got, http.MethodGet))
	wantBankID(t, c, "urn:bankid:bid;LOA=4", []string{"bid"}, "alice@example.com")
}
