// Package flow is Stepup's protocol core, free of HTTP: the authorization
// transaction (authorize -> authenticate -> code), the token grants
// (authorization code, refresh with rotation, client credentials),
// introspection, revocation, userinfo and logout. Handlers in package
// server parse wire requests into the typed requests of this package, call
// one method, and write the result.
//
// Errors returned are *oauth.Error values carrying the exact protocol code;
// anything else is an internal failure the edge turns into server_error.
package flow

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/stepup-oidc/stepup/internal/authn/passkey"
	"github.com/stepup-oidc/stepup/internal/authn/totp"
	"github.com/stepup-oidc/stepup/internal/keys"
	"github.com/stepup-oidc/stepup/internal/password"
	"github.com/stepup-oidc/stepup/internal/policy"
	"github.com/stepup-oidc/stepup/internal/seal"
	"github.com/stepup-oidc/stepup/internal/store"
	"github.com/stepup-oidc/stepup/internal/token"
)

// Config configures a Service. Zero durations take the defaults below.
type Config struct {
	Issuer string
	Store  store.Store
	Keys   *keys.Manager
	// Sealer seals state carried by the browser (transactions, ceremonies).
	Sealer seal.Sealer
	Policy *policy.Policy
	Logger *slog.Logger
	Now    func() time.Time

	DefaultAlg      string        // ES256
	CodeTTL         time.Duration // 60s
	AccessTokenTTL  time.Duration // 10m
	IDTokenTTL      time.Duration // 10m
	RefreshTokenTTL time.Duration // 720h
	SessionTTL      time.Duration // 12h
	TransactionTTL  time.Duration // 30m: how long a login page stays usable

	// Login throttling: failures allowed per account and per client IP
	// within Window before further attempts are refused until it passes.
	// TOTP and Passkeys are the second-factor and passkey methods; nil
	// disables them.
	TOTP     *totp.Method
	Passkeys *passkey.Method
	// AttestationConfigured is true when passkey attestation roots are
	// configured, so device-bound attested passkeys (phrh) are reachable.
	AttestationConfigured bool
	// Upstreams are upstream OpenID providers offered as methods.
	Upstreams []Upstream
	// EnrollmentFreshness is how recently every method the user already has
	// must have been used before a new one may be enrolled (default 5m).
	EnrollmentFreshness time.Duration

	// Observer, when set, is told about flow outcomes (metrics).
	Observer Observer

	// RequirePAR makes pushed authorization requests mandatory.
	RequirePAR bool

	// PasswordParams are the argon2id parameters for new hashes.
	PasswordParams password.Params

	MaxFailuresPerAccount int           // 5
	MaxFailuresPerIP      int           // 20
	FailureWindow         time.Duration // 15m
}

// Observer receives flow outcomes, for metrics.
type Observer interface {
	Authorized(clientID, acr string)
	Unmet(clientID string)
	CIBADecided(status string)
}

type nopObserver struct{}

func (nopObserver) Authorized(string, string) {}
func (nopObserver) Unmet(string)              {}
func (nopObserver) CIBADecided(string)        {}

// Service implements the flows.
type Service struct {
	cfg        Config
	throttle   *throttle
	ceremonies *ceremonies
	lookups    *throttle // user-exists lookups per client, per minute
	wakers     wakers
	// dummyHash is verified against when the username is unknown, so that
	// timing does not reveal which accounts exist.
	dummyHash string
	secrets   sync.Map // client id -> verified secret cache entry
}

// New validates cfg and returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Issuer == "" || cfg.Store == nil || cfg.Keys == nil || cfg.Policy == nil {
		return nil, errors.New("flow: issuer, store, keys and policy are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	if cfg.Sealer.Secret == nil {
		cfg.Sealer = seal.Sealer{Secret: cfg.Keys.Secret, Secrets: cfg.Keys.Secrets, Now: cfg.Now}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.CodeTTL, time.Minute)
	def(&cfg.AccessTokenTTL, 10*time.Minute)
	def(&cfg.IDTokenTTL, 10*time.Minute)
	def(&cfg.RefreshTokenTTL, 720*time.Hour)
	def(&cfg.SessionTTL, 12*time.Hour)
	def(&cfg.TransactionTTL, 30*time.Minute)
	def(&cfg.FailureWindow, 15*time.Minute)
	def(&cfg.EnrollmentFreshness, 5*time.Minute)
	if cfg.DefaultAlg == "" {
		cfg.DefaultAlg = "ES256"
	}
	if cfg.MaxFailuresPerAccount <= 0 {
		cfg.MaxFailuresPerAccount = 5
	}
	if cfg.MaxFailuresPerIP <= 0 {
		cfg.MaxFailuresPerIP = 20
	}
	dummy, err := password.Hash(token.Random(), cfg.PasswordParams)
	if err != nil {
		return nil, fmt.Errorf("flow: %w", err)
	}
	return &Service{cfg: cfg, throttle: newThrottle(cfg.FailureWindow), ceremonies: &ceremonies{},
		lookups: newThrottle(time.Minute), dummyHash: dummy}, nil
}

// Issuer returns the issuer identifier.
func (s *Service) Issuer() string { return s.cfg.Issuer }

// Policy returns the acr policy in force.
func (s *Service) Policy() *policy.Policy { return s.cfg.Policy }

// Now returns the current time from the injected clock.
func (s *Service) Now() time.Time { return s.cfg.Now() }

// SessionTTL is the absolute lifetime of a browser session.
func (s *Service) SessionTTL() time.Duration { return s.cfg.SessionTTL }

func (s *Service) accessTTL(c store.Client) time.Duration {
	if c.AccessTokenTTL > 0 {
		return c.AccessTokenTTL
	}
	return s.cfg.AccessTokenTTL
}

func (s *Service) idTTL(c store.Client) time.Duration {
	if c.IDTokenTTL > 0 {
		return c.IDTokenTTL
	}
	return s.cfg.IDTokenTTL
}

func (s *Service) refreshTTL(c store.Client) time.Duration {
	if c.RefreshTokenTTL > 0 {
		return c.RefreshTokenTTL
	}
	return s.cfg.RefreshTokenTTL
}

func (s *Service) alg(c store.Client) string {
	if c.IDTokenSignedResponseAlg != "" {
		return c.IDTokenSignedResponseAlg
	}
	return s.cfg.DefaultAlg
}

func internal(op string, err error) error { return fmt.Errorf("flow: %s: %w", op, err) }
