package rp_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/stepup-oidc/stepup/rp"
)

// fixedClock is a clock tests can advance.
type fixedClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fixedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fixedClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newFakeClient(t *testing.T, op *fakeOP, now func() time.Time) *rp.Client {
	t.Helper()
	c, err := rp.New(t.Context(), rp.Config{Issuer: op.URL, ClientID: "bank", ClientSecret: "bank-secret",
		RedirectURL: "https://bank.example/callback", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// login runs AuthCodeURL, the fake front channel and Exchange.
func login(t *testing.T, c *rp.Client, op *fakeOP, opts ...rp.AuthOption) (*rp.Tokens, error) {
	t.Helper()
	u, st, err := c.AuthCodeURL(t.Context(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c.Exchange(t.Context(), st, op.Authorize(u))
}

func TestExchangeVerifiesTheIDToken(t *testing.T) {
	op := newFakeOP()
	t.Cleanup(op.Close)
	c := newFakeClient(t, op, nil)
	now := time.Now()
	otherKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	set := func(k string, v any) func(map[string]any, map[jose.HeaderKey]any) *jose.SigningKey {
		return func(c map[string]any, _ map[jose.HeaderKey]any) *jose.SigningKey { c[k] = v; return nil }
	}
	for _, tc := range []struct {
		name string
		edit func(map[string]any, map[jose.HeaderKey]any) *jose.SigningKey
		opts []rp.AuthOption
		want error
	}{
		{name: "a_good_token_passes", edit: nil, want: nil},
		{name: "signature_by_a_key_outside_the_jwks", want: rp.ErrInvalidIDToken,
			edit: func(map[string]any, map[jose.HeaderKey]any) *jose.SigningKey {
				return &jose.SigningKey{Algorithm: jose.ES256, Key: otherKey}
			}},
		{name: "an_algorithm_the_provider_does_not_advertise", want: rp.ErrInvalidIDToken,
			edit: func(map[string]any, map[jose.HeaderKey]any) *jose.SigningKey {
				return &jose.SigningKey{Algorithm: jose.EdDSA, Key: edKey}
			}},
		{name: "an_access_token_typ", edit: func(_ map[string]any, h map[jose.HeaderKey]any) *jose.SigningKey {
			h[jose.HeaderType] = "at+jwt"
			return nil
		}, want: rp.ErrInvalidIDToken},
		{name: "another_issuer", edit: set("iss", "https://evil.example"), want: rp.ErrInvalidIDToken},
		{name: "another_audience", edit: set("aud", "other"), want: rp.ErrInvalidIDToken},
		{name: "several_audiences_and_no_azp", edit: func(c map[string]any, _ map[jose.HeaderKey]any) *jose.SigningKey {
			c["aud"], c["azp"] = []string{"bank", "other"}, nil
			return nil
		}, want: rp.ErrInvalidIDToken},
		{name: "several_audiences_with_azp", edit: set("aud", []string{"bank", "other"}), want: nil},
		{name: "azp_of_another_client", edit: set("azp", "other"), want: rp.ErrInvalidIDToken},
		{name: "no_sub", edit: set("sub", nil), want: rp.ErrInvalidIDToken},
		{name: "no_exp", edit: set("exp", nil), want: rp.ErrInvalidIDToken},
		{name: "expired_beyond_the_skew", edit: set("exp", now.Add(-2*time.Minute).Unix()), want: rp.ErrInvalidIDToken},
		{name: "expired_within_the_skew", edit: set("exp", now.Add(-30*time.Second).Unix()), want: nil},
		{name: "no_iat", edit: set("iat", nil), want: rp.ErrInvalidIDToken},
		{name: "issued_in_the_future", edit: set("iat", now.Add(2*time.Minute).Unix()), want: rp.ErrInvalidIDToken},
		{name: "fractional_times", edit: set("iat", float64(now.Unix())+0.5), want: nil},
		{name: "another_nonce", edit: set("nonce", "replayed"), want: rp.ErrInvalidIDToken},
		{name: "no_nonce", edit: set("nonce", nil), want: rp.ErrInvalidIDToken},
		{name: "max_age_and_no_auth_time", edit: set("auth_time", nil), opts: []rp.AuthOption{rp.MaxAge(5 * time.Minute)},
			want: rp.ErrMaxAgeExceeded},
		{name: "max_age_and_an_old_auth_time", edit: set("auth_time", now.Add(-10*time.Minute).Unix()),
			opts: []rp.AuthOption{rp.MaxAge(5 * time.Minute)}, want: rp.ErrMaxAgeExceeded},
		{name: "max_age_and_a_fresh_auth_time", edit: set("auth_time", now.Add(-4*time.Minute).Unix()),
			opts: []rp.AuthOption{rp.MaxAge(5 * time.Minute)}, want: nil},
		{name: "max_age_0_answered_from_an_old_session", edit: set("auth_time", now.Add(-2*time.Minute).Unix()),
			opts: []rp.AuthOption{rp.MaxAge(0)}, want: rp.ErrMaxAgeExceeded},
		{name: "an_essential_acr_not_met", edit: set("acr", "urn:okta:loa:1fa:pwd"),
			opts: []rp.AuthOption{rp.ClaimsEssentialACR("phr", "phrh")}, want: rp.ErrACRNotMet},
		{name: "an_essential_acr_met", edit: set("acr", "phrh"),
			opts: []rp.AuthOption{rp.ClaimsEssentialACR("phr", "phrh")}, want: nil},
		{name: "voluntary_acr_values_are_not_enforced", edit: set("acr", "urn:okta:loa:1fa:pwd"),
			opts: []rp.AuthOption{rp.ACRValues("phr")}, want: nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			op.setEdit(tc.edit)
			tok, err := login(t, c, op, tc.opts...)
			if tc.want == nil {
				if err != nil || tok.Claims.Subject != "alice" {
					t.Fatalf("Exchange = %v, %v; want success", tok, err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Exchange = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestKeysAreRefetchedForAnUnknownKidAtMostEvery30Seconds(t *testing.T) {
	op := newFakeOP()
	t.Cleanup(op.Close)
	clk := &fixedClock{t: time.Now()}
	op.setNow(clk.Now)
	c := newFakeClient(t, op, clk.Now)

	if _, err := login(t, c, op); err != nil {
		t.Fatal(err)
	}
	if _, err := login(t, c, op); err != nil || op.hits() != 1 {
		t.Fatalf("second login: %v; JWKS fetched %d times, want 1 (cached)", err, op.hits())
	}
	clk.Advance(time.Second)
	op.rotate()
	if _, err := login(t, c, op); !errors.Is(err, rp.ErrInvalidIDToken) || op.hits() != 1 {
		t.Fatalf("a new kid one second after a fetch: %v with %d fetches; want ErrInvalidIDToken and no fetch", err, op.hits())
	}
	clk.Advance(30 * time.Second)
	if _, err := login(t, c, op); err != nil || op.hits() != 2 {
		t.Fatalf("a new kid 31 seconds after a fetch: %v with %d fetches; want success after one fetch", err, op.hits())
	}
	clk.Advance(time.Hour)
	if _, err := login(t, c, op); err != nil || op.hits() != 3 {
		t.Fatalf("after an hour: %v with %d fetches; want the set fetched again", err, op.hits())
	}
}
