package rs_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	"github.com/stepup-oidc/stepup/rs"
)

// accounts lists the caller's accounts.
func accounts(w http.ResponseWriter, r *http.Request) {
	claims, _ := rs.ClaimsFrom(r.Context())
	fmt.Fprintf(w, "accounts of %s\n", claims.Subject)
}

// transfer moves money; Require has already checked acr and max_age.
func transfer(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintln(w, "transferred")
}

// payment asks for a passkey only above 1000: a decision made in code.
func payment(v *rs.Verifier) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		claims, _ := rs.ClaimsFrom(r.Context())
		amount, _ := strconv.Atoi(r.FormValue("amount"))
		if amount > 1000 {
			if ce := v.Check(claims, rs.ACR("phr"), rs.MaxAge(5*time.Minute)); ce != nil {
				ce.ServeHTTP(w, r)
				return
			}
		}
		fmt.Fprintf(w, "paid %d\n", amount)
	}
}

// call sends a request to h and prints the status, the challenge and the body.
func call(h http.Handler, method, target, token string) {
	req := httptest.NewRequest(method, target, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Println(method, target, rec.Code)
	if c := rec.Header().Get("WWW-Authenticate"); c != "" && !strings.Contains(c, "realm=") {
		fmt.Println("  WWW-Authenticate:", c)
	}
	if rec.Code == http.StatusOK {
		fmt.Print("  ", rec.Body.String())
	}
}

// Protecting an API: per-route requirements with Require, and a step-up
// decided in the handler with Check. op stands in for a Stepup provider.
func Example() {
	op := newFakeOP()
	defer op.Close()
	ctx := context.Background()
	issuer := op.URL()

	// docs:begin
	v, err := rs.NewVerifier(ctx, issuer)
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /accounts", v.Require(rs.Scope("accounts"))(http.HandlerFunc(accounts)))
	mux.Handle("POST /transfer", v.Require(rs.ACR("phr"), rs.MaxAge(5*time.Minute))(http.HandlerFunc(transfer)))
	mux.Handle("POST /payment", v.Require()(payment(v)))
	// docs:end

	now := time.Now()
	password := op.mint(now, nil) // acr urn:okta:loa:1fa:pwd
	passkey := op.mint(now, func(c map[string]any) { c["acr"] = "phr"; c["amr"] = []string{"hwk", "user"} })

	call(mux, "GET", "/accounts", password)
	call(mux, "POST", "/transfer", password)
	call(mux, "POST", "/transfer", passkey)
	call(mux, "POST", "/payment?amount=50", password)
	call(mux, "POST", "/payment?amount=5000", password)
	call(mux, "POST", "/payment?amount=5000", passkey)
	// Output:
	// GET /accounts 200
	//   accounts of alice
	// POST /transfer 401
	//   WWW-Authenticate: Bearer error="insufficient_user_authentication", error_description="A different authentication level is required", acr_values="phr", max_age="300"
	// POST /transfer 200
	//   transferred
	// POST /payment?amount=50 200
	//   paid 50
	// POST /payment?amount=5000 401
	//   WWW-Authenticate: Bearer error="insufficient_user_authentication", error_description="A different authentication level is required", acr_values="phr", max_age="300"
	// POST /payment?amount=5000 200
	//   paid 5000
}

func ExampleNewVerifier() {
	op := newFakeOP()
	defer op.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := rs.NewVerifier(ctx, op.URL())
	fmt.Println(v != nil, err)

	_, err = rs.NewVerifier(ctx, op.URL()+"/other")
	fmt.Println(err != nil)
	// Output:
	// true <nil>
	// true
}

func ExampleVerifier() {
	op := newFakeOP()
	defer op.Close()
	v, _ := rs.NewVerifier(context.Background(), op.URL())

	// One Verifier serves every route and request, concurrently.
	h := v.Require(rs.ACR("urn:okta:loa:1fa:any"))(http.HandlerFunc(accounts))
	call(h, "GET", "/accounts", op.mint(time.Now(), nil))
	// Output:
	// GET /accounts 200
	//   accounts of alice
}

func ExampleVerifier_Verify() {
	op := newFakeOP()
	defer op.Close()
	ctx := context.Background()
	v, _ := rs.NewVerifier(ctx, op.URL())

	claims, err := v.Verify(ctx, op.mint(time.Now(), nil))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(claims.Subject, claims.ClientID, claims.ACR, claims.AMR, claims.Scope)
	fmt.Println(time.Since(claims.AuthTime).Round(time.Minute))

	// An expired token, and an ID token presented as an access token.
	_, err = v.Verify(ctx, op.mint(time.Now().Add(-time.Hour), nil))
	fmt.Println(errors.Is(err, rs.ErrExpired))
	_, err = v.Verify(ctx, sign(op.key(0), "JWT", op.claims(time.Now())))
	fmt.Println(errors.Is(err, rs.ErrWrongType))
	// Output:
	// alice bank urn:okta:loa:1fa:pwd [pwd] openid accounts
	// 1m0s
	// true
	// true
}

func ExampleVerifier_Require() {
	op := newFakeOP()
	defer op.Close()
	v, _ := rs.NewVerifier(context.Background(), op.URL())
	h := v.Require(rs.ACR("phr"), rs.MaxAge(5*time.Minute))(http.HandlerFunc(transfer))

	call(h, "POST", "/transfer", "")
	call(h, "POST", "/transfer", "not-a-token")
	call(h, "POST", "/transfer", op.mint(time.Now(), nil))
	// Output:
	// POST /transfer 401
	// POST /transfer 401
	//   WWW-Authenticate: Bearer error="invalid_token", error_description="The access token is invalid"
	// POST /transfer 401
	//   WWW-Authenticate: Bearer error="insufficient_user_authentication", error_description="A different authentication level is required", acr_values="phr", max_age="300"
}

func ExampleVerifier_Check() {
	op := newFakeOP()
	defer op.Close()
	ctx := context.Background()
	v, _ := rs.NewVerifier(ctx, op.URL())
	claims, _ := v.Verify(ctx, op.mint(time.Now(), nil)) // authenticated a minute ago

	fmt.Println(v.Check(claims, rs.ACR("urn:okta:loa:1fa:any"), rs.MaxAge(time.Hour)) == nil)
	if ce := v.Check(claims, rs.MaxAge(10*time.Second)); ce != nil {
		fmt.Println(ce.Status, ce.Challenge)
	}
	// Output:
	// true
	// 401 Bearer error="insufficient_user_authentication", error_description="More recent authentication is required", max_age="10"
}

func ExampleClaims() {
	op := newFakeOP()
	defer op.Close()
	ctx := context.Background()
	v, _ := rs.NewVerifier(ctx, op.URL())
	tok := op.mint(time.Now(), func(c map[string]any) {
		c["authorization_details"] = []map[string]string{{"type": "payment.v1", "amount": "100"}}
		c["tenant"] = "nordic"
	})

	claims, _ := v.Verify(ctx, tok)
	fmt.Println(string(claims.AuthorizationDetails))
	fmt.Println(claims.Raw["tenant"])
	// Output:
	// [{"amount":"100","type":"payment.v1"}]
	// nordic
}

func ExampleClaimsFrom() {
	op := newFakeOP()
	defer op.Close()
	v, _ := rs.NewVerifier(context.Background(), op.URL())

	h := v.Require()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, ok := rs.ClaimsFrom(r.Context())
		fmt.Fprintln(w, ok, claims.Subject, claims.ACR)
	}))
	call(h, "GET", "/me", op.mint(time.Now(), nil))

	_, ok := rs.ClaimsFrom(context.Background())
	fmt.Println(ok)
	// Output:
	// GET /me 200
	//   true alice urn:okta:loa:1fa:pwd
	// false
}

func ExampleRequirement() {
	op := newFakeOP()
	defer op.Close()
	v, _ := rs.NewVerifier(context.Background(), op.URL())

	// Requirements combine: every one must be met.
	sensitive := []rs.Requirement{rs.Scope("accounts"), rs.ACR("phr"), rs.MaxAge(5 * time.Minute)}
	call(v.Require(sensitive...)(http.HandlerFunc(transfer)), "POST", "/transfer",
		op.mint(time.Now(), func(c map[string]any) { c["acr"] = "phr" }))
	// Output:
	// POST /transfer 200
	//   transferred
}

func ExampleACR() {
	op := newFakeOP()
	defer op.Close()
	v, _ := rs.NewVerifier(context.Background(), op.URL())
	h := v.Require(rs.ACR("urn:okta:loa:2fa:any"))(http.HandlerFunc(transfer))

	// phr satisfies urn:okta:loa:2fa:any, as the provider's
	// stepup_acr_satisfies says; a password does not.
	call(h, "POST", "/transfer", op.mint(time.Now(), func(c map[string]any) { c["acr"] = "phr" }))
	call(h, "POST", "/transfer", op.mint(time.Now(), nil))
	// Output:
	// POST /transfer 200
	//   transferred
	// POST /transfer 401
	//   WWW-Authenticate: Bearer error="insufficient_user_authentication", error_description="A different authentication level is required", acr_values="urn:okta:loa:2fa:any"
}

func ExampleMaxAge() {
	op := newFakeOP()
	defer op.Close()
	v, _ := rs.NewVerifier(context.Background(), op.URL())
	h := v.Require(rs.MaxAge(2 * time.Minute))(http.HandlerFunc(transfer))

	now := time.Now()
	call(h, "POST", "/transfer", op.mint(now, nil)) // auth_time a minute ago
	call(h, "POST", "/transfer", op.mint(now, func(c map[string]any) { c["auth_time"] = now.Add(-time.Hour).Unix() }))
	// Output:
	// POST /transfer 200
	//   transferred
	// POST /transfer 401
	//   WWW-Authenticate: Bearer error="insufficient_user_authentication", error_description="More recent authentication is required", max_age="120"
}

func ExampleScope() {
	op := newFakeOP()
	defer op.Close()
	v, _ := rs.NewVerifier(context.Background(), op.URL())
	h := v.Require(rs.Scope("payments"))(http.HandlerFunc(transfer))

	call(h, "POST", "/transfer", op.mint(time.Now(), nil)) // scope "openid accounts"
	// Output:
	// POST /transfer 403
	//   WWW-Authenticate: Bearer error="insufficient_scope", error_description="The access token lacks a required scope", scope="payments"
}

func ExampleStepUp() {
	// A handler that wants a new passkey authentication for this one action.
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rs.StepUp([]string{"phr"}, 0, "Confirm the new payee with your passkey").ServeHTTP(w, r)
	})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/payees", nil))
	fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"))
	fmt.Print(rec.Body.String())
	// Output:
	// 401 Bearer error="insufficient_user_authentication", error_description="Confirm the new payee with your passkey", acr_values="phr", max_age="0"
	// {"error":"insufficient_user_authentication","error_description":"Confirm the new payee with your passkey"}
}

func ExampleChallengeError() {
	var err error = rs.StepUp(nil, 5*time.Minute, "More recent authentication is required")

	var ce *rs.ChallengeError
	if errors.As(err, &ce) {
		fmt.Println(ce.Status, ce.Challenge.Error, *ce.Challenge.MaxAge)
	}
	// Output:
	// 401 insufficient_user_authentication 300
}

func ExampleChallengeError_Error() {
	fmt.Println(rs.StepUp([]string{"phr"}, -1, "A different authentication level is required"))
	// Output:
	// rs: insufficient_user_authentication: A different authentication level is required
}

func ExampleChallengeError_Unwrap() {
	op := newFakeOP()
	defer op.Close()
	ctx := context.Background()
	v, _ := rs.NewVerifier(ctx, op.URL())

	_, err := v.Verify(ctx, op.mint(time.Now().Add(-time.Hour), nil))
	ce := &rs.ChallengeError{Status: http.StatusUnauthorized, Err: err}
	fmt.Println(errors.Is(ce, rs.ErrExpired))
	// Output:
	// true
}

func ExampleChallengeError_ServeHTTP() {
	rec := httptest.NewRecorder()
	rs.StepUp([]string{"phr", "phrh"}, -1, "").ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	fmt.Println(rec.Code, rec.Header().Get("Cache-Control"), rec.Header().Get("Content-Type"))
	fmt.Println(rec.Header().Get("WWW-Authenticate"))
	// Output:
	// 401 no-store application/json
	// Bearer error="insufficient_user_authentication", acr_values="phr phrh"
}

// Each refusal wraps one sentinel error, for errors.Is.
func ExampleVerifier_Verify_errors() {
	op := newFakeOP()
	defer op.Close()
	op.introspect = func(string) (int, map[string]any) { return http.StatusBadGateway, nil }
	ctx := context.Background()
	v, _ := rs.NewVerifier(ctx, op.URL(), rs.WithIntrospection("", "api", "api-secret", time.Minute))
	now := time.Now()
	edit := func(k string, val any) string {
		return op.mint(now, func(c map[string]any) { c[k] = val })
	}
	for _, tok := range []string{
		edit("exp", now.Add(-time.Hour).Unix()),
		edit("nbf", now.Add(time.Hour).Unix()),
		edit("iss", "https://elsewhere.example"),
		edit("aud", "https://other-api.example"),
		edit("exp", "never"),
		sign(op.key(0), "JWT", op.claims(now)),
		sign(newKey("ES256"), "at+jwt", op.claims(now)),
		"opaque-token",
	} {
		_, err := v.Verify(ctx, tok)
		for _, sentinel := range []error{rs.ErrExpired, rs.ErrNotYetValid, rs.ErrWrongIssuer, rs.ErrWrongAudience,
			rs.ErrMalformed, rs.ErrWrongType, rs.ErrUnknownKey, rs.ErrIntrospection} {
			if errors.Is(err, sentinel) {
				fmt.Println(sentinel)
			}
		}
	}
	// Output:
	// rs: access token expired
	// rs: access token not yet valid
	// rs: wrong issuer
	// rs: wrong audience
	// rs: malformed access token
	// rs: not an access token
	// rs: unknown signing key
	// rs: introspection failed
}
