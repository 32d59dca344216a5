package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// The kill -9 test runs the real binary, so it has its own configuration
// and its own goroutine-safe HTTP helpers; it shares nothing with the
// in-process harness.
const (
	crashClientID     = "bank"
	crashClientSecret = "bank-secret"
	crashRedirectURI  = "http://127.0.0.1:9999/callback"
	crashClients      = `[{"id":"bank","secret":"bank-secret","redirect_uris":["http://127.0.0.1:9999/callback"],` +
		`"grant_types":["authorization_code","refresh_token","client_credentials"]}]`
	crashUsers = `[{"username":"alice","password":"alice-password","email":"alice@example.com"},` +
		`{"username":"bob","password":"bob-password","email":"bob@example.com"}]`
	crashWorkers = 8
)

// TestKillNineUnderLoadLosesNothing builds cmd/stepup, serves from a SQLite
// file, and kills the process with SIGKILL while code flows (password login,
// code exchange, refreshes) run on several goroutines. Every token response
// a client received is recorded. After a restart on the same database and
// port, everything acknowledged must have survived:
//
//   - every access token received introspects as active;
//   - every refresh token received and never sent refreshes once;
//   - every code received and never sent redeems once, then no more;
//   - no code redeemed before the crash can be redeemed again;
//   - codes and refresh tokens that were in flight at the kill either work
//     once or fail cleanly with invalid_grant;
//   - the database passes PRAGMA integrity_check.
//
// The store runs WAL with synchronous=NORMAL, which may lose the last
// transactions on an OS crash but never on a process kill: a received token
// that fails to introspect is a provider bug.
func TestKillNineUnderLoadLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the stepup binary")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	began := time.Now()

	dir := t.TempDir()
	bin := buildStepup(ctx, t, dir)
	t.Logf("built stepup in %v", time.Since(began).Round(time.Millisecond))

	port := crashFreePort(t)
	base := "http://127.0.0.1:" + port
	dbPath := filepath.Join(dir, "stepup.db")
	env := append(os.Environ(),
		"STEPUP_ISSUER="+base,
		"STEPUP_LISTEN=127.0.0.1:"+port,
		"STEPUP_STORAGE=sqlite:"+dbPath,
		"STEPUP_PASSWORD_HASH_MEMORY_KIB=64",
		"STEPUP_PASSWORD_HASH_ITERATIONS=1",
		"STEPUP_CLIENTS="+crashClients,
		"STEPUP_USERS="+crashUsers,
		"STEPUP_LOG_LEVEL=warn",
	)

	// First run: load, then SIGKILL while token requests are in flight.
	first := startStepupProcess(ctx, t, bin, env, filepath.Join(dir, "run1.log"), base)
	l := &crashLedger{codes: map[string]*crashCode{}, unusedRefresh: map[string]bool{}, unknownRefresh: map[string]bool{}}
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	var killed atomic.Bool
	var wg sync.WaitGroup
	tr := crashTransport()
	defer tr.CloseIdleConnections()
	for w := range crashWorkers {
		wg.Go(func() {
			user := []string{"alice", "bob"}[w%2]
			for i := 0; loadCtx.Err() == nil; i++ {
				if err := crashFlow(loadCtx, tr, base, user, i%4 == 3, l); err != nil {
					var te *crashTransportError
					if !errors.As(err, &te) || !killed.Load() {
						l.fail(fmt.Errorf("worker %d, flow %d (before the kill): %w", w, i, err))
					}
					return
				}
			}
		})
	}
	loadStart := time.Now()
	for {
		ex, rf, inEx, inRf := l.progress()
		if ex >= 150 && rf >= 250 && inEx > 0 && inRf > 0 {
			break
		}
		if time.Since(loadStart) > 15*time.Second {
			t.Logf("load target not reached in 15 s (%d exchanges, %d refreshes, %d+%d in flight); killing anyway", ex, rf, inEx, inRf)
			break
		}
		if l.failed() {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	_, _, inEx, inRf := l.progress()
	killed.Store(true)
	first.kill(t)
	t.Logf("SIGKILL after %v of load, with %d code exchanges and %d refreshes in flight",
		time.Since(loadStart).Round(time.Millisecond), inEx, inRf)
	stopLoad()
	if !crashWaitGroup(&wg, 15*time.Second) {
		t.Fatal("load goroutines did not stop within 15 s of the kill")
	}
	tr.CloseIdleConnections()
	if errs := l.errs(); len(errs) > 0 {
		for i, err := range errs {
			if i == 10 {
				t.Errorf("... and %d more", len(errs)-10)
				break
			}
			t.Error(err)
		}
		t.Fatalf("%d flows failed before the kill; run log:\n%s", len(errs), first.logTail())
	}

	l.mu.Lock()
	access := append([]string(nil), l.access...)
	var unused, unknownRefresh, redeemed, inflightCodes, issued []string
	for rt := range l.unusedRefresh {
		unused = append(unused, rt)
	}
	for rt := range l.unknownRefresh {
		unknownRefresh = append(unknownRefresh, rt)
	}
	verifiers := map[string]string{}
	for code, c := range l.codes {
		verifiers[code] = c.verifier
		switch c.state {
		case codeReceived:
			issued = append(issued, code)
		case codeSent:
			inflightCodes = append(inflightCodes, code)
		case codeRedeemed:
			redeemed = append(redeemed, code)
		}
	}
	l.mu.Unlock()
	t.Logf("before the kill clients received %d access tokens; %d refresh tokens unused, %d refreshes in flight; "+
		"%d codes redeemed, %d exchanges in flight, %d codes never sent",
		len(access), len(unused), len(unknownRefresh), len(redeemed), len(inflightCodes), len(issued))
	if len(access) == 0 || len(redeemed) == 0 || len(unused) == 0 {
		t.Fatalf("too little load before the kill to test anything; run log:\n%s", first.logTail())
	}

	// Second run on the same database and port.
	second := startStepupProcess(ctx, t, bin, env, filepath.Join(dir, "run2.log"), base)
	c := &crashClient{base: base, http: &http.Client{Transport: crashTransport(), Timeout: 10 * time.Second}}
	defer c.http.CloseIdleConnections()

	report := func(kind string, n *int, format string, args ...any) {
		*n++
		if *n <= 10 {
			t.Errorf(kind+": "+format, args...)
		}
	}

	// Non-destructive checks first: replaying a code or a refresh token
	// revokes its grant, as it should.
	lost := 0
	for i, at := range access {
		if err := c.introspectActive(ctx, at); err != nil {
			report("PROVIDER BUG: acknowledged access token lost in the crash", &lost, "token %d of %d: %v", i, len(access), err)
		}
	}
	lostRefresh := 0
	for _, rt := range unused {
		res, status, err := c.token(ctx, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
		if err != nil || status != http.StatusOK {
			report("PROVIDER BUG: acknowledged refresh token lost in the crash", &lostRefresh, "refresh: status %d, %v %v", status, res, err)
			continue
		}
		if err := c.introspectActive(ctx, res.AccessToken); err != nil {
			report("refreshed access token after restart", &lostRefresh, "%v", err)
		}
	}
	lostCodes := 0
	for _, code := range issued {
		if err := c.redeemOnce(ctx, code, verifiers[code], true); err != nil {
			report("PROVIDER BUG: code received before the crash not redeemable", &lostCodes, "%v", err)
		}
	}

	// Destructive checks: replays of what was redeemed before the kill.
	replayed := 0
	for _, code := range redeemed {
		res, status, err := c.exchange(ctx, code, verifiers[code])
		if err != nil || status != http.StatusBadRequest || res.Error != "invalid_grant" {
			report("code redeemed before the crash", &replayed, "redeemed again: status %d, %+v, %v", status, res, err)
		}
	}
	unclean := 0
	for _, code := range inflightCodes {
		if err := c.redeemOnce(ctx, code, verifiers[code], false); err != nil {
			report("code in flight at the kill", &unclean, "%v", err)
		}
	}
	for _, rt := range unknownRefresh {
		res, status, err := c.token(ctx, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
		switch {
		case err != nil:
			report("refresh token in flight at the kill", &unclean, "%v", err)
		case status == http.StatusOK:
			if err := c.introspectActive(ctx, res.AccessToken); err != nil {
				report("refresh token in flight at the kill", &unclean, "refreshed after restart, but: %v", err)
			}
		case status != http.StatusBadRequest || res.Error != "invalid_grant":
			report("refresh token in flight at the kill", &unclean, "status %d, %+v (want 200 or invalid_grant)", status, res)
		}
	}

	if lost+lostRefresh+lostCodes+replayed+unclean > 0 {
		t.Errorf("after the restart: %d of %d access tokens inactive, %d of %d unused refresh tokens failed, "+
			"%d of %d unsent codes failed, %d of %d redeemed codes misbehaved on replay, %d in-flight items failed uncleanly",
			lost, len(access), lostRefresh, len(unused), lostCodes, len(issued), replayed, len(redeemed), unclean)
	}

	// Stop cleanly and check the file.
	second.stop(t)
	if t.Failed() {
		t.Logf("first run log:\n%s\nsecond run log:\n%s", first.logTail(), second.logTail())
	}
	crashIntegrityCheck(ctx, t, dbPath)
	t.Logf("whole test took %v", time.Since(began).Round(time.Millisecond))
}

// buildStepup builds cmd/stepup into dir from the module root.
func buildStepup(ctx context.Context, t *testing.T, dir string) string {
	t.Helper()
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	gomod := strings.TrimSpace(string(out))
	if err != nil || gomod == "" || gomod == os.DevNull {
		t.Fatalf("cannot find the module root: go env GOMOD = %q, %v", gomod, err)
	}
	bin := filepath.Join(dir, "stepup")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/stepup")
	cmd.Dir = filepath.Dir(gomod)
	cmd.WaitDelay = 5 * time.Second
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/stepup: %v\n%s", err, out)
	}
	return bin
}

func crashFreePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// stepupProcess is a running "stepup serve".
type stepupProcess struct {
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed when the process has been reaped
	waitErr error
}

// startStepupProcess runs "stepup serve" with env, logging to logPath, and
// waits until base answers /readyz. The process is killed when the test
// ends, whatever happens.
func startStepupProcess(ctx context.Context, t *testing.T, bin string, env []string, logPath, base string) *stepupProcess {
	t.Helper()
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start stepup: %v", err)
	}
	p := &stepupProcess{cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			cmd.Process.Kill()
			select {
			case <-p.done:
			case <-time.After(5 * time.Second):
				t.Errorf("stepup (pid %d) not reaped 5 s after SIGKILL", cmd.Process.Pid)
			}
		}
	})

	hc := &http.Client{Timeout: time.Second}
	defer hc.CloseIdleConnections()
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-p.done:
			t.Fatalf("stepup exited before it was ready: %v\n%s", p.waitErr, p.logTail())
		default:
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
		if res, err := hc.Do(req); err == nil {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("stepup not ready within 15 s:\n%s", p.logTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill sends SIGKILL and waits for the process to be reaped.
func (p *stepupProcess) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9: %v", err)
	}
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		t.Fatal("stepup not reaped 5 s after SIGKILL")
	}
}

// stop asks the process to shut down (SIGTERM) and waits for it.
func (p *stepupProcess) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-p.done:
		if p.waitErr != nil {
			t.Errorf("stepup after SIGTERM: %v\n%s", p.waitErr, p.logTail())
		}
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		t.Errorf("stepup did not stop within 10 s of SIGTERM\n%s", p.logTail())
	}
}

func (p *stepupProcess) logTail() string {
	b, _ := os.ReadFile(p.logPath)
	const max = 4000
	if len(b) > max {
		b = append([]byte("..."), b[len(b)-max:]...)
	}
	return string(b)
}

func crashWaitGroup(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

func crashTransport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 2 * crashWorkers
	return tr
}

// crashLedger records what the clients received before the kill.
type crashLedger struct {
	mu             sync.Mutex
	access         []string        // every access token received
	unusedRefresh  map[string]bool // refresh tokens received and never sent
	unknownRefresh map[string]bool // sent; no response received (in flight at the kill)
	codes          map[string]*crashCode
	exchanges      int
	refreshes      int
	inExchange     int // code exchanges awaiting their response
	inRefresh      int // refreshes awaiting their response
	errors         []error
}

type codeState int

const (
	codeReceived codeState = iota // in the redirect; never sent to /token
	codeSent                      // sent to /token; no response received
	codeRedeemed                  // a token response was received
	codeRefused                   // an error response was received
)

type crashCode struct {
	verifier string
	state    codeState
}

func (l *crashLedger) progress() (exchanges, refreshes, inExchange, inRefresh int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.exchanges, l.refreshes, l.inExchange, l.inRefresh
}

func (l *crashLedger) fail(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errors = append(l.errors, err)
}

func (l *crashLedger) failed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.errors) > 0
}

func (l *crashLedger) errs() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]error(nil), l.errors...)
}

// crashTransportError is a request that got no (complete) response: after
// the kill, expected.
type crashTransportError struct{ err error }

func (e *crashTransportError) Error() string { return e.err.Error() }
func (e *crashTransportError) Unwrap() error { return e.err }

// crashFlow runs one authorization code flow with PKCE and a fresh password
// login as user in a new browser, then (unless leaveCode) redeems the code
// and refreshes twice, recording every step in l. A *crashTransportError
// means a request got no response.
func crashFlow(ctx context.Context, tr *http.Transport, base, user string, leaveCode bool, l *crashLedger) error {
	jar, _ := cookiejar.New(nil)
	b := &http.Client{Jar: jar, Transport: tr, Timeout: 10 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Host == "127.0.0.1:9999" {
				return http.ErrUseLastResponse
			}
			if len(via) > 10 {
				return errors.New("too many redirects")
			}
			return nil
		}}
	verifier := crashRandom()
	sum := sha256.Sum256([]byte(verifier))
	state := "st-" + crashRandom()[:12]
	q := url.Values{"response_type": {"code"}, "client_id": {crashClientID}, "redirect_uri": {crashRedirectURI},
		"scope": {"openid email"}, "state": {state}, "nonce": {"n-" + crashRandom()[:12]},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}

	pg, err := crashDo(ctx, b, http.MethodGet, base+"/authorize?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	if pg.Location != nil || !strings.Contains(pg.Body, `autocomplete="current-password"`) {
		return fmt.Errorf("authorize: no login page (status %d, location %v): %.300s", pg.Status, pg.Location, pg.Body)
	}
	m := crashFormRE.FindStringSubmatch(pg.Body)
	if m == nil {
		return fmt.Errorf("authorize: no form on the login page: %.300s", pg.Body)
	}
	form := url.Values{}
	for _, h := range crashHiddenRE.FindAllStringSubmatch(pg.Body, -1) {
		form.Set(h[1], html.UnescapeString(h[2]))
	}
	form.Set("username", user)
	form.Set("password", user+"-password")
	form.Set("decision", "login")
	action, err := pg.URL.Parse(html.UnescapeString(m[1]))
	if err != nil {
		return err
	}
	pg, err = crashDo(ctx, b, http.MethodPost, action.String(), form)
	if err != nil {
		return err
	}
	if pg.Location == nil {
		return fmt.Errorf("login: not sent to the client (status %d at %s): %.300s", pg.Status, pg.URL, pg.Body)
	}
	cb := pg.Location.Query()
	code := cb.Get("code")
	if cb.Get("error") != "" || code == "" || cb.Get("state") != state {
		return fmt.Errorf("login: callback %v", cb)
	}
	l.mu.Lock()
	l.codes[code] = &crashCode{verifier: verifier, state: codeReceived}
	l.mu.Unlock()
	if leaveCode {
		return nil
	}

	c := &crashClient{base: base, http: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
	l.mu.Lock()
	l.codes[code].state = codeSent
	l.inExchange++
	l.mu.Unlock()
	res, status, err := c.exchange(ctx, code, verifier)
	l.mu.Lock()
	l.inExchange--
	switch {
	case err != nil:
	case status == http.StatusOK && res.AccessToken != "" && res.RefreshToken != "":
		l.codes[code].state = codeRedeemed
		l.exchanges++
		l.access = append(l.access, res.AccessToken)
		l.unusedRefresh[res.RefreshToken] = true
	default:
		l.codes[code].state = codeRefused
	}
	l.mu.Unlock()
	if err != nil {
		return err
	}
	if status != http.StatusOK || res.AccessToken == "" || res.RefreshToken == "" {
		return fmt.Errorf("code exchange: status %d, %+v", status, res)
	}

	rt := res.RefreshToken
	for range 2 {
		l.mu.Lock()
		delete(l.unusedRefresh, rt)
		l.unknownRefresh[rt] = true
		l.inRefresh++
		l.mu.Unlock()
		res, status, err := c.token(ctx, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
		l.mu.Lock()
		l.inRefresh--
		if err == nil {
			delete(l.unknownRefresh, rt) // answered: its fate is known
		}
		ok := err == nil && status == http.StatusOK && res.AccessToken != "" && res.RefreshToken != ""
		if ok {
			l.refreshes++
			l.access = append(l.access, res.AccessToken)
			l.unusedRefresh[res.RefreshToken] = true
		}
		l.mu.Unlock()
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("refresh: status %d, %+v", status, res)
		}
		if res.RefreshToken == rt {
			return errors.New("refresh did not rotate the refresh token")
		}
		rt = res.RefreshToken
	}
	return nil
}

var (
	crashFormRE   = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
	crashHiddenRE = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)
)

type crashPage struct {
	Status   int
	URL      *url.URL
	Body     string
	Location *url.URL // set when stopped at the client's redirect URI
}

func crashDo(ctx context.Context, b *http.Client, method, u string, form url.Values) (crashPage, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return crashPage{}, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := b.Do(req)
	if err != nil {
		return crashPage{}, &crashTransportError{fmt.Errorf("%s %s: %w", method, u, err)}
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return crashPage{}, &crashTransportError{fmt.Errorf("%s %s: read body: %w", method, u, err)}
	}
	p := crashPage{Status: res.StatusCode, URL: res.Request.URL, Body: string(raw)}
	if loc := res.Header.Get("Location"); loc != "" && res.StatusCode/100 == 3 {
		p.Location, _ = url.Parse(loc)
	}
	return p, nil
}

func crashRandom() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// crashClient is the confidential client's back channel.
type crashClient struct {
	base string
	http *http.Client
}

type crashTokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
	Error        string `json:"error"`
	Description  string `json:"error_description"`
}

// post sends form with client_secret_basic. err is a *crashTransportError
// when no complete response arrived.
func (c *crashClient) post(ctx context.Context, path string, form url.Values) (status int, body []byte, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(crashClientID, crashClientSecret)
	res, err := c.http.Do(req)
	if err != nil {
		return 0, nil, &crashTransportError{fmt.Errorf("POST %s: %w", path, err)}
	}
	defer res.Body.Close()
	body, err = io.ReadAll(res.Body)
	if err != nil {
		return 0, nil, &crashTransportError{fmt.Errorf("POST %s: read body: %w", path, err)}
	}
	return res.StatusCode, body, nil
}

func (c *crashClient) token(ctx context.Context, form url.Values) (crashTokenResponse, int, error) {
	var res crashTokenResponse
	status, body, err := c.post(ctx, "/token", form)
	if err != nil {
		return res, status, err
	}
	if err := json.Unmarshal(body, &res); err != nil {
		// A truncated body is a response that did not (fully) arrive.
		return res, status, &crashTransportError{fmt.Errorf("POST /token: status %d, body %.200q: %w", status, body, err)}
	}
	return res, status, nil
}

func (c *crashClient) exchange(ctx context.Context, code, verifier string) (crashTokenResponse, int, error) {
	return c.token(ctx, url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {crashRedirectURI}, "code_verifier": {verifier}})
}

// introspectActive checks that tok introspects as an active token of the
// client.
func (c *crashClient) introspectActive(ctx context.Context, tok string) error {
	status, body, err := c.post(ctx, "/introspect", url.Values{"token": {tok}})
	if err != nil {
		return err
	}
	var in struct {
		Active   bool   `json:"active"`
		ClientID string `json:"client_id"`
	}
	if status != http.StatusOK || json.Unmarshal(body, &in) != nil {
		return fmt.Errorf("introspect: status %d, %s", status, bytes.TrimSpace(body))
	}
	if !in.Active || in.ClientID != crashClientID {
		return fmt.Errorf("introspects as %s", bytes.TrimSpace(body))
	}
	return nil
}

// redeemOnce exchanges code after the restart. It must succeed (mustRedeem)
// or may instead fail with invalid_grant; when it succeeds, the access
// token must be active and a second exchange must fail with invalid_grant.
func (c *crashClient) redeemOnce(ctx context.Context, code, verifier string, mustRedeem bool) error {
	res, status, err := c.exchange(ctx, code, verifier)
	switch {
	case err != nil:
		return err
	case status == http.StatusBadRequest && res.Error == "invalid_grant" && !mustRedeem:
		return nil
	case status != http.StatusOK || res.AccessToken == "":
		return fmt.Errorf("exchange: status %d, %+v", status, res)
	}
	if err := c.introspectActive(ctx, res.AccessToken); err != nil {
		return fmt.Errorf("access token of the exchange: %w", err)
	}
	res, status, err = c.exchange(ctx, code, verifier)
	if err != nil || status != http.StatusBadRequest || res.Error != "invalid_grant" {
		return fmt.Errorf("second exchange of the same code: status %d, %+v, %v (want invalid_grant)", status, res, err)
	}
	return nil
}

// crashIntegrityCheck opens the (stopped) database read-only and runs
// PRAGMA integrity_check.
func crashIntegrityCheck(ctx context.Context, t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	rows, err := db.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		t.Fatalf("PRAGMA integrity_check: %v", err)
	}
	defer rows.Close()
	var msgs []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("PRAGMA integrity_check: %v", err)
	}
	if len(msgs) != 1 || msgs[0] != "ok" {
		t.Errorf("PRAGMA integrity_check after the crash and restart: %s", strings.Join(msgs, "; "))
	}
	var grants int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM grants").Scan(&grants); err != nil {
		t.Logf("count grants: %v", err)
	} else {
		t.Logf("integrity_check ok; %d grants in the database", grants)
	}
}
