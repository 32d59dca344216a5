package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/stepup-oidc/stepup/internal/app"
	"github.com/stepup-oidc/stepup/internal/config"
	"github.com/stepup-oidc/stepup/internal/demobank"
)

// Demo data seeded by serve --demo.
const (
	DemoClientID     = "demo-bank"
	DemoClientSecret = "demo-bank-secret"
	DemoRedirectURI  = "http://127.0.0.1:9000/callback"
	// DemoBankAddr and DemoBankURL are where serve --demo runs the demo
	// bank (internal/demobank), the demo-bank client's redirect target.
	DemoBankAddr = "127.0.0.1:9000"
	DemoBankURL  = "http://" + DemoBankAddr
)

func demoData(c *config.Config) {
	c.Clients = append(c.Clients, config.Client{
		ID: DemoClientID, Name: "Demo Bank", Secret: DemoClientSecret,
		RedirectURIs:            []string{DemoRedirectURI},
		PostLogoutRedirectURIs:  []string{"http://127.0.0.1:9000/"},
		GrantTypes:              []string{"authorization_code", "refresh_token", "client_credentials", "urn:openid:params:grant-type:ciba"},
		TokenEndpointAuthMethod: "client_secret_basic",
	}, config.Client{
		ID: "demo-spa", Name: "Demo single-page app",
		RedirectURIs:            []string{"http://127.0.0.1:9001/callback"},
		GrantTypes:              []string{"authorization_code", "refresh_token"},
		TokenEndpointAuthMethod: "none",
	})
	c.Users = append(c.Users,
		config.User{Username: "alice", Password: "alice-password", Email: "alice@example.com", Name: "Alice Example"},
		config.User{Username: "bob", Password: "bob-password", Email: "bob@example.com", Name: "Bob Example"},
	)
}

func serve(ctx context.Context, args []string, env Env) error {
	fs, cfgPath := flags("serve", env)
	demo := fs.Bool("demo", false, "seed a demo client and demo users, and print how to try a login")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected argument %q", fs.Arg(0))
	}
	c, err := loadConfig(*cfgPath, env)
	if err != nil {
		return err
	}
	if *demo {
		demoData(c)
		c.Defaults()
		if err := c.Validate(); err != nil {
			return err
		}
	}
	log := newLogger(c, env.Stderr)
	st, err := app.OpenStore(ctx, c.Storage)
	if err != nil {
		return err
	}
	a, err := app.New(ctx, c, st, log, nil)
	if err != nil {
		st.Close()
		return err
	}
	defer a.Close()
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	log.Info("stepup listening", "addr", "http://"+ln.Addr().String(), "issuer", c.Issuer,
		"storage", redactDSN(c.Storage), "acr_policy", a.Flow.Policy().Name)
	if *demo {
		bankURL := ""
		if stop := startDemoBank(c.Issuer, log); stop != nil {
			defer stop()
			bankURL = DemoBankURL
		}
		printDemo(env, c.Issuer, bankURL)
	}
	if env.Ready != nil {
		env.Ready(ln.Addr().String())
	}
	return a.Serve(ctx, ln)
}

// startDemoBank runs the demo bank on DemoBankAddr and returns the
// function that shuts it down, or nil (after a warning) when it cannot
// start, for example because the port is taken: the provider runs anyway.
func startDemoBank(issuer string, log *slog.Logger) (stop func()) {
	blog := log.With("component", "demobank")
	bank, err := demobank.New(demobank.Config{Issuer: issuer, ClientID: DemoClientID, ClientSecret: DemoClientSecret,
		BaseURL: DemoBankURL, Logger: blog})
	if err != nil {
		log.Warn("demo bank not started", "err", err)
		return nil
	}
	ln, err := net.Listen("tcp", DemoBankAddr)
	if err != nil {
		log.Warn("demo bank not started: its address is taken; the provider runs without it", "addr", DemoBankAddr, "err", err)
		return nil
	}
	hs := &http.Server{Handler: bank.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second,
		ErrorLog: slog.NewLogLogger(blog.Handler(), slog.LevelWarn)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			blog.Warn("demo bank stopped", "err", err)
		}
	}()
	log.Info("demo bank listening", "url", DemoBankURL)
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := hs.Shutdown(ctx); err != nil {
			hs.Close()
		}
		<-done
	}
}

func printDemo(env Env, issuer, bankURL string) {
	if bankURL != "" {
		fmt.Fprintf(env.Stdout, `
Demo bank: open %[1]s and log in as alice. Transfers up to NOK 1 000 go
straight through; larger ones ask the provider for a second factor (or a
passkey) and for your approval of the exact amount and payee. The "smart
TV" at %[1]s/tv signs in with CIBA: approve it in the authenticator app at
%[2]s/app. See docs/demo-bank.md.
`, bankURL, issuer)
	}
	fmt.Fprintf(env.Stdout, `
Demo data is loaded: users alice / alice-password and bob / bob-password,
confidential client %[2]s (secret %[3]s) and public client demo-spa.

Try a login (authorization code + PKCE):
  1. Open in a browser:
     %[1]s/authorize?client_id=%[2]s&response_type=code&scope=openid%%20profile%%20email&redirect_uri=http%%3A%%2F%%2F127.0.0.1%%3A9000%%2Fcallback&state=xyz&nonce=n-0S6&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256
  2. Sign in as alice. The browser lands on 127.0.0.1:9000/callback?code=... (the demo
     bank, if it runs, will refuse this foreign callback; copy the code from the address bar).
  3. Exchange it:
     curl -s -u %[2]s:%[3]s -d grant_type=authorization_code -d code=CODE \
       -d redirect_uri=http://127.0.0.1:9000/callback \
       -d code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk %[1]s/token

`, issuer, DemoClientID, DemoClientSecret)
}
