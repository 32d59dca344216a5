package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/stepup-oidc/stepup/internal/config"
	"github.com/stepup-oidc/stepup/internal/demobank"
)

// The demo bank (internal/demobank, docs/demo-bank.md) in a real Chromium:
// the bank runs on a loopback port and signs alice in at a provider with
// the issuer http://localhost:<port>, where passkeys are on, so a large
// transfer needs phr; the DevTools virtual authenticator creates and uses
// the passkey. The bank's pages have no JavaScript: the test types and
// clicks as a person would.

const (
	demoBankClientID     = "demo-bank"
	demoBankClientSecret = "demo-bank-secret"
)

var (
	bankLoginLink     = chromedp.CSS(`a#login`)
	bankSendButton    = chromedp.CSS(`form[action="/transfer"] button[type="submit"]`)
	bankNotice        = chromedp.CSS(`#notice`)
	approveButton     = chromedp.CSS(`button[name="decision"][value="approve"]`)
	approvalAmount    = chromedp.CSS(`#authorization-details #amount`)
	approvalPayee     = chromedp.CSS(`#authorization-details #payee`)
	bankCustomerName  = chromedp.CSS(`#customer`)
	bankBrukskonto    = chromedp.CSS(`#balance-brukskonto`)
	bankReceivedPanel = chromedp.CSS(`#received`)
)

// demoBankRig is a provider with passkeys and the demo bank registered at
// it, both on loopback ports.
type demoBankRig struct {
	p      *provider
	bank   string // the bank's base URL, http://127.0.0.1:<port>
	tokens *tokenRecorder
	log    *lockedBuffer // the bank's log, shown when the test fails
}

// startDemoBank runs a provider on SQLite with the issuer
// http://localhost:<port> and the demo bank (StepUpACR phr) on its own
// listener, registered with the redirect URI <bank>/callback.
func startDemoBank(t *testing.T) *demoBankRig {
	t.Helper()
	bankLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	bankURL := "http://" + bankLn.Addr().String()

	cfg := testConfig()
	cfg.Clients = []config.Client{{
		ID: demoBankClientID, Name: "Demo Bank", Secret: demoBankClientSecret,
		RedirectURIs:            []string{bankURL + "/callback"},
		GrantTypes:              []string{"authorization_code", "refresh_token", "urn:openid:params:grant-type:ciba"}, // the TV page signs in with CIBA
		TokenEndpointAuthMethod: "client_secret_basic",
	}}
	opLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		bankLn.Close()
		t.Fatal(err)
	}
	p := startOn(t, opLn, fmt.Sprintf("http://localhost:%d", opLn.Addr().(*net.TCPAddr).Port), openSQLite(t), cfg)
	if !slices.Contains(p.App.Flow.SupportedACR(), "phr") {
		bankLn.Close()
		t.Fatalf("passkeys are off with issuer %s: supported acr %v", p.URL, p.App.Flow.SupportedACR())
	}

	rig := &demoBankRig{p: p, bank: bankURL, tokens: &tokenRecorder{}, log: &lockedBuffer{}}
	b, err := demobank.New(demobank.Config{
		Issuer: p.URL, ClientID: demoBankClientID, ClientSecret: demoBankClientSecret, BaseURL: bankURL,
		StepUpACR:  "phr",
		HTTPClient: &http.Client{Timeout: 10 * time.Second, Transport: rig.tokens},
		Logger:     slog.New(slog.NewTextHandler(rig.log, nil)),
		// The TV page polls every 100 ms instead of the provider's
		// interval; the provider answers slow_down, which the bank absorbs.
		PollSleep: func(ctx context.Context, _ time.Duration) error {
			tm := time.NewTimer(100 * time.Millisecond)
			defer tm.Stop()
			select {
			case <-tm.C:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		},
	})
	if err != nil {
		bankLn.Close()
		t.Fatal(err)
	}
	srv := &http.Server{Handler: b.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(bankLn)
	t.Cleanup(func() {
		srv.Close()
		if t.Failed() {
			t.Logf("demo bank log:\n%s", rig.log.String())
		}
	})
	return rig
}

// tokenRecorder is the bank's transport to the provider. It keeps the
// token responses, so that the test can present the bank's own access
// token to the bank's API as an attacker holding it would.
type tokenRecorder struct {
	mu     sync.Mutex
	tokens []recordedToken
}

type recordedToken struct {
	AccessToken          string          `json:"access_token"`
	AuthorizationDetails json.RawMessage `json:"authorization_details"`
}

func (r *tokenRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil || req.Method != http.MethodPost || !strings.HasSuffix(req.URL.Path, "/token") {
		return res, err
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	var tok recordedToken
	if json.Unmarshal(body, &tok) == nil && tok.AccessToken != "" {
		r.mu.Lock()
		r.tokens = append(r.tokens, tok)
		r.mu.Unlock()
	}
	return res, nil
}

// last returns the most recent token response.
func (r *tokenRecorder) last(t *testing.T) recordedToken {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.tokens) == 0 {
		t.Fatal("the bank redeemed no token at the provider")
	}
	return r.tokens[len(r.tokens)-1]
}

// count is the number of token responses so far.
func (r *tokenRecorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.tokens)
}

// leavePage marks the document in tb, so that arriveAt can tell the page
// the browser goes to from the one it leaves.
func leavePage(tb *tab) {
	tb.t.Helper()
	mustRun(tb, chromedp.Evaluate[bool](`window.__stepupLeft = true`))
}

// arriveAt waits until the tab shows a new, fully loaded document whose URL
// starts with prefix.
func arriveAt(tb *tab, prefix string) {
	tb.t.Helper()
	waitUntil(tb, fmt.Sprintf(`!window.__stepupLeft && document.readyState === "complete" && location.href.startsWith(%s)`,
		jsString(prefix)), "a new page at "+prefix)
}

// textOf returns the trimmed text of the element matching sel, failing at
// once if the page has none.
func textOf(tb *tab, sel chromedp.CSS, what string) string {
	tb.t.Helper()
	tb.need(sel, what)
	return strings.TrimSpace(mustRun(tb, chromedp.TextContent(sel)))
}

// wantText fails unless the element matching sel shows exactly want.
func wantText(tb *tab, sel chromedp.CSS, what, want string) {
	tb.t.Helper()
	if got := textOf(tb, sel, what); got != want {
		tb.t.Errorf("%s shows %q, want %q", what, got, want)
	}
}

// sendTransfer fills in the bank's transfer form (from Brukskonto) and
// presses Send.
func sendTransfer(tb *tab, amount, payee string) {
	tb.t.Helper()
	tb.do(chromedp.WaitVisible(chromedp.CSS(`#payee`)))
	tb.need(chromedp.CSS(`select#from`), "From account choice")
	tb.need(bankSendButton, "Send button")
	leavePage(tb)
	tb.do(
		chromedp.SetValue(chromedp.CSS(`select#from`), "brukskonto"),
		chromedp.Clear(chromedp.CSS(`#payee`)), chromedp.SendKeys(chromedp.CSS(`#payee`), payee),
		chromedp.Clear(chromedp.CSS(`#amount`)), chromedp.SendKeys(chromedp.CSS(`#amount`), amount),
		chromedp.Click(bankSendButton),
	)
}

// awaitApproval waits for the provider's approval page and checks that it
// shows the payment: amount ("5000.00 NOK"), payee and the bank's name.
func awaitApproval(tb *tab, rig *demoBankRig, amount, payee string) {
	tb.t.Helper()
	tb.do(chromedp.WaitVisible(approveButton))
	if loc := tb.location(); !strings.HasPrefix(loc, rig.p.URL+"/") {
		tb.t.Fatalf("the approval page is at %s, want the provider %s", loc, rig.p.URL)
	}
	wantText(tb, approvalAmount, "the approval's amount", amount)
	wantText(tb, approvalPayee, "the approval's payee", payee)
	if reason := textOf(tb, chromedp.CSS(`#reason`), "the approval's requester"); !strings.Contains(reason, "Demo Bank") {
		tb.t.Errorf("the approval page says %q, want the client's name Demo Bank", reason)
	}
	if n := mustRun(tb, chromedp.Evaluate[int](`document.querySelectorAll("#authorization-details li").length`)); n != 1 {
		tb.t.Errorf("the approval page lists %d details, want the one payment", n)
	}
}

// approveBackToBank presses Approve (with the passkey: the WebAuthn page
// that follows runs at once with the virtual authenticator) and waits for
// the bank's overview with its notice.
func approveBackToBank(tb *tab, rig *demoBankRig) string {
	tb.t.Helper()
	if label := textOf(tb, approveButton, "Approve button"); label != "Approve with passkey" {
		tb.t.Errorf("the approve button of a user with a passkey says %q, want \"Approve with passkey\"", label)
	}
	leavePage(tb)
	tb.do(chromedp.Click(approveButton))
	arriveAt(tb, rig.bank+"/")
	tb.do(chromedp.WaitVisible(bankNotice))
	if loc := tb.location(); loc != rig.bank+"/" {
		tb.t.Errorf("after the approval the browser is at %s, want the bank's overview %s/", loc, rig.bank)
	}
	return textOf(tb, bankNotice, "the bank's notice")
}

// historyRows returns the rows of the bank's "Recent transfers", newest
// first, as text.
func historyRows(tb *tab) []string {
	tb.t.Helper()
	return mustRun(tb, chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll("#history tr"), r => r.innerText.replace(/\s+/g, " ").trim())`))
}

// callBankAPI posts a transfer to the bank's API with token and returns
// the status and the error code and description of the answer.
func callBankAPI(t *testing.T, rig *demoBankRig, token, amount, payee string) (int, string, string) {
	t.Helper()
	body := fmt.Sprintf(`{"from":"brukskonto","instructedAmount":{"amount":%q,"currency":"NOK"},"creditorName":%q}`, amount, payee)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rig.bank+"/api/transfers", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	json.NewDecoder(io.LimitReader(res.Body, 1<<16)).Decode(&e)
	return res.StatusCode, e.Error, e.Description
}

func TestBrowserDemoBankPaysOnlyWhatThePasskeyApproved(t *testing.T) {
	rig := startDemoBank(t)
	chrome := newChrome(t)
	auth := addAuthenticator(chrome, false)
	var approvedToken string // the bank's access token after the NOK 5 000 approval

	ok := t.Run("password_login_and_small_transfer_goes_straight_through", func(t *testing.T) {
		tb := chrome.in(t)
		tb.do(chromedp.Navigate(rig.bank+"/"), chromedp.WaitVisible(bankLoginLink))
		press(tb, bankLoginLink, `"Log in with Stepup" link`)
		tb.do(chromedp.WaitVisible(anyUsernameField), chromedp.WaitVisible(passwordField))
		if loc := tb.location(); !strings.HasPrefix(loc, rig.p.URL+"/login?") {
			t.Fatalf("the bank's login led to %s, want the provider's login page", loc)
		}
		leavePage(tb)
		typePassword(tb, "alice", "alice-password")
		arriveAt(tb, rig.bank+"/")
		tb.do(chromedp.WaitVisible(bankCustomerName))
		wantText(tb, bankCustomerName, "the customer's name", "Alice Example")
		wantText(tb, bankBrukskonto, "Brukskonto's balance", "NOK 25 000,00")
		wantText(tb, chromedp.CSS(`#balance-sparekonto`), "Sparekonto's balance", "NOK 100 000,00")
		tb.need(bankReceivedPanel, `"What the bank received" panel`)
		if acr := textOf(tb, chromedp.CSS(`#acr`), "received acr"); acr == "phr" || acr == "" {
			t.Errorf("after a password login the bank received acr %q, want a password level", acr)
		}
		wantText(tb, chromedp.CSS(`#amr`), "received amr", "pwd")
		wantText(tb, chromedp.CSS(`#details`), "received authorization_details", "none approved")

		tokensBefore := rig.tokens.count()
		sendTransfer(tb, "500", "Kiosken AS")
		arriveAt(tb, rig.bank+"/")
		tb.do(chromedp.WaitVisible(bankNotice))
		wantText(tb, bankNotice, "the bank's notice", "Sent NOK 500,00 to Kiosken AS.")
		wantText(tb, bankBrukskonto, "Brukskonto's balance", "NOK 24 500,00")
		if rows := historyRows(tb); len(rows) != 1 || !strings.Contains(rows[0], "Kiosken AS") || !strings.Contains(rows[0], "NOK 500,00") {
			t.Errorf("recent transfers %q, want the one NOK 500 to Kiosken AS", rows)
		}
		if n := rig.tokens.count(); n != tokensBefore {
			t.Errorf("a small transfer made %d token requests, want none (no trip to the provider)", n-tokensBefore)
		}
	})
	if !ok {
		return
	}

	ok = t.Run("large_transfer_enrols_a_passkey_and_pays_the_approved_payment", func(t *testing.T) {
		tb := chrome.in(t)
		sendTransfer(tb, "5 000", "Acme AS")

		// alice has only her password: the provider asks her to create a
		// passkey, then to use it.
		tb.do(chromedp.WaitVisible(enrollPasskeyButton))
		if loc := tb.location(); !strings.HasPrefix(loc, rig.p.URL+"/") {
			t.Fatalf("the large transfer led to %s, want the provider", loc)
		}
		if got := methodChoices(tb); !slices.Equal(got, []string{"enroll:webauthn"}) {
			t.Errorf("the step-up to phr of a user without a passkey offers %v, want only enroll:webauthn", got)
		}
		if label := textOf(tb, enrollPasskeyButton, `"Create a passkey" button`); label != "Create a passkey" {
			t.Errorf("the enrolment button says %q, want \"Create a passkey\"", label)
		}
		if tb.has(passwordField) {
			t.Errorf("the step-up right after the password login asks for the password again\n%s", tb.describe())
		}
		press(tb, enrollPasskeyButton, `"Create a passkey" button`)
		tb.do(chromedp.WaitVisible(passkeyButton))
		if creds := storedCredentials(tb, auth); len(creds) != 1 || creds[0].RpID != "localhost" {
			t.Fatalf("after enrolment the authenticator holds %d credentials, want one for localhost: %+v", len(creds), creds)
		}
		press(tb, passkeyButton, "Passkey button")

		awaitApproval(tb, rig, "5000.00 NOK", "Acme AS")
		notice := approveBackToBank(tb, rig)
		if notice != "Sent NOK 5 000,00 to Acme AS." {
			t.Fatalf("after approving NOK 5 000 the bank says %q, want it sent", notice)
		}
		wantText(tb, bankBrukskonto, "Brukskonto's balance", "NOK 19 500,00")
		if rows := historyRows(tb); len(rows) != 2 || !strings.Contains(rows[0], "Acme AS approved") || !strings.Contains(rows[0], "NOK 5 000,00") {
			t.Errorf("recent transfers %q, want NOK 5 000 to Acme AS (approved) first", rows)
		}

		// What the bank received: the passkey's level and the approval.
		wantText(tb, chromedp.CSS(`#acr`), "received acr", "phr")
		amr := strings.Fields(textOf(tb, chromedp.CSS(`#amr`), "received amr"))
		if !slices.Contains(amr, "hwk") && !slices.Contains(amr, "swk") {
			t.Errorf("received amr %v, want a passkey value (hwk or swk)", amr)
		}
		var details []map[string]any
		if raw := textOf(tb, chromedp.CSS(`pre#details`), "received authorization_details"); json.Unmarshal([]byte(raw), &details) != nil {
			t.Errorf("received authorization_details %q are not JSON", raw)
		}
		want := []map[string]any{{"type": "payment.v1", "creditorName": "Acme AS",
			"instructedAmount": map[string]any{"amount": "5000.00", "currency": "NOK"},
			"debtorAccount":    map[string]any{"name": "Brukskonto"}}}
		if got, _ := json.Marshal(details); string(got) != string(must(json.Marshal(want))) {
			t.Errorf("received authorization_details %s, want %s", got, must(json.Marshal(want)))
		}
		tb.need(chromedp.CSS(`#digest`), "received permission_digest")

		tok := rig.tokens.last(t)
		if !bytes.Contains(tok.AuthorizationDetails, []byte(`"5000.00"`)) {
			t.Fatalf("the bank's last token approves %s, want the NOK 5 000 payment", tok.AuthorizationDetails)
		}
		approvedToken = tok.AccessToken
	})
	if !ok {
		return
	}

	t.Run("amount_changed_before_approval_is_refused_and_nothing_paid", func(t *testing.T) {
		tb := chrome.in(t)

		// The API: the approval of NOK 5 000 presented for NOK 20 000 is
		// refused because the amount differs (not merely because the
		// approval was spent), and the approved amount again as a replay.
		status, code, desc := callBankAPI(t, rig, approvedToken, "20000.00", "Acme AS")
		if status != http.StatusForbidden || code != "insufficient_authorization_details" || !strings.Contains(desc, "do not match") {
			t.Errorf("the NOK 5 000 approval for NOK 20 000: %d %s %q, want 403 insufficient_authorization_details (do not match)", status, code, desc)
		}
		status, code, desc = callBankAPI(t, rig, approvedToken, "5000.00", "Acme AS")
		if status != http.StatusForbidden || code != "insufficient_authorization_details" || !strings.Contains(desc, "already used") {
			t.Errorf("the NOK 5 000 approval replayed: %d %s %q, want 403 insufficient_authorization_details (already used)", status, code, desc)
		}

		// The browser: alice starts NOK 2 000 to Acme AS. Her passkey
		// sign-in is recent, so the provider asks only for the approval.
		tb.do(chromedp.Navigate(rig.bank + "/"))
		sendTransfer(tb, "2000", "Acme AS")
		awaitApproval(tb, rig, "2000.00 NOK", "Acme AS")
		if got := methodChoices(tb); len(got) != 0 {
			t.Errorf("the approval after a fresh passkey sign-in also offers methods %v", got)
		}

		// Meanwhile, in another tab of the same browser (same bank
		// session), the pending transfer is replaced by NOK 20 000.
		ctx, cancel := chromedp.NewContext(chrome.ctx)
		defer cancel()
		if err := openBounded(ctx, cancel); err != nil {
			t.Fatalf("open a second tab: %v", err)
		}
		other := &tab{t: t, ctx: ctx}
		other.watchConsole()
		other.do(chromedp.Navigate(rig.bank + "/"))
		sendTransfer(other, "20000", "Acme AS")
		awaitApproval(other, rig, "20000.00 NOK", "Acme AS")

		// alice approves the NOK 2 000 she sees in the first tab.
		tokensBefore := rig.tokens.count()
		notice := approveBackToBank(tb, rig)
		if want := "You started another transfer; this confirmation was cancelled. Nothing was sent."; notice != want {
			t.Errorf("approving NOK 2 000 after the pending transfer became NOK 20 000: the bank says %q, want %q", notice, want)
		}
		wantText(tb, bankBrukskonto, "Brukskonto's balance", "NOK 19 500,00")
		if rows := historyRows(tb); len(rows) != 2 {
			t.Errorf("recent transfers %q, want only the NOK 500 and NOK 5 000", rows)
		}
		if n := rig.tokens.count(); n != tokensBefore {
			t.Errorf("the bank redeemed %d codes for a confirmation it did not start", n-tokensBefore)
		}
	})
}

// TestBrowserDemoBankSmartTVSignsInWithCIBA: the bank's /tv page in one
// tab asks to sign alice in; in a second tab alice opens the provider's
// authenticator app, finds the request with the code the TV shows and
// approves it with her password (she has no passkey); the TV then shows
// her signed in.
func TestBrowserDemoBankSmartTVSignsInWithCIBA(t *testing.T) {
	rig := startDemoBank(t)
	tv := newChrome(t)

	// The TV: type the username, get the code to compare.
	tv.do(chromedp.Navigate(rig.bank+"/tv"), chromedp.WaitVisible(chromedp.CSS(`#username`)))
	leavePage(tv)
	tv.do(chromedp.SendKeys(chromedp.CSS(`#username`), "alice"),
		chromedp.Click(chromedp.CSS(`form[action="/tv"] button[type="submit"]`)))
	arriveAt(tv, rig.bank+"/tv")
	tv.do(chromedp.WaitVisible(chromedp.CSS(`#binding-message`)))
	binding := textOf(tv, chromedp.CSS(`#binding-message`), "the TV's binding message")
	if !strings.HasPrefix(binding, "TV-") || len(binding) != len("TV-0000") {
		t.Fatalf("the TV shows the binding message %q, want TV-<4 digits>\n%s", binding, tv.describe())
	}

	// The phone: a second tab of the same browser, at the provider.
	ctx, cancel := chromedp.NewContext(tv.ctx)
	defer cancel()
	if err := openBounded(ctx, cancel); err != nil {
		t.Fatalf("open a second tab: %v", err)
	}
	phone := &tab{t: t, ctx: ctx}
	phone.watchConsole()
	trackEventSources(phone)
	openApp(phone, rig.p)
	waitAppText(phone, ".binding-message", binding, appPageWithin)
	settleApp(phone)
	if n := len(texts(phone, "section.request")); n != 1 {
		t.Fatalf("the app lists %d requests, want the TV's one\n%s", n, phone.describe())
	}
	if got := texts(phone, "section.request h2"); !slices.Equal(got, []string{"Demo Bank"}) {
		t.Errorf("the app's request is from %q, want Demo Bank", got)
	}
	// alice has no passkey: the app asks for her password.
	phone.need(appPassword, "password field in the request")
	phone.do(chromedp.SendKeys(appPassword, "alice-password"))
	press(phone, appApprove, `"Approve" button`)
	waitAppText(phone, "#app-message", "Approved.", appPageWithin)

	// The TV: the page reloads itself every 3 s; "Check again" at once.
	if tv.has(chromedp.CSS(`form[method="get"][action="/tv"] button`)) {
		leavePage(tv)
		tv.do(chromedp.Click(chromedp.CSS(`form[method="get"][action="/tv"] button`)))
		arriveAt(tv, rig.bank+"/tv")
	}
	if !eventually(tv, 10*time.Second, `document.getElementById("tv-name") !== null`) {
		t.Fatalf("the TV does not show alice signed in within 10 s\n%s", tv.describe())
	}
	if status := strings.Join(strings.Fields(textOf(tv, chromedp.CSS(`#tv-status`), "the TV's status")), " "); status != "Signed in as Alice Example" {
		t.Errorf("the TV says %q, want \"Signed in as Alice Example\"", status)
	}
	if acr := textOf(tv, chromedp.CSS(`#acr`), "the TV's acr"); acr == "" {
		t.Errorf("the TV shows no acr")
	}
	if amr := strings.Fields(textOf(tv, chromedp.CSS(`#amr`), "the TV's amr")); !slices.Contains(amr, "pwd") {
		t.Errorf("the TV shows amr %v after a password approval, want pwd", amr)
	}
	t.Logf("TV signed in with acr %q amr %q", textOf(tv, chromedp.CSS(`#acr`), "acr"), textOf(tv, chromedp.CSS(`#amr`), "amr"))
}

// must returns v, panicking on err; for values that cannot fail.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
