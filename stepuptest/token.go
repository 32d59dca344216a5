package stepuptest

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Defaults of the minted claims.
const (
	DefaultSubject  = "alice"
	DefaultClientID = "client"
	DefaultTTL      = 5 * time.Minute
)

// AccessClaims are the claims of an access token to mint. The zero value
// is a valid token for DefaultSubject, issued to DefaultClientID, whose
// user authenticated just now, with no scope, acr or amr.
type AccessClaims struct {
	Subject  string // sub; "" means DefaultSubject
	ClientID string // client_id; "" means DefaultClientID
	Scope    string // scope, space-separated; "" leaves it out
	ACR      string // acr; "" leaves it out
	AMR      []string
	// AuthTime is auth_time, when the user last authenticated actively;
	// zero means now (by the server's clock).
	AuthTime time.Time
	// Audience is aud; "" means the issuer, which is what Stepup and an
	// rs.Verifier's default expect.
	Audience string
	// TTL is how long the token lives from now: exp = iat + TTL. Zero
	// means DefaultTTL; a negative TTL mints an expired token.
	TTL time.Duration
	// AuthorizationDetails are the granted RFC 9396 authorization details,
	// a JSON array; nil leaves them out. MintAccessToken panics when they
	// are not valid JSON.
	AuthorizationDetails json.RawMessage
	// Extra claims are set last: they add claims or replace the ones
	// above, and a nil value removes a claim (to mint a token without
	// jti, say).
	Extra map[string]any
}

// IDClaims are the claims of an ID token to mint. The zero value is a
// valid ID token for DefaultSubject, issued to DefaultClientID, whose user
// authenticated just now.
type IDClaims struct {
	Subject  string // sub; "" means DefaultSubject
	ClientID string // aud; "" means DefaultClientID
	// Nonce is the nonce of the authorization request (rp.State.Nonce);
	// "" leaves it out.
	Nonce string
	ACR   string // acr; "" leaves it out
	AMR   []string
	// AuthTime is auth_time; zero means now (by the server's clock).
	AuthTime time.Time
	// TTL: as in AccessClaims.
	TTL time.Duration
	// Extra: as in AccessClaims.
	Extra map[string]any
}

// MintAccessToken returns an RFC 9068 JWT access token (typ at+jwt)
// signed with the server's current key, with iss, aud, sub, client_id,
// iat, exp, a fresh jti and auth_time, and scope, acr, amr and
// authorization_details when set. It panics when tb is nil or c does not
// encode as JSON.
func (s *Server) MintAccessToken(tb testing.TB, c AccessClaims) string {
	if tb == nil {
		panic("stepuptest: MintAccessToken needs the test's testing.TB, got nil")
	}
	tb.Helper()
	now := s.now()
	claims := map[string]any{
		"iss":       s.Issuer(),
		"aud":       or(c.Audience, s.Issuer()),
		"sub":       or(c.Subject, DefaultSubject),
		"client_id": or(c.ClientID, DefaultClientID),
		"iat":       now.Unix(),
		"exp":       expiry(now, c.TTL),
		"jti":       rand.Text(),
		"auth_time": authTime(now, c.AuthTime),
	}
	optional(claims, "scope", c.Scope)
	optional(claims, "acr", c.ACR)
	if c.AMR != nil {
		claims["amr"] = c.AMR
	}
	if c.AuthorizationDetails != nil {
		if !json.Valid(c.AuthorizationDetails) {
			panic(fmt.Sprintf("stepuptest: AuthorizationDetails are not valid JSON: %q", c.AuthorizationDetails))
		}
		claims["authorization_details"] = c.AuthorizationDetails
	}
	return s.sign(tb, "at+jwt", claims, c.Extra)
}

// MintIDToken returns an OpenID Connect ID token (typ JWT) signed with the
// server's current key, with iss, aud (the client ID), sub, iat, exp and
// auth_time, and nonce, acr and amr when set. It panics when tb is nil or
// c does not encode as JSON.
func (s *Server) MintIDToken(tb testing.TB, c IDClaims) string {
	if tb == nil {
		panic("stepuptest: MintIDToken needs the test's testing.TB, got nil")
	}
	tb.Helper()
	now := s.now()
	claims := map[string]any{
		"iss":       s.Issuer(),
		"aud":       or(c.ClientID, DefaultClientID),
		"sub":       or(c.Subject, DefaultSubject),
		"iat":       now.Unix(),
		"exp":       expiry(now, c.TTL),
		"auth_time": authTime(now, c.AuthTime),
	}
	optional(claims, "nonce", c.Nonce)
	optional(claims, "acr", c.ACR)
	if c.AMR != nil {
		claims["amr"] = c.AMR
	}
	return s.sign(tb, "JWT", claims, c.Extra)
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func optional(claims map[string]any, name, value string) {
	if value != "" {
		claims[name] = value
	}
}

func expiry(now time.Time, ttl time.Duration) int64 {
	if ttl == 0 {
		ttl = DefaultTTL
	}
	return now.Add(ttl).Unix()
}

func authTime(now, t time.Time) int64 {
	if t.IsZero() {
		return now.Unix()
	}
	return t.Unix()
}

// sign applies extra to claims and signs them with the current key.
func (s *Server) sign(tb testing.TB, typ string, claims, extra map[string]any) string {
	tb.Helper()
	for k, v := range extra {
		if v == nil {
			delete(claims, k)
		} else {
			claims[k] = v
		}
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		panic(fmt.Sprintf("stepuptest: the claims do not encode as JSON: %v", err))
	}
	k := s.signer()
	opts := (&jose.SignerOptions{}).WithType(jose.ContentType(typ)).WithHeader("kid", k.kid)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(s.alg), Key: k.priv}, opts)
	if err != nil {
		tb.Fatalf("stepuptest: signer: %v", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		tb.Fatalf("stepuptest: sign: %v", err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		tb.Fatalf("stepuptest: serialize: %v", err)
	}
	return out
}
