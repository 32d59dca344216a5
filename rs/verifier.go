// Package rs protects an API with the access tokens Stepup issues: it
// verifies RFC 9068 JWT access tokens (and, optionally, opaque tokens by
// RFC 7662 introspection) and answers with RFC 6750 and RFC 9470
// challenges when a request needs a stronger or more recent
// authentication.
//
//	v, err := rs.NewVerifier(ctx, "https://login.example.com")
//	…
//	mux.Handle("GET /accounts", v.Require(rs.Scope("accounts"))(accounts))
//	mux.Handle("POST /transfer", v.Require(rs.ACR("phr"), rs.MaxAge(5*time.Minute))(transfer))
//
// A request without a token gets 401 with `WWW-Authenticate: Bearer
// realm="…"`; an invalid token gets 401 with error="invalid_token"; a token
// whose authentication is too weak or too old gets 401 with
// error="insufficient_user_authentication" and the acr_values and max_age
// the client must ask the provider for; a token without a required scope
// gets 403 with error="insufficient_scope". Handlers read the verified
// claims with ClaimsFrom, and may demand a step-up themselves with
// Verifier.Check or StepUp.
//
// A stronger acr satisfies a weaker one as the provider's discovery says in
// its stepup_acr_satisfies extension (see docs/assurance.md); without it,
// only the exact acr values named are accepted.
package rs

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Errors returned, wrapped, by Verify. Test them with errors.Is. A token
// reported with one of them may be invalid for other reasons as well: cheap
// checks (type, claims, times) run before the signature is verified.
var (
	// ErrMalformed: not a JWS in compact form, or its claims are missing
	// or of the wrong type.
	ErrMalformed = errors.New("rs: malformed access token")
	// ErrInvalidSignature: the signature does not verify, or uses an
	// algorithm that is not allowed (such as none or HS256).
	ErrInvalidSignature = errors.New("rs: invalid signature")
	// ErrUnknownKey: no key of the provider's JWKS has the token's kid,
	// even after refetching the JWKS.
	ErrUnknownKey = errors.New("rs: unknown signing key")
	// ErrWrongType: the token is not an access token (its typ header is
	// not at+jwt, as in ID tokens, or introspection reports another type).
	ErrWrongType = errors.New("rs: not an access token")
	// ErrWrongIssuer: the iss claim is not the provider's issuer.
	ErrWrongIssuer = errors.New("rs: wrong issuer")
	// ErrWrongAudience: the aud claim does not name this resource server.
	ErrWrongAudience = errors.New("rs: wrong audience")
	// ErrExpired: the token's exp has passed, beyond the clock skew.
	ErrExpired = errors.New("rs: access token expired")
	// ErrNotYetValid: the token's nbf or iat lies in the future, beyond
	// the clock skew.
	ErrNotYetValid = errors.New("rs: access token not yet valid")
	// ErrInactive: introspection reports the token inactive (revoked,
	// expired or unknown).
	ErrInactive = errors.New("rs: access token inactive")
	// ErrIntrospection: the introspection endpoint could not be asked; the
	// token may well be valid.
	ErrIntrospection = errors.New("rs: introspection failed")
)

// Claims are the verified claims of an access token.
//
// Values returned by Verify may be shared with a cache: treat the slices
// and maps as read-only.
type Claims struct {
	Issuer   string
	Subject  string
	ClientID string
	Scope    string // space-separated
	ACR      string
	JTI      string
	SID      string
	Audience []string
	AMR      []string
	AuthTime time.Time // zero when the token carries no auth_time
	IssuedAt time.Time
	Expiry   time.Time
	// AuthorizationDetails are the granted RFC 9396 authorization details:
	// a JSON array, or nil.
	AuthorizationDetails json.RawMessage
	// Raw holds every claim as decoded by encoding/json, for claims this
	// struct does not name.
	Raw map[string]any
}

// Verifier verifies the access tokens of one provider and enforces
// requirements on them. It is safe for concurrent use.
type Verifier struct {
	issuer     string
	audience   string
	realm      string
	jwksURI    string
	satisfies  map[string][]string
	client     *http.Client
	algs       []jose.SignatureAlgorithm
	skew       time.Duration
	now        func() time.Time
	minRefresh time.Duration
	intro      *introspector // nil without WithIntrospection

	keys      atomic.Pointer[keySet]
	fetching  chan struct{} // a semaphore: one JWKS fetch at a time
	lastFetch time.Time     // guarded by fetching
}

// Defaults of the options.
const (
	DefaultClockSkew          = 30 * time.Second
	DefaultMinRefreshInterval = 30 * time.Second
)

// defaultAlgorithms are the algorithms Stepup signs with.
func defaultAlgorithms() []string { return []string{"ES256", "RS256", "EdDSA"} }

// asymmetric lists the algorithms WithAlgorithms accepts: public-key
// signatures only, so that a public key can never be used as an HMAC
// secret and "none" can never be chosen.
func asymmetric() []jose.SignatureAlgorithm {
	return []jose.SignatureAlgorithm{jose.ES256, jose.ES384, jose.ES512, jose.RS256, jose.RS384, jose.RS512,
		jose.PS256, jose.PS384, jose.PS512, jose.EdDSA}
}

// NewVerifier fetches the provider's discovery document at issuer +
// "/.well-known/openid-configuration", checks that it names issuer, and
// fetches the JWKS it points to. ctx bounds these requests only.
func NewVerifier(ctx context.Context, issuer string, opts ...Option) (*Verifier, error) {
	cfg := config{algs: defaultAlgorithms(), skew: DefaultClockSkew, minRefresh: DefaultMinRefreshInterval}
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if issuer == "" {
		return nil, errors.New("rs: empty issuer")
	}
	v := &Verifier{issuer: issuer, audience: cmpOr(cfg.audience, issuer), client: cfg.client, skew: cfg.skew,
		now: cfg.now, minRefresh: cfg.minRefresh, fetching: make(chan struct{}, 1)}
	v.realm = cmpOr(cfg.realm, v.audience)
	if v.client == nil {
		v.client = &http.Client{Timeout: 10 * time.Second}
	}
	if v.now == nil {
		v.now = time.Now
	}
	for _, a := range cfg.algs {
		v.algs = append(v.algs, jose.SignatureAlgorithm(a))
	}
	var d struct {
		Issuer                string              `json:"issuer"`
		JWKSURI               string              `json:"jwks_uri"`
		IntrospectionEndpoint string              `json:"introspection_endpoint"`
		ACRSatisfies          map[string][]string `json:"stepup_acr_satisfies"`
	}
	if err := v.getJSON(ctx, strings.TrimSuffix(issuer, "/")+"/.well-known/openid-configuration", &d); err != nil {
		return nil, fmt.Errorf("rs: discovery: %w", err)
	}
	if d.Issuer != issuer {
		return nil, fmt.Errorf("rs: discovery names issuer %q, want %q", d.Issuer, issuer)
	}
	if d.JWKSURI == "" {
		return nil, errors.New("rs: discovery has no jwks_uri")
	}
	v.jwksURI, v.satisfies = d.JWKSURI, d.ACRSatisfies
	if cfg.intro != nil {
		v.intro = &introspector{endpoint: cmpOr(cfg.intro.endpoint, d.IntrospectionEndpoint),
			clientID: cfg.intro.clientID, secret: cfg.intro.secret, ttl: cfg.intro.ttl, cache: map[[32]byte]introEntry{}}
		if v.intro.endpoint == "" {
			return nil, errors.New("rs: introspection: discovery has no introspection_endpoint")
		}
	}
	ks, err := v.fetchKeys(ctx)
	if err != nil {
		return nil, err
	}
	v.keys.Store(ks)
	v.lastFetch = v.now()
	return v, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Verify verifies an access token and returns its claims.
//
// A JWT (three dot-separated parts) is verified locally: its typ header
// must be at+jwt (RFC 9068), its algorithm allowed, its signature made by a
// key of the provider's JWKS, its iss the issuer, its aud include the
// audience, and exp, nbf and iat must hold within the clock skew. Any other
// token is introspected when WithIntrospection is set, and is malformed
// otherwise.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	if strings.Count(token, ".") != 2 {
		if v.intro != nil {
			return v.introspect(ctx, token)
		}
		return nil, fmt.Errorf("%w: not a JWT", ErrMalformed)
	}
	jws, err := jose.ParseSignedCompact(token, v.algs)
	if err != nil {
		return nil, v.parseError(token, err)
	}
	h := jws.Signatures[0].Header
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); !isAccessTokenType(typ) {
		return nil, fmt.Errorf("%w: typ %q, want at+jwt", ErrWrongType, typ)
	}
	c, err := decodeClaims(jws.UnsafePayloadWithoutVerification())
	if err != nil {
		return nil, err
	}
	// Claims are checked before the signature, which may refetch keys: a
	// token for another issuer never costs a JWKS request.
	if err := v.check(c, true); err != nil {
		return nil, err
	}
	if err := v.verifySignature(ctx, jws, h.KeyID, h.Algorithm); err != nil {
		return nil, err
	}
	return c, nil
}

// isAccessTokenType accepts "at+jwt" and its media type form (RFC 9068 §4).
func isAccessTokenType(typ string) bool {
	return strings.EqualFold(typ, "at+jwt") || strings.EqualFold(typ, "application/at+jwt")
}

// parseError tells an algorithm that is not allowed from a malformed token.
func (v *Verifier) parseError(token string, err error) error {
	head, _, _ := strings.Cut(token, ".")
	var h struct {
		Alg string `json:"alg"`
	}
	if b, derr := base64.RawURLEncoding.DecodeString(head); derr == nil && json.Unmarshal(b, &h) == nil &&
		h.Alg != "" && !slices.Contains(v.algs, jose.SignatureAlgorithm(h.Alg)) {
		return fmt.Errorf("%w: algorithm %q is not allowed", ErrInvalidSignature, h.Alg)
	}
	return fmt.Errorf("%w: %w", ErrMalformed, err)
}

// check validates the issuer, audience and times of claims. RFC 9068
// requires every registered claim; introspection responses (strict false)
// are checked on what they carry.
func (v *Verifier) check(c *Claims, strict bool) error {
	if strict {
		for _, name := range []string{"iss", "sub", "aud", "exp", "iat", "jti", "client_id"} {
			if _, ok := c.Raw[name]; !ok {
				return fmt.Errorf("%w: missing claim %s", ErrMalformed, name)
			}
		}
	}
	if (strict || c.Issuer != "") && c.Issuer != v.issuer {
		return fmt.Errorf("%w: %q", ErrWrongIssuer, c.Issuer)
	}
	if (strict || len(c.Audience) > 0) && !slices.Contains(c.Audience, v.audience) {
		return fmt.Errorf("%w: %q", ErrWrongAudience, c.Audience)
	}
	now := v.now()
	if !c.Expiry.IsZero() && !now.Before(c.Expiry.Add(v.skew)) {
		return fmt.Errorf("%w: at %s", ErrExpired, c.Expiry.UTC().Format(time.RFC3339))
	}
	if nbf, ok := c.Raw["nbf"].(float64); ok && now.Add(v.skew).Before(unixTime(nbf)) {
		return fmt.Errorf("%w: nbf %s", ErrNotYetValid, unixTime(nbf).UTC().Format(time.RFC3339))
	}
	if !c.IssuedAt.IsZero() && now.Add(v.skew).Before(c.IssuedAt) {
		return fmt.Errorf("%w: issued in the future, at %s", ErrNotYetValid, c.IssuedAt.UTC().Format(time.RFC3339))
	}
	return nil
}

// decodeClaims decodes a JWT payload or an introspection response.
func decodeClaims(payload []byte) (*Claims, error) {
	var w struct {
		Issuer               string          `json:"iss"`
		Subject              string          `json:"sub"`
		Audience             audience        `json:"aud"`
		ClientID             string          `json:"client_id"`
		Scope                string          `json:"scope"`
		ACR                  string          `json:"acr"`
		AMR                  []string        `json:"amr"`
		JTI                  string          `json:"jti"`
		SID                  string          `json:"sid"`
		Expiry               *float64        `json:"exp"`
		IssuedAt             *float64        `json:"iat"`
		NotBefore            *float64        `json:"nbf"`
		AuthTime             *float64        `json:"auth_time"`
		AuthorizationDetails json.RawMessage `json:"authorization_details"`
	}
	c := &Claims{}
	if err := json.Unmarshal(payload, &c.Raw); err != nil {
		return nil, fmt.Errorf("%w: claims: %w", ErrMalformed, err)
	}
	if err := json.Unmarshal(payload, &w); err != nil {
		return nil, fmt.Errorf("%w: claims: %w", ErrMalformed, err)
	}
	for _, t := range []*float64{w.Expiry, w.IssuedAt, w.NotBefore, w.AuthTime} {
		if t != nil && (*t < 0 || *t > maxUnix) {
			return nil, fmt.Errorf("%w: a time claim is out of range", ErrMalformed)
		}
	}
	if d := bytes.TrimSpace(w.AuthorizationDetails); len(d) > 0 && !bytes.Equal(d, []byte("null")) {
		c.AuthorizationDetails = w.AuthorizationDetails
	}
	c.Issuer, c.Subject, c.Audience, c.ClientID, c.Scope = w.Issuer, w.Subject, w.Audience, w.ClientID, w.Scope
	c.ACR, c.AMR, c.JTI, c.SID = w.ACR, w.AMR, w.JTI, w.SID
	c.Expiry, c.IssuedAt, c.AuthTime = optTime(w.Expiry), optTime(w.IssuedAt), optTime(w.AuthTime)
	return c, nil
}

// maxUnix bounds time claims (year 36812) so conversions cannot overflow.
const maxUnix = 1 << 40

func unixTime(f float64) time.Time {
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9))
}

func optTime(f *float64) time.Time {
	if f == nil {
		return time.Time{}
	}
	return unixTime(*f)
}

// audience is the aud claim: one string or an array of strings.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*a = audience{s}
		return nil
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return fmt.Errorf("aud: %w", err)
	}
	*a = l
	return nil
}

// getJSON fetches url into v: status 200, at most 1 MiB.
func (v *Verifier) getJSON(ctx context.Context, url string, dst any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	res, err := v.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("read %s: %w", url, err)
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, res.Status)
	}
	if err := json.Unmarshal(body, dst); err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	return nil
}
