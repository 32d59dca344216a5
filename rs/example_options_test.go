package rs_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	"github.com/stepup-oidc/stepup/rs"
)

func ExampleOption() {
	op := newFakeOP()
	defer op.Close()

	opts := []rs.Option{rs.WithAudience("https://api.example.com"), rs.WithClockSkew(10 * time.Second)}
	v, err := rs.NewVerifier(context.Background(), op.URL(), opts...)
	fmt.Println(v != nil, err)
	// Output:
	// true <nil>
}

// countingTransport counts the requests it carries.
type countingTransport struct{ n atomic.Int32 }

func (t *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

func ExampleWithHTTPClient() {
	op := newFakeOP()
	defer op.Close()

	tr := &countingTransport{}
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	_, err := rs.NewVerifier(context.Background(), op.URL(), rs.WithHTTPClient(client))
	fmt.Println(err, tr.n.Load()) // discovery and JWKS
	// Output:
	// <nil> 2
}

func ExampleWithAudience() {
	op := newFakeOP()
	defer op.Close()
	ctx := context.Background()
	v, _ := rs.NewVerifier(ctx, op.URL(), rs.WithAudience("https://api.example.com"))

	_, err := v.Verify(ctx, op.mint(time.Now(), func(c map[string]any) { c["aud"] = "https://api.example.com" }))
	fmt.Println(err)
	_, err = v.Verify(ctx, op.mint(time.Now(), nil)) // aud is the issuer
	fmt.Println(errors.Is(err, rs.ErrWrongAudience))
	// Output:
	// <nil>
	// true
}

func ExampleWithRealm() {
	op := newFakeOP()
	defer op.Close()
	v, _ := rs.NewVerifier(context.Background(), op.URL(), rs.WithRealm("bank-api"))

	rec := httptest.NewRecorder()
	v.Require()(http.HandlerFunc(accounts)).ServeHTTP(rec, httptest.NewRequest("GET", "/accounts", nil))
	fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"))
	// Output:
	// 401 Bearer realm="bank-api"
}

func ExampleWithAlgorithms() {
	op := newFakeOP()
	defer op.Close()
	ctx := context.Background()

	v, _ := rs.NewVerifier(ctx, op.URL(), rs.WithAlgorithms("RS256"))
	_, err := v.Verify(ctx, op.mint(time.Now(), nil)) // signed with ES256
	fmt.Println(errors.Is(err, rs.ErrInvalidSignature))

	_, err = rs.NewVerifier(ctx, op.URL(), rs.WithAlgorithms("HS256"))
	fmt.Println(err)
	// Output:
	// true
	// rs: algorithm "HS256" is not allowed: only public-key signatures are
}

func ExampleWithClockSkew() {
	op := newFakeOP()
	defer op.Close()
	ctx := context.Background()
	// Expired ten seconds ago.
	tok := op.mint(time.Now(), func(c map[string]any) { c["exp"] = time.Now().Add(-10 * time.Second).Unix() })

	lenient, _ := rs.NewVerifier(ctx, op.URL()) // DefaultClockSkew
	_, err := lenient.Verify(ctx, tok)
	fmt.Println(err)

	strict, _ := rs.NewVerifier(ctx, op.URL(), rs.WithClockSkew(0))
	_, err = strict.Verify(ctx, tok)
	fmt.Println(errors.Is(err, rs.ErrExpired))
	// Output:
	// <nil>
	// true
}

func ExampleWithNow() {
	op := newFakeOP()
	defer op.Close()
	ctx := context.Background()
	yesterday := time.Now().Add(-24 * time.Hour)
	tok := op.mint(yesterday, nil)

	v, _ := rs.NewVerifier(ctx, op.URL(), rs.WithNow(func() time.Time { return yesterday }))
	claims, err := v.Verify(ctx, tok)
	fmt.Println(claims.Subject, err)
	// Output:
	// alice <nil>
}

func ExampleWithMinRefreshInterval() {
	op := newFakeOP()
	defer op.Close()
	ctx := context.Background()
	v, _ := rs.NewVerifier(ctx, op.URL(), rs.WithMinRefreshInterval(time.Hour))

	// The provider rotates its key within the hour: the JWKS is not
	// refetched yet, so the new kid is unknown.
	next := op.addKey("ES256")
	_, err := v.Verify(ctx, sign(next, "at+jwt", op.claims(time.Now())))
	fmt.Println(errors.Is(err, rs.ErrUnknownKey), op.jwksHits.Load())
	// Output:
	// true 1
}

func ExampleWithIntrospection() {
	op := newFakeOP()
	defer op.Close()
	op.introspect = func(token string) (int, map[string]any) {
		if token != "opaque-123" {
			return http.StatusOK, map[string]any{"active": false}
		}
		return http.StatusOK, map[string]any{"active": true, "sub": "alice", "acr": "phr",
			"exp": time.Now().Add(time.Hour).Unix(), "token_type": "Bearer"}
	}
	ctx := context.Background()
	// An empty endpoint uses the one in the provider's discovery.
	v, _ := rs.NewVerifier(ctx, op.URL(), rs.WithIntrospection("", "api", "api-secret", time.Minute))

	for range 3 {
		claims, err := v.Verify(ctx, "opaque-123")
		fmt.Println(claims.Subject, claims.ACR, err)
	}
	_, err := v.Verify(ctx, "revoked")
	fmt.Println(errors.Is(err, rs.ErrInactive), op.introHits.Load())
	// Output:
	// alice phr <nil>
	// alice phr <nil>
	// alice phr <nil>
	// true 2
}
