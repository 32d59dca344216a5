package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The browser harness: a real headless Chromium driven over the DevTools
// protocol (chromedp, pipe transport). Each top-level test gets its own
// browser with a fresh profile; subtests get tabs with their own cookie jars.

const (
	// browserStartTimeout bounds the launch of the browser.
	browserStartTimeout = 30 * time.Second
	// browserActionTimeout bounds every action, so that a hang fails the
	// test instead of stalling CI.
	browserActionTimeout = 20 * time.Second
)

// findChrome returns the path of the browser: $STEPUP_CHROME, Debian's
// /usr/bin/chromium, or chromium in PATH; "" if there is none.
func findChrome() string {
	if p := os.Getenv("STEPUP_CHROME"); p != "" {
		if lp, err := exec.LookPath(p); err == nil {
			return lp
		}
		return ""
	}
	if fi, err := os.Stat("/usr/bin/chromium"); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
		return "/usr/bin/chromium"
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	return ""
}

// tab is a browser tab. Its context has no deadline; every action runs under
// browserActionTimeout.
type tab struct {
	t       *testing.T
	ctx     context.Context
	console *lockedBuffer // the tab's console and browser log, for failures
	blocked chan string   // Content Security Policy violations
}

// watchConsole records the tab's console messages, exceptions and browser
// log entries (CSP violations, blocked navigations) until the tab closes.
func (b *tab) watchConsole() {
	b.console = &lockedBuffer{}
	b.blocked = make(chan string, 16)
	msgs := chromedp.Console(b.ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			b.console.Printf("%s %s: %s", m.Type, m.URL, m.Text)
			if strings.Contains(m.Text, "Content Security Policy") {
				select {
				case b.blocked <- m.Text:
				default:
				}
			}
		}
	}()
}

// lockedBuffer collects the browser's output.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) Printf(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.WriteString(strings.TrimRight(fmt.Sprintf(format, args...), "\n") + "\n")
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newChrome launches a headless Chromium for t and returns its first tab.
// The browser is closed when t ends. Without a browser the test is skipped,
// unless STEPUP_REQUIRE_BROWSER=1, where a missing browser is a failure.
func newChrome(t *testing.T) *tab {
	t.Helper()
	path := findChrome()
	if path == "" {
		msg := "no Chromium: set STEPUP_CHROME, or install /usr/bin/chromium (apt-get install chromium)"
		if env := os.Getenv("STEPUP_CHROME"); env != "" {
			msg = "STEPUP_CHROME=" + env + " is not an executable"
		}
		if os.Getenv("STEPUP_REQUIRE_BROWSER") == "1" {
			t.Fatal(msg + " (STEPUP_REQUIRE_BROWSER=1)")
		}
		t.Skip(msg)
	}
	out := &lockedBuffer{}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1024, 768),
		chromedp.CombinedOutput(out),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithErrorf(out.Printf))
	t.Cleanup(func() {
		// Close the browser gracefully, then make sure the process is gone
		// before t.TempDir removes the profile.
		closed := make(chan struct{})
		go func() {
			defer close(closed)
			if err := chromedp.Cancel(ctx); err != nil && !errors.Is(err, context.Canceled) {
				out.Printf("close browser: %v", err)
			}
		}()
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
			out.Printf("browser did not close within 10s; killing it")
		}
		cancel()
		cancelAlloc()
		if t.Failed() {
			if s := quietOutput(out.String()); s != "" {
				t.Logf("browser output:\n%s", s)
			}
		}
	})

	if err := openBounded(ctx, cancel); err != nil {
		t.Fatalf("start %s: %v\n%s", path, err, quietOutput(out.String()))
	}
	tb := &tab{t: t, ctx: ctx}
	tb.watchConsole()
	return tb
}

// openBounded runs the first action on a chromedp context: it starts the
// browser or opens the tab, and binds its life to ctx. So that call must not carry
// a deadline; it is bounded from the outside instead, by cancelling ctx.
func openBounded(ctx context.Context, cancel context.CancelFunc) error {
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		return err
	case <-time.After(browserStartTimeout):
		cancel()
		return fmt.Errorf("not ready within %s", browserStartTimeout)
	}
}

// newTab opens a tab in a fresh browser context (its own cookies) of the
// same browser, closed when t ends.
func (b *tab) newTab(t *testing.T) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := openBounded(ctx, cancel); err != nil {
		t.Fatalf("open tab: %v", err)
	}
	nt := &tab{t: t, ctx: ctx}
	nt.watchConsole()
	return nt
}

// do runs actions in the tab; an error, or a hang past
// browserActionTimeout, fails the test.
func (b *tab) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if _, err := tabRun(b, chromedp.Steps(actions...)); err != nil {
		b.t.Fatalf("browser: %v\n%s", err, b.describe())
	}
}

// tabRun runs one action with a value in the tab, under
// browserActionTimeout. It returns the error for the caller to judge.
func tabRun[T any](b *tab, a chromedp.Action[T]) (T, error) {
	ctx, cancel := context.WithTimeout(b.ctx, browserActionTimeout)
	defer cancel()
	return chromedp.Run(ctx, a)
}

// mustRun runs one action with a value in the tab; an error fails the test.
func mustRun[T any](b *tab, a chromedp.Action[T]) T {
	b.t.Helper()
	v, err := tabRun(b, a)
	if err != nil {
		b.t.Fatalf("browser: %v\n%s", err, b.describe())
	}
	return v
}

// need fails the test at once, rather than after a wait, if the page in
// the tab has no element matching sel; what names it for the message.
func (b *tab) need(sel chromedp.CSS, what string) {
	b.t.Helper()
	q, _ := json.Marshal(string(sel))
	found, err := tabRun(b, chromedp.Evaluate[bool](fmt.Sprintf(`document.querySelector(%s) !== null`, q)))
	if err != nil {
		b.t.Fatalf("browser: %v\n%s", err, b.describe())
	}
	if !found {
		b.t.Fatalf("the page has no %s (%s)\n%s", what, sel, b.describe())
	}
}

// location is the URL the tab shows.
func (b *tab) location() string {
	b.t.Helper()
	return mustRun(b, chromedp.Location())
}

// describe says where the tab is and what it shows, for failure messages.
func (b *tab) describe() string {
	ctx, cancel := context.WithTimeout(b.ctx, 3*time.Second)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return "(tab state unavailable: " + err.Error() + ")"
	}
	text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if len(text) > 2000 {
		text = text[:2000] + "…"
	}
	msg := "tab at " + loc + " shows:\n" + text
	if c := b.console.String(); c != "" {
		msg += "\nconsole:\n" + c
	}
	return msg
}

// quietOutput drops the browser's stderr noise that says nothing about a
// failure: D-Bus is absent in containers and CI.
func quietOutput(s string) string {
	var keep []string
	for _, line := range strings.Split(s, "\n") {
		if line == "" || strings.Contains(line, "dbus") || strings.Contains(line, "unexpected operator") {
			continue
		}
		keep = append(keep, line)
	}
	return strings.Join(keep, "\n")
}
