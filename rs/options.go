package rs

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Option configures a Verifier. NewVerifier checks the options and fails on
// an invalid one.
type Option func(*config)

type config struct {
	client     *http.Client
	audience   string
	realm      string
	algs       []string
	skew       time.Duration
	now        func() time.Time
	minRefresh time.Duration
	intro      *introspectionConfig
	errs       []error
}

func (c *config) validate() error {
	for _, a := range c.algs {
		if !slices.Contains(asymmetric(), jose.SignatureAlgorithm(a)) {
			c.errs = append(c.errs, fmt.Errorf("rs: algorithm %q is not allowed: only public-key signatures are", a))
		}
	}
	if len(c.algs) == 0 {
		c.errs = append(c.errs, errors.New("rs: no algorithm allowed"))
	}
	if c.skew < 0 {
		c.errs = append(c.errs, errors.New("rs: negative clock skew"))
	}
	if c.minRefresh < 0 {
		c.errs = append(c.errs, errors.New("rs: negative refresh interval"))
	}
	return errors.Join(c.errs...)
}

// WithHTTPClient sets the client for discovery, JWKS and introspection
// requests. The default is a client with a 10-second timeout.
func WithHTTPClient(c *http.Client) Option {
	return func(cfg *config) { cfg.client = c }
}

// WithAudience sets the value the aud claim must include. The default is
// the issuer, which is what Stepup puts in aud.
func WithAudience(aud string) Option {
	return func(cfg *config) { cfg.audience = aud }
}

// WithRealm sets the realm of the challenge sent when a request has no
// bearer token. The default is the audience.
func WithRealm(realm string) Option {
	return func(cfg *config) { cfg.realm = realm }
}

// WithAlgorithms sets the allowed signature algorithms. The default is
// ES256, RS256 and EdDSA, what Stepup signs with. Only public-key
// algorithms may be named: "none" and the HMAC algorithms make NewVerifier
// fail.
func WithAlgorithms(algs ...string) Option {
	return func(cfg *config) { cfg.algs = slices.Clone(algs) }
}

// WithClockSkew sets the tolerance for exp, nbf, iat and auth_time. The
// default is DefaultClockSkew (30 seconds).
func WithClockSkew(d time.Duration) Option {
	return func(cfg *config) { cfg.skew = d }
}

// WithNow sets the clock, for tests. The default is time.Now.
func WithNow(now func() time.Time) Option {
	return func(cfg *config) { cfg.now = now }
}

// WithMinRefreshInterval sets how long the Verifier waits between two
// fetches of the JWKS. A token with an unknown kid triggers a fetch, at
// most once per interval; tokens with known kids never do. The default is
// DefaultMinRefreshInterval (30 seconds).
func WithMinRefreshInterval(d time.Duration) Option {
	return func(cfg *config) { cfg.minRefresh = d }
}

// WithIntrospection makes Verify introspect opaque tokens (RFC 7662) at
// endpoint, authenticating as clientID with secret (client_secret_basic).
// An empty endpoint means the introspection_endpoint of the provider's
// discovery. Answers, active or not, are cached for cacheTTL (zero: not
// cached), and never beyond the token's exp. JWTs are still verified
// locally.
func WithIntrospection(endpoint, clientID, secret string, cacheTTL time.Duration) Option {
	return func(cfg *config) {
		if clientID == "" || cacheTTL < 0 {
			cfg.errs = append(cfg.errs, errors.New("rs: introspection needs a client ID and a non-negative cache TTL"))
			return
		}
		cfg.intro = &introspectionConfig{endpoint: endpoint, clientID: clientID, secret: secret, ttl: cacheTTL}
	}
}

type introspectionConfig struct {
	endpoint, clientID, secret string
	ttl                        time.Duration
}
