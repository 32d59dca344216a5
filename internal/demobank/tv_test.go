package demobank

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// fastPolls makes the TV page poll every 20 ms instead of the provider's
// interval; the provider answers slow_down until the user decides, which
// the client absorbs.
func fastPolls(e *env) {
	e.bank.cfg.PollSleep = func(ctx context.Context, _ time.Duration) error {
		t := time.NewTimer(20 * time.Millisecond)
		defer t.Stop()
		select {
		case <-t.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

var (
	tvBindingRE = regexp.MustCompile(`<span id="binding-message">(TV-\d{4})</span>`)
	appIDRE     = regexp.MustCompile(`<input type="hidden" name="id" value="([^"]*)">`)
	appCSRFRE   = regexp.MustCompile(`<input type="hidden" name="csrf" value="([^"]*)">`)
)

// decideInApp signs u in to the Stepup app on their phone and answers
// the request showing binding.
func (u *user) decideInApp(binding, decision string) page {
	u.t.Helper()
	p := u.get(u.e.issuer + "/app/login")
	if p.URL.Path != "/app" {
		p = u.submit(p, u.e.issuer+"/login", url.Values{"username": {u.name}, "password": {u.pw}, "method": {"password"}})
	}
	i := strings.Index(p.Body, binding)
	if p.URL.Path != "/app" || i < 0 {
		u.t.Fatalf("the app (%s) does not show %s:\n%s", p.URL, binding, p.Body)
	}
	id, csrf := appIDRE.FindStringSubmatch(p.Body[i:]), appCSRFRE.FindStringSubmatch(p.Body[i:])
	if id == nil || csrf == nil {
		u.t.Fatalf("no decision form:\n%s", p.Body[i:])
	}
	form := url.Values{"id": {id[1]}, "csrf": {csrf[1]}, "decision": {decision}}
	if decision == "approve" {
		form.Set("password", u.pw)
	}
	return u.post(u.e.issuer+"/app/decide", form)
}

// tvWait reloads the TV page, as its refresh does, until it leaves the
// pending state.
func (u *user) tvWait() page {
	u.t.Helper()
	for range 250 {
		p := u.get(u.e.url + "/tv")
		if !strings.Contains(p.Body, `http-equiv="refresh"`) {
			return p
		}
		time.Sleep(20 * time.Millisecond)
	}
	u.t.Fatal("the TV sign-in stays pending")
	return page{}
}

// tvStart opens the TV page and asks to sign in as name; it returns the
// pending page and its binding message.
func (u *user) tvStart(name string) (page, string) {
	u.t.Helper()
	p := u.get(u.e.url + "/tv")
	if !strings.Contains(p.Body, `name="username"`) {
		u.t.Fatalf("no sign-in form on the TV page:\n%s", p.Body)
	}
	p = u.submit(p, u.e.url+"/tv", url.Values{"username": {name}})
	m := tvBindingRE.FindStringSubmatch(p.Body)
	if m == nil || !strings.Contains(p.Body, "in your Stepup app") || !strings.Contains(p.Body, `<meta http-equiv="refresh" content="3">`) {
		u.t.Fatalf("the TV page does not show a binding message (%d):\n%s", p.Status, p.Body)
	}
	return p, m[1]
}

func TestTVSignInApprovedInTheApp(t *testing.T) {
	e := start(t)
	fastPolls(e)
	tv := e.user(t, "alice", "alice-password")    // the TV's browser
	phone := e.user(t, "alice", "alice-password") // alice's phone
	_, binding := tv.tvStart("alice")
	if p := phone.decideInApp(binding, "approve"); !strings.Contains(p.Body, "Approved.") {
		t.Fatalf("approval:\n%s", p.Body)
	}
	p := tv.tvWait()
	for _, want := range []string{`Signed in as <strong id="tv-name">Alice Example</strong>`, `<dd id="amr"><code>pwd</code></dd>`, `<dd id="acr"><code>urn:`} {
		if !strings.Contains(p.Body, want) {
			t.Fatalf("the TV page lacks %q:\n%s", want, p.Body)
		}
	}
	if strings.Contains(p.Body, `<dd id="auth-time"></dd>`) {
		t.Fatalf("no auth_time:\n%s", p.Body)
	}
	// Signing out returns to the form.
	p = tv.submit(p, e.url+"/tv/reset", nil)
	if !strings.Contains(p.Body, `name="username"`) {
		t.Fatalf("after sign-out:\n%s", p.Body)
	}
}

func TestTVSignInDenied(t *testing.T) {
	e := start(t)
	fastPolls(e)
	tv := e.user(t, "alice", "alice-password")
	phone := e.user(t, "alice", "alice-password")
	_, binding := tv.tvStart("alice")
	if p := phone.decideInApp(binding, "deny"); !strings.Contains(p.Body, "Denied.") {
		t.Fatalf("deny:\n%s", p.Body)
	}
	p := tv.tvWait()
	if !strings.Contains(p.Body, "The sign-in was denied.") || strings.Contains(p.Body, "Signed in as") || !strings.Contains(p.Body, `name="username"`) {
		t.Fatalf("the TV page after a denial:\n%s", p.Body)
	}
}

func TestTVSignInUnknownUser(t *testing.T) {
	e := start(t)
	tv := e.user(t, "nobody", "x")
	p := tv.get(e.url + "/tv")
	p = tv.submit(p, e.url+"/tv", url.Values{"username": {"nobody"}})
	if p.Status != 400 || !strings.Contains(p.Body, "There is no user nobody.") {
		t.Fatalf("%d\n%s", p.Status, p.Body)
	}
	// Without the page's CSRF token nothing starts.
	p = tv.post(e.url+"/tv", url.Values{"username": {"alice"}})
	if p.Status != 403 {
		t.Fatalf("without csrf: %d\n%s", p.Status, p.Body)
	}
}
