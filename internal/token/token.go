// Package token mints and verifies the signed artefacts Stepup hands out:
// ID tokens, RFC 9068 JWT access tokens, and the opaque random values used
// for codes, refresh tokens and session handles (stored only as hashes).
package token

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Signer is what the minter needs from the key manager.
type Signer interface {
	Sign(ctx context.Context, alg, typ string, payload []byte) (string, error)
	Verify(ctx context.Context, compact string) (payload []byte, typ string, err error)
}

// ErrInvalid is returned for a token that does not verify or is malformed.
var ErrInvalid = errors.New("token: invalid")

// ErrExpired is returned for a well-signed token past its exp.
var ErrExpired = errors.New("token: expired")

// IDClaims are the claims of an ID token.
type IDClaims struct {
	Issuer   string   `json:"iss"`
	Subject  string   `json:"sub"`
	Audience string   `json:"aud"`
	Expiry   int64    `json:"exp"`
	IssuedAt int64    `json:"iat"`
	AuthTime int64    `json:"auth_time,omitempty"`
	Nonce    string   `json:"nonce,omitempty"`
	ACR      string   `json:"acr,omitempty"`
	AMR      []string `json:"amr,omitempty"`
	AZP      string   `json:"azp,omitempty"`
	SID      string   `json:"sid,omitempty"`
	AtHash   string   `json:"at_hash,omitempty"`
	// Profile claims, present when the scopes ask for them.
	Email         string `json:"email,omitempty"`
	EmailVerified *bool  `json:"email_verified,omitempty"`
	Name          string `json:"name,omitempty"`
	Username      string `json:"preferred_username,omitempty"`
	// NNIN is the national identity number, for clients allowed the nnin scope.
	NNIN string `json:"nnin,omitempty"`
	// PermissionDigest is the digest of the approved authorization details.
	PermissionDigest string `json:"permission_digest,omitempty"`
}

// AccessClaims are the claims of an RFC 9068 JWT access token.
type AccessClaims struct {
	Issuer   string   `json:"iss"`
	Subject  string   `json:"sub"`
	Audience string   `json:"aud"`
	Expiry   int64    `json:"exp"`
	IssuedAt int64    `json:"iat"`
	JTI      string   `json:"jti"`
	ClientID string   `json:"client_id"`
	Scope    string   `json:"scope,omitempty"`
	AuthTime int64    `json:"auth_time,omitempty"`
	ACR      string   `json:"acr,omitempty"`
	AMR      []string `json:"amr,omitempty"`
	SID      string   `json:"sid,omitempty"`
	// AuthorizationDetails are the granted RFC 9396 details.
	AuthorizationDetails json.RawMessage `json:"authorization_details,omitempty"`
}

// SignID signs an ID token with alg.
func SignID(ctx context.Context, s Signer, alg string, c IDClaims) (string, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("token: marshal id token: %w", err)
	}
	return s.Sign(ctx, alg, "JWT", b)
}

// SignAccess signs an access token with alg and typ at+jwt.
func SignAccess(ctx context.Context, s Signer, alg string, c AccessClaims) (string, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("token: marshal access token: %w", err)
	}
	return s.Sign(ctx, alg, "at+jwt", b)
}

// VerifyAccess verifies an access token we issued and checks typ, iss and exp.
func VerifyAccess(ctx context.Context, s Signer, issuer, compact string, now time.Time) (AccessClaims, error) {
	var c AccessClaims
	p, typ, err := s.Verify(ctx, compact)
	if err != nil {
		return c, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if typ != "at+jwt" {
		return c, fmt.Errorf("%w: typ %q", ErrInvalid, typ)
	}
	if err := json.Unmarshal(p, &c); err != nil {
		return c, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if c.Issuer != issuer {
		return c, fmt.Errorf("%w: issuer", ErrInvalid)
	}
	if now.Unix() >= c.Expiry {
		return c, ErrExpired
	}
	return c, nil
}

// VerifyID verifies an ID token we issued (signature, typ, iss) and returns
// its claims. Expiry is not checked: an id_token_hint may have expired.
func VerifyID(ctx context.Context, s Signer, issuer, compact string) (IDClaims, error) {
	var c IDClaims
	p, typ, err := s.Verify(ctx, compact)
	if err != nil {
		return c, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if typ != "JWT" {
		return c, fmt.Errorf("%w: typ %q", ErrInvalid, typ)
	}
	if err := json.Unmarshal(p, &c); err != nil {
		return c, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if c.Issuer != issuer || c.Subject == "" {
		return c, fmt.Errorf("%w: issuer or subject", ErrInvalid)
	}
	return c, nil
}

// Random returns a fresh opaque value with 256 bits of entropy.
func Random() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// ID returns a fresh identifier with 128 bits of entropy.
func ID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Hash returns the storage key of an opaque value: base64url(SHA-256).
func Hash(v string) string {
	h := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// S256 returns the PKCE S256 challenge of a verifier (RFC 7636 §4.2).
func S256(verifier string) string {
	h := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// AtHash computes the OIDC at_hash for an access token signed with alg.
func AtHash(alg, accessToken string) string {
	// ES256 and RS256 use SHA-256; EdDSA (Ed25519) uses SHA-512 per the
	// OpenID errata, but SHA-256 left half is what most verifiers accept for
	// ES256/RS256, which is all at_hash is emitted for.
	h := sha256.Sum256([]byte(accessToken))
	return base64.RawURLEncoding.EncodeToString(h[:len(h)/2])
}
