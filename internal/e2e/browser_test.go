package e2e

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/stepup-oidc/stepup/internal/store/sqlite"
)

// These tests drive a real Chromium through the provider's pages, as a
// person would: they type into the fields that password managers look for
// (the autocomplete tokens), press the buttons, and watch where the browser
// lands. The relying party is a real HTTP server on a random loopback port.

var (
	usernameField = chromedp.CSS(`input[autocomplete~="username"]`)
	passwordField = chromedp.CSS(`input[autocomplete="current-password"]`)
	// The password "Sign in" button: decision=login, or method=password on
	// the login page that offers several methods.
	loginButton  = chromedp.CSS(`button[name="decision"][value="login"], button[name="method"][value="password"]`)
	cancelButton = chromedp.CSS(`button[name="decision"][value="cancel"]`)
	alertBox     = chromedp.CSS(`[role="alert"]`)
	callbackOK   = chromedp.CSS(`#callback-ok`)
)

// screenshotPath is where TestBrowserLoginCompletesCodeFlow leaves a picture
// of the login page for people to look at.
const screenshotPath = "/tmp/stepup-login.png"

// callbackRequest is one request the relying party received.
type callbackRequest struct {
	Method string
	Path   string
	Query  url.Values // the URL's query
	Form   url.Values // the POST body (form_post)
}

// Params are the response parameters, wherever the response mode put them.
func (c callbackRequest) Params() url.Values {
	if c.Method == http.MethodPost {
		return c.Form
	}
	return c.Query
}

// relyingParty is the client's web server: it records what arrives at its
// redirect and post-logout URIs and answers "callback ok".
type relyingParty struct {
	RedirectURI string
	LogoutURI   string
	reqs        chan callbackRequest
}

func newRelyingParty(t *testing.T) *relyingParty {
	t.Helper()
	cb := &relyingParty{reqs: make(chan callbackRequest, 16)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callback" && r.URL.Path != "/bye" {
			http.NotFound(w, r) // favicon.ico and the like
			return
		}
		r.ParseForm()
		cb.reqs <- callbackRequest{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Form: r.PostForm}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><html lang="en"><head><title>Client</title></head><body><p id="callback-ok">callback ok</p></body></html>`)
	}))
	t.Cleanup(srv.Close)
	cb.RedirectURI = srv.URL + "/callback"
	cb.LogoutURI = srv.URL + "/bye"
	return cb
}

// await returns the next request the relying party receives. If none comes
// in time the test fails with what the browser shows instead.
func (cb *relyingParty) await(tb *tab) callbackRequest {
	tb.t.Helper()
	select {
	case req := <-cb.reqs:
		// The browser renders the client's page: the redirect was followed.
		tb.do(chromedp.WaitVisible(callbackOK))
		if loc := tb.location(); !strings.HasPrefix(loc, cb.RedirectURI) && !strings.HasPrefix(loc, cb.LogoutURI) {
			tb.t.Fatalf("browser at %s, want the client's page", loc)
		}
		return req
	case msg := <-tb.blocked:
		tb.t.Fatalf("the browser blocked the way to the client: %s\n%s", msg, tb.describe())
		panic("unreachable")
	case <-time.After(browserActionTimeout):
		tb.t.Fatalf("the client received no request within %s\n%s", browserActionTimeout, tb.describe())
		panic("unreachable")
	}
}

// assertNoCallback fails if the relying party has received a request.
func (cb *relyingParty) assertNoCallback(t *testing.T) {
	t.Helper()
	select {
	case req := <-cb.reqs:
		t.Fatalf("unexpected request to the client: %s %s %v %v", req.Method, req.Path, req.Query, req.Form)
	default:
	}
}

// startForBrowser runs a provider on SQLite whose clients redirect to a
// real relying party server.
func startForBrowser(t *testing.T) (*provider, *relyingParty) {
	t.Helper()
	cb := newRelyingParty(t)
	cfg := testConfig()
	for i := range cfg.Clients {
		cfg.Clients[i].RedirectURIs = []string{cb.RedirectURI}
		if len(cfg.Clients[i].PostLogoutRedirectURIs) > 0 {
			cfg.Clients[i].PostLogoutRedirectURIs = []string{cb.LogoutURI}
		}
	}
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "stepup.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return start(t, st, cfg), cb
}

// browserClient is a relying party library client for clientID that redirects
// to cb.
func browserClient(t *testing.T, p *provider, cb *relyingParty, clientID, secret string) *rp {
	t.Helper()
	r := newRP(t, p, clientID, secret)
	r.oauth.RedirectURL = cb.RedirectURI
	return r
}

// authRequest is one authorization request with its PKCE verifier, state
// and nonce.
type authRequest struct {
	URL, Verifier, State, Nonce string
}

func newAuthRequest(r *rp, opts ...oauth2.AuthCodeOption) authRequest {
	a := authRequest{Verifier: oauth2.GenerateVerifier(), State: "st-" + oauth2.GenerateVerifier()[:16],
		Nonce: "n-" + oauth2.GenerateVerifier()[:16]}
	opts = append(opts, oauth2.S256ChallengeOption(a.Verifier), oauth2.SetAuthURLParam("nonce", a.Nonce))
	a.URL = r.oauth.AuthCodeURL(a.State, opts...)
	return a
}

// openLogin navigates to the authorization URL and waits for the login form.
func openLogin(tb *tab, p *provider, a authRequest) {
	tb.t.Helper()
	tb.do(chromedp.Navigate(a.URL), chromedp.WaitVisible(usernameField), chromedp.WaitVisible(passwordField))
	if loc := tb.location(); !strings.HasPrefix(loc, p.URL+"/login?") {
		tb.t.Fatalf("authorization led to %s, want the login page", loc)
	}
}

// typeCredentials fills the login form as a person (or a password manager)
// would and presses "Sign in".
func typeCredentials(tb *tab, user, password string) {
	tb.t.Helper()
	tb.need(usernameField, "a username field")
	tb.need(passwordField, "a password field")
	tb.need(loginButton, "a Sign in button")
	tb.do(
		chromedp.Clear(usernameField), chromedp.SendKeys(usernameField, user),
		chromedp.Clear(passwordField), chromedp.SendKeys(passwordField, password),
		chromedp.Click(loginButton),
	)
}

// wantAuthzResponse checks the state and iss (RFC 9207) of an authorization
// response and returns its parameters.
func wantAuthzResponse(t *testing.T, p *provider, a authRequest, got callbackRequest, method string) url.Values {
	t.Helper()
	if got.Method != method || got.Path != "/callback" {
		t.Fatalf("client got %s %s, want %s /callback", got.Method, got.Path, method)
	}
	v := got.Params()
	if v.Get("state") != a.State {
		t.Errorf("state = %q, want %q", v.Get("state"), a.State)
	}
	if v.Get("iss") != p.URL {
		t.Errorf("iss = %q, want %q", v.Get("iss"), p.URL)
	}
	return v
}

// redeemCode exchanges code with the client library and verifies the ID token:
// signature, issuer, audience, expiry, nonce and the user's email.
func redeemCode(t *testing.T, r *rp, a authRequest, code, wantEmail string) {
	t.Helper()
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
	var claims struct {
		Nonce string `json:"nonce"`
		Email string `json:"email"`
		AZP   string `json:"azp"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if idt.Nonce != a.Nonce || claims.Email != wantEmail || claims.AZP != r.oauth.ClientID || idt.Subject == "" {
		t.Fatalf("ID token: sub %q nonce %q email %q azp %q; want nonce %q email %q azp %q",
			idt.Subject, idt.Nonce, claims.Email, claims.AZP, a.Nonce, wantEmail, r.oauth.ClientID)
	}
}

// browserSignIn runs a whole browser sign-in for user and returns the code. It
// uses response_mode=form_post so that tests of what comes after a sign-in
// do not depend on the login form's redirect to the client, which
// TestBrowserLoginCompletesCodeFlow covers.
func browserSignIn(tb *tab, p *provider, cb *relyingParty, r *rp, user string) string {
	tb.t.Helper()
	a := newAuthRequest(r, oauth2.SetAuthURLParam("response_mode", "form_post"))
	openLogin(tb, p, a)
	typeCredentials(tb, user, user+"-password")
	return wantAuthzResponse(tb.t, p, a, cb.await(tb), http.MethodPost).Get("code")
}

// saveScreenshot captures the tab, checks that it is a real rendered PNG,
// and writes it to each path.
func saveScreenshot(tb *tab, paths ...string) {
	tb.t.Helper()
	buf := mustRun(tb, chromedp.CaptureScreenshot())
	if !bytes.HasPrefix(buf, []byte("\x89PNG\r\n\x1a\n")) {
		tb.t.Fatalf("screenshot is not a PNG (%d bytes)", len(buf))
	}
	img, err := png.Decode(bytes.NewReader(buf))
	if err != nil {
		tb.t.Fatalf("screenshot: %v", err)
	}
	b := img.Bounds()
	if b.Dx() < 100 || b.Dy() < 100 {
		tb.t.Fatalf("screenshot is %dx%d", b.Dx(), b.Dy())
	}
	// A rendered form has more than one colour.
	colours := map[[4]uint32]bool{}
	for y := b.Min.Y; y < b.Max.Y && len(colours) < 3; y += 3 {
		for x := b.Min.X; x < b.Max.X && len(colours) < 3; x += 3 {
			r, g, bl, a := img.At(x, y).RGBA()
			colours[[4]uint32{r, g, bl, a}] = true
		}
	}
	if len(colours) < 3 {
		tb.t.Fatalf("screenshot is (nearly) blank: %d colours", len(colours))
	}
	for i, p := range paths {
		if err := os.WriteFile(p, buf, 0o644); err != nil {
			if i == 0 {
				tb.t.Fatal(err)
			}
			tb.t.Logf("could not save screenshot: %v", err)
			continue
		}
		tb.t.Logf("login page screenshot: %s (%d bytes, %dx%d)", p, len(buf), b.Dx(), b.Dy())
	}
}

func TestBrowserLoginCompletesCodeFlow(t *testing.T) {
	p, relying := startForBrowser(t)
	chrome := newChrome(t)
	tests := []struct {
		name, clientID, secret, user, email string
		screenshot                          bool
	}{
		{"confidential_client", confidentialID, confidentialSecret, "alice", "alice@example.com", true},
		{"public_client", publicID, "", "bob", "bob@example.com", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := chrome.newTab(t)
			r := browserClient(t, p, relying, tt.clientID, tt.secret)
			a := newAuthRequest(r)
			openLogin(tb, p, a)
			if tt.screenshot {
				saveScreenshot(tb, filepath.Join(t.TempDir(), "login.png"), screenshotPath)
			}
			typeCredentials(tb, tt.user, tt.user+"-password")
			v := wantAuthzResponse(t, p, a, relying.await(tb), http.MethodGet)
			if v.Has("error") {
				t.Fatalf("authorization error %q: %s", v.Get("error"), v.Get("error_description"))
			}
			redeemCode(t, r, a, v.Get("code"), tt.email)
		})
	}
}

func TestBrowserWrongPasswordShowsError(t *testing.T) {
	p, relying := startForBrowser(t)
	tb := newChrome(t)
	r := browserClient(t, p, relying, confidentialID, confidentialSecret)
	a := newAuthRequest(r)
	openLogin(tb, p, a)

	typeCredentials(tb, "alice", "wrong-password")
	tb.do(chromedp.WaitVisible(alertBox))
	if msg := mustRun(tb, chromedp.Text(alertBox)); !strings.Contains(msg, "Wrong username or password") {
		t.Errorf("alert says %q", msg)
	}
	if loc := tb.location(); loc != p.URL+"/login" {
		t.Errorf("after a wrong password the browser is at %s, want the login page", loc)
	}
	tb.do(chromedp.WaitVisible(usernameField), chromedp.WaitVisible(passwordField), chromedp.WaitVisible(loginButton))
	if pw := mustRun(tb, chromedp.Value(passwordField)); pw != "" {
		t.Errorf("the password field came back filled in: %q", pw)
	}
	relying.assertNoCallback(t)

	// The same form, with the right password, goes through.
	typeCredentials(tb, "alice", "alice-password")
	v := wantAuthzResponse(t, p, a, relying.await(tb), http.MethodGet)
	redeemCode(t, r, a, v.Get("code"), "alice@example.com")
}

func TestBrowserCancelReturnsAccessDenied(t *testing.T) {
	p, relying := startForBrowser(t)
	chrome := newChrome(t)
	tests := []struct {
		name, responseMode, wantMethod string
	}{
		{"query", "", http.MethodGet},
		{"form_post", "form_post", http.MethodPost},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := chrome.newTab(t)
			r := browserClient(t, p, relying, confidentialID, confidentialSecret)
			var opts []oauth2.AuthCodeOption
			if tt.responseMode != "" {
				opts = append(opts, oauth2.SetAuthURLParam("response_mode", tt.responseMode))
			}
			a := newAuthRequest(r, opts...)
			openLogin(tb, p, a)
			// Cancel works with the fields left empty.
			tb.need(cancelButton, "a Cancel button")
			tb.do(chromedp.Click(cancelButton))
			v := wantAuthzResponse(t, p, a, relying.await(tb), tt.wantMethod)
			if v.Get("error") != "access_denied" || v.Has("code") {
				t.Fatalf("cancel gave %v, want error=access_denied and no code", v)
			}
		})
	}
}

func TestBrowserFormPostResponseMode(t *testing.T) {
	p, relying := startForBrowser(t)
	tb := newChrome(t)
	r := browserClient(t, p, relying, confidentialID, confidentialSecret)

	// After a sign-in, the login POST answers with the auto-submitting form.
	a := newAuthRequest(r, oauth2.SetAuthURLParam("response_mode", "form_post"))
	openLogin(tb, p, a)
	typeCredentials(tb, "alice", "alice-password")
	got := relying.await(tb)
	v := wantAuthzResponse(t, p, a, got, http.MethodPost)
	if len(got.Query) != 0 {
		t.Errorf("form_post leaked parameters into the URL: %v", got.Query)
	}
	redeemCode(t, r, a, v.Get("code"), "alice@example.com")

	// With a session, /authorize itself answers with the form.
	a = newAuthRequest(r, oauth2.SetAuthURLParam("response_mode", "form_post"))
	tb.do(chromedp.Navigate(a.URL))
	got = relying.await(tb)
	v = wantAuthzResponse(t, p, a, got, http.MethodPost)
	if len(got.Query) != 0 {
		t.Errorf("form_post leaked parameters into the URL: %v", got.Query)
	}
	redeemCode(t, r, a, v.Get("code"), "alice@example.com")
}

func TestBrowserLogoutConfirmation(t *testing.T) {
	p, relying := startForBrowser(t)
	chrome := newChrome(t)
	tests := []struct {
		name     string
		withRP   bool // client_id, post_logout_redirect_uri and state, but no id_token_hint
		decision string
		// wantMessage is the provider's closing message; empty: the
		// browser returns to the client's post-logout URI instead.
		wantMessage  string
		wantSignedIn bool
	}{
		{"sign_out_ends_session", false, "logout", "You are signed out.", false},
		{"stay_keeps_session", false, "stay", "You are still signed in.", true},
		{"sign_out_returns_to_client", true, "logout", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := chrome.newTab(t)
			r := browserClient(t, p, relying, confidentialID, confidentialSecret)
			browserSignIn(tb, p, relying, r, "alice")

			// Without id_token_hint the provider asks first.
			logoutURL := p.URL + "/logout"
			if tt.withRP {
				logoutURL += "?" + url.Values{"client_id": {confidentialID},
					"post_logout_redirect_uri": {relying.LogoutURI}, "state": {"bye-state"}}.Encode()
			}
			button := chromedp.CSS(fmt.Sprintf(`button[name="decision"][value=%q]`, tt.decision))
			tb.do(chromedp.Navigate(logoutURL))
			tb.need(button, "a "+tt.decision+" button")
			tb.do(chromedp.WaitVisible(button))
			if h := mustRun(tb, chromedp.Text(chromedp.CSS("h1"))); h != "Sign out" {
				t.Errorf("confirmation page heading %q", h)
			}
			if text := mustRun(tb, chromedp.Text(chromedp.CSS("main"))); tt.withRP && !strings.Contains(text, "Test Bank") {
				t.Errorf("confirmation page does not name the client:\n%s", text)
			}
			relying.assertNoCallback(t)

			tb.do(chromedp.Click(button))
			if tt.wantMessage == "" {
				got := relying.await(tb)
				if got.Method != http.MethodGet || got.Path != "/bye" || got.Query.Get("state") != "bye-state" {
					t.Fatalf("client got %s %s %v, want GET /bye with state", got.Method, got.Path, got.Query)
				}
			} else {
				tb.do(chromedp.WaitVisible(chromedp.ID("message")))
				if msg := mustRun(tb, chromedp.Text(chromedp.ID("message"))); msg != tt.wantMessage {
					t.Errorf("after %q the page says %q, want %q", tt.decision, msg, tt.wantMessage)
				}
				relying.assertNoCallback(t)
			}

			// prompt=none tells whether the session survived.
			a := newAuthRequest(r, oauth2.SetAuthURLParam("prompt", "none"))
			tb.do(chromedp.Navigate(a.URL))
			v := wantAuthzResponse(t, p, a, relying.await(tb), http.MethodGet)
			if tt.wantSignedIn {
				if v.Has("error") {
					t.Fatalf("after %q prompt=none gave error %q", tt.decision, v.Get("error"))
				}
				redeemCode(t, r, a, v.Get("code"), "alice@example.com")
			} else if v.Get("error") != "login_required" || v.Has("code") {
				t.Fatalf("after %q prompt=none gave %v, want error=login_required", tt.decision, v)
			}
		})
	}
}

func TestBrowserPagesSetSecurityHeaders(t *testing.T) {
	p, relying := startForBrowser(t)
	r := browserClient(t, p, relying, confidentialID, confidentialSecret)

	// Every HTML page forbids framing, both ways browsers understand.
	pages := []struct {
		name, url, wantPath string
	}{
		{"login_page", newAuthRequest(r).URL, "/login"},
		{"error_page", p.URL + "/authorize?client_id=nobody&response_type=code&scope=openid", "/authorize"},
		{"logout_page", p.URL + "/logout", "/logout"},
	}
	for _, pg := range pages {
		t.Run("http/"+pg.name, func(t *testing.T) {
			res, err := (&http.Client{Timeout: 10 * time.Second}).Get(pg.url)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.Request.URL.Path != pg.wantPath {
				t.Fatalf("ended at %s, want %s", res.Request.URL, pg.wantPath)
			}
			checkFramingHeaders(t, res.Header.Get)
		})
	}

	t.Run("browser", func(t *testing.T) {
		tb := newChrome(t)
		a := newAuthRequest(r)
		resp := mustRun(tb, chromedp.NavigateResponse(a.URL))
		if !strings.HasPrefix(resp.URL, p.URL+"/login?") {
			t.Fatalf("document response is for %s, want the login page", resp.URL)
		}
		checkFramingHeaders(t, func(name string) string { return cdpHeader(resp.Headers, name) })

		browserSignIn(tb, p, relying, r, "alice")

		// The session cookie is out of reach of scripts and of cross-site
		// subrequests; so is the CSRF cookie.
		cookies := mustRun(tb, chromedp.Action[[]*network.Cookie](func(ctx context.Context, tg *chromedp.Target) ([]*network.Cookie, error) {
			res, err := cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{p.URL + "/"}})
			return res.Cookies, err
		}))
		want := map[string]bool{"stepup_session": false, "stepup_session_csrf": false}
		for _, c := range cookies {
			if _, ok := want[c.Name]; !ok {
				continue
			}
			want[c.Name] = true
			if !c.HTTPOnly || c.SameSite != network.CookieSameSiteLax || c.Path != "/" {
				t.Errorf("cookie %s: HttpOnly=%v SameSite=%q Path=%q; want HttpOnly, SameSite=Lax, Path=/",
					c.Name, c.HTTPOnly, c.SameSite, c.Path)
			}
		}
		for name, seen := range want {
			if !seen {
				t.Errorf("no %s cookie after sign-in; cookies: %v", name, cookieNames(cookies))
			}
		}
		// And scripts on the page cannot read them.
		tb.do(chromedp.Navigate(p.URL + "/healthz"))
		if js := mustRun(tb, chromedp.Evaluate[string](`document.cookie`)); strings.Contains(js, "stepup_") {
			t.Errorf("document.cookie exposes %q", js)
		}
	})
}

// checkFramingHeaders checks the anti-framing headers of an HTML page.
func checkFramingHeaders(t *testing.T, get func(string) string) {
	t.Helper()
	csp := get("Content-Security-Policy")
	if !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("Content-Security-Policy = %q, want frame-ancestors 'none'", csp)
	}
	if xfo := get("X-Frame-Options"); !strings.EqualFold(xfo, "DENY") {
		t.Errorf("X-Frame-Options = %q, want DENY", xfo)
	}
}

// cdpHeader looks name up case-insensitively in headers reported by the browser.
func cdpHeader(h network.Headers, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			s, _ := v.(string)
			return s
		}
	}
	return ""
}

// cookieNames lists the names of cookies, for failure messages.
func cookieNames(cs []*network.Cookie) []string {
	var names []string
	for _, c := range cs {
		names = append(names, c.Name)
	}
	return names
}
