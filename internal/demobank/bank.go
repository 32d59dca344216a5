// Package demobank is a small demo bank that signs its customers in with
// Stepup and protects its own transfer API with step-up authentication and
// payment approvals (RFC 9470 and RFC 9396).
//
// It is built only on Stepup's public SDK — packages rp, rs and challenge —
// as any bank would be; a test checks that it imports nothing else from
// this module. `stepup serve --demo` runs it on http://127.0.0.1:9000.
package demobank

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/stepup-oidc/stepup/rp"
	"github.com/stepup-oidc/stepup/rs"
)

// Config describes the bank and its registration at the provider.
type Config struct {
	// Issuer is the provider's issuer, e.g. "http://127.0.0.1:8080".
	Issuer string
	// ClientID and ClientSecret are the bank's registration
	// (client_secret_basic); its redirect URI is BaseURL + "/callback".
	ClientID     string
	ClientSecret string
	// BaseURL is where the bank is reached, e.g. "http://127.0.0.1:9000".
	BaseURL string
	// StepUpACR is the acr a transfer above the threshold needs. Empty
	// means the strongest of "phr" and "urn:okta:loa:2fa:any" that the
	// provider advertises (phr needs passkeys, so an issuer with a domain).
	StepUpACR string
	// HTTPClient makes the requests to the provider; nil means a client
	// with a 10-second timeout.
	HTTPClient *http.Client
	// Logger receives the bank's log; nil discards it.
	Logger *slog.Logger
	// PollSleep waits between the TV page's CIBA polls (rp.Config.Sleep);
	// nil waits the interval the provider asks for. For tests.
	PollSleep func(ctx context.Context, d time.Duration) error
}

const (
	// threshold is the largest transfer, in øre, that needs only a login.
	threshold = 1000_00
	// stepUpMaxAge is how recent the authentication behind a large
	// transfer must be.
	stepUpMaxAge = 5 * time.Minute
	// sessionCookie names the bank's session; distinct from the
	// provider's cookies, which share the host on 127.0.0.1.
	sessionCookie = "demobank_session"
	sessionTTL    = 8 * time.Hour
	currency      = "NOK"
)

// Bank is the demo bank: web front and transfer API. Create it with New.
type Bank struct {
	cfg  Config
	log  *slog.Logger
	tmpl *template.Template

	initMu sync.Mutex
	deps   *deps // the provider's client and verifier, made on first use

	mu        sync.Mutex
	sessions  map[string]*session
	customers map[string]*customer // by sub
	used      map[string]time.Time // access-token jti of approvals spent, until their expiry
}

// deps are what the bank learns from the provider.
type deps struct {
	client   *rp.Client
	verifier *rs.Verifier
	acr      string
}

// session is one browser's state, kept server-side.
type session struct {
	mu      sync.Mutex
	id      string
	csrf    string
	created time.Time
	login   *rp.State // a login or step-up in progress
	tokens  *rp.Tokens
	pending *transfer // waiting for a step-up and approval
	flash   *notice
	tv      *tvSignIn // the smart-TV page's CIBA sign-in
}

type notice struct {
	OK   bool
	Text string
}

type customer struct {
	Name     string
	Accounts []*account
	History  []transfer
}

type account struct {
	ID      string
	Name    string
	Number  string
	Balance int64 // øre
}

// transfer is a payment from one of the customer's accounts.
type transfer struct {
	ID     string
	From   string // account ID
	Amount int64  // øre
	Payee  string
	At     time.Time
}

// New checks cfg and returns the bank. It makes no request: the
// provider's discovery document and keys are fetched on first use, so
// the bank can be created before the provider listens.
func New(cfg Config) (*Bank, error) {
	if cfg.Issuer == "" || cfg.ClientID == "" || cfg.ClientSecret == "" || cfg.BaseURL == "" {
		return nil, errors.New("demobank: Issuer, ClientID, ClientSecret and BaseURL are required")
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("demobank: BaseURL %q is not an absolute http(s) URL", cfg.BaseURL)
	}
	cfg.BaseURL = strings.TrimSuffix(cfg.BaseURL, "/")
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	tmpl, err := template.New("page").Parse(pageTemplate)
	if err != nil {
		return nil, fmt.Errorf("demobank: template: %w", err)
	}
	return &Bank{cfg: cfg, log: log, tmpl: tmpl, sessions: map[string]*session{},
		customers: map[string]*customer{}, used: map[string]time.Time{}}, nil
}

// Handler serves the web front and the API (/api/transfers).
func (b *Bank) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", b.home)
	mux.HandleFunc("GET /login", b.login)
	mux.HandleFunc("GET /callback", b.callback)
	mux.HandleFunc("POST /transfer", b.transferForm)
	mux.HandleFunc("POST /logout", b.logout)
	mux.HandleFunc("POST /api/transfers", b.api)
	mux.HandleFunc("GET /tv", b.tvPage)
	mux.HandleFunc("POST /tv", b.tvStart)
	mux.HandleFunc("POST /tv/reset", b.tvReset)
	return mux
}

// provider returns the client and verifier, discovering them on first
// use; a failure is retried on the next request.
func (b *Bank) provider(ctx context.Context) (*deps, error) {
	b.initMu.Lock()
	defer b.initMu.Unlock()
	if b.deps != nil {
		return b.deps, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := rp.New(ctx, rp.Config{Issuer: b.cfg.Issuer, ClientID: b.cfg.ClientID, ClientSecret: b.cfg.ClientSecret,
		RedirectURL: b.cfg.BaseURL + "/callback", Scopes: []string{"openid", "profile", "email"}, HTTPClient: b.cfg.HTTPClient,
		Sleep: b.cfg.PollSleep})
	if err != nil {
		return nil, err
	}
	v, err := rs.NewVerifier(ctx, b.cfg.Issuer, rs.WithHTTPClient(b.cfg.HTTPClient))
	if err != nil {
		return nil, err
	}
	acr := b.cfg.StepUpACR
	if acr == "" {
		if acr, err = b.strongestACR(ctx); err != nil {
			return nil, err
		}
	}
	b.deps = &deps{client: c, verifier: v, acr: acr}
	b.log.Info("demo bank connected to the provider", "issuer", b.cfg.Issuer, "large_transfer_acr", acr)
	return b.deps, nil
}

// stepUpACR is the large-transfer acr once known, else "".
func (b *Bank) stepUpACR() string {
	b.initMu.Lock()
	defer b.initMu.Unlock()
	if b.deps == nil {
		return ""
	}
	return b.deps.acr
}

// strongestACR picks the large-transfer level from the provider's
// acr_values_supported: phr when passkeys are on, else two factors.
func (b *Bank) strongestACR(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(b.cfg.Issuer, "/")+"/.well-known/openid-configuration", nil)
	if err != nil {
		return "", err
	}
	res, err := b.cfg.HTTPClient.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var m struct {
		ACRs []string `json:"acr_values_supported"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&m); err != nil {
		return "", fmt.Errorf("demobank: discovery: %w", err)
	}
	for _, want := range []string{"phr", "urn:okta:loa:2fa:any"} {
		if slices.Contains(m.ACRs, want) {
			return want, nil
		}
	}
	if len(m.ACRs) == 0 {
		return "", errors.New("demobank: the provider advertises no acr values; set StepUpACR")
	}
	return m.ACRs[len(m.ACRs)-1], nil
}

// session returns the browser's session, creating one (and its cookie)
// when create is set.
func (b *Bank) session(w http.ResponseWriter, r *http.Request, create bool) *session {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	if c, err := r.Cookie(sessionCookie); err == nil {
		if s := b.sessions[c.Value]; s != nil && now.Sub(s.created) < sessionTTL {
			return s
		}
	}
	if !create {
		return nil
	}
	for id, s := range b.sessions { // sweep; the demo keeps few sessions
		if now.Sub(s.created) >= sessionTTL {
			delete(b.sessions, id)
		}
	}
	s := &session{id: rand.Text(), csrf: rand.Text(), created: now}
	b.sessions[s.id] = s
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: s.id, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: strings.HasPrefix(b.cfg.BaseURL, "https:"), MaxAge: int(sessionTTL / time.Second)})
	return s
}

// demoAccounts are the accounts every customer opens with.
var demoAccounts = []account{
	{ID: "brukskonto", Name: "Brukskonto", Number: "1234.56.78901", Balance: 25_000_00},
	{ID: "sparekonto", Name: "Sparekonto", Number: "1234.56.78902", Balance: 100_000_00},
}

// accountName is the name of the demo account id ("" if there is none):
// the debtorAccount of a payment approval.
func accountName(id string) string {
	for _, a := range demoAccounts {
		if a.ID == id {
			return a.Name
		}
	}
	return ""
}

// customer returns the customer of sub, opening the demo accounts on
// first sight. b.mu must be held.
func (b *Bank) customer(sub, name string) *customer {
	c := b.customers[sub]
	if c == nil {
		c = &customer{Name: name}
		for _, a := range demoAccounts {
			c.Accounts = append(c.Accounts, &a)
		}
		b.customers[sub] = c
	}
	return c
}

// account returns c's account id, or nil.
func (c *customer) account(id string) *account {
	for _, a := range c.Accounts {
		if a.ID == id {
			return a
		}
	}
	return nil
}
