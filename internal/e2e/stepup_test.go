package e2e

import (
	"html"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/stepup-oidc/stepup/internal/app"
	"github.com/stepup-oidc/stepup/internal/authn/passkey/softauthn"
	"github.com/stepup-oidc/stepup/internal/store/sqlite"
)

// stepper drives the HTTP login pages in-process with a software passkey.
type stepper struct {
	p       *inProcess
	auth    *softauthn.Authenticator
	cookies map[string]*http.Cookie
}

var (
	optionsRE = regexp.MustCompile(`(?s)<script type="application/json" id="webauthn-options">(.*?)</script>`)
	stateRE   = regexp.MustCompile(`name="state" value="([^"]*)"`)
	txRE      = regexp.MustCompile(`name="tx" value="([^"]*)"`)
	csrfRE    = regexp.MustCompile(`name="csrf" value="([^"]*)"`)
)

func newStepper(tb testing.TB) *stepper {
	tb.Helper()
	cfg := testConfig()
	cfg.Issuer = "http://localhost:8080"
	cfg.Defaults()
	st, err := sqlite.Open(tb.Context(), filepath.Join(tb.TempDir(), "stepup.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	a, err := app.New(tb.Context(), cfg, st, nil, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return &stepper{p: &inProcess{h: a.Handler(), issuer: cfg.Issuer},
		auth:    softauthn.New("localhost", "http://localhost:8080", softauthn.Options{UserVerified: true, BackupEligible: true, BackupState: true}),
		cookies: map[string]*http.Cookie{}}
}

func (s *stepper) jar() []*http.Cookie {
	var out []*http.Cookie
	for _, c := range s.cookies {
		out = append(out, c)
	}
	return out
}

func (s *stepper) do(tb testing.TB, method, target string, form url.Values) (int, string, string) {
	tb.Helper()
	w := s.p.do(method, target, form, s.jar(), false)
	for _, c := range w.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(s.cookies, c.Name)
		} else {
			s.cookies[c.Name] = c
		}
	}
	return w.Code, w.Header().Get("Location"), w.Body.String()
}

func field(re *regexp.Regexp, body string) string {
	m := re.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// follow GETs redirects inside the provider and returns the final page, or
// the client's redirect location.
func (s *stepper) follow(tb testing.TB, code int, loc, body string) step {
	tb.Helper()
	for code == http.StatusSeeOther && strings.HasPrefix(loc, "/") {
		code, loc, body = s.do(tb, "GET", loc, nil)
	}
	if code == http.StatusSeeOther {
		return step{loc: loc}
	}
	return step{body: body}
}

// step is where a request ended: a redirect to the client, or a page.
type step struct{ loc, body string }

// choose posts a method choice (and fields) on the page.
func (s *stepper) choose(tb testing.TB, body string, fields url.Values) step {
	tb.Helper()
	f := url.Values{"tx": {field(txRE, body)}, "csrf": {field(csrfRE, body)}}
	for k, v := range fields {
		f[k] = v
	}
	code, loc, body := s.do(tb, "POST", "/login", f)
	return s.follow(tb, code, loc, body)
}

// passkey runs a WebAuthn ceremony page (create or get) with the software
// authenticator and posts the result.
func (s *stepper) passkey(tb testing.TB, body, method string, create bool) step {
	tb.Helper()
	opts := []byte(html.UnescapeString(optionsRE.FindStringSubmatch(body)[1]))
	var resp []byte
	var err error
	if create {
		resp, err = s.auth.Create(opts)
	} else {
		resp, err = s.auth.Get(opts)
	}
	if err != nil {
		tb.Fatalf("authenticator: %v", err)
	}
	return s.choose(tb, body, url.Values{"method": {method}, "state": {field(stateRE, body)}, "response": {string(resp)}})
}

func (s *stepper) authorize(tb testing.TB, verifier string, extra url.Values) step {
	tb.Helper()
	q := url.Values{"client_id": {confidentialID}, "response_type": {"code"}, "scope": {"openid"},
		"redirect_uri": {redirectURI}, "state": {"s"}, "nonce": {"n"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"}}
	for k, v := range extra {
		q[k] = v
	}
	code, loc, body := s.do(tb, "GET", "/authorize?"+q.Encode(), nil)
	return s.follow(tb, code, loc, body)
}

func (s *stepper) password(tb testing.TB, body string) step {
	tb.Helper()
	return s.choose(tb, body, url.Values{"method": {"password"}, "username": {"alice"}, "password": {"alice-password"}})
}

func mustLoc(tb testing.TB, st step) *url.URL {
	tb.Helper()
	if st.loc == "" {
		tb.Fatalf("expected a redirect to the client, got page:\n%s", st.body)
	}
	u, _ := url.Parse(st.loc)
	return u
}

// TestStepUpWithSoftwarePasskey runs the step-up at the HTTP level: a
// password session, enrolment of a passkey during a phr step-up, then a
// later step-up that asks only for the passkey.
func TestStepUpWithSoftwarePasskey(t *testing.T) {
	s := newStepper(t)
	v := oauth2.GenerateVerifier()
	body := s.authorize(t, v, nil).body
	if u := mustLoc(t, s.password(t, body)); u.Query().Get("code") == "" {
		t.Fatalf("password login: %v", u)
	}
	// phr: alice has no passkey; the okta preset lets her enrol one.
	body = s.authorize(t, v, url.Values{"acr_values": {"phr"}}).body
	if !strings.Contains(body, `value="enroll:webauthn"`) || strings.Contains(body, `value="password"`) {
		t.Fatalf("step-up page should offer only passkey enrolment:\n%s", body)
	}
	body = s.choose(t, body, url.Values{"method": {"enroll:webauthn"}}).body
	body = s.passkey(t, body, "enroll:webauthn", true).body
	if !strings.Contains(body, `value="webauthn"`) {
		t.Fatalf("after enrolment the page should ask for the passkey:\n%s", body)
	}
	body = s.choose(t, body, url.Values{"method": {"webauthn"}}).body
	u := mustLoc(t, s.passkey(t, body, "webauthn", false))
	c := s.p.redeemClaims(t, u, v)
	if c.ACR != "phr" || !strings.Contains(strings.Join(c.AMR, " "), "mfa") {
		t.Fatalf("after step-up: acr %q amr %v", c.ACR, c.AMR)
	}
	// A later step-up with max_age=0 asks for every method phr needs: the passkey only.
	body = s.authorize(t, v, url.Values{"acr_values": {"phr"}, "max_age": {"0"}}).body
	if strings.Contains(body, `autocomplete="current-password"`) || !strings.Contains(body, `value="webauthn"`) {
		t.Fatalf("second step-up should ask only for the passkey:\n%s", body)
	}
	body = s.choose(t, body, url.Values{"method": {"webauthn"}}).body
	if u := mustLoc(t, s.passkey(t, body, "webauthn", false)); s.p.redeemClaims(t, u, v).ACR != "phr" {
		t.Fatal("second step-up did not reach phr")
	}
}

// BenchmarkStepUpToPasskey is a step-up round trip, server side: a session
// with a password, then an authorization for phr answered with a passkey
// assertion, the code and the token. Each iteration starts a new password
// session (test argon2 cost, m=64 KiB), so subtract BenchmarkCodeFlowWithSession
// for the step-up alone.
func BenchmarkStepUpToPasskey(b *testing.B) {
	s := newStepper(b)
	v := oauth2.GenerateVerifier()
	body := s.authorize(b, v, nil).body
	mustLoc(b, s.password(b, body))
	body = s.authorize(b, v, url.Values{"acr_values": {"phr"}}).body
	body = s.choose(b, body, url.Values{"method": {"enroll:webauthn"}}).body
	s.passkey(b, body, "enroll:webauthn", true)
	b.ReportAllocs()
	for b.Loop() {
		s.cookies = map[string]*http.Cookie{}
		body := s.authorize(b, v, nil).body
		mustLoc(b, s.password(b, body))
		body = s.authorize(b, v, url.Values{"acr_values": {"phr"}}).body
		body = s.choose(b, body, url.Values{"method": {"webauthn"}}).body
		u := mustLoc(b, s.passkey(b, body, "webauthn", false))
		s.p.redeem(b, u.String(), v)
	}
}

// TestPasskeyAssertionCannotBeReplayed posts the same ceremony state and
// assertion twice, from an authenticator without a signature counter.
func TestPasskeyAssertionCannotBeReplayed(t *testing.T) {
	s := newStepper(t)
	s.auth = softauthn.New("localhost", "http://localhost:8080", softauthn.Options{UserVerified: true, BackupEligible: true, BackupState: true, NoCounter: true})
	v := oauth2.GenerateVerifier()
	mustLoc(t, s.password(t, s.authorize(t, v, nil).body))
	body := s.authorize(t, v, url.Values{"acr_values": {"phr"}}).body
	body = s.choose(t, body, url.Values{"method": {"enroll:webauthn"}}).body
	body = s.passkey(t, body, "enroll:webauthn", true).body
	body = s.choose(t, body, url.Values{"method": {"webauthn"}}).body
	resp, err := s.auth.Get([]byte(html.UnescapeString(optionsRE.FindStringSubmatch(body)[1])))
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"method": {"webauthn"}, "state": {field(stateRE, body)}, "response": {string(resp)}}
	mustLoc(t, s.choose(t, body, form))
	// Replay it from a browser without the session (the same CSRF cookie,
	// as an attacker holding the captured request would present).
	delete(s.cookies, "stepup_session")
	if again := s.choose(t, body, form); again.loc != "" {
		t.Fatalf("a replayed assertion was accepted: %s", again.loc)
	}
}

// TestApprovalWithPasskeyCommitsToTheStatement approves a payment with a
// passkey: the assertion is made over a challenge bound to the statement's
// digest, and an assertion made for another statement is refused.
func TestApprovalWithPasskeyCommitsToTheStatement(t *testing.T) {
	s := newStepper(t)
	v := oauth2.GenerateVerifier()
	mustLoc(t, s.password(t, s.authorize(t, v, nil).body))
	body := s.authorize(t, v, url.Values{"acr_values": {"phr"}}).body
	body = s.choose(t, body, url.Values{"method": {"enroll:webauthn"}}).body
	body = s.passkey(t, body, "enroll:webauthn", true).body
	body = s.choose(t, body, url.Values{"method": {"webauthn"}}).body
	mustLoc(t, s.passkey(t, body, "webauthn", false))

	approvalPage := func(details string) string {
		t.Helper()
		page := s.authorize(t, v, url.Values{"authorization_details": {details}}).body
		if !strings.Contains(page, `value="approve"`) || !strings.Contains(page, "Approve with passkey") {
			t.Fatalf("no passkey approval page:\n%s", page)
		}
		return s.choose(t, page, url.Values{"decision": {"approve"}}).body
	}
	other := approvalPage(`[{"type":"text.v1","text":"something else"}]`)
	otherResp, err := s.auth.Get([]byte(html.UnescapeString(optionsRE.FindStringSubmatch(other)[1])))
	if err != nil {
		t.Fatal(err)
	}
	body = approvalPage(payment)
	// The assertion for the other statement does not approve this one.
	if st := s.choose(t, body, url.Values{"method": {"approve"}, "state": {field(stateRE, other)}, "response": {string(otherResp)}}); st.loc != "" {
		t.Fatal("an assertion bound to another statement approved the payment")
	}
	body = approvalPage(payment)
	u := mustLoc(t, s.passkey(t, body, "approve", false))
	if c := s.p.redeemClaims(t, u, v); c.ACR == "" {
		t.Fatal("no acr after approval")
	}
}
