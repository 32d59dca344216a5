package rp_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"fmt"
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

	"github.com/stepup-oidc/stepup/internal/app"
	"github.com/stepup-oidc/stepup/internal/config"
	"github.com/stepup-oidc/stepup/internal/store/sqlite"
	"github.com/stepup-oidc/stepup/rp"
)

// The test provider's registrations.
const (
	clientID     = "bank"
	clientSecret = "bank-secret"
	redirectURI  = "http://127.0.0.1:9999/callback"
	// aliceTOTP is alice's authenticator-app secret (base32), so that a
	// test can step her up to two factors.
	aliceTOTP = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
)

// startStepup runs a real Stepup provider on a loopback port with a
// SQLite store in t.TempDir() until the test ends, and returns its issuer.
func startStepup(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Issuer = "http://" + ln.Addr().String()
	cfg.Listen = ln.Addr().String()
	cfg.PasswordHash = config.PasswordHash{MemoryKiB: 64, Iterations: 1, Parallelism: 1}
	cfg.Clients = []config.Client{{
		ID: clientID, Name: "Test Bank", Secret: clientSecret, RedirectURIs: []string{redirectURI},
		GrantTypes:              []string{"authorization_code", "refresh_token"},
		TokenEndpointAuthMethod: "client_secret_basic",
	}, {
		ID: "post-bank", Name: "Test Bank (post)", Secret: "post-secret", RedirectURIs: []string{redirectURI},
		GrantTypes: []string{"authorization_code"}, TokenEndpointAuthMethod: "client_secret_post",
	}, {
		ID: "spa", Name: "Test SPA", RedirectURIs: []string{redirectURI},
		GrantTypes: []string{"authorization_code"}, TokenEndpointAuthMethod: "none",
	}}
	cfg.Users = []config.User{{Username: "alice", Password: "alice-password", Email: "alice@example.com",
		Name: "Alice Example", TOTPSecret: aliceTOTP}}
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
	go func() { done <- a.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		st.Close()
	})
	return cfg.Issuer
}

// newClient returns an rp.Client for the test provider's bank client.
func newClient(t *testing.T, issuer string) *rp.Client {
	t.Helper()
	c, err := rp.New(t.Context(), rp.Config{Issuer: issuer, ClientID: clientID, ClientSecret: clientSecret,
		RedirectURL: redirectURI, Scopes: []string{"openid", "profile", "email", "offline_access"}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// browser keeps cookies and stops at the client's redirect URI, like a
// browser whose relying party is not listening.
type browser struct {
	t  *testing.T
	hc *http.Client
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, hc: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if strings.HasPrefix(req.URL.String(), redirectURI) {
				return http.ErrUseLastResponse
			}
			return nil
		}}}
}

// page is where the browser ended up: a provider page, or the callback.
type page struct {
	URL      *url.URL
	Status   int
	Body     string
	Callback url.Values // the redirect URI's query, once there
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	res, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	p := page{URL: res.Request.URL, Status: res.StatusCode, Body: string(body)}
	if loc := res.Header.Get("Location"); res.StatusCode/100 == 3 && strings.HasPrefix(loc, redirectURI) {
		u, err := url.Parse(loc)
		if err != nil {
			b.t.Fatal(err)
		}
		p.Callback = u.Query()
	}
	return p
}

func (b *browser) get(u string) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="(tx|csrf)" value="([^"]*)">`)

// submit posts fields with the page's hidden tx and csrf to /login, as
// the login, code and approval forms do.
func (b *browser) submit(p page, fields url.Values) page {
	b.t.Helper()
	form := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(p.Body, -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	if form.Get("tx") == "" || form.Get("csrf") == "" {
		b.t.Fatalf("no tx and csrf on page %s (status %d):\n%s", p.URL, p.Status, p.Body)
	}
	for k, v := range fields {
		form[k] = v
	}
	action, err := p.URL.Parse("/login")
	if err != nil {
		b.t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, action.String(), strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// password answers a login page as alice.
func (b *browser) password(p page) page {
	b.t.Helper()
	return b.submit(p, url.Values{"username": {"alice"}, "password": {"alice-password"}, "method": {"password"}})
}

// code answers a step page with alice's current TOTP code.
func (b *browser) code(p page) page {
	b.t.Helper()
	return b.submit(p, url.Values{"method": {"totp"}, "code": {totpCode(b.t, aliceTOTP, time.Now())}})
}

// totpCode is the RFC 6238 code of secret at t (SHA-1, 30 s, 6 digits).
func totpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha1.New, key)
	binary.Write(mac, binary.BigEndian, uint64(at.Unix()/30))
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	n := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%06d", n%1_000_000)
}

// login opens an authorization URL and signs alice in with her password,
// returning the callback query.
func (b *browser) login(authURL string) url.Values {
	b.t.Helper()
	p := b.get(authURL)
	if p.Callback == nil {
		p = b.password(p)
	}
	if p.Callback == nil {
		b.t.Fatalf("no callback after the password; page %s (status %d):\n%s", p.URL, p.Status, p.Body)
	}
	return p.Callback
}
