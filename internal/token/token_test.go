package token_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stepup-oidc/stepup/internal/keys"
	"github.com/stepup-oidc/stepup/internal/store"
	"github.com/stepup-oidc/stepup/internal/store/sqlite"
	"github.com/stepup-oidc/stepup/internal/token"
)

const issuer = "https://op.example"

// now is the verification time of every case.
func now() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }

// newSigner returns a key manager over a fresh SQLite store. With fixed
// true it loads the throwaway keys of testdata/test-signing-keys.json, so
// that every fuzz worker process verifies the tokens of the coordinator.
func newSigner(t testing.TB, fixed bool) *keys.Manager {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	if fixed {
		b, err := os.ReadFile(filepath.Join("testdata", "test-signing-keys.json"))
		if err != nil {
			t.Fatal(err)
		}
		var ks []store.Key
		if err := json.Unmarshal(b, &ks); err != nil {
			t.Fatal(err)
		}
		for _, k := range ks {
			if err := st.CreateKey(ctx, k); err != nil {
				t.Fatal(err)
			}
		}
	}
	m, err := keys.New(keys.Config{Store: st, Overlap: time.Hour, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Ensure(ctx); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	return m
}

func accessClaims() token.AccessClaims {
	n := now()
	return token.AccessClaims{
		Issuer: issuer, Subject: "248289761001", Audience: "https://api.example", Expiry: n.Add(5 * time.Minute).Unix(),
		IssuedAt: n.Add(-time.Minute).Unix(), JTI: "grant1.at1", ClientID: "app", Scope: "openid profile",
		AuthTime: n.Add(-2 * time.Minute).Unix(), ACR: "phr", AMR: []string{"swk", "user", "mfa"}, SID: "sid1",
	}
}

func idClaims() token.IDClaims {
	n := now()
	yes := true
	return token.IDClaims{
		Issuer: issuer, Subject: "248289761001", Audience: "app", Expiry: n.Add(5 * time.Minute).Unix(),
		IssuedAt: n.Add(-time.Minute).Unix(), AuthTime: n.Add(-2 * time.Minute).Unix(), Nonce: "n-0S6_WzA2Mj",
		ACR: "urn:okta:loa:2fa:any", AMR: []string{"pwd", "otp", "mfa"}, AZP: "app", SID: "sid1",
		Email: "alice@example.com", EmailVerified: &yes, Name: "Alice", Username: "alice",
	}
}

func signAccess(t testing.TB, m *keys.Manager, alg string, edit func(*token.AccessClaims)) string {
	t.Helper()
	c := accessClaims()
	if edit != nil {
		edit(&c)
	}
	s, err := token.SignAccess(context.Background(), m, alg, c)
	if err != nil {
		t.Fatalf("SignAccess: %v", err)
	}
	return s
}

func signID(t testing.TB, m *keys.Manager, alg string, edit func(*token.IDClaims)) string {
	t.Helper()
	c := idClaims()
	if edit != nil {
		edit(&c)
	}
	s, err := token.SignID(context.Background(), m, alg, c)
	if err != nil {
		t.Fatalf("SignID: %v", err)
	}
	return s
}

func TestS256(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"the RFC 7636 appendix B verifier", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"},
		{"the empty verifier", "", "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := token.S256(tt.in); got != tt.want {
				t.Errorf("S256(%q) = %q, want %q", tt.in, got, tt.want)
			}
			// Hash is the same function: a stored hash of a verifier is its challenge.
			if got := token.Hash(tt.in); got != tt.want {
				t.Errorf("Hash(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestAtHash(t *testing.T) {
	// OpenID Connect Core 1.0 appendix A.3 (RS256).
	const accessToken = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"
	if got, want := token.AtHash("RS256", accessToken), "77QmUPtjPfzWtF2AnpK9RQ"; got != want {
		t.Errorf("AtHash(RS256, %q) = %q, want %q", accessToken, got, want)
	}
}

func TestRandomAndID(t *testing.T) {
	tests := []struct {
		name     string
		gen      func() string
		wantLen  int
		wantBits int
	}{
		{"Random has 256 bits", token.Random, 43, 256},
		{"ID has 128 bits", token.ID, 22, 128},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen := map[string]bool{}
			for range 1000 {
				v := tt.gen()
				if len(v) != tt.wantLen {
					t.Fatalf("%q has length %d, want %d", v, len(v), tt.wantLen)
				}
				b, err := base64.RawURLEncoding.DecodeString(v)
				if err != nil || len(b)*8 != tt.wantBits {
					t.Fatalf("%q is not %d bits of base64url: %v", v, tt.wantBits, err)
				}
				if seen[v] {
					t.Fatalf("%q generated twice", v)
				}
				seen[v] = true
			}
		})
	}
}

func TestVerifyAccess(t *testing.T) {
	ctx := context.Background()
	m := newSigner(t, false)
	other := newSigner(t, false)
	tests := []struct {
		name    string
		compact string
		want    error // nil: accepted with accessClaims()
		wantIs  error // an extra error the result must match
	}{
		{name: "an ES256 access token is accepted", compact: signAccess(t, m, "ES256", nil)},
		{name: "an RS256 access token is accepted", compact: signAccess(t, m, "RS256", nil)},
		{name: "an EdDSA access token is accepted", compact: signAccess(t, m, "EdDSA", nil)},
		{name: "an ID token presented as an access token is refused", compact: signID(t, m, "ES256", nil), want: token.ErrInvalid},
		{name: "a logout token is refused", compact: func() string {
			s, err := m.Sign(ctx, "ES256", "logout+jwt", []byte(`{"iss":"`+issuer+`","exp":9999999999}`))
			if err != nil {
				t.Fatal(err)
			}
			return s
		}(), want: token.ErrInvalid},
		{name: "a token of another issuer is refused", compact: signAccess(t, m, "ES256", func(c *token.AccessClaims) { c.Issuer = "https://evil.example" }), want: token.ErrInvalid},
		{name: "an issuer with a trailing slash is another issuer", compact: signAccess(t, m, "ES256", func(c *token.AccessClaims) { c.Issuer = issuer + "/" }), want: token.ErrInvalid},
		{name: "a token expiring now is expired", compact: signAccess(t, m, "ES256", func(c *token.AccessClaims) { c.Expiry = now().Unix() }), want: token.ErrExpired},
		{name: "a token expired an hour ago is expired", compact: signAccess(t, m, "ES256", func(c *token.AccessClaims) { c.Expiry = now().Add(-time.Hour).Unix() }), want: token.ErrExpired},
		{name: "a token without exp is expired", compact: signAccess(t, m, "ES256", func(c *token.AccessClaims) { c.Expiry = 0 }), want: token.ErrExpired},
		{name: "a token signed by another deployment is refused", compact: signAccess(t, other, "ES256", nil), want: token.ErrInvalid, wantIs: keys.ErrUnknownKey},
		{name: "an at+jwt whose payload is not JSON is refused", compact: func() string {
			s, err := m.Sign(ctx, "EdDSA", "at+jwt", []byte("not json"))
			if err != nil {
				t.Fatal(err)
			}
			return s
		}(), want: token.ErrInvalid},
		{name: "a tampered access token is refused", compact: func() string {
			p := strings.Split(signAccess(t, m, "ES256", nil), ".")
			b, _ := base64.RawURLEncoding.DecodeString(p[1])
			b = []byte(strings.Replace(string(b), `"scope":"openid profile"`, `"scope":"openid admin"`, 1))
			return p[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + p[2]
		}(), want: token.ErrInvalid, wantIs: keys.ErrInvalidSignature},
		{name: "an opaque string is refused", compact: token.Random(), want: token.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := token.VerifyAccess(ctx, m, issuer, tt.compact, now())
			if tt.want == nil {
				if err != nil {
					t.Fatalf("VerifyAccess: %v", err)
				}
				if diff := cmp.Diff(accessClaims(), got); diff != "" {
					t.Errorf("claims (-want +got):\n%s", diff)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("VerifyAccess = %v, want %v", err, tt.want)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("VerifyAccess = %v, want it to wrap %v", err, tt.wantIs)
			}
		})
	}
}

func TestVerifyID(t *testing.T) {
	ctx := context.Background()
	m := newSigner(t, false)
	tests := []struct {
		name    string
		compact string
		want    error // nil: accepted
		edit    func(*token.IDClaims)
	}{
		{name: "an ID token is accepted", compact: signID(t, m, "RS256", nil)},
		{name: "an expired ID token is accepted (id_token_hint)", compact: signID(t, m, "ES256", func(c *token.IDClaims) { c.Expiry = now().Add(-24 * time.Hour).Unix() }),
			edit: func(c *token.IDClaims) { c.Expiry = now().Add(-24 * time.Hour).Unix() }},
		{name: "an ID token of another issuer is refused", compact: signID(t, m, "ES256", func(c *token.IDClaims) { c.Issuer = "https://evil.example" }), want: token.ErrInvalid},
		{name: "an ID token without a subject is refused", compact: signID(t, m, "EdDSA", func(c *token.IDClaims) { c.Subject = "" }), want: token.ErrInvalid},
		{name: "an access token presented as an ID token is refused", compact: signAccess(t, m, "ES256", nil), want: token.ErrInvalid},
		{name: "a token of another deployment is refused", compact: signID(t, newSigner(t, false), "ES256", nil), want: token.ErrInvalid},
		{name: "an empty hint is refused", compact: "", want: token.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := token.VerifyID(ctx, m, issuer, tt.compact)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("VerifyID: %v", err)
				}
				want := idClaims()
				if tt.edit != nil {
					tt.edit(&want)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("claims (-want +got):\n%s", diff)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("VerifyID = %v, want %v", err, tt.want)
			}
		})
	}
}

// decodedParts returns the decoded protected header and payload of a
// compact JWS, or ok false.
func decodedParts(s string) (header, payload string, ok bool) {
	p := strings.Split(s, ".")
	if len(p) != 3 {
		return "", "", false
	}
	h, err1 := base64.RawURLEncoding.DecodeString(strings.TrimRight(p[0], "="))
	b, err2 := base64.RawURLEncoding.DecodeString(strings.TrimRight(p[1], "="))
	return string(h), string(b), err1 == nil && err2 == nil
}

func FuzzVerifyAccess(f *testing.F) {
	m := newSigner(f, true)
	// signed holds header+payload of every token this process signed.
	signed := map[string]bool{}
	add := func(s string) {
		h, p, _ := decodedParts(s)
		signed[h+"."+p] = true
		f.Add(s)
	}
	for _, alg := range keys.Algorithms() {
		add(signAccess(f, m, alg, nil))
		add(signAccess(f, m, alg, func(c *token.AccessClaims) { c.Issuer = "https://evil.example" }))
		add(signAccess(f, m, alg, func(c *token.AccessClaims) { c.Expiry = 1 }))
		add(signID(f, m, alg, nil))
	}
	f.Add("")
	f.Add("a.b.c")
	f.Add(`{"payload":"e30","signatures":[]}`)
	f.Add("eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0.eyJpc3MiOiJodHRwczovL29wLmV4YW1wbGUiLCJleHAiOjk5OTk5OTk5OTl9.")
	want := accessClaims()
	f.Fuzz(func(t *testing.T, s string) {
		c, err := token.VerifyAccess(context.Background(), m, issuer, s, now())
		if err != nil {
			if !errors.Is(err, token.ErrInvalid) && !errors.Is(err, token.ErrExpired) {
				t.Fatalf("VerifyAccess(%q) = %v, want ErrInvalid or ErrExpired", s, err)
			}
			return
		}
		// Accepted: it must carry the header and claims of a token we signed
		// with this issuer, unexpired (signature bytes and base64 spelling
		// may differ without changing what is asserted).
		h, p, ok := decodedParts(s)
		if !ok || !signed[h+"."+p] {
			t.Fatalf("VerifyAccess accepted a token we never signed: %q", s)
		}
		if diff := cmp.Diff(want, c); diff != "" {
			t.Fatalf("VerifyAccess(%q) accepted unexpected claims (-want +got):\n%s", s, diff)
		}
	})
}
