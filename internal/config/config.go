// Package config loads Stepup's configuration: one YAML file, every key also
// settable from the environment, merged in the order
//
//	defaults < file < environment
//
// and validated into one Config. Errors name the offending key path and
// where it came from (file:line or the environment variable).
//
// The YAML shape is a public contract; see docs/configuration.md.
package config

import (
	"github.com/stepup-oidc/stepup/internal/policy"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/stepup-oidc/stepup/internal/password"
)

// Grant types a client may use.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
	GrantCIBA              = "urn:openid:params:grant-type:ciba"
)

// Token endpoint authentication methods.
const (
	AuthClientSecretBasic = "client_secret_basic"
	AuthClientSecretPost  = "client_secret_post"
	AuthNone              = "none"
)

// Signing algorithms for keys and ID tokens.
const (
	AlgES256 = "ES256"
	AlgRS256 = "RS256"
	AlgEdDSA = "EdDSA"
)

// Log levels and formats.
const (
	LogLevelDebug = "debug"
	LogLevelInfo  = "info"
	LogLevelWarn  = "warn"
	LogLevelError = "error"
	LogFormatText = "text"
	LogFormatJSON = "json"
)

// Config is the whole Stepup configuration.
//
// A zero field in an optional section means "use the default"; Defaults
// fills such fields and Load always calls it before Validate.
type Config struct {
	// Issuer is the OpenID Provider issuer URL.
	Issuer string `yaml:"issuer"`
	// Listen is the host:port the HTTP server binds.
	Listen string `yaml:"listen"`
	// Storage selects the backend: "sqlite:<path>" or a postgres:// URL.
	Storage string `yaml:"storage"`

	Clients []Client `yaml:"clients,omitempty"`
	Users   []User   `yaml:"users,omitempty"`

	Tokens       Tokens       `yaml:"tokens"`
	Keys         Keys         `yaml:"keys"`
	Session      Session      `yaml:"session"`
	Login        Login        `yaml:"login"`
	PasswordHash PasswordHash `yaml:"password_hash"`
	Log          Log          `yaml:"log"`
	ACR          ACR          `yaml:"acr"`
	Passkeys     Passkeys     `yaml:"passkeys"`
	PAR          PAR          `yaml:"par"`
	Upstreams    []Upstream   `yaml:"upstreams,omitempty"`
}

// PAR configures pushed authorization requests (RFC 9126).
type PAR struct {
	// Required makes every authorization request go through PAR.
	Required bool `yaml:"required"`
}

// Passkeys configures WebAuthn.
type Passkeys struct {
	// AttestationRoots are paths of PEM files with the root certificates
	// trusted for passkey attestation (needed for phrh).
	AttestationRoots []string `yaml:"attestation_roots,omitempty"`
}

// Upstream is an upstream OpenID provider offered as a method.
type Upstream struct {
	Name         string   `yaml:"name"`
	DisplayName  string   `yaml:"display_name,omitempty"`
	Issuer       string   `yaml:"issuer"`
	ClientID     string   `yaml:"client_id"`
	ClientSecret string   `yaml:"client_secret,omitempty"`
	Scopes       []string `yaml:"scopes,omitempty"`
	// ACRValues are forwarded to the upstream; nothing else ever is.
	ACRValues []string `yaml:"acr_values,omitempty"`
	// Assurance labels its authentications (e.g. "high" for BankID High).
	Assurance string `yaml:"assurance,omitempty"`
	// ACRMap maps the upstream's acr values to assurance labels; when set,
	// an acr it does not list earns no label.
	ACRMap map[string]string `yaml:"acr_map,omitempty"`
	// Factors proved by an authentication there (default knowledge, possession).
	Factors []string `yaml:"factors,omitempty"`
	// AMR recorded locally (default: the upstream's amr).
	AMR []string `yaml:"amr,omitempty"`
	// LinkClaim links upstream accounts to local users on first use: "nnin".
	LinkClaim string `yaml:"link_claim,omitempty"`
}

// ACR selects the acr policy: the vocabulary of assurance levels.
type ACR struct {
	// Preset names a built-in vocabulary: okta (default), bankid or eidas.
	Preset string `yaml:"preset"`
	// EnrollmentFreshness is how recently every method a user has must have
	// been used before a new one may be enrolled during a step-up.
	EnrollmentFreshness Duration `yaml:"enrollment_freshness"`
	// Levels, with preset "custom", is the operator's own vocabulary,
	// weakest first.
	Levels []ACRLevel `yaml:"levels,omitempty"`
	// Default, FirstIsRequirement, PasskeyFirst and Enrollment are the
	// custom vocabulary's rules (see policy.Policy).
	Default            string `yaml:"default,omitempty"`
	FirstIsRequirement bool   `yaml:"first_is_requirement,omitempty"`
	PasskeyFirst       bool   `yaml:"passkey_first,omitempty"`
	Enrollment         bool   `yaml:"enrollment,omitempty"`
}

// ACRRequirement is one combination of events that satisfies a level.
type ACRRequirement struct {
	Factors           int      `yaml:"factors,omitempty"`
	FactorsIfPossible bool     `yaml:"factors_if_possible,omitempty"`
	Methods           []string `yaml:"methods,omitempty"`
	PhishingResistant bool     `yaml:"phishing_resistant,omitempty"`
	DeviceBound       bool     `yaml:"device_bound,omitempty"`
	Attested          bool     `yaml:"attested,omitempty"`
	Assurance         string   `yaml:"assurance,omitempty"`
	MaxAge            Duration `yaml:"max_age,omitempty"`
	AMR               []string `yaml:"amr,omitempty"`
}

// ACRLevel defines one acr value of a custom vocabulary.
type ACRLevel struct {
	ACR     string   `yaml:"acr"`
	Claim   string   `yaml:"claim,omitempty"`
	Aliases []string `yaml:"aliases,omitempty"`
	Implies []string `yaml:"implies,omitempty"`
	// The level's requirement, or alternatives in any_of.
	Factors           int              `yaml:"factors,omitempty"`
	FactorsIfPossible bool             `yaml:"factors_if_possible,omitempty"`
	Methods           []string         `yaml:"methods,omitempty"`
	PhishingResistant bool             `yaml:"phishing_resistant,omitempty"`
	DeviceBound       bool             `yaml:"device_bound,omitempty"`
	Attested          bool             `yaml:"attested,omitempty"`
	Assurance         string           `yaml:"assurance,omitempty"`
	MaxAge            Duration         `yaml:"max_age,omitempty"`
	AMR               []string         `yaml:"amr,omitempty"`
	AnyOf             []ACRRequirement `yaml:"any_of,omitempty"`
}

func (r ACRRequirement) policy() policy.Requirement {
	return policy.Requirement{Factors: r.Factors, FactorsIfPossible: r.FactorsIfPossible, Methods: r.Methods,
		PhishingResistant: r.PhishingResistant, DeviceBound: r.DeviceBound, Attested: r.Attested,
		Assurance: r.Assurance, MaxAge: r.MaxAge.Duration(), AMR: r.AMR}
}

// Policy returns the acr policy the section selects: a preset, or the
// custom levels.
func (a ACR) Policy() (*policy.Policy, error) {
	if a.Preset != "custom" {
		return policy.Preset(a.Preset)
	}
	levels := make([]policy.Level, len(a.Levels))
	for i, l := range a.Levels {
		levels[i] = policy.Level{ACR: l.ACR, Claim: l.Claim, Aliases: l.Aliases, Implies: l.Implies,
			Requirement: ACRRequirement{Factors: l.Factors, FactorsIfPossible: l.FactorsIfPossible, Methods: l.Methods,
				PhishingResistant: l.PhishingResistant, DeviceBound: l.DeviceBound, Attested: l.Attested,
				Assurance: l.Assurance, MaxAge: l.MaxAge, AMR: l.AMR}.policy()}
		for _, r := range l.AnyOf {
			levels[i].AnyOf = append(levels[i].AnyOf, r.policy())
		}
	}
	return policy.New(policy.Policy{Name: "custom", Levels: levels, Default: a.Default,
		FirstIsRequirement: a.FirstIsRequirement, PasskeyFirst: a.PasskeyFirst, Enrollment: a.Enrollment})
}

// Client is one statically registered OAuth 2.0 / OpenID Connect client.
type Client struct {
	ID   string `yaml:"id"`
	Name string `yaml:"name,omitempty"`
	// Secret is empty for a public client; public clients must use PKCE.
	Secret                   string   `yaml:"secret,omitempty"`
	RedirectURIs             []string `yaml:"redirect_uris,omitempty"`
	PostLogoutRedirectURIs   []string `yaml:"post_logout_redirect_uris,omitempty"`
	GrantTypes               []string `yaml:"grant_types,omitempty"`
	TokenEndpointAuthMethod  string   `yaml:"token_endpoint_auth_method,omitempty"`
	IDTokenSignedResponseAlg string   `yaml:"id_token_signed_response_alg,omitempty"`
	// Per-client lifetimes; zero means the tokens section's value.
	AccessTokenTTL  Duration `yaml:"access_token_ttl,omitempty"`
	IDTokenTTL      Duration `yaml:"id_token_ttl,omitempty"`
	RefreshTokenTTL Duration `yaml:"refresh_token_ttl,omitempty"`
	// MinACR is the client's floor: no request can lower it.
	MinACR string `yaml:"min_acr,omitempty"`
	// ACRFallback "best" answers an unmeetable voluntary acr_values request
	// with the best level reached; "error" (default) fails it.
	ACRFallback string `yaml:"acr_fallback,omitempty"`
	// AllowNNIN lets the client receive the national identity number (the
	// nnin claim, with scope nnin): personal data, off by default.
	AllowNNIN bool `yaml:"allow_nnin,omitempty"`
}

// Public reports whether c has no secret (and so must use PKCE).
func (c Client) Public() bool { return c.Secret == "" }

// HasGrant reports whether c may use grant type g.
func (c Client) HasGrant(g string) bool { return slices.Contains(c.GrantTypes, g) }

// User is one statically configured local account.
type User struct {
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	Email    string `yaml:"email,omitempty"`
	Name     string `yaml:"name,omitempty"`
	// NNIN is a national identity number (11 digits), Phone an E.164 number,
	// Birthdate YYYY-MM-DD; TOTPSecret imports an authenticator-app secret
	// (base32).
	NNIN       string `yaml:"nnin,omitempty"`
	Phone      string `yaml:"phone,omitempty"`
	Birthdate  string `yaml:"birthdate,omitempty"`
	TOTPSecret string `yaml:"totp_secret,omitempty"`
}

// Tokens holds the default token lifetimes.
type Tokens struct {
	AccessTokenTTL  Duration `yaml:"access_token_ttl"`
	IDTokenTTL      Duration `yaml:"id_token_ttl"`
	RefreshTokenTTL Duration `yaml:"refresh_token_ttl"`
	CodeTTL         Duration `yaml:"code_ttl"`
}

// Keys configures the signing keys.
type Keys struct {
	// Algorithm is ES256, RS256 or EdDSA.
	Algorithm string `yaml:"algorithm"`
	// RotationPeriod is how long a key signs before it is replaced.
	RotationPeriod Duration `yaml:"rotation_period"`
	// Overlap is how long a retired key stays published for verification.
	Overlap Duration `yaml:"overlap"`
}

// Session configures the browser login session.
type Session struct {
	TTL        Duration `yaml:"ttl"`
	CookieName string   `yaml:"cookie_name"`
}

// Login configures brute-force throttling of password logins.
type Login struct {
	MaxFailuresPerAccount int      `yaml:"max_failures_per_account"`
	MaxFailuresPerIP      int      `yaml:"max_failures_per_ip"`
	Window                Duration `yaml:"window"`
}

// PasswordHash holds the argon2id cost parameters for new password hashes.
type PasswordHash struct {
	MemoryKiB   uint32 `yaml:"memory_kib"`
	Iterations  uint32 `yaml:"iterations"`
	Parallelism uint8  `yaml:"parallelism"`
}

// Params converts p for package password.
func (p PasswordHash) Params() password.Params {
	return password.Params{MemoryKiB: p.MemoryKiB, Iterations: p.Iterations, Parallelism: p.Parallelism}
}

// Log configures logging.
type Log struct {
	// Level is debug, info, warn or error.
	Level string `yaml:"level"`
	// Format is text or json.
	Format string `yaml:"format"`
}

// SlogLevel returns l.Level as a slog.Level (info if unrecognised).
func (l Log) SlogLevel() slog.Level {
	switch l.Level {
	case LogLevelDebug:
		return slog.LevelDebug
	case LogLevelWarn:
		return slog.LevelWarn
	case LogLevelError:
		return slog.LevelError
	}
	return slog.LevelInfo
}

// Default returns a new Config holding every default and no clients or
// users.
func Default() *Config {
	p := password.DefaultParams()
	return &Config{
		Issuer:  "http://127.0.0.1:8080",
		Listen:  "127.0.0.1:8080",
		Storage: "sqlite:./stepup.db",
		Tokens: Tokens{
			AccessTokenTTL:  Duration(10 * time.Minute),
			IDTokenTTL:      Duration(10 * time.Minute),
			RefreshTokenTTL: Duration(720 * time.Hour),
			CodeTTL:         Duration(60 * time.Second),
		},
		Keys: Keys{
			Algorithm:      AlgES256,
			RotationPeriod: Duration(720 * time.Hour),
			Overlap:        Duration(24 * time.Hour),
		},
		Session: Session{TTL: Duration(12 * time.Hour), CookieName: "stepup_session"},
		Login:   Login{MaxFailuresPerAccount: 5, MaxFailuresPerIP: 20, Window: Duration(15 * time.Minute)},
		PasswordHash: PasswordHash{
			MemoryKiB: p.MemoryKiB, Iterations: p.Iterations, Parallelism: p.Parallelism,
		},
		Log: Log{Level: LogLevelInfo, Format: LogFormatText},
		ACR: ACR{Preset: "okta", EnrollmentFreshness: Duration(5 * time.Minute)},
	}
}

// Defaults replaces every zero-valued field of c that has a default with
// that default, including the derived per-client defaults:
//
//   - grant_types: [authorization_code, refresh_token]
//   - token_endpoint_auth_method: client_secret_basic with a secret, none without
//   - id_token_signed_response_alg: keys.algorithm
//   - access_token_ttl, id_token_ttl, refresh_token_ttl: the tokens section
//
// Defaults never overwrites a non-zero field, so it is idempotent.
func (c *Config) Defaults() {
	d := Default()
	setZero(&c.Issuer, d.Issuer)
	setZero(&c.Listen, d.Listen)
	setZero(&c.Storage, d.Storage)
	setZero(&c.ACR.Preset, d.ACR.Preset)
	setZero(&c.ACR.EnrollmentFreshness, d.ACR.EnrollmentFreshness)

	setZero(&c.Tokens.AccessTokenTTL, d.Tokens.AccessTokenTTL)
	setZero(&c.Tokens.IDTokenTTL, d.Tokens.IDTokenTTL)
	setZero(&c.Tokens.RefreshTokenTTL, d.Tokens.RefreshTokenTTL)
	setZero(&c.Tokens.CodeTTL, d.Tokens.CodeTTL)

	setZero(&c.Keys.Algorithm, d.Keys.Algorithm)
	setZero(&c.Keys.RotationPeriod, d.Keys.RotationPeriod)
	setZero(&c.Keys.Overlap, d.Keys.Overlap)

	setZero(&c.Session.TTL, d.Session.TTL)
	setZero(&c.Session.CookieName, d.Session.CookieName)

	setZero(&c.Login.MaxFailuresPerAccount, d.Login.MaxFailuresPerAccount)
	setZero(&c.Login.MaxFailuresPerIP, d.Login.MaxFailuresPerIP)
	setZero(&c.Login.Window, d.Login.Window)

	setZero(&c.PasswordHash.MemoryKiB, d.PasswordHash.MemoryKiB)
	setZero(&c.PasswordHash.Iterations, d.PasswordHash.Iterations)
	setZero(&c.PasswordHash.Parallelism, d.PasswordHash.Parallelism)

	setZero(&c.Log.Level, d.Log.Level)
	setZero(&c.Log.Format, d.Log.Format)

	for i := range c.Clients {
		cl := &c.Clients[i]
		if len(cl.GrantTypes) == 0 {
			cl.GrantTypes = []string{GrantAuthorizationCode, GrantRefreshToken}
		}
		if cl.Secret != "" {
			setZero(&cl.TokenEndpointAuthMethod, AuthClientSecretBasic)
		} else {
			setZero(&cl.TokenEndpointAuthMethod, AuthNone)
		}
		setZero(&cl.IDTokenSignedResponseAlg, c.Keys.Algorithm)
		setZero(&cl.AccessTokenTTL, c.Tokens.AccessTokenTTL)
		setZero(&cl.IDTokenTTL, c.Tokens.IDTokenTTL)
		setZero(&cl.RefreshTokenTTL, c.Tokens.RefreshTokenTTL)
	}
}

func setZero[T comparable](p *T, def T) {
	var zero T
	if *p == zero {
		*p = def
	}
}

// Duration is a time.Duration written in configuration as a Go duration
// string such as "10m", "60s" or "720h".
type Duration time.Duration

// Duration returns d as a time.Duration.
func (d Duration) Duration() time.Duration { return time.Duration(d) }

// String formats d like time.Duration without trailing zero units:
// "10m" rather than "10m0s", "720h" rather than "720h0m0s".
func (d Duration) String() string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler, accepting Go duration
// strings.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := parseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}
