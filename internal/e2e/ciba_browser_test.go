package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/stepup-oidc/stepup/internal/config"
	"github.com/stepup-oidc/stepup/internal/oauth"
)

// These tests drive the authenticator app at {issuer}/app in a real
// Chromium while the test plays the consumption device (a TV) in Go: it
// posts backchannel requests and polls the token endpoint.

const (
	// appLiveWithin bounds how long a request may take to appear in an open
	// app page, which learns of it over server-sent events.
	appLiveWithin = 5 * time.Second
	// appPageWithin bounds a page load after a click in the app.
	appPageWithin = 10 * time.Second
)

var (
	appSignInLink = chromedp.CSS(`#app-sign-in`)
	appApprove    = chromedp.CSS(`section.request button[name="decision"][value="approve"]`)
	appDeny       = chromedp.CSS(`section.request button[name="decision"][value="deny"]`)
	appPassword   = chromedp.CSS(`section.request input[name="password"][type="password"]`)
)

// startPasskeyCIBA is startCIBA on a passkey provider: issuer
// http://localhost:<port>, the confidential client redirecting to a real
// relying party (for enrolling a passkey), and a CIBA client that polls.
func startPasskeyCIBA(t *testing.T) (*provider, *relyingParty) {
	t.Helper()
	cb := newRelyingParty(t)
	cfg := testConfig()
	for i := range cfg.Clients {
		cfg.Clients[i].RedirectURIs = []string{cb.RedirectURI}
		if len(cfg.Clients[i].PostLogoutRedirectURIs) > 0 {
			cfg.Clients[i].PostLogoutRedirectURIs = []string{cb.LogoutURI}
		}
	}
	cfg.Clients = append(cfg.Clients, config.Client{ID: cibaClient, Name: "Smart TV", Secret: cibaSecret,
		GrantTypes: []string{"urn:openid:params:grant-type:ciba"}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := fmt.Sprintf("http://localhost:%d", ln.Addr().(*net.TCPAddr).Port)
	p := startOn(t, ln, issuer, openSQLite(t), cfg)
	if !slices.Contains(p.App.Flow.SupportedACR(), "phr") {
		t.Fatalf("passkeys are off with issuer %s: supported acr %v", issuer, p.App.Flow.SupportedACR())
	}
	return p, cb
}

// trackEventSources makes every page the tab loads from now on remember
// the EventSource objects it creates (in window.__stepupEventSources), so
// the test can tell when a page's live connection is open. The objects
// behave as before.
func trackEventSources(tb *tab) {
	tb.t.Helper()
	mustRun(tb, chromedp.Action[cdppage.AddScriptToEvaluateOnNewDocumentResult](
		func(ctx context.Context, tg *chromedp.Target) (cdppage.AddScriptToEvaluateOnNewDocumentResult, error) {
			return cdp.Call(ctx, tg, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{
				Source: `(() => {
  const ES = window.EventSource;
  if (!ES) return;
  window.__stepupEventSources = [];
  window.EventSource = class extends ES {
    constructor(url, init) { super(url, init); window.__stepupEventSources.push(this); }
  };
})();`,
			})
		}))
}

// eventually evaluates the boolean expression js in the tab until it holds
// or within passes. Evaluation errors (a page being replaced) count as not
// yet.
func eventually(tb *tab, within time.Duration, js string) bool {
	tb.t.Helper()
	deadline := time.Now().Add(within)
	for {
		ctx, cancel := context.WithTimeout(tb.ctx, 2*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
		cancel()
		if err == nil && ok {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// jsString quotes s for JavaScript.
func jsString(s string) string {
	q, _ := json.Marshal(s)
	return string(q)
}

// waitAppText waits until the app page (path /app) has an element matching
// sel whose text contains want.
func waitAppText(tb *tab, sel, want string, within time.Duration) {
	tb.t.Helper()
	js := fmt.Sprintf(`location.pathname === "/app" && Array.from(document.querySelectorAll(%s), e => e.textContent).some(s => s.includes(%s))`,
		jsString(sel), jsString(want))
	if !eventually(tb, within, js) {
		hint := ""
		if sel == "#app-message" && mustRun(tb, chromedp.Evaluate[bool](`location.pathname === "/app" && location.search === ""`)) {
			hint = " (the tab is at /app without the result: the page's own live connection reloaded it over the result page)"
		}
		tb.t.Fatalf("the app does not show %q in %s within %s%s\n%s", want, sel, within, hint, tb.describe())
	}
}

// texts returns the text of every element matching sel.
func texts(tb *tab, sel string) []string {
	tb.t.Helper()
	return mustRun(tb, chromedp.Evaluate[[]string](fmt.Sprintf(
		`Array.from(document.querySelectorAll(%s), e => e.textContent.trim())`, jsString(sel))))
}

// openApp opens the authenticator app in tb, signing alice in with her
// password if the app asks, and waits for the list of requests.
func openApp(tb *tab, p *provider) {
	tb.t.Helper()
	tb.do(chromedp.Navigate(p.URL+"/app"), chromedp.WaitReady(chromedp.CSS(`body`)))
	if tb.has(appSignInLink) {
		press(tb, appSignInLink, `"Sign in" link`)
		tb.do(chromedp.WaitVisible(anyUsernameField), chromedp.WaitVisible(passwordField))
		typePassword(tb, "alice", "alice-password")
	}
	if !eventually(tb, appPageWithin, `location.pathname === "/app" && document.getElementById("requests") !== null`) {
		tb.t.Fatalf("alice does not reach the app's list of requests\n%s", tb.describe())
	}
}

// waitAppLive waits until the app page's server-sent events connection is
// open, and a little longer for the server to start listening on it.
func waitAppLive(tb *tab) {
	tb.t.Helper()
	if !eventually(tb, appLiveWithin, `(window.__stepupEventSources || []).some(e => e.readyState === 1)`) {
		for drained := false; !drained; {
			select {
			case msg := <-tb.blocked:
				if strings.Contains(msg, "/app/events") {
					tb.t.Fatalf("the app's live connection (/app/events) was blocked by the page's Content Security Policy: %s\n%s", msg, tb.describe())
				}
			default:
				drained = true
			}
		}
		states := mustRun(tb, chromedp.Evaluate[[]int](`(window.__stepupEventSources || []).map(e => e.readyState)`))
		tb.t.Fatalf("the app's live connection (/app/events) is not open within %s (EventSource states %v)\n%s",
			appLiveWithin, states, tb.describe())
	}
	// The server flushes ": connected" before it subscribes to changes.
	time.Sleep(300 * time.Millisecond)
}

// settleApp waits until the app page's live connection has either opened
// or failed, so that a click comes, as a person's would, after the page
// has finished starting; once open, a little longer for the server to
// start listening on it. (TestBrowserCIBARequestArrivesLiveAndIsApprovedWithPasskey
// is the test that requires the connection to open.)
func settleApp(tb *tab) {
	tb.t.Helper()
	js := `(() => { const l = window.__stepupEventSources || []; return l.length > 0 && l.every(e => e.readyState !== 0); })()`
	if !eventually(tb, appLiveWithin, js) {
		tb.t.Fatalf("the app page did not open or give up its live connection within %s\n%s", appLiveWithin, tb.describe())
	}
	if mustRun(tb, chromedp.Evaluate[bool](`window.__stepupEventSources.some(e => e.readyState === 1)`)) {
		time.Sleep(300 * time.Millisecond)
	}
}

// jwtClaims decodes the payload of a JWT without verifying it.
func jwtClaims(t *testing.T, jwt string) map[string]json.RawMessage {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]json.RawMessage
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// verifyCIBAIDToken verifies the ID token of a CIBA token response with
// the client library (signature, issuer, audience, expiry) and returns its
// claims.
func verifyCIBAIDToken(t *testing.T, p *provider, tok map[string]any) idClaims {
	t.Helper()
	raw, _ := tok["id_token"].(string)
	if raw == "" {
		t.Fatalf("no id_token in %v", tok)
	}
	idt, err := newRP(t, p, cibaClient, cibaSecret).verifier.Verify(t.Context(), raw)
	if err != nil {
		t.Fatalf("ID token: %v", err)
	}
	var c idClaims
	if err := idt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	t.Logf("ID token: acr %q amr %v", c.ACR, c.AMR)
	if c.Sub == "" || c.ACR == "" || c.AuthTime == 0 {
		t.Errorf("ID token claims %+v, want sub, acr and auth_time", c)
	}
	return c
}

// wantPoll polls once for id and checks the error code.
func wantPoll(t *testing.T, p *provider, id string, status int, code string) {
	t.Helper()
	if got, body := pollCIBA(t, p, id); got != status || body["error"] != code {
		t.Fatalf("poll: %d %v, want %d %s", got, body, status, code)
	}
}

func TestBrowserCIBARequestArrivesLiveAndIsApprovedWithPasskey(t *testing.T) {
	p, relying := startPasskeyCIBA(t)
	tb := newChrome(t)
	auth := addAuthenticator(tb, false)
	r := browserClient(t, p, relying, confidentialID, confidentialSecret)
	alice := passwordSignIn(tb, p, relying, r)
	enrollPasskeyDuringStepUp(tb, p, relying, r, auth)
	creds := storedCredentials(tb, auth)
	if len(creds) != 1 {
		t.Fatalf("the authenticator holds %d credentials, want the one passkey", len(creds))
	}
	signCount := creds[0].SignCount

	// Alice opens the app and leaves it open.
	trackEventSources(tb)
	openApp(tb, p)
	tb.need(chromedp.CSS(`#no-requests`), `"No requests are waiting" text`)
	if got := texts(tb, "#no-requests"); len(got) != 1 || got[0] != "No requests are waiting." {
		t.Fatalf("the empty app says %q", got)
	}
	waitAppLive(tb)

	// The TV asks; the open page shows the request by itself.
	status, ack := backchannel(t, p, url.Values{"scope": {"openid profile"}, "login_hint": {"alice"},
		"binding_message": {"TV-4711"}, "authorization_details": {payment}})
	id, _ := ack["auth_req_id"].(string)
	if status != 200 || id == "" {
		t.Fatalf("backchannel: %d %v", status, ack)
	}
	if !eventually(tb, appLiveWithin, `Array.from(document.querySelectorAll(".binding-message"), e => e.textContent).includes("TV-4711")`) {
		t.Fatalf("the open app did not show the new request within %s (no reload by the test)\n%s", appLiveWithin, tb.describe())
	}
	if got := texts(tb, "section.request"); len(got) != 1 {
		t.Fatalf("the app shows %d requests, want 1\n%s", len(got), tb.describe())
	}
	if got := texts(tb, "section.request h2"); !slices.Equal(got, []string{"Smart TV"}) {
		t.Errorf("the request names the client %q, want Smart TV", got)
	}
	if got := texts(tb, ".amount"); !slices.Equal(got, []string{"5000.00 NOK"}) {
		t.Errorf("amount %q, want 5000.00 NOK", got)
	}
	if got := texts(tb, ".payee"); !slices.Equal(got, []string{"Acme AS"}) {
		t.Errorf("payee %q, want Acme AS", got)
	}
	if got := texts(tb, ".countdown"); len(got) != 1 || got[0] == "" || got[0] == "0" {
		t.Errorf("countdown %q, want the seconds left", got)
	}
	if tb.has(appPassword) {
		t.Errorf("the app asks a user with a passkey for her password\n%s", tb.describe())
	}
	if got := texts(tb, string(appApprove)); !slices.Equal(got, []string{"Approve with passkey"}) {
		t.Errorf("approve button %q, want Approve with passkey", got)
	}
	wantPoll(t, p, id, 400, "authorization_pending")

	// Approve: the passkey page runs the assertion and posts it.
	press(tb, appApprove, `"Approve with passkey" button`)
	waitAppText(tb, "#app-message", "Approved.", appPageWithin)
	tb.need(chromedp.CSS(`#no-requests`), `"No requests are waiting" text after the approval`)
	if creds := storedCredentials(tb, auth); len(creds) != 1 || creds[0].SignCount <= signCount {
		t.Errorf("the approval did not use the passkey: sign count %v before, credentials after %+v", signCount, creds)
	}

	// The TV's next poll gets the tokens.
	p.Clock.Advance(6 * time.Second)
	status, tok := pollCIBA(t, p, id)
	if status != 200 || tok["access_token"] == nil {
		t.Fatalf("poll after approval: %d %v", status, tok)
	}
	c := verifyCIBAIDToken(t, p, tok)
	if c.Sub != alice.Sub {
		t.Errorf("sub %q, want alice's %q", c.Sub, alice.Sub)
	}
	if !slices.Contains(c.AMR, "hwk") && !slices.Contains(c.AMR, "swk") {
		t.Errorf("a passkey approval gave acr %q amr %v, want hwk or swk in amr", c.ACR, c.AMR)
	}
	_, canonical, err := oauth.ParseAuthorizationDetails(payment)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(jwtClaims(t, tok["access_token"].(string))["authorization_details"]); got != canonical {
		t.Errorf("access token authorization_details = %s, want %s", got, canonical)
	}
	if granted, _ := json.Marshal(tok["authorization_details"]); string(granted) != canonical {
		t.Errorf("token response authorization_details = %s, want %s", granted, canonical)
	}
	p.Clock.Advance(6 * time.Second)
	wantPoll(t, p, id, 400, "invalid_grant")
}

func TestBrowserCIBADenyInApp(t *testing.T) {
	p := startCIBA(t)
	tb := newChrome(t)
	trackEventSources(tb)
	openApp(tb, p)
	status, ack := backchannel(t, p, url.Values{"scope": {"openid"}, "login_hint": {"alice"}, "binding_message": {"TV-0042"}})
	id, _ := ack["auth_req_id"].(string)
	if status != 200 || id == "" {
		t.Fatalf("backchannel: %d %v", status, ack)
	}
	// The open page shows the request live (server-sent events).
	waitAppText(tb, ".binding-message", "TV-0042", appPageWithin)
	settleApp(tb)
	press(tb, appDeny, `"Deny" button`)
	waitAppText(tb, "#app-message", "Denied.", appPageWithin)
	tb.need(chromedp.CSS(`#no-requests`), `"No requests are waiting" text after the denial`)
	wantPoll(t, p, id, 403, "access_denied")
}

func TestBrowserCIBAPasswordApprovalWithoutPasskey(t *testing.T) {
	p := startCIBA(t)
	tb := newChrome(t)
	trackEventSources(tb)
	openApp(tb, p)
	status, ack := backchannel(t, p, url.Values{"scope": {"openid"}, "login_hint": {"alice"}, "binding_message": {"TV-1234"}})
	id, _ := ack["auth_req_id"].(string)
	if status != 200 || id == "" {
		t.Fatalf("backchannel: %d %v", status, ack)
	}
	// The open page shows the request live (server-sent events).
	waitAppText(tb, ".binding-message", "TV-1234", appPageWithin)
	settleApp(tb)
	tb.need(appPassword, "password field in the request")
	if got := texts(tb, string(appApprove)); !slices.Equal(got, []string{"Approve"}) {
		t.Errorf("approve button %q, want Approve", got)
	}
	wantPoll(t, p, id, 400, "authorization_pending")

	// A wrong password: the request stays.
	tb.do(chromedp.SendKeys(appPassword, "not-alices-password"))
	press(tb, appApprove, `"Approve" button`)
	waitAppText(tb, "#app-message", "The approval could not be verified. Try again.", appPageWithin)
	waitAppText(tb, ".binding-message", "TV-1234", time.Second)
	p.Clock.Advance(6 * time.Second)
	wantPoll(t, p, id, 400, "authorization_pending")

	// The right password approves.
	settleApp(tb)
	tb.need(appPassword, "password field after the failed approval")
	tb.do(chromedp.SendKeys(appPassword, "alice-password"))
	press(tb, appApprove, `"Approve" button`)
	waitAppText(tb, "#app-message", "Approved.", appPageWithin)
	tb.need(chromedp.CSS(`#no-requests`), `"No requests are waiting" text after the approval`)
	p.Clock.Advance(6 * time.Second)
	status, tok := pollCIBA(t, p, id)
	if status != 200 || tok["access_token"] == nil {
		t.Fatalf("poll after approval: %d %v", status, tok)
	}
	if c := verifyCIBAIDToken(t, p, tok); !slices.Contains(c.AMR, "pwd") {
		t.Errorf("a password approval gave acr %q amr %v, want pwd in amr", c.ACR, c.AMR)
	}
}
