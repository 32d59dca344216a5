package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"github.com/pquerna/otp/totp"
	"golang.org/x/oauth2"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stepup-oidc/stepup/internal/app"
	"github.com/stepup-oidc/stepup/internal/config"
	"github.com/stepup-oidc/stepup/internal/store"
	"github.com/stepup-oidc/stepup/internal/store/sqlite"
)

// clock is the real clock plus an offset that tests can advance.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// provider is a running Stepup on a loopback port.
type provider struct {
	URL   string
	App   *app.App
	Clock *clock
}

const (
	confidentialID     = "bank"
	confidentialSecret = "bank-secret"
	publicID           = "spa"
	redirectURI        = "http://127.0.0.1:9999/callback"
	logoutURI          = "http://127.0.0.1:9999/bye"
)

// testConfig is a provider configuration with two clients and two users,
// and cheap password hashing.
func testConfig() *config.Config {
	c := config.Default()
	c.PasswordHash = config.PasswordHash{MemoryKiB: 64, Iterations: 1, Parallelism: 1}
	c.Clients = []config.Client{{
		ID: confidentialID, Name: "Test Bank", Secret: confidentialSecret,
		RedirectURIs: []string{redirectURI}, PostLogoutRedirectURIs: []string{logoutURI},
		GrantTypes:              []string{"authorization_code", "refresh_token", "client_credentials"},
		TokenEndpointAuthMethod: "client_secret_basic",
	}, {
		ID: publicID, Name: "Test SPA", RedirectURIs: []string{redirectURI},
		GrantTypes: []string{"authorization_code", "refresh_token"}, TokenEndpointAuthMethod: "none",
	}}
	c.Users = []config.User{
		{Username: "alice", Password: "alice-password", Email: "alice@example.com", Name: "Alice Example"},
		{Username: "bob", Password: "bob-password", Email: "bob@example.com", Name: "Bob Example"},
	}
	return c
}

// start runs a provider on st with cfg (nil: testConfig) until the test ends.
func start(t *testing.T, st store.Store, cfg *config.Config) *provider {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return startOn(t, ln, "http://"+ln.Addr().String(), st, cfg)
}

// startOn runs a provider on a listener with the given issuer (a localhost
// issuer turns passkeys on).
func startOn(t *testing.T, ln net.Listener, issuer string, st store.Store, cfg *config.Config) *provider {
	t.Helper()
	return startLogged(t, ln, issuer, st, cfg, nil)
}

// startLogged is startOn with the provider's logger.
func startLogged(t *testing.T, ln net.Listener, issuer string, st store.Store, cfg *config.Config, log *slog.Logger) *provider {
	t.Helper()
	if cfg == nil {
		cfg = testConfig()
	}
	cfg.Issuer = issuer
	cfg.Listen = ln.Addr().String()
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	clk := &clock{}
	a, err := app.New(t.Context(), cfg, st, log, clk.Now)
	if err != nil {
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
	return &provider{URL: cfg.Issuer, App: a, Clock: clk}
}

// startSQLite runs a provider on a fresh SQLite store.
func startSQLite(t *testing.T) *provider {
	t.Helper()
	return start(t, openSQLite(t), nil)
}

// openSQLite opens a fresh SQLite store closed at the end of the test.
func openSQLite(t *testing.T) store.Store {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "stepup.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// browser is a cookie-keeping HTTP client that stops at the client's
// redirect URI, like a browser whose relying party is not running.
type browser struct {
	t      *testing.T
	client *http.Client
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, client: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Host == "127.0.0.1:9999" {
				return http.ErrUseLastResponse
			}
			return nil
		}}}
}

type page struct {
	Status   int
	URL      *url.URL
	Body     string
	Location *url.URL // set when stopped at the client's redirect URI
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	res, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	p := page{Status: res.StatusCode, URL: res.Request.URL, Body: string(body)}
	if loc := res.Header.Get("Location"); loc != "" && res.StatusCode/100 == 3 {
		p.Location, _ = url.Parse(loc)
	}
	return p
}

func (b *browser) get(u string) page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return b.do(req)
}

func (b *browser) post(u string, form url.Values) page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)

// submit fills the first form of p with its hidden fields plus fields and
// posts it to the form's action, as a browser would.
func (b *browser) submit(p page, fields url.Values) page {
	b.t.Helper()
	m := regexp.MustCompile(`<form method="post" action="([^"]+)"`).FindStringSubmatch(p.Body)
	if m == nil {
		b.t.Fatalf("no form on page %s (status %d):\n%s", p.URL, p.Status, p.Body)
	}
	form := url.Values{}
	for _, h := range hiddenRE.FindAllStringSubmatch(p.Body, -1) {
		form.Set(h[1], html.UnescapeString(h[2]))
	}
	for k, v := range fields {
		form[k] = v
	}
	action, _ := p.URL.Parse(html.UnescapeString(m[1]))
	return b.post(action.String(), form)
}

// login signs in on a login page.
func (b *browser) login(p page, user, pw string) page {
	b.t.Helper()
	return b.submit(p, url.Values{"username": {user}, "password": {pw}, "decision": {"login"}})
}

func pkce() (verifier, challenge string) {
	b := make([]byte, 32)
	rand.Read(b)
	verifier = base64.RawURLEncoding.EncodeToString(b)
	return verifier, s256(verifier)
}

func oauthVerifier(v string) oauth2.AuthCodeOption { return oauth2.VerifierOption(v) }

var (
	secretRE = regexp.MustCompile(`<code id="totp-secret">([A-Z2-7]+)</code>`)
	buttonRE = regexp.MustCompile(`<button type="submit" name="method" value="([^"]+)"`)
)

// person drives the login pages as a user would, enrolling and using an
// authenticator app when asked; it remembers the app's secret.
type person struct {
	user, pw   string
	totpSecret string
	lastCode   string
}

func (h *person) code(t *testing.T) string {
	t.Helper()
	for i := 0; i < 70; i++ { // a code is accepted once: wait for the next step
		c, err := totp.GenerateCode(h.totpSecret, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if c != h.lastCode {
			h.lastCode = c
			return c
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatal("no fresh TOTP code")
	return ""
}

// drive answers login pages until the browser is sent to the client.
func (h *person) drive(t *testing.T, b *browser, pg page) page {
	t.Helper()
	for range 10 {
		if pg.Location != nil {
			return pg
		}
		body := pg.Body
		buttons := buttonRE.FindAllStringSubmatch(body, -1)
		has := func(v string) bool {
			for _, m := range buttons {
				if m[1] == v {
					return true
				}
			}
			return false
		}
		switch {
		case strings.Contains(body, `id="recovery-codes"`):
			pg = b.submit(pg, url.Values{"method": {"continue"}})
		case secretRE.MatchString(body):
			h.totpSecret = secretRE.FindStringSubmatch(body)[1]
			pg = b.submit(pg, url.Values{"method": {"enroll:totp"}, "code": {h.code(t)}})
		case strings.Contains(body, `autocomplete="one-time-code"`):
			pg = b.submit(pg, url.Values{"method": {"totp"}, "code": {h.code(t)}})
		case strings.Contains(body, `autocomplete="current-password"`):
			pg = b.submit(pg, url.Values{"username": {h.user}, "password": {h.pw}, "method": {"password"}})
		case has("totp") && h.totpSecret != "":
			pg = b.submit(pg, url.Values{"method": {"totp"}})
		case has("enroll:totp"):
			pg = b.submit(pg, url.Values{"method": {"enroll:totp"}})
		default:
			t.Fatalf("stuck on page %s (status %d):\n%s", pg.URL, pg.Status, body)
		}
	}
	t.Fatal("too many login steps")
	return pg
}
