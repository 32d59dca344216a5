package rp_test

import (
	"context"
	"errors"
	"html"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stepup-oidc/stepup/internal/app"
	"github.com/stepup-oidc/stepup/internal/config"
	"github.com/stepup-oidc/stepup/internal/store/sqlite"
	"github.com/stepup-oidc/stepup/rp"
)

const tvID, tvSecret = "tv", "tv-secret"

// fakeClock is a clock the test moves; the provider and the client share
// it, so that Config.Sleep can advance time instead of waiting.
type fakeClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// startCIBAStepup runs a real Stepup on clk with a CIBA client "tv" and
// returns its issuer.
func startCIBAStepup(t *testing.T, clk *fakeClock) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Issuer = "http://" + ln.Addr().String()
	cfg.Listen = ln.Addr().String()
	cfg.PasswordHash = config.PasswordHash{MemoryKiB: 64, Iterations: 1, Parallelism: 1}
	cfg.Clients = []config.Client{{ID: tvID, Name: "Smart TV", Secret: tvSecret,
		GrantTypes: []string{rp.GrantTypeCIBA, "refresh_token"}}}
	cfg.Users = []config.User{{Username: "alice", Password: "alice-password", Email: "alice@example.com", Name: "Alice Example"}}
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "stepup.db"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(t.Context(), cfg, st, nil, clk.Now)
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

// tvClient is an rp.Client for the CIBA client whose Sleep runs hook
// (when set) with the requested duration instead of waiting.
func tvClient(t *testing.T, issuer string, clk *fakeClock, hook func(d time.Duration) error) *rp.Client {
	t.Helper()
	c, err := rp.New(t.Context(), rp.Config{Issuer: issuer, ClientID: tvID, ClientSecret: tvSecret,
		RedirectURL: "http://127.0.0.1:9999/unused", Now: clk.Now,
		Sleep: func(ctx context.Context, d time.Duration) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			return hook(d)
		}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var (
	appIDRE   = regexp.MustCompile(`<input type="hidden" name="id" value="([^"]*)">`)
	appCSRFRE = regexp.MustCompile(`<input type="hidden" name="csrf" value="([^"]*)">`)
)

// appDecide signs alice in to the authenticator app and answers the
// request showing binding with decision ("approve", with her password,
// or "deny"); it returns the app's page afterwards.
func appDecide(t *testing.T, issuer, binding, decision string) string {
	t.Helper()
	b := newBrowser(t)
	p := b.get(issuer + "/app/login")
	if p.URL.Path != "/app" {
		p = b.password(p)
	}
	if p.URL.Path != "/app" || !strings.Contains(p.Body, binding) {
		t.Fatalf("the app (%s) does not show %q:\n%s", p.URL, binding, p.Body)
	}
	// The request's section: from its binding message back to its form.
	i := strings.Index(p.Body, binding)
	section := p.Body[i:]
	id, csrf := appIDRE.FindStringSubmatch(section), appCSRFRE.FindStringSubmatch(section)
	if id == nil || csrf == nil {
		t.Fatalf("no decision form for %q:\n%s", binding, section)
	}
	form := url.Values{"id": {html.UnescapeString(id[1])}, "csrf": {html.UnescapeString(csrf[1])}, "decision": {decision}}
	if decision == "approve" {
		form.Set("password", "alice-password")
	}
	req, err := http.NewRequest(http.MethodPost, issuer+"/app/decide", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req).Body
}

func TestCIBAApprovedInTheApp(t *testing.T) {
	clk := &fakeClock{}
	issuer := startCIBAStepup(t, clk)
	var sleeps []time.Duration
	c := tvClient(t, issuer, clk, func(d time.Duration) error {
		sleeps = append(sleeps, d)
		clk.Advance(d)
		if len(sleeps) == 2 { // one poll is pending; the user approves now
			if page := appDecide(t, issuer, "TV-4711", "approve"); !strings.Contains(page, "Approved.") {
				t.Errorf("approval page:\n%s", page)
			}
		}
		return nil
	})
	if !c.SupportsBackchannel() {
		t.Fatal("discovery has no backchannel_authentication_endpoint")
	}
	req, err := c.Backchannel(t.Context(), rp.LoginHint("alice"), rp.BindingMessage("TV-4711"))
	if err != nil {
		t.Fatal(err)
	}
	if req.AuthReqID == "" || req.BindingMessage != "TV-4711" || req.Interval != 5*time.Second ||
		req.ExpiresIn != 300*time.Second || req.Expiry.Sub(clk.Now()) > 300*time.Second {
		t.Fatalf("backchannel request %+v", req)
	}
	tok, err := c.Poll(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sleeps, []time.Duration{5 * time.Second, 5 * time.Second}) {
		t.Errorf("sleeps %v, want two of the provider's interval", sleeps)
	}
	cl := tok.Claims
	if cl.Subject == "" || cl.ACR == "" || !slices.Contains(cl.AMR, "pwd") || cl.AuthTime.IsZero() || tok.AccessToken == "" || tok.RefreshToken == "" {
		t.Fatalf("tokens %+v", tok)
	}
	// The auth_req_id yields tokens once.
	if _, err := c.PollOnce(t.Context(), req); !errors.Is(err, rp.ErrInvalidGrant) {
		t.Fatalf("second redemption: %v", err)
	}
}

func TestCIBAOutcomes(t *testing.T) {
	clk := &fakeClock{}
	issuer := startCIBAStepup(t, clk)

	t.Run("denied", func(t *testing.T) {
		c := tvClient(t, issuer, clk, func(d time.Duration) error {
			clk.Advance(d)
			if page := appDecide(t, issuer, "DENY-1", "deny"); !strings.Contains(page, "Denied.") {
				t.Errorf("deny page:\n%s", page)
			}
			return nil
		})
		req, err := c.Backchannel(t.Context(), rp.LoginHint("alice"), rp.BindingMessage("DENY-1"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Poll(t.Context(), req)
		var ae *rp.AuthError
		if !errors.As(err, &ae) || ae.Code != rp.ErrAccessDenied || !errors.Is(err, rp.ErrAccessDenied) {
			t.Fatalf("got %v, want access_denied", err)
		}
	})

	t.Run("slow_down_raises_the_interval_and_expiry_ends_the_poll", func(t *testing.T) {
		var sleeps []time.Duration
		c := tvClient(t, issuer, clk, func(d time.Duration) error {
			sleeps = append(sleeps, d)
			if len(sleeps) > 2 { // the first two polls come too fast
				clk.Advance(d)
			}
			return nil
		})
		req, err := c.Backchannel(t.Context(), rp.LoginHint("alice"), rp.RequestedExpiry(30*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if req.ExpiresIn != 30*time.Second || len(req.BindingMessage) != 7 {
			t.Fatalf("request %+v: want 30 s and a generated binding message", req)
		}
		_, err = c.Poll(t.Context(), req)
		if !errors.Is(err, rp.ErrExpiredToken) {
			t.Fatalf("got %v, want expired_token", err)
		}
		if len(sleeps) < 3 || sleeps[0] != 5*time.Second || sleeps[1] != 5*time.Second || sleeps[2] != 10*time.Second {
			t.Fatalf("sleeps %v: want 5 s, 5 s, then 10 s after slow_down", sleeps)
		}
		if req.Interval != 10*time.Second {
			t.Fatalf("interval %v after one slow_down", req.Interval)
		}
	})

	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		c := tvClient(t, issuer, clk, func(d time.Duration) error {
			clk.Advance(d)
			cancel()
			return nil
		})
		req, err := c.Backchannel(ctx, rp.LoginHint("alice"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Poll(ctx, req); !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
	})

	t.Run("provider_errors", func(t *testing.T) {
		c := tvClient(t, issuer, clk, func(time.Duration) error { return nil })
		for _, tc := range []struct {
			opts []rp.CIBAOption
			want error
		}{
			{[]rp.CIBAOption{rp.LoginHint("nobody")}, rp.ErrUnknownUserID},
			{[]rp.CIBAOption{rp.LoginHint("alice"), rp.BindingMessage("line\nbreak")}, rp.ErrInvalidBindingMessage},
			{[]rp.CIBAOption{rp.LoginHint("alice"), rp.AuthorizationDetails([]byte(`[{"type":"x"}]`))}, rp.ErrInvalidAuthorizationDetails},
		} {
			if _, err := c.Backchannel(t.Context(), tc.opts...); !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		}
	})

	t.Run("options_checked_before_sending", func(t *testing.T) {
		c := tvClient(t, issuer, clk, func(time.Duration) error { return nil })
		for _, opts := range [][]rp.CIBAOption{
			nil, // no hint
			{rp.LoginHint("alice"), rp.IDTokenHint("x.y.z")},
			{rp.LoginHint("alice"), rp.MaxAge(time.Minute)},
			{rp.LoginHint("alice"), rp.PAR()},
			{rp.LoginHint("alice"), rp.RequestedExpiry(0)},
		} {
			if _, err := c.Backchannel(t.Context(), opts...); err == nil || errors.As(err, new(*rp.AuthError)) {
				t.Errorf("%d options: got %v, want a local error", len(opts), err)
			}
		}
		if _, _, err := c.AuthCodeURL(t.Context(), rp.BindingMessage("TV-1")); err == nil {
			t.Error("AuthCodeURL accepted BindingMessage")
		}
	})
}

func TestBackchannelUnsupported(t *testing.T) {
	op := newFakeOP()
	defer op.Close()
	op.setMeta("backchannel_authentication_endpoint", nil)
	c, err := rp.New(t.Context(), rp.Config{Issuer: op.URL, ClientID: "bank", ClientSecret: "bank-secret", RedirectURL: redirectURI})
	if err != nil {
		t.Fatal(err)
	}
	if c.SupportsBackchannel() {
		t.Fatal("SupportsBackchannel without the endpoint")
	}
	if _, err := c.Backchannel(t.Context(), rp.LoginHint("alice")); err == nil || !strings.Contains(err.Error(), "backchannel_authentication_endpoint") {
		t.Fatalf("got %v", err)
	}
}

func TestPingHandler(t *testing.T) {
	var got []string
	h := rp.PingHandler("notify-me", func(_ context.Context, id string) { got = append(got, id) })
	for _, tc := range []struct {
		method, auth, ctype, body string
		status                    int
	}{
		{"POST", "Bearer notify-me", "application/json", `{"auth_req_id":"abc"}`, http.StatusNoContent},
		{"POST", "Bearer wrong", "application/json", `{"auth_req_id":"evil"}`, http.StatusUnauthorized},
		{"POST", "", "application/json", `{"auth_req_id":"evil"}`, http.StatusUnauthorized},
		{"POST", "Bearer notify-me", "text/plain", `{"auth_req_id":"evil"}`, http.StatusBadRequest},
		{"POST", "Bearer notify-me", "application/json", `{}`, http.StatusBadRequest},
		{"GET", "Bearer notify-me", "", "", http.StatusMethodNotAllowed},
	} {
		req := httptest.NewRequest(tc.method, "/ciba/ping", strings.NewReader(tc.body))
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		if tc.ctype != "" {
			req.Header.Set("Content-Type", tc.ctype)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.status {
			t.Errorf("%s %q %q: %d, want %d", tc.method, tc.auth, tc.body, rec.Code, tc.status)
		}
	}
	if !slices.Equal(got, []string{"abc"}) {
		t.Fatalf("notified %v", got)
	}
	// An empty token accepts nobody.
	req := httptest.NewRequest("POST", "/", strings.NewReader(`{"auth_req_id":"x"}`))
	req.Header.Set("Authorization", "Bearer ")
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	rp.PingHandler("", func(context.Context, string) { t.Error("called") }).ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("empty token: %d", rec.Code)
	}
}
