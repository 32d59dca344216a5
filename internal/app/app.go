// Package app is Stepup's composition root: it opens the store, builds the
// services from a validated configuration, and serves HTTP with a graceful
// shutdown. It is the only package that knows every other one.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/stepup-oidc/stepup/internal/config"
	"github.com/stepup-oidc/stepup/internal/flow"
	"github.com/stepup-oidc/stepup/internal/keys"
	"github.com/stepup-oidc/stepup/internal/password"
	"github.com/stepup-oidc/stepup/internal/policy"
	"github.com/stepup-oidc/stepup/internal/server"
	"github.com/stepup-oidc/stepup/internal/store"
	// POSTGRES "github.com/stepup-oidc/stepup/internal/store/postgres"
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
		return nil, fmt.Errorf("postgres: TODO") // POSTGRES
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
	pol, err := policy.Preset(cfg.ACR.Preset)
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
	fl, err := flow.New(flow.Config{
		Issuer: cfg.Issuer, Store: st, Keys: km, Policy: pol, Logger: log, Now: now,
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
		SessionCookie: cfg.Session.CookieName})
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
			CreatedAt: now, UpdatedAt: now}
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
		if _, err := a.Store.UpsertUserByUsername(ctx, su); err != nil {
			return fmt.Errorf("app: upsert user %s: %w", u.Username, err)
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
