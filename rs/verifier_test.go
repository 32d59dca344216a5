package rs_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"

	"github.com/stepup-oidc/stepup/rs"
)

// testClock is a clock tests move by hand.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *testClock { return &testClock{now: time.Unix(1_900_000_000, 0)} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func startOP(t *testing.T) *fakeOP {
	t.Helper()
	op := newFakeOP()
	t.Cleanup(op.Close)
	return op
}

func newVerifier(t *testing.T, op *fakeOP, clk *testClock, opts ...rs.Option) *rs.Verifier {
	t.Helper()
	v, err := rs.NewVerifier(t.Context(), op.URL(), append([]rs.Option{rs.WithNow(clk.Now)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func b64(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestVerify(t *testing.T) {
	op := startOP(t)
	es := op.key(0)
	rsa, ed := op.addKey("RS256"), op.addKey("EdDSA")
	stranger := newKey("ES256")
	stranger.kid = es.kid // a forger's key claiming a published kid
	clk := newClock()
	now := clk.Now()
	claims := func(edit func(map[string]any)) map[string]any {
		c := op.claims(now)
		if edit != nil {
			edit(c)
		}
		return c
	}
	hmacKey, _ := x509.MarshalPKIXPublicKey(es.priv.Public())
	hs256, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: hmacKey},
		(&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", es.kid))
	payload, _ := json.Marshal(claims(nil))
	hsJWS, _ := hs256.Sign(payload)
	hsToken, _ := hsJWS.CompactSerialize()
	valid := sign(es, "at+jwt", claims(nil))
	parts := strings.Split(valid, ".")

	for _, tc := range []struct {
		name  string
		token string
		opts  []rs.Option
		want  error
	}{
		{"es256_access_token_verifies", valid, nil, nil},
		{"rs256_access_token_verifies", sign(rsa, "at+jwt", claims(nil)), nil, nil},
		{"eddsa_access_token_verifies", sign(ed, "at+jwt", claims(nil)), nil, nil},
		{"media_type_form_of_typ_is_accepted", sign(es, "application/at+jwt", claims(nil)), nil, nil},
		{"audience_array_naming_us_verifies", sign(es, "at+jwt", claims(func(c map[string]any) {
			c["aud"] = []string{"https://other", op.URL()}
		})), nil, nil},
		{"configured_audience_is_required", valid, []rs.Option{rs.WithAudience("https://api.example")}, rs.ErrWrongAudience},
		{"configured_audience_verifies", sign(es, "at+jwt", claims(func(c map[string]any) { c["aud"] = "https://api.example" })),
			[]rs.Option{rs.WithAudience("https://api.example")}, nil},
		{"expired_within_skew_verifies", sign(es, "at+jwt", claims(func(c map[string]any) { c["exp"] = now.Add(-29 * time.Second).Unix() })), nil, nil},
		{"expired", sign(es, "at+jwt", claims(func(c map[string]any) { c["exp"] = now.Add(-30 * time.Second).Unix() })), nil, rs.ErrExpired},
		{"expired_with_zero_skew", sign(es, "at+jwt", claims(func(c map[string]any) { c["exp"] = now.Unix() })),
			[]rs.Option{rs.WithClockSkew(0)}, rs.ErrExpired},
		{"nbf_in_the_future", sign(es, "at+jwt", claims(func(c map[string]any) { c["nbf"] = now.Add(time.Minute).Unix() })), nil, rs.ErrNotYetValid},
		{"nbf_within_skew_verifies", sign(es, "at+jwt", claims(func(c map[string]any) { c["nbf"] = now.Add(20 * time.Second).Unix() })), nil, nil},
		{"iat_in_the_future", sign(es, "at+jwt", claims(func(c map[string]any) { c["iat"] = now.Add(time.Hour).Unix() })), nil, rs.ErrNotYetValid},
		{"wrong_audience", sign(es, "at+jwt", claims(func(c map[string]any) { c["aud"] = "https://other" })), nil, rs.ErrWrongAudience},
		{"wrong_issuer", sign(es, "at+jwt", claims(func(c map[string]any) { c["iss"] = "https://evil.example" })), nil, rs.ErrWrongIssuer},
		{"id_token_typ_jwt_refused", sign(es, "JWT", claims(nil)), nil, rs.ErrWrongType},
		{"missing_typ_refused", sign(es, "", claims(nil)), nil, rs.ErrWrongType},
		{"alg_none_refused", b64(map[string]string{"alg": "none", "typ": "at+jwt"}) + "." + parts[1] + ".", nil, rs.ErrInvalidSignature},
		{"hs256_with_the_public_key_as_secret_refused", hsToken, nil, rs.ErrInvalidSignature},
		{"algorithm_not_in_allow_list", valid, []rs.Option{rs.WithAlgorithms("RS256")}, rs.ErrInvalidSignature},
		{"signature_by_another_key_with_a_known_kid", sign(stranger, "at+jwt", claims(nil)), nil, rs.ErrInvalidSignature},
		{"tampered_payload", parts[0] + "." + b64(claims(func(c map[string]any) { c["acr"] = "phr" })) + "." + parts[2], nil, rs.ErrInvalidSignature},
		{"missing_client_id", sign(es, "at+jwt", claims(func(c map[string]any) { delete(c, "client_id") })), nil, rs.ErrMalformed},
		{"missing_exp", sign(es, "at+jwt", claims(func(c map[string]any) { delete(c, "exp") })), nil, rs.ErrMalformed},
		{"audience_of_the_wrong_type", sign(es, "at+jwt", claims(func(c map[string]any) { c["aud"] = 7 })), nil, rs.ErrMalformed},
		{"exp_of_the_wrong_type", sign(es, "at+jwt", claims(func(c map[string]any) { c["exp"] = "tomorrow" })), nil, rs.ErrMalformed},
		{"not_a_jwt", "opaque-token", nil, rs.ErrMalformed},
		{"three_parts_of_garbage", "a.b.c", nil, rs.ErrMalformed},
		{"jws_json_serialization_refused", `{"payload":"e30","signatures":[]}`, nil, rs.ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newVerifier(t, op, clk, tc.opts...)
			c, err := v.Verify(t.Context(), tc.token)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if c.Subject != "alice" || c.ClientID != "bank" {
					t.Fatalf("claims = %+v", c)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %+v, %v; want %v", c, err, tc.want)
			}
			if c != nil {
				t.Fatalf("claims %+v returned with error %v", c, err)
			}
		})
	}
}

func TestVerifyReturnsEveryClaim(t *testing.T) {
	op := startOP(t)
	clk := newClock()
	v := newVerifier(t, op, clk)
	now := clk.Now()
	tok := op.mint(now, func(c map[string]any) {
		c["authorization_details"] = []map[string]any{{"type": "payment.v1", "amount": "100"}}
		c["custom"] = "x"
	})
	got, err := v.Verify(t.Context(), tok)
	if err != nil {
		t.Fatal(err)
	}
	want := &rs.Claims{Issuer: op.URL(), Subject: "alice", ClientID: "bank", Scope: "openid accounts",
		ACR: "urn:okta:loa:1fa:pwd", JTI: "g1.t1", SID: "s1", Audience: []string{op.URL()}, AMR: []string{"pwd"},
		AuthTime: now.Add(-time.Minute), IssuedAt: now, Expiry: now.Add(5 * time.Minute),
		AuthorizationDetails: json.RawMessage(`[{"amount":"100","type":"payment.v1"}]`)}
	if d := cmp.Diff(want, got, cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Raw" }, cmp.Ignore())); d != "" {
		t.Errorf("claims (-want +got):\n%s", d)
	}
	if got.Raw["custom"] != "x" || got.Raw["sub"] != "alice" {
		t.Errorf("Raw = %v", got.Raw)
	}
}

func TestNewVerifierRefuses(t *testing.T) {
	op := startOP(t)
	for _, tc := range []struct {
		name   string
		issuer string
		opts   []rs.Option
		want   string
	}{
		{"issuer_that_discovery_does_not_name", op.URL() + "/", nil, "discovery names issuer"},
		{"unreachable_discovery", op.URL() + "/missing", nil, "404"},
		{"alg_none", op.URL(), []rs.Option{rs.WithAlgorithms("none")}, `algorithm "none" is not allowed`},
		{"hs256", op.URL(), []rs.Option{rs.WithAlgorithms("ES256", "HS256")}, `algorithm "HS256" is not allowed`},
		{"no_algorithm", op.URL(), []rs.Option{rs.WithAlgorithms()}, "no algorithm allowed"},
		{"negative_skew", op.URL(), []rs.Option{rs.WithClockSkew(-time.Second)}, "negative clock skew"},
		{"introspection_without_client", op.URL(), []rs.Option{rs.WithIntrospection("", "", "", time.Minute)}, "introspection needs a client ID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := rs.NewVerifier(t.Context(), tc.issuer, tc.opts...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewVerifier = %v, %v; want an error containing %q", v, err, tc.want)
			}
		})
	}
}

func TestUnknownKidRefetchesOncePerInterval(t *testing.T) {
	op := startOP(t)
	clk := newClock()
	v := newVerifier(t, op, clk)
	if got := op.jwksHits.Load(); got != 1 {
		t.Fatalf("JWKS fetched %d times by NewVerifier, want 1", got)
	}
	unknown := sign(newKey("ES256"), "at+jwt", op.claims(clk.Now()))

	_, err := v.Verify(t.Context(), unknown)
	if !errors.Is(err, rs.ErrUnknownKey) {
		t.Fatalf("Verify = %v, want ErrUnknownKey", err)
	}
	if got := op.jwksHits.Load(); got != 1 {
		t.Fatalf("JWKS fetched %d times, want 1: NewVerifier fetched it less than MinRefreshInterval ago", got)
	}

	clk.Advance(rs.DefaultMinRefreshInterval)
	for range 5 {
		if _, err := v.Verify(t.Context(), unknown); !errors.Is(err, rs.ErrUnknownKey) {
			t.Fatalf("Verify = %v, want ErrUnknownKey", err)
		}
	}
	if got := op.jwksHits.Load(); got != 2 {
		t.Fatalf("JWKS fetched %d times, want 2: one refetch for five unknown-kid tokens", got)
	}

	clk.Advance(rs.DefaultMinRefreshInterval - time.Second)
	v.Verify(t.Context(), unknown)
	if got := op.jwksHits.Load(); got != 2 {
		t.Fatalf("JWKS fetched %d times, want 2 within the interval", got)
	}
	clk.Advance(time.Second)
	v.Verify(t.Context(), unknown)
	if got := op.jwksHits.Load(); got != 3 {
		t.Fatalf("JWKS fetched %d times, want 3 once the interval passed", got)
	}
}

func TestKnownKidNeverFetches(t *testing.T) {
	op := startOP(t)
	clk := newClock()
	v := newVerifier(t, op, clk, rs.WithMinRefreshInterval(0))
	tok := op.mint(clk.Now(), nil)
	for range 100 {
		if _, err := v.Verify(t.Context(), tok); err != nil {
			t.Fatal(err)
		}
	}
	if got := op.jwksHits.Load(); got != 1 {
		t.Fatalf("JWKS fetched %d times, want 1", got)
	}
}

func TestKeyRotationIsPickedUp(t *testing.T) {
	op := startOP(t)
	clk := newClock()
	v := newVerifier(t, op, clk)
	clk.Advance(time.Minute)

	next := op.addKey("ES256") // the provider rotates
	tok := sign(next, "at+jwt", op.claims(clk.Now()))
	if _, err := v.Verify(t.Context(), tok); err != nil {
		t.Fatalf("token of the new key: %v", err)
	}
	if got := op.jwksHits.Load(); got != 2 {
		t.Fatalf("JWKS fetched %d times, want 2", got)
	}
	if _, err := v.Verify(t.Context(), op.mint(clk.Now(), nil)); err != nil {
		t.Fatalf("token of the old key, still published: %v", err)
	}
}

func TestRetiredKeyIsDroppedAtTheNextRefetch(t *testing.T) {
	op := startOP(t)
	clk := newClock()
	v := newVerifier(t, op, clk)
	old := op.mint(clk.Now(), nil)
	clk.Advance(time.Minute)

	op.mu.Lock()
	op.published = []*opKey{newKey("ES256")} // the old key is withdrawn
	next := op.published[0]
	op.mu.Unlock()
	if _, err := v.Verify(t.Context(), sign(next, "at+jwt", op.claims(clk.Now()))); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(t.Context(), old); !errors.Is(err, rs.ErrUnknownKey) {
		t.Fatalf("token of the withdrawn key: %v, want ErrUnknownKey", err)
	}
}

func TestConcurrentUnknownKidsShareOneFetch(t *testing.T) {
	op := startOP(t)
	clk := newClock()
	v := newVerifier(t, op, clk)
	clk.Advance(time.Minute)
	next := op.addKey("ES256")
	tok := sign(next, "at+jwt", op.claims(clk.Now()))
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			_, err := v.Verify(context.Background(), tok)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := op.jwksHits.Load(); got != 2 {
		t.Fatalf("JWKS fetched %d times, want 2", got)
	}
}

func TestIntrospection(t *testing.T) {
	op := startOP(t)
	clk := newClock()
	now := clk.Now()
	answers := map[string]map[string]any{
		"active": {"active": true, "iss": op.URL(), "aud": op.URL(), "sub": "alice", "client_id": "bank",
			"scope": "accounts", "acr": "phr", "auth_time": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(),
			"iat": now.Unix(), "token_type": "Bearer"},
		"short":   {"active": true, "sub": "bob", "exp": now.Add(90 * time.Second).Unix()},
		"refresh": {"active": true, "sub": "alice", "token_type": "refresh_token"},
		"other":   {"active": true, "sub": "alice", "iss": "https://evil.example"},
		"revoked": {"active": false},
	}
	op.introspect = func(tok string) (int, map[string]any) {
		if tok == "broken" {
			return http.StatusInternalServerError, map[string]any{"error": "server_error"}
		}
		return http.StatusOK, answers[tok]
	}
	v := newVerifier(t, op, clk, rs.WithIntrospection("", "api", "api-secret", time.Minute))
	calls := func() int32 { return op.introHits.Load() }

	c, err := v.Verify(t.Context(), "active")
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject != "alice" || c.ACR != "phr" || !c.AuthTime.Equal(now) || c.Scope != "accounts" {
		t.Fatalf("claims = %+v", c)
	}
	v.Verify(t.Context(), "active")
	if calls() != 1 {
		t.Fatalf("%d introspection calls, want 1: the answer is cached", calls())
	}
	clk.Advance(time.Minute)
	if _, err := v.Verify(t.Context(), "active"); err != nil || calls() != 2 {
		t.Fatalf("after the TTL: %v, %d calls; want a second call", err, calls())
	}

	for _, tc := range []struct {
		token string
		want  error
	}{
		{"revoked", rs.ErrInactive},
		{"unknown", rs.ErrInactive},
		{"refresh", rs.ErrWrongType},
		{"other", rs.ErrWrongIssuer},
		{"broken", rs.ErrIntrospection},
	} {
		before := calls()
		for range 2 {
			if _, err := v.Verify(t.Context(), tc.token); !errors.Is(err, tc.want) {
				t.Errorf("Verify(%s) = %v, want %v", tc.token, err, tc.want)
			}
		}
		wantCalls := before + 1
		if tc.want == rs.ErrIntrospection {
			wantCalls = before + 2 // failures are not cached
		}
		if calls() != wantCalls {
			t.Errorf("Verify(%s) twice made %d calls, want %d", tc.token, calls()-before, wantCalls-before)
		}
	}

	// A cached answer still expires with the token.
	clk2 := newClock()
	v2 := newVerifier(t, op, clk2, rs.WithIntrospection(op.URL()+"/introspect", "api", "api-secret", time.Hour))
	if _, err := v2.Verify(t.Context(), "short"); err != nil {
		t.Fatal(err)
	}
	clk2.Advance(2 * time.Minute)
	if _, err := v2.Verify(t.Context(), "short"); !errors.Is(err, rs.ErrExpired) {
		t.Fatalf("expired token from the cache: %v, want ErrExpired", err)
	}

	// Wrong client credentials are an introspection failure, not an invalid token.
	v3 := newVerifier(t, op, clk, rs.WithIntrospection("", "api", "wrong", time.Minute))
	if _, err := v3.Verify(t.Context(), "active"); !errors.Is(err, rs.ErrIntrospection) {
		t.Fatalf("wrong secret: %v, want ErrIntrospection", err)
	}
}
