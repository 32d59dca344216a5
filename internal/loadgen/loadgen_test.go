package loadgen_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stepup-oidc/stepup/internal/app"
	"github.com/stepup-oidc/stepup/internal/config"
	"github.com/stepup-oidc/stepup/internal/loadgen"
	"github.com/stepup-oidc/stepup/internal/store/sqlite"
)

const (
	clientID     = "bank"
	clientSecret = "bank-secret"
	redirectURI  = "http://127.0.0.1:9999/callback"
)

// startStepup runs Stepup on SQLite with a localhost issuer (passkeys on)
// until the test ends, and returns the issuer.
func startStepup(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Issuer = fmt.Sprintf("http://localhost:%d", ln.Addr().(*net.TCPAddr).Port)
	cfg.Listen = ln.Addr().String()
	cfg.PasswordHash = config.PasswordHash{MemoryKiB: 64, Iterations: 1, Parallelism: 1}
	cfg.Clients = []config.Client{{
		ID: clientID, Name: "Test Bank", Secret: clientSecret, RedirectURIs: []string{redirectURI},
		GrantTypes:              []string{"authorization_code", "refresh_token", "client_credentials", "urn:openid:params:grant-type:ciba"},
		TokenEndpointAuthMethod: "client_secret_basic",
	}}
	cfg.Users = []config.User{{Username: "alice", Password: "alice-password", Email: "alice@example.com", Name: "Alice Example"}}
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
		a.Close()
	})
	return cfg.Issuer
}

func benchConfig(issuer string) loadgen.Config {
	return loadgen.Config{Issuer: issuer, ClientID: clientID, ClientSecret: clientSecret, RedirectURI: redirectURI,
		User: "alice", Password: "alice-password", Concurrency: 3, Duration: 150 * time.Millisecond}
}

// syncBuffer is a goroutine-safe strings.Builder.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
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

func TestEveryScenarioAgainstStepup(t *testing.T) {
	issuer := startStepup(t)
	cfg := benchConfig(issuer)
	rep, err := loadgen.Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	rep.WriteText(&out)
	t.Logf("\n%s", out.String())
	if len(rep.Skipped) > 0 {
		t.Errorf("skipped: %+v", rep.Skipped)
	}
	for _, name := range loadgen.Scenarios() {
		r, ok := rep.Result(name)
		if !ok {
			t.Errorf("%s did not run", name)
			continue
		}
		if r.Count == 0 || r.Errors != 0 || r.P50 <= 0 || r.P99 < r.P50 || r.Throughput <= 0 {
			t.Errorf("%s: %+v", name, r)
		}
	}
}

func TestCountBoundsIterations(t *testing.T) {
	issuer := startStepup(t)
	cfg := benchConfig(issuer)
	cfg.Duration, cfg.Count = 0, 7
	cfg.Scenarios = []string{loadgen.ClientCredentials, loadgen.CodeFlowPassword}
	rep, err := loadgen.Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range cfg.Scenarios {
		if r, _ := rep.Result(name); r.Count != 7 || r.Errors != 0 {
			t.Errorf("%s: %+v", name, r)
		}
	}
	if len(rep.Results) != 2 {
		t.Errorf("ran %d scenarios, want 2", len(rep.Results))
	}
}

func TestUnknownScenarioIsRefused(t *testing.T) {
	_, err := loadgen.Run(t.Context(), loadgen.Config{Issuer: "http://127.0.0.1:1", Scenarios: []string{"nope"}})
	if err == nil || !strings.Contains(err.Error(), "unknown scenario") {
		t.Fatalf("err = %v", err)
	}
}

// TestOtherProvidersSkipPageScenarios runs against a minimal provider that
// is not Stepup: the scenarios that drive Stepup's pages are skipped, the
// protocol ones run.
func TestOtherProvidersSkipPageScenarios(t *testing.T) {
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	iss := srv.URL
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"issuer":%q,"authorization_endpoint":"%[1]s/auth","token_endpoint":"%[1]s/token",
"jwks_uri":"%[1]s/keys","introspection_endpoint":"%[1]s/introspect",
"grant_types_supported":["authorization_code","client_credentials"]}`, iss)
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","kid":"k"}]}`)
	})
	mux.HandleFunc("GET /auth", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<html><form method="post" action="/signin"><input name="login"></form></html>`)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		if id, secret, _ := r.BasicAuth(); id != clientID || secret != clientSecret {
			w.WriteHeader(401)
			fmt.Fprint(w, `{"error":"invalid_client"}`)
			return
		}
		fmt.Fprint(w, `{"access_token":"at","token_type":"Bearer"}`)
	})
	mux.HandleFunc("POST /introspect", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		fmt.Fprintf(w, `{"active":%t}`, r.PostForm.Get("token") == "at")
	})
	cfg := benchConfig(iss)
	cfg.Duration = 100 * time.Millisecond
	rep, err := loadgen.Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{loadgen.Discovery, loadgen.JWKS, loadgen.ClientCredentials, loadgen.Introspection} {
		if r, ok := rep.Result(name); !ok || r.Count == 0 || r.Errors != 0 {
			t.Errorf("%s: %+v (ran %v)", name, r, ok)
		}
	}
	skipped := map[string]string{}
	for _, s := range rep.Skipped {
		skipped[s.Scenario] = s.Reason
	}
	for _, name := range []string{loadgen.CodeFlowSSO, loadgen.CodeFlowPassword, loadgen.CodeFlowPasskey, loadgen.StepUp, loadgen.CIBA} {
		if skipped[name] == "" {
			t.Errorf("%s was not skipped", name)
		}
	}
	if !strings.Contains(skipped[loadgen.CodeFlowSSO], "not Stepup's") {
		t.Errorf("code_flow_sso skipped for %q", skipped[loadgen.CodeFlowSSO])
	}
}

// TestSecondRunSkipsPasskeyScenarios runs twice against one provider: the
// second run cannot use the passkey the first enrolled, so the scenarios
// that need it (CIBA approval too) are skipped, not failed.
func TestSecondRunSkipsPasskeyScenarios(t *testing.T) {
	issuer := startStepup(t)
	cfg := benchConfig(issuer)
	cfg.Duration, cfg.Count = 0, 2
	cfg.Scenarios = []string{loadgen.CodeFlowPasskey, loadgen.StepUp, loadgen.CIBA}
	for run := range 2 {
		rep, err := loadgen.Run(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Errors() != 0 {
			t.Fatalf("run %d: %+v", run, rep)
		}
		if want := 3 * (1 - run); len(rep.Results) != want || len(rep.Skipped) != 3-want {
			t.Fatalf("run %d: ran %+v, skipped %+v", run, rep.Results, rep.Skipped)
		}
	}
}
