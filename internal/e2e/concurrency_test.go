package e2e

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/stepup-oidc/stepup/internal/store/storetest/backends"
)

// TestSixtyFourConcurrentFlowsOnSQLite starts 64 complete code flows at
// once, each in its own browser with a fresh password login and followed by
// a refresh, against one provider on SQLite and (as a subtest) on
// PostgreSQL. Every flow must complete within the deadline.
func TestSixtyFourConcurrentFlowsOnSQLite(t *testing.T) {
	p := startSQLite(t)
	runConcurrentFlows(t, p, 64)

	t.Run("postgres", func(t *testing.T) {
		p := start(t, backends.Postgres(t), nil)
		runConcurrentFlows(t, p, 64)
	})
}

// runConcurrentFlows runs n code flows on n goroutines released together,
// then checks every refreshed token introspects as active. It fails t with
// the stage each unfinished flow was at if they do not all end within 60 s.
func runConcurrentFlows(t *testing.T, p *provider, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	r := newRP(t, p, confidentialID, confidentialSecret)
	rpClient := &http.Client{Transport: newTransport()}
	defer rpClient.CloseIdleConnections()

	stages := make([]atomic.Value, n)
	results := make([]flowTokens, n)
	errs := make([]error, n)
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		stages[i].Store("waiting")
		wg.Go(func() {
			<-gate
			user := []string{"alice", "bob"}[i%2]
			results[i], errs[i] = runFlow(ctx, r, rpClient, user, func(s string) { stages[i].Store(s) })
		})
	}
	began := time.Now()
	close(gate)
	if !waitGroupWithin(ctx, &wg, 5*time.Second) {
		var stuck []string
		for i := range n {
			if s := stages[i].Load().(string); s != "done" {
				stuck = append(stuck, fmt.Sprintf("flow %d at %s", i, s))
			}
		}
		t.Fatalf("%d of %d concurrent flows did not finish within the 60 s deadline: %s",
			len(stuck), n, strings.Join(stuck, "; "))
	}
	elapsed := time.Since(began)
	failed := 0
	for i, err := range errs {
		if err != nil {
			failed++
			if failed <= 10 {
				t.Errorf("flow %d: %v", i, err)
			}
		}
	}
	if failed > 0 {
		t.Fatalf("%d of %d concurrent flows failed (deadline %v)", failed, n, ctx.Err())
	}
	t.Logf("%d concurrent code flows with password login and refresh took %v", n, elapsed.Round(time.Millisecond))

	seen := map[string]bool{}
	for i, res := range results {
		for _, tok := range []string{res.Access, res.RefreshedAccess, res.Refresh} {
			if seen[tok] {
				t.Fatalf("flow %d: token issued twice", i)
			}
			seen[tok] = true
		}
		if in := introspect(t, p, res.RefreshedAccess); in["active"] != true || in["username"] != nil && in["username"] != res.User {
			t.Errorf("flow %d: refreshed access token introspects as %v", i, in)
		}
	}
}

// waitGroupWithin waits for wg until ctx is done and then at most grace
// more (the flows' requests are bound to ctx, so they end soon after).
func waitGroupWithin(ctx context.Context, wg *sync.WaitGroup, grace time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-ctx.Done():
	}
	select {
	case <-done:
		return true
	case <-time.After(grace):
		return false
	}
}

func newTransport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	return tr
}

// flowTokens is what one code flow obtained: the tokens of the code
// exchange and of the refresh that followed.
type flowTokens struct {
	User            string
	Access          string // from the code exchange
	RefreshedAccess string
	Refresh         string // the current (rotated) refresh token
}

// flowBrowser is a cookie-keeping browser like browser, safe to use off the
// test goroutine: it returns errors instead of failing the test.
type flowBrowser struct{ client *http.Client }

func newFlowBrowser() *flowBrowser {
	jar, _ := cookiejar.New(nil)
	return &flowBrowser{client: &http.Client{Jar: jar, Transport: newTransport(),
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Host == "127.0.0.1:9999" {
				return http.ErrUseLastResponse
			}
			if len(via) > 10 {
				return errors.New("too many redirects")
			}
			return nil
		}}}
}

func (b *flowBrowser) do(ctx context.Context, method, u string, form url.Values) (page, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return page{}, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := b.client.Do(req)
	if err != nil {
		return page{}, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return page{}, fmt.Errorf("%s %s: read body: %w", method, u, err)
	}
	p := page{Status: res.StatusCode, URL: res.Request.URL, Body: string(raw)}
	if loc := res.Header.Get("Location"); loc != "" && res.StatusCode/100 == 3 {
		p.Location, _ = url.Parse(loc)
	}
	return p, nil
}

var formActionRE = regexp.MustCompile(`<form method="post" action="([^"]+)"`)

// submit posts the first form of p with its hidden fields plus fields.
func (b *flowBrowser) submit(ctx context.Context, p page, fields url.Values) (page, error) {
	m := formActionRE.FindStringSubmatch(p.Body)
	if m == nil {
		return page{}, fmt.Errorf("no form on page %s (status %d): %.300s", p.URL, p.Status, p.Body)
	}
	form := url.Values{}
	for _, h := range hiddenRE.FindAllStringSubmatch(p.Body, -1) {
		form.Set(h[1], html.UnescapeString(h[2]))
	}
	for k, v := range fields {
		form[k] = v
	}
	action, err := p.URL.Parse(html.UnescapeString(m[1]))
	if err != nil {
		return page{}, err
	}
	return b.do(ctx, http.MethodPost, action.String(), form)
}

// runFlow runs, in a new browser, an authorization code flow with PKCE and
// a fresh password login as user, verifies the ID token, and refreshes.
// stage is told what the flow is doing, for diagnosing a hang. Requests
// end when ctx does. Safe to call from any goroutine.
func runFlow(ctx context.Context, r *rp, rpClient *http.Client, user string, stage func(string)) (flowTokens, error) {
	b := newFlowBrowser()
	defer b.client.CloseIdleConnections()
	out := flowTokens{User: user}
	verifier := oauth2.GenerateVerifier()
	state, nonce := "st-"+verifier[:10], "n-"+verifier[:10]

	stage("GET /authorize")
	pg, err := b.do(ctx, http.MethodGet, r.oauth.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce)), nil)
	if err != nil {
		return out, fmt.Errorf("authorize: %w", err)
	}
	if pg.Location != nil || !strings.Contains(pg.Body, `autocomplete="current-password"`) {
		return out, fmt.Errorf("authorize: no login page (status %d, location %v): %.300s", pg.Status, pg.Location, pg.Body)
	}
	stage("POST /login")
	pg, err = b.submit(ctx, pg, url.Values{"username": {user}, "password": {user + "-password"}, "decision": {"login"}})
	if err != nil {
		return out, fmt.Errorf("login: %w", err)
	}
	if pg.Location == nil {
		return out, fmt.Errorf("login: not sent to the client (status %d at %s): %.300s", pg.Status, pg.URL, pg.Body)
	}
	cb := pg.Location.Query()
	if cb.Get("error") != "" || cb.Get("code") == "" || cb.Get("state") != state {
		return out, fmt.Errorf("login: callback %v", cb)
	}

	ctx = context.WithValue(ctx, oauth2.HTTPClient, rpClient)
	stage("POST /token (code)")
	tok, err := r.oauth.Exchange(ctx, cb.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		return out, fmt.Errorf("code exchange: %w", err)
	}
	stage("verify ID token")
	raw, _ := tok.Extra("id_token").(string)
	idt, err := r.verifier.Verify(ctx, raw)
	if err != nil {
		return out, fmt.Errorf("ID token: %w", err)
	}
	var claims struct {
		Nonce string `json:"nonce"`
		Email string `json:"email"`
	}
	if err := idt.Claims(&claims); err != nil {
		return out, fmt.Errorf("ID token claims: %w", err)
	}
	if claims.Nonce != nonce || claims.Email != user+"@example.com" {
		return out, fmt.Errorf("ID token of the wrong flow or user: nonce %q email %q", claims.Nonce, claims.Email)
	}
	if tok.AccessToken == "" || tok.RefreshToken == "" {
		return out, fmt.Errorf("code exchange returned no access or refresh token")
	}
	out.Access = tok.AccessToken

	stage("POST /token (refresh)")
	tok2, err := r.oauth.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		return out, fmt.Errorf("refresh: %w", err)
	}
	if tok2.RefreshToken == "" || tok2.RefreshToken == tok.RefreshToken || tok2.AccessToken == tok.AccessToken {
		return out, fmt.Errorf("refresh did not rotate the tokens")
	}
	out.RefreshedAccess, out.Refresh = tok2.AccessToken, tok2.RefreshToken
	stage("done")
	return out, nil
}
