package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stepup-oidc/stepup/internal/cli"
)

// syncBuffer is a goroutine-safe bytes.Buffer.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestReadmeWalkthrough runs the README's 60-second walkthrough against
// `stepup serve --demo`: the authorization URL it shows, a login as alice,
// and the curl token exchange it shows.
func TestReadmeWalkthrough(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	authURL := regexp.MustCompile(`(?m)^\s*(http://127\.0\.0\.1:8080/authorize\?\S+)$`).FindStringSubmatch(string(readme))
	curl := regexp.MustCompile(`(?s)curl -s -u (\S+):(\S+) \\\s*\n(.*?)(http://127\.0\.0\.1:8080/token)`).FindStringSubmatch(string(readme))
	if authURL == nil || curl == nil {
		t.Fatal("README walkthrough not found (authorize URL and curl token exchange)")
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	issuer := "http://" + addr
	ready := make(chan struct{})
	var stdout, stderr syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var exit int
	go func() {
		defer close(done)
		exit = cli.Run(ctx, []string{"serve", "--demo"}, cli.Env{Stdout: &stdout, Stderr: &stderr,
			Environ: []string{"STEPUP_ISSUER=" + issuer, "STEPUP_LISTEN=" + addr,
				"STEPUP_STORAGE=sqlite:" + filepath.Join(t.TempDir(), "stepup.db")},
			Ready: func(string) { close(ready) }})
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		if exit != 0 {
			t.Errorf("serve exited %d: %s", exit, stderr.String())
		}
	})
	select {
	case <-ready:
	case <-done:
		t.Fatal("serve stopped early")
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not start")
	}
	if !strings.Contains(stderr.String(), "stepup listening") {
		t.Errorf("no start-up line in the log: %s", stderr.String())
	}
	// serve --demo prints the same walkthrough, with this issuer.
	if want := strings.Replace(authURL[1], "http://127.0.0.1:8080", issuer, 1); !strings.Contains(stdout.String(), want) {
		t.Errorf("serve --demo does not print the README's authorization URL:\n%s", stdout.String())
	}

	b := newBrowser(t)
	b.client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Host == "127.0.0.1:9000" {
			return http.ErrUseLastResponse
		}
		return nil
	}
	pg := b.login(b.get(strings.Replace(authURL[1], "http://127.0.0.1:8080", issuer, 1)), "alice", "alice-password")
	if pg.Location == nil || pg.Location.Query().Get("code") == "" {
		t.Fatalf("login did not return a code: %d\n%s", pg.Status, pg.Body)
	}
	form := url.Values{}
	for _, m := range regexp.MustCompile(`-d (\S+)=(\S+)`).FindAllStringSubmatch(curl[3], -1) {
		form.Set(m[1], m[2])
	}
	form.Set("code", pg.Location.Query().Get("code"))
	req, _ := http.NewRequest(http.MethodPost, issuer+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(curl[1], curl[2])
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]any
	json.NewDecoder(res.Body).Decode(&body)
	if res.StatusCode != 200 || body["id_token"] == nil || body["access_token"] == nil {
		t.Fatalf("token exchange from the README: %d %v", res.StatusCode, body)
	}
}
