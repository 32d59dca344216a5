package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/oauth2"

	"github.com/stepup-oidc/stepup/internal/app"
	"github.com/stepup-oidc/stepup/internal/store/postgres"
	"github.com/stepup-oidc/stepup/internal/store/storetest/backends"
)

// node is one Stepup process of a cluster: its own pool on the shared
// schema, its own listener.
type node struct {
	name   string
	addr   string // host:port of its listener
	app    *app.App
	cancel context.CancelFunc
	done   chan error // Serve's result

	// Guarded by the proxy's mutex.
	dead     bool // the proxy no longer routes to it
	picked   int  // requests the proxy sent it
	inFlight int  // of which not answered yet

	stop sync.Once
	err  error
}

// startNode opens a store with a pool of its own from pool (a copy of it)
// and serves a provider for issuer on a new loopback listener until kill
// or the end of the test.
func startNode(t *testing.T, name, issuer string, pool *pgxpool.Config) *node {
	t.Helper()
	pc := pool.Copy()
	pc.MaxConns = 6
	st, err := postgres.OpenConfig(t.Context(), pc)
	if err != nil {
		t.Fatalf("%s: open store: %v", name, err)
	}
	t.Cleanup(func() { st.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.Issuer = issuer
	cfg.Listen = ln.Addr().String()
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	a, err := app.New(t.Context(), cfg, st, nil, nil)
	if err != nil {
		ln.Close()
		t.Fatalf("%s: %v", name, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &node{name: name, addr: ln.Addr().String(), app: a, cancel: cancel, done: make(chan error, 1)}
	go func() { n.done <- a.Serve(ctx, ln) }()
	t.Cleanup(func() {
		if err := n.shutdown(); err != nil {
			t.Errorf("%s: serve: %v", name, err)
		}
	})
	return n
}

// shutdown cancels the node's context (its listener closes at once,
// requests it is serving finish) and returns Serve's result.
func (n *node) shutdown() error {
	n.stop.Do(func() {
		n.cancel()
		n.err = <-n.done
	})
	return n.err
}

// roundRobin is a reverse proxy's transport that sends each request to the
// next live node, so that consecutive requests land on different nodes. A
// request whose connection is refused is retried on the next live node;
// nothing else is retried.
type roundRobin struct {
	nodes   []*node
	base    *http.Transport
	retries atomic.Int64
	errors  atomic.Int64

	mu   sync.Mutex
	next int
	log  []int // index of the node that answered each request, in order
}

// pick chooses the next live node and counts the request in flight to it.
func (rr *roundRobin) pick() (int, *node) {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	var live []int
	for i, n := range rr.nodes {
		if !n.dead {
			live = append(live, i)
		}
	}
	if len(live) == 0 {
		return -1, nil
	}
	i := live[rr.next%len(live)]
	rr.next++
	rr.nodes[i].picked++
	rr.nodes[i].inFlight++
	return i, rr.nodes[i]
}

func (rr *roundRobin) finished(i int, answered bool) {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	rr.nodes[i].inFlight--
	if answered {
		rr.log = append(rr.log, i)
	}
}

// kill takes n out of the rotation, waits (up to 10 s) for the requests the
// proxy already sent it to be answered, as a load balancer drains a
// backend, then shuts the node down. It returns how many requests the
// proxy had sent n, and Serve's result.
//
// Without the drain, a request the proxy writes on a kept-alive connection
// just as the node's graceful shutdown closes that (idle, to the server)
// connection fails with a connection reset; no proxy can safely retry a
// POST after that.
func (rr *roundRobin) kill(n *node) (picked int, err error) {
	rr.mu.Lock()
	n.dead = true
	rr.mu.Unlock()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		rr.mu.Lock()
		busy := n.inFlight
		picked = n.picked
		rr.mu.Unlock()
		if busy == 0 {
			break
		}
		if time.Now().After(deadline) {
			return picked, fmt.Errorf("%s: %d proxied requests still unanswered after 10 s", n.name, busy)
		}
	}
	return picked, n.shutdown()
}

// picks returns how many requests the proxy has sent n.
func (rr *roundRobin) picks(n *node) int {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	return n.picked
}

func (rr *roundRobin) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body.Close()
	}
	for attempt := 0; ; attempt++ {
		if attempt > len(rr.nodes) {
			rr.errors.Add(1)
			return nil, errors.New("proxy: every node refused the connection")
		}
		i, n := rr.pick()
		if n == nil {
			rr.errors.Add(1)
			return nil, errors.New("proxy: no live node")
		}
		out := req.Clone(req.Context())
		out.URL.Scheme, out.URL.Host = "http", n.addr
		if body != nil {
			out.Body = io.NopCloser(bytes.NewReader(body))
			out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
			out.ContentLength = int64(len(body))
		}
		res, err := rr.base.RoundTrip(out)
		rr.finished(i, err == nil)
		if err != nil {
			var op *net.OpError
			if errors.As(err, &op) && op.Op == "dial" {
				rr.retries.Add(1)
				continue
			}
			rr.errors.Add(1)
			return nil, fmt.Errorf("proxy: %s: %w", n.name, err)
		}
		res.Header.Set("X-Stepup-Node", n.name)
		return res, nil
	}
}

// answered returns the nodes that answered requests since mark (a length of
// the log).
func (rr *roundRobin) answered(mark int) []int {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	return append([]int(nil), rr.log[mark:]...)
}

func (rr *roundRobin) mark() int {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	return len(rr.log)
}

// TestThreeNodesShareOnePostgres runs three providers, each with its own
// pool on one PostgreSQL schema, behind a round-robin proxy whose URL is
// their common issuer: every request of a flow lands on another node than
// the one before. Login, tokens, step-up with an authenticator enrolment
// and logout must work across nodes, and the cluster must survive losing a
// node in the middle of concurrent flows.
func TestThreeNodesShareOnePostgres(t *testing.T) {
	pool := backends.PostgresConfig(t) // fresh schema, dropped at the end
	began := time.Now()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + ln.Addr().String()
	rr := &roundRobin{base: newTransport()}
	defer rr.base.CloseIdleConnections()
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = "http", "stepup.invalid" // the transport picks the node
			pr.Out.Host = pr.In.Host
			pr.SetXForwarded()
		},
		Transport: rr,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			t.Logf("proxy: %s %s: %v", r.Method, r.URL.Path, err)
			http.Error(w, err.Error(), http.StatusBadGateway)
		},
	}
	ps := &http.Server{Handler: proxy, ReadHeaderTimeout: 10 * time.Second}
	go ps.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ps.Shutdown(ctx)
	})

	// The three nodes start at once, as a deployment's would: each may
	// create keys, and they must settle on one set (the oldest key of each
	// algorithm) without a restart.
	rr.nodes = make([]*node, 3)
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() { rr.nodes[i] = startNode(t, fmt.Sprintf("node%d", i), issuer, pool) })
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	jwks, secrets := map[string]bool{}, map[string]bool{}
	for _, n := range rr.nodes {
		if err := n.app.Keys.Reload(t.Context()); err != nil {
			t.Fatal(err)
		}
		jwks[string(n.app.Keys.JWKS(t.Context()))] = true
		secrets[string(n.app.Keys.Secret())] = true
	}
	if len(jwks) != 1 || len(secrets) != 1 {
		t.Fatalf("the three nodes publish %d different key sets and seal with %d different secrets", len(jwks), len(secrets))
	}
	t.Logf("three nodes up after %v", time.Since(began).Round(time.Millisecond))

	p := &provider{URL: issuer}
	t.Run("flow_across_nodes", func(t *testing.T) {
		mark := rr.mark()
		ctx := t.Context()
		r := newRP(t, p, confidentialID, confidentialSecret)
		b := newBrowser(t)

		// Code flow with a fresh password login.
		cb, verifier := r.authorize(t, b, "alice")
		if cb.Get("iss") != issuer || cb.Get("code") == "" {
			t.Fatalf("callback %v", cb)
		}
		tok, err := r.oauth.Exchange(ctx, cb.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := tok.Extra("id_token").(string)
		idt, err := r.verifier.Verify(ctx, raw)
		if err != nil {
			t.Fatal(err)
		}
		if c := claimsOf(t, r, tok); c.ACR == "" || len(c.AMR) == 0 || c.AMR[0] != "pwd" {
			t.Fatalf("ID token claims %+v", c)
		}

		// Refresh.
		tok2, err := r.oauth.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		if err != nil {
			t.Fatal(err)
		}
		if tok2.RefreshToken == tok.RefreshToken || tok2.AccessToken == tok.AccessToken {
			t.Fatal("refresh did not rotate the tokens")
		}
		// The spent refresh token is refused on every node.
		for range 3 {
			if _, err := r.oauth.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
				t.Fatal("a spent refresh token was accepted")
			}
		}
		// That reuse revoked the family: start a new grant for what follows.
		cb, verifier = r.authorize(t, b, "")
		if tok, err = r.oauth.Exchange(ctx, cb.Get("code"), oauth2.VerifierOption(verifier)); err != nil {
			t.Fatal(err)
		}
		if tok2, err = r.oauth.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err != nil {
			t.Fatal(err)
		}

		// Userinfo and introspection, each answered by every node in turn.
		for range 3 {
			ui, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok2))
			if err != nil {
				t.Fatal(err)
			}
			if ui.Subject != idt.Subject || ui.Email != "alice@example.com" {
				t.Fatalf("userinfo %+v", ui)
			}
		}
		for range 3 {
			if in := introspect(t, p, tok2.AccessToken); in["active"] != true || in["client_id"] != confidentialID || in["sub"] != idt.Subject {
				t.Fatalf("introspection %v", in)
			}
		}

		// Step-up to two factors: alice enrols an authenticator app (its
		// secret sealed by one node, confirmed on another) and uses it.
		alice := &person{user: "alice", pw: "alice-password"}
		v := oauth2.GenerateVerifier()
		pg := alice.drive(t, b, b.get(r.oauth.AuthCodeURL("s", oauth2.SetAuthURLParam("acr_values", "urn:okta:loa:2fa:any"),
			oauth2.S256ChallengeOption(v))))
		if alice.totpSecret == "" {
			t.Fatal("no authenticator app was enrolled during the step-up")
		}
		up, err := r.oauth.Exchange(ctx, pg.Location.Query().Get("code"), oauth2.VerifierOption(v))
		if err != nil {
			t.Fatalf("step-up exchange: %v (callback %v)", err, pg.Location.Query())
		}
		c := claimsOf(t, r, up)
		if c.ACR != "urn:okta:loa:2fa:any" || !strings.Contains(strings.Join(c.AMR, " "), "otp") {
			t.Fatalf("after step-up: acr %q amr %v", c.ACR, c.AMR)
		}
		if in := introspect(t, p, up.AccessToken); in["active"] != true || in["acr"] != "urn:okta:loa:2fa:any" {
			t.Fatalf("step-up token introspection %v", in)
		}

		// Logout on one node ends the session for all of them.
		upID, _ := up.Extra("id_token").(string)
		pg = b.get(issuer + "/logout?" + url.Values{"id_token_hint": {upID}, "post_logout_redirect_uri": {logoutURI}, "state": {"bye"}}.Encode())
		if pg.Location == nil || pg.Location.Query().Get("state") != "bye" || !strings.HasPrefix(pg.Location.String(), logoutURI) {
			t.Fatalf("logout did not redirect: %d %v\n%s", pg.Status, pg.Location, pg.Body)
		}
		for range 3 {
			if cb, _ := r.authorize(t, b, "", oauth2.SetAuthURLParam("prompt", "none")); cb.Get("error") != "login_required" {
				t.Fatalf("after logout prompt=none gave %v", cb)
			}
		}

		// Every request went to another node than the one before it.
		seq := rr.answered(mark)
		per := make([]int, len(rr.nodes))
		for i, n := range seq {
			per[n]++
			if i > 0 && seq[i-1] == n {
				t.Fatalf("requests %d and %d both went to node%d", i-1, i, n)
			}
		}
		t.Logf("%d requests through the proxy, per node %v", len(seq), per)
	})
	if t.Failed() {
		return
	}

	t.Run("losing_a_node_mid_load", func(t *testing.T) {
		const flows, workers, killAfter = 30, 8, 10
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		r := newRP(t, p, confidentialID, confidentialSecret)
		rpClient := &http.Client{Transport: newTransport()}
		defer rpClient.CloseIdleConnections()

		victim := rr.nodes[0] // the node that created the keys
		var completed, inFlightAtKill, startedAfterKill atomic.Int64
		var killed atomic.Bool
		killDone := make(chan error, 1)
		var killPicks int
		jobs := make(chan int, flows)
		for i := range flows {
			jobs <- i
		}
		close(jobs)
		results := make([]flowTokens, flows)
		errs := make([]error, flows)
		stages := make([]atomic.Value, flows)
		var inFlight atomic.Int64
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for i := range jobs {
					if killed.Load() {
						startedAfterKill.Add(1)
					}
					inFlight.Add(1)
					stages[i].Store("started")
					results[i], errs[i] = runFlow(ctx, r, rpClient, []string{"alice", "bob"}[i%2], func(s string) { stages[i].Store(s) })
					inFlight.Add(-1)
					if completed.Add(1) == killAfter {
						inFlightAtKill.Store(inFlight.Load())
						killed.Store(true)
						go func() {
							picks, err := rr.kill(victim)
							killPicks = picks
							killDone <- err
						}()
					}
				}
			})
		}
		if !waitGroupWithin(ctx, &wg, 5*time.Second) {
			var stuck []string
			for i := range flows {
				if s, _ := stages[i].Load().(string); s != "done" {
					stuck = append(stuck, fmt.Sprintf("flow %d at %q", i, s))
				}
			}
			t.Fatalf("flows did not finish within the deadline: %s", strings.Join(stuck, "; "))
		}
		if !killed.Load() {
			t.Fatal("the node was never killed")
		}
		select {
		case err := <-killDone:
			if err != nil {
				t.Errorf("%s: serve: %v", victim.name, err)
			}
		case <-ctx.Done():
			t.Fatalf("%s did not shut down", victim.name)
		}
		for i, err := range errs {
			if err != nil {
				t.Errorf("flow %d: %v", i, err)
			}
		}
		if t.Failed() {
			return
		}
		if n := rr.picks(victim); n != killPicks {
			t.Errorf("the proxy sent %s %d requests after it was gone", victim.name, n-killPicks)
		}
		if c, err := net.DialTimeout("tcp", victim.addr, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections", victim.name)
		}
		t.Logf("%d flows; %d in flight and %d started after %s was killed; %d proxy retries after a refused connection",
			flows, inFlightAtKill.Load(), startedAfterKill.Load(), victim.name, rr.retries.Load())

		// Every token issued is still active, asked of the nodes left.
		mark := rr.mark()
		for i, res := range results {
			for _, tok := range []string{res.Access, res.RefreshedAccess, res.Refresh} {
				if in := introspect(t, p, tok); in["active"] != true {
					t.Errorf("flow %d: token introspects as %v", i, in)
				}
			}
		}
		for _, n := range rr.answered(mark) {
			if rr.nodes[n] == victim {
				t.Fatalf("the proxy sent a request to %s after it was gone", victim.name)
			}
		}
		if rr.errors.Load() != 0 {
			t.Errorf("the proxy failed %d requests", rr.errors.Load())
		}
	})
	t.Logf("total %v", time.Since(began).Round(time.Millisecond))
}
