// Package app is Stepup's composition root: it opens the store, builds the
// services from a validated configuration, and serves HTTP with a graceful
// shutdown. It is the only package that knows every other one.
package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/stepup-oidc/stepup/internal/authn/passkey"
	"github.com/stepup-oidc/stepup/internal/authn/totp"
	"github.com/stepup-oidc/stepup/internal/authn/upstream"
	"github.com/stepup-oidc/stepup/internal/config"
	"github.com/stepup-oidc/stepup/internal/flow"
	"github.com/stepup-oidc/stepup/internal/keys"
	"github.com/stepup-oidc/stepup/internal/metrics"
	"github.com/stepup-oidc/stepup/internal/password"
	"github.com/stepup-oidc/stepup/internal/seal"
	"github.com/stepup-oidc/stepup/internal/server"
	"github.com/stepup-oidc/stepup/internal/store"
	"github.com/stepup-oidc/stepup/internal/store/postgres"
	"github.com/stepup-oidc/stepup/internal/store/sqlite"
	"github.com/stepup-oidc/stepup/internal/token"
)

// App is a running Stepup provider.
type App struct {
	Config *config.Config
	Store  store.Store
	Keys   *keys.Manager
	Flow   *flow.Service
	Server *server.Server
	Logger *slog.Logger
}

// OpenStore opens (and migrates) the store named by a storage setting:
// "sqlite:<path>" or a postgres:// URL.
func OpenStore(ctx context.Context, storage string) (store.Store, error) {
	switch {
	case strings.HasPrefix(storage, "sqlite:"):
		return sqlite.Open(ctx, strings.TrimPrefix(storage, "sqlite:"))
	case strings.HasPrefix(storage, "postgres://"), strings.HasPrefix(storage, "postgresql://"):
		return postgres.Open(ctx, storage)
	}
	return nil, fmt.Errorf("app: unsupported storage %q", storage)
}

// New builds an App on an open store. now may be nil (time.Now).
func New(ctx context.Context, cfg *config.Config, st store.Store, log *slog.Logger, now func() time.Time) (*App, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	pol, err := cfg.ACR.Policy()
	if err != nil {
		return nil, err
	}
	km, err := keys.New(keys.Config{Store: st, Overlap: cfg.Keys.Overlap.Duration(), Now: now})
	if err != nil {
		return nil, err
	}
	if err := km.Ensure(ctx); err != nil {
		return nil, err
	}
	sealer := seal.Sealer{Secret: km.Secret, Secrets: km.Secrets, Now: now}
	tm, err := totp.New(totp.Config{Issuer: "Stepup", Store: st, Now: now})
	if err != nil {
		return nil, err
	}
	iss, err := url.Parse(cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("app: issuer: %w", err)
	}
	// WebAuthn relying party IDs are domains: browsers refuse passkeys on
	// an IP-address issuer such as the default http://127.0.0.1:8080.
	var roots [][]byte
	for _, path := range cfg.Passkeys.AttestationRoots {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("app: passkeys.attestation_roots: %w", err)
		}
		roots = append(roots, b)
	}
	var pk *passkey.Method
	if net.ParseIP(iss.Hostname()) == nil {
		pk, err = passkey.New(passkey.Config{RPID: iss.Hostname(), RPDisplayName: "Stepup", AttestationRoots: roots,
			RPOrigins: []string{iss.Scheme + "://" + iss.Host}, Store: st, Now: now, Logger: log,
			Seal:   func(purpose string, v any) (string, error) { return sealer.Seal(purpose, v, 5*time.Minute) },
			Unseal: sealer.Open})
		if err != nil {
			return nil, err
		}
	} else {
		log.Info("passkeys are off: the issuer's host is an IP address; use a domain such as localhost to enable them",
			"issuer", cfg.Issuer)
	}
	var ups []flow.Upstream
	for _, u := range cfg.Upstreams {
		m, err := upstream.New(upstream.Config{Name: u.Name, DisplayName: u.DisplayName, Issuer: u.Issuer,
			ClientID: u.ClientID, ClientSecret: u.ClientSecret, RedirectURI: cfg.Issuer + "/upstream/callback",
			Scopes: u.Scopes, ACRValues: u.ACRValues, Assurance: u.Assurance, ACRMap: u.ACRMap, Factors: u.Factors, AMR: u.AMR,
			LinkClaim: u.LinkClaim, Sealer: sealer, Now: now})
		if err != nil {
			return nil, fmt.Errorf("app: upstream %s: %w", u.Name, err)
		}
		label := u.Assurance // what the policy may expect of it
		for _, l := range u.ACRMap {
			if label == "" || l == "high" {
				label = l
			}
		}
		ups = append(ups, flow.Upstream{Name: u.Name, DisplayName: m.DisplayName(), Assurance: label,
			Factors: u.Factors, AMR: u.AMR, Method: m})
	}
	mx := metrics.New()
	fl, err := flow.New(flow.Config{
		Observer:  mx,
		Upstreams: ups, RequirePAR: cfg.PAR.Required,
		Issuer: cfg.Issuer, Store: st, Keys: km, Policy: pol, Logger: log, Now: now, Sealer: sealer,
		TOTP: tm, Passkeys: pk, AttestationConfigured: pk != nil && len(roots) > 0,
		EnrollmentFreshness:   cfg.ACR.EnrollmentFreshness.Duration(),
		DefaultAlg:            cfg.Keys.Algorithm,
		CodeTTL:               cfg.Tokens.CodeTTL.Duration(),
		AccessTokenTTL:        cfg.Tokens.AccessTokenTTL.Duration(),
		IDTokenTTL:            cfg.Tokens.IDTokenTTL.Duration(),
		RefreshTokenTTL:       cfg.Tokens.RefreshTokenTTL.Duration(),
		SessionTTL:            cfg.Session.TTL.Duration(),
		PasswordParams:        cfg.PasswordHash.Params(),
		MaxFailuresPerAccount: cfg.Login.MaxFailuresPerAccount,
		MaxFailuresPerIP:      cfg.Login.MaxFailuresPerIP,
		FailureWindow:         cfg.Login.Window.Duration(),
	})
	if err != nil {
		return nil, err
	}
	srv, err := server.New(server.Config{Issuer: cfg.Issuer, Flow: fl, Keys: km, Store: st, Logger: log,
		SessionCookie: cfg.Session.CookieName, Metrics: mx})
	if err != nil {
		return nil, err
	}
	a := &App{Config: cfg, Store: st, Keys: km, Flow: fl, Server: srv, Logger: log}
	if err := a.SeedStatic(ctx); err != nil {
		return nil, err
	}
	return a, nil
}

// SeedStatic upserts the clients and users declared in the configuration.
// A hash is recomputed only when the secret or password changed, so a
// restart costs no hashing.
func (a *App) SeedStatic(ctx context.Context) error {
	params := a.Config.PasswordHash.Params()
	now := time.Now().UTC()
	for _, c := range a.Config.Clients {
		sc := store.Client{
			ID: c.ID, Name: c.Name, RedirectURIs: c.RedirectURIs, PostLogoutRedirectURIs: c.PostLogoutRedirectURIs,
			GrantTypes: c.GrantTypes, TokenEndpointAuthMethod: c.TokenEndpointAuthMethod,
			IDTokenSignedResponseAlg: c.IDTokenSignedResponseAlg, AccessTokenTTL: c.AccessTokenTTL.Duration(),
			IDTokenTTL: c.IDTokenTTL.Duration(), RefreshTokenTTL: c.RefreshTokenTTL.Duration(),
			MinACR: c.MinACR, ACRFallback: c.ACRFallback == "best", AllowNNIN: c.AllowNNIN,
			Static: true, CreatedAt: now, UpdatedAt: now,
		}
		if c.Secret != "" {
			old, err := a.Store.GetClient(ctx, c.ID)
			if ok, _ := password.Verify(c.Secret, old.SecretHash); err == nil && ok {
				sc.SecretHash = old.SecretHash
			} else if sc.SecretHash, err = password.Hash(c.Secret, params); err != nil {
				return fmt.Errorf("app: hash secret of client %s: %w", c.ID, err)
			}
		}
		if err := a.Store.UpsertClient(ctx, sc); err != nil {
			return fmt.Errorf("app: upsert client %s: %w", c.ID, err)
		}
	}
	for _, u := range a.Config.Users {
		old, err := a.Store.GetUserByUsername(ctx, u.Username)
		su := store.User{ID: token.ID(), Username: strings.ToLower(u.Username), Email: u.Email, Name: u.Name,
			NNIN: u.NNIN, Phone: u.Phone, Birthdate: u.Birthdate, CreatedAt: now, UpdatedAt: now}
		if err == nil {
			su.ID = old.ID
			if ok, _ := password.Verify(u.Password, old.PasswordHash); ok {
				su.PasswordHash = old.PasswordHash
			}
		} else if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("app: get user %s: %w", u.Username, err)
		}
		if su.PasswordHash == "" {
			if su.PasswordHash, err = password.Hash(u.Password, params); err != nil {
				return fmt.Errorf("app: hash password: %w", err)
			}
		}
		stored, err := a.Store.UpsertUserByUsername(ctx, su)
		if err != nil {
			return fmt.Errorf("app: upsert user %s: %w", u.Username, err)
		}
		if u.TOTPSecret != "" {
			secret, err := totp.SecretFromBase32(u.TOTPSecret)
			if err != nil {
				return fmt.Errorf("app: users[%s].totp_secret: %w", u.Username, err)
			}
			// A configured secret is one credential per user, replaced when
			// the secret changes (kept otherwise, with its replay counter).
			id := "totp-config-" + stored.ID
			if old, err := a.Store.GetCredential(ctx, id); err == nil && bytes.Equal(old.Secret, secret) {
				continue
			}
			if err := a.Store.DeleteCredential(ctx, id); err != nil && !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("app: replace configured totp: %w", err)
			}
			err = a.Store.CreateCredential(ctx, store.Credential{ID: id, UserID: stored.ID, Type: store.CredentialTOTP,
				Name: "Authenticator app (configured)", Secret: secret, CreatedAt: now})
			if err != nil {
				return fmt.Errorf("app: store configured totp: %w", err)
			}
		}
	}
	return nil
}

// Handler returns the HTTP handler of every endpoint.
func (a *App) Handler() http.Handler { return a.Server }

// Serve serves on ln until ctx is cancelled, then shuts down gracefully,
// finishing in-flight requests (up to 10 seconds).
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{Handler: a.Server, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second,
		ErrorLog: slog.NewLogLogger(a.Logger.Handler(), slog.LevelWarn)}
	hs.RegisterOnShutdown(a.Server.Close)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	gc := time.NewTicker(10 * time.Minute)
	defer gc.Stop()
	for {
		select {
		case err := <-errc:
			return err
		case <-gc.C:
			if n, err := a.Store.DeleteExpired(ctx, time.Now()); err != nil {
				a.Logger.WarnContext(ctx, "expiry sweep failed", "err", err)
			} else if n > 0 {
				a.Logger.DebugContext(ctx, "expired rows removed", "rows", n)
			}
		case <-ctx.Done():
			a.Server.Close() // readiness fails and event streams end first
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := hs.Shutdown(sctx); err != nil {
				return fmt.Errorf("app: shutdown: %w", err)
			}
			return nil
		}
	}
}

// Close releases the store.
func (a *App) Close() error { return a.Store.Close() }
