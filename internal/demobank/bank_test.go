package demobank

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/stepup-oidc/stepup/internal/app"
	"github.com/stepup-oidc/stepup/internal/config"
	"github.com/stepup-oidc/stepup/internal/store/sqlite"
)

// env is a real Stepup provider and the demo bank, both on loopback ports.
type env struct {
	issuer string
	bank   *Bank
	url    string // the bank's base URL
}

func start(t *testing.T) *env {
	t.Helper()
	opLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	bankLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer, bankURL := "http://"+opLn.Addr().String(), "http://"+bankLn.Addr().String()

	cfg := config.Default()
	cfg.Issuer, cfg.Listen = issuer, opLn.Addr().String()
	cfg.PasswordHash = config.PasswordHash{MemoryKiB: 64, Iterations: 1, Parallelism: 1}
	cfg.Clients = []config.Client{{ID: "demo-bank", Name: "Demo Bank", Secret: "demo-bank-secret",
		RedirectURIs: []string{bankURL + "/callback"}, GrantTypes: []string{"authorization_code", "refresh_token", "urn:openid:params:grant-type:ciba"},
		TokenEndpointAuthMethod: "client_secret_basic"}}
	cfg.Users = []config.User{
		{Username: "alice", Password: "alice-password", Email: "alice@example.com", Name: "Alice Example"},
		{Username: "bob", Password: "bob-password", Email: "bob@example.com", Name: "Bob Example"},
	}
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "stepup.db"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(t.Context(), cfg, st, nil, nil)
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, opLn) }()

	bank, err := New(Config{Issuer: issuer, ClientID: "demo-bank", ClientSecret: "demo-bank-secret", BaseURL: bankURL})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: bank.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(bankLn)
	t.Cleanup(func() {
		srv.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		st.Close()
	})
	return &env{issuer: issuer, bank: bank, url: bankURL}
}

// user is a person with a browser, who enrols and uses an authenticator
// app when the provider asks.
type user struct {
	t          *testing.T
	e          *env
	hc         *http.Client
	name, pw   string
	totpSecret string
	lastCode   string
}

func (e *env) user(t *testing.T, name, pw string) *user {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &user{t: t, e: e, hc: &http.Client{Jar: jar, Timeout: 10 * time.Second}, name: name, pw: pw}
}

type page struct {
	URL    *url.URL
	Status int
	Body   string
}

func (u *user) do(req *http.Request) page {
	u.t.Helper()
	res, err := u.hc.Do(req)
	if err != nil {
		u.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return page{URL: res.Request.URL, Status: res.StatusCode, Body: string(body)}
}

func (u *user) get(s string) page {
	u.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s, nil)
	return u.do(req)
}

func (u *user) post(s string, form url.Values) page {
	u.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return u.do(req)
}

var (
	hiddenRE = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)
	secretRE = regexp.MustCompile(`<code id="totp-secret">([A-Z2-7]+)</code>`)
	methodRE = regexp.MustCompile(`<button type="submit" name="method" value="([^"]+)"`)
)

// submit posts the page's hidden fields plus fields, as its form would.
func (u *user) submit(p page, action string, fields url.Values) page {
	u.t.Helper()
	form := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(p.Body, -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	for k, v := range fields {
		form[k] = v
	}
	return u.post(action, form)
}

func (u *user) code() string {
	u.t.Helper()
	for range 70 { // a code is accepted once: wait for the next step
		c, err := totp.GenerateCode(u.totpSecret, time.Now())
		if err != nil {
			u.t.Fatal(err)
		}
		if c != u.lastCode {
			u.lastCode = c
			return c
		}
		time.Sleep(500 * time.Millisecond)
	}
	u.t.Fatal("no fresh TOTP code")
	return ""
}

// atProvider answers the provider's pages (password, TOTP enrolment and
// codes, approval with approve) until the browser is back at the bank.
// seen, if set, is called with each provider page first.
func (u *user) atProvider(p page, decision string, seen func(page)) page {
	u.t.Helper()
	login := u.e.issuer + "/login"
	for range 12 {
		if !strings.HasPrefix(p.URL.String(), u.e.issuer) {
			return p
		}
		if seen != nil {
			seen(p)
		}
		body := p.Body
		methods := methodRE.FindAllStringSubmatch(body, -1)
		has := func(v string) bool {
			for _, m := range methods {
				if m[1] == v {
					return true
				}
			}
			return false
		}
		switch {
		case strings.Contains(body, `name="decision" value="approve"`):
			p = u.submit(p, login, url.Values{"decision": {decision}})
		case strings.Contains(body, `id="recovery-codes"`):
			p = u.submit(p, login, url.Values{"method": {"continue"}})
		case secretRE.MatchString(body):
			u.totpSecret = secretRE.FindStringSubmatch(body)[1]
			p = u.submit(p, login, url.Values{"method": {methods[0][1]}, "code": {u.code()}})
		case strings.Contains(body, `autocomplete="one-time-code"`):
			p = u.submit(p, login, url.Values{"method": {methods[0][1]}, "code": {u.code()}})
		case strings.Contains(body, `autocomplete="current-password"`):
			p = u.submit(p, login, url.Values{"username": {u.name}, "password": {u.pw}, "method": {"password"}})
		case has("totp") && u.totpSecret != "":
			p = u.submit(p, login, url.Values{"method": {"totp"}})
		case has("enroll:totp"):
			p = u.submit(p, login, url.Values{"method": {"enroll:totp"}})
		default:
			u.t.Fatalf("stuck on provider page %s (status %d):\n%s", p.URL, p.Status, body)
		}
	}
	u.t.Fatal("too many provider pages")
	return p
}

// transfer submits the bank's transfer form.
func (u *user) transfer(home page, from, amount, payee string) page {
	u.t.Helper()
	return u.submit(home, u.e.url+"/transfer", url.Values{"from": {from}, "amount": {amount}, "payee": {payee}})
}

// session returns the bank's server-side session of u's browser.
func (u *user) session() *session {
	base, _ := url.Parse(u.e.url)
	for _, c := range u.hc.Jar.Cookies(base) {
		if c.Name == sessionCookie {
			u.e.bank.mu.Lock()
			defer u.e.bank.mu.Unlock()
			return u.e.bank.sessions[c.Value]
		}
	}
	u.t.Fatal("no bank session cookie")
	return nil
}

func (u *user) tokens() (access string, details json.RawMessage) {
	s := u.session()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokens.AccessToken, s.tokens.AuthorizationDetails
}

// callAPI posts a transfer to the bank's API with a bearer token.
func callAPI(t *testing.T, e *env, token, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.url+"/api/transfers", bytes.NewReader([]byte(body)))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res
}

func flashOf(p page) string {
	m := regexp.MustCompile(`id="notice" role="status">([^<]*)<`).FindStringSubmatch(p.Body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

func mustContain(t *testing.T, p page, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(p.Body, w) {
			t.Fatalf("page %s lacks %q:\n%s", p.URL, w, p.Body)
		}
	}
}

const acme5000 = `{"from":"brukskonto","instructedAmount":{"amount":"5000.00","currency":"NOK"},"creditorName":"Acme AS"}`

func TestDemoBank(t *testing.T) {
	e := start(t)

	t.Run("api_needs_a_token", func(t *testing.T) {
		res := callAPI(t, e, "", acme5000)
		if res.StatusCode != 401 || res.Header.Get("WWW-Authenticate") != `Bearer realm="`+e.issuer+`"` {
			t.Fatalf("no token: %d %q", res.StatusCode, res.Header.Get("WWW-Authenticate"))
		}
		if res := callAPI(t, e, "not-a-token", acme5000); res.StatusCode != 401 ||
			!strings.Contains(res.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Fatalf("bad token: %d %q", res.StatusCode, res.Header.Get("WWW-Authenticate"))
		}
	})

	alice := e.user(t, "alice", "alice-password")
	landing := alice.get(e.url + "/")
	mustContain(t, landing, `href="/login"`, "Log in with Stepup")
	home := alice.atProvider(alice.get(e.url+"/login"), "approve", nil)
	mustContain(t, home, `id="customer">Alice Example<`, `id="balance-brukskonto">NOK 25 000,00<`,
		`id="balance-sparekonto">NOK 100 000,00<`, `id="acr"><code>urn:okta:loa:1fa:pwd</code>`, `id="amr"><code>pwd</code>`,
		`<span class="muted" id="details">none approved</span>`, `<form method="post" action="/transfer">`)

	t.Run("small_transfer_goes_through", func(t *testing.T) {
		p := alice.transfer(home, "brukskonto", "500", "Kiosken AS")
		if p.URL.String() != e.url+"/" || flashOf(p) != "Sent NOK 500,00 to Kiosken AS." {
			t.Fatalf("small transfer: %s notice %q", p.URL, flashOf(p))
		}
		mustContain(t, p, `id="balance-brukskonto">NOK 24 500,00<`)
	})

	t.Run("api_challenges_a_password_token", func(t *testing.T) {
		access, _ := alice.tokens()
		res := callAPI(t, e, access, acme5000)
		want := `Bearer error="insufficient_user_authentication", error_description="A different authentication level is required", acr_values="urn:okta:loa:2fa:any", max_age="300"`
		if res.StatusCode != 401 || res.Header.Get("WWW-Authenticate") != want {
			t.Fatalf("large transfer with a password token: %d\n got %q\nwant %q", res.StatusCode, res.Header.Get("WWW-Authenticate"), want)
		}
		// A small one needs only the login.
		small := `{"from":"brukskonto","instructedAmount":{"amount":"1000.00","currency":"NOK"},"creditorName":"Kiosken AS"}`
		if res := callAPI(t, e, access, small); res.StatusCode != 201 {
			t.Fatalf("NOK 1 000 via the API: %d", res.StatusCode)
		}
	})

	t.Run("large_transfer_steps_up_and_is_approved", func(t *testing.T) {
		p := alice.transfer(home, "brukskonto", "5 000", "Acme AS")
		if !strings.HasPrefix(p.URL.String(), e.issuer+"/") {
			t.Fatalf("a large transfer did not go to the provider: %s %q", p.URL, flashOf(p))
		}
		var approval bool
		p = alice.atProvider(p, "approve", func(pg page) {
			if strings.Contains(pg.Body, `value="approve"`) {
				approval = true
				mustContain(t, pg, `id="amount">5000.00 NOK<`, `id="payee">Acme AS<`, "Demo Bank")
			}
		})
		if !approval || alice.totpSecret == "" {
			t.Fatalf("approval page shown %v, TOTP enrolled %v", approval, alice.totpSecret != "")
		}
		if flashOf(p) != "Sent NOK 5 000,00 to Acme AS." {
			t.Fatalf("after the approval: %s notice %q", p.URL, flashOf(p))
		}
		mustContain(t, p, `id="balance-brukskonto">NOK 18 500,00<`, `id="acr"><code>urn:okta:loa:2fa:any</code>`,
			`&#34;creditorName&#34;: &#34;Acme AS&#34;`, `&#34;amount&#34;: &#34;5000.00&#34;`, `id="digest"`)
		_, details := alice.tokens()
		if !detailsMatch(details, transfer{From: "brukskonto", Amount: 5000_00, Payee: "Acme AS"}) {
			t.Fatalf("granted details %s", details)
		}
		if !strings.Contains(string(details), `"debtorAccount":{"name":"Brukskonto"}`) {
			t.Errorf("granted details %s lack the debtor account", details)
		}
		if detailsMatch(details, transfer{From: "sparekonto", Amount: 5000_00, Payee: "Acme AS"}) {
			t.Errorf("an approval from Brukskonto matches a transfer from Sparekonto")
		}
		home = p
	})

	t.Run("tampered_amount_is_refused_by_the_api", func(t *testing.T) {
		access, _ := alice.tokens()
		tampered := strings.Replace(acme5000, "5000.00", "50000.00", 1)
		if res := callAPI(t, e, access, tampered); res.StatusCode != 403 {
			t.Fatalf("tampered amount: %d", res.StatusCode)
		}
		otherPayee := strings.Replace(acme5000, "Acme AS", "Mallory Ltd", 1)
		if res := callAPI(t, e, access, otherPayee); res.StatusCode != 403 {
			t.Fatalf("other payee: %d", res.StatusCode)
		}
		otherAccount := strings.Replace(acme5000, "brukskonto", "sparekonto", 1)
		if res := callAPI(t, e, access, otherAccount); res.StatusCode != 403 {
			t.Fatalf("other debtor account: %d", res.StatusCode)
		}
		// The approval was spent by the transfer it approved.
		if res := callAPI(t, e, access, acme5000); res.StatusCode != 403 {
			t.Fatalf("replayed approval: %d", res.StatusCode)
		}
	})

	t.Run("tampered_amount_after_approval_is_refused_by_the_front", func(t *testing.T) {
		p := alice.transfer(home, "brukskonto", "2000", "Acme AS")
		if !strings.HasPrefix(p.URL.String(), e.issuer+"/") {
			t.Fatalf("a second large transfer did not go to the provider: %s %q", p.URL, flashOf(p))
		}
		// While the user approves NOK 2 000, the pending transfer is
		// changed to NOK 20 000.
		s := alice.session()
		s.mu.Lock()
		s.pending.Amount = 20000_00
		s.mu.Unlock()
		p = alice.atProvider(p, "approve", func(pg page) {
			if strings.Contains(pg.Body, `value="approve"`) {
				mustContain(t, pg, `id="amount">2000.00 NOK<`)
			}
		})
		if !strings.HasPrefix(flashOf(p), "Refused: what you approved does not match the transfer") {
			t.Fatalf("tampered transfer: notice %q", flashOf(p))
		}
		mustContain(t, p, `id="balance-brukskonto">NOK 18 500,00<`)
	})

	t.Run("unknown_account_is_refused_before_the_provider", func(t *testing.T) {
		p := alice.transfer(home, "nosuch", "5000", "Acme AS")
		if p.URL.String() != e.url+"/" || flashOf(p) != "Choose one of your accounts to pay from. Nothing was sent." {
			t.Fatalf("large transfer from an unknown account: %s notice %q", p.URL, flashOf(p))
		}
		if s := alice.session(); s.pending != nil {
			t.Fatalf("a transfer from an unknown account is pending: %+v", s.pending)
		}
	})

	t.Run("second_transfer_cancels_the_first_confirmation", func(t *testing.T) {
		first := alice.transfer(home, "brukskonto", "2500", "Acme AS")
		second := alice.transfer(home, "brukskonto", "3000", "Bob AS")
		if !strings.HasPrefix(first.URL.String(), e.issuer+"/") || !strings.HasPrefix(second.URL.String(), e.issuer+"/") {
			t.Fatalf("the large transfers did not go to the provider: %s %q %s", first.URL, flashOf(first), second.URL)
		}
		p := alice.atProvider(first, "approve", nil)
		if flashOf(p) != "You started another transfer; this confirmation was cancelled. Nothing was sent." {
			t.Fatalf("confirming the replaced transfer: notice %q", flashOf(p))
		}
		mustContain(t, p, `id="balance-brukskonto">NOK 18 500,00<`)
		// The second transfer's own confirmation still completes.
		p = alice.atProvider(second, "approve", nil)
		if flashOf(p) != "Sent NOK 3 000,00 to Bob AS." {
			t.Fatalf("confirming the second transfer: notice %q", flashOf(p))
		}
		mustContain(t, p, `id="balance-brukskonto">NOK 15 500,00<`)
	})

	t.Run("denied_approval_sends_nothing", func(t *testing.T) {
		p := alice.atProvider(alice.transfer(home, "sparekonto", "3000", "Acme AS"), "deny", nil)
		if flashOf(p) != "You declined the payment at the provider. Nothing was sent." {
			t.Fatalf("denied: notice %q", flashOf(p))
		}
		mustContain(t, p, `id="balance-sparekonto">NOK 100 000,00<`)
	})
}
