package stepuptest_test

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/stepup-oidc/stepup/rp"
	"github.com/stepup-oidc/stepup/rs"
	"github.com/stepup-oidc/stepup/stepuptest"
)

// exampleTB stands in for the *testing.T that a test passes to
// stepuptest: an example has none. It runs the cleanups when the example
// calls done.
type exampleTB struct {
	testing.TB // nil: calling a method not defined below panics
	cleanups   []func()
}

func newExampleTB() *exampleTB                          { return &exampleTB{} }
func (tb *exampleTB) Helper()                           {}
func (tb *exampleTB) Cleanup(f func())                  { tb.cleanups = append(tb.cleanups, f) }
func (tb *exampleTB) Context() context.Context          { return context.Background() }
func (tb *exampleTB) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }

// done runs the cleanups, last first, as a test does when it ends.
func (tb *exampleTB) done() {
	for i := len(tb.cleanups) - 1; i >= 0; i-- {
		tb.cleanups[i]()
	}
}

// In a test, pass the test's t to NewServer; the server closes when the
// test ends. Tokens it mints verify with rs.
func ExampleNewServer() {
	t := newExampleTB() // in a test: t *testing.T
	defer t.done()

	op := stepuptest.NewServer(t)
	v, err := rs.NewVerifier(t.Context(), op.Issuer())
	if err != nil {
		panic(err)
	}
	tok := op.MintAccessToken(t, stepuptest.AccessClaims{Subject: "bob", ACR: "phr", AMR: []string{"hwk", "user"}})
	c, err := v.Verify(t.Context(), tok)
	if err != nil {
		panic(err)
	}
	fmt.Println(c.Subject, c.ClientID, c.ACR, c.AMR, c.Audience[0] == op.Issuer())
	// Output: bob client phr [hwk user] true
}

// A token for a route with an acr requirement: rs.Require challenges a
// password token and lets a passkey (phr) through, since phr satisfies
// two factors in the default vocabulary.
func ExampleServer_MintAccessToken() {
	t := newExampleTB()
	defer t.done()

	op := stepuptest.NewServer(t)
	v, err := rs.NewVerifier(t.Context(), op.Issuer())
	if err != nil {
		panic(err)
	}
	transfer := v.Require(rs.ACR("urn:okta:loa:2fa:any"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := rs.ClaimsFrom(r.Context())
		fmt.Fprintf(w, "transfer by %s with %s", c.Subject, c.ACR)
	}))
	for _, acr := range []string{"urn:okta:loa:1fa:pwd", "phr"} {
		req := httptest.NewRequest("POST", "/transfer", nil)
		req.Header.Set("Authorization", "Bearer "+op.MintAccessToken(t, stepuptest.AccessClaims{ACR: acr}))
		rec := httptest.NewRecorder()
		transfer.ServeHTTP(rec, req)
		fmt.Println(rec.Code, cmp.Or(rec.Header().Get("WWW-Authenticate"), rec.Body.String()))
	}
	// Output:
	// 401 Bearer error="insufficient_user_authentication", error_description="A different authentication level is required", acr_values="urn:okta:loa:2fa:any"
	// 200 transfer by alice with phr
}

// Server is the provider of a test. Its zero-value claims make a valid
// token; set only what the test is about.
func ExampleServer() {
	t := newExampleTB()
	defer t.done()

	op := stepuptest.NewServer(t)
	v, err := rs.NewVerifier(t.Context(), op.Issuer())
	if err != nil {
		panic(err)
	}
	old := op.MintAccessToken(t, stepuptest.AccessClaims{ACR: "phr", AuthTime: time.Now().Add(-time.Hour)})
	c, err := v.Verify(t.Context(), old)
	if err != nil {
		panic(err)
	}
	ce := v.Check(c, rs.ACR("phr"), rs.MaxAge(5*time.Minute))
	fmt.Println(ce.Challenge.ErrorDescription, ce.Challenge.ACRValues, *ce.Challenge.MaxAge)
	// Output: More recent authentication is required [phr] 300
}

func ExampleServer_URL() {
	t := newExampleTB()
	defer t.done()

	op := stepuptest.NewServer(t)
	res, err := http.Get(op.URL() + stepuptest.PathJWKS)
	if err != nil {
		panic(err)
	}
	defer res.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(res.Body).Decode(&set); err != nil {
		panic(err)
	}
	fmt.Println(strings.HasPrefix(op.URL(), "http://127.0.0.1:"), len(set.Keys), set.Keys[0].Algorithm, set.Keys[0].Use)
	// Output: true 1 ES256 sig
}

// The issuer is the URL: what rs.NewVerifier and rp.Config.Issuer take.
func ExampleServer_Issuer() {
	t := newExampleTB()
	defer t.done()

	op := stepuptest.NewServer(t)
	fmt.Println(op.Issuer() == op.URL())
	// Output: true
}

// PathDiscovery serves the document rs and rp fetch: the issuer, the
// JWKS, acr_values_supported and stepup_acr_satisfies.
func ExamplePathDiscovery() {
	t := newExampleTB()
	defer t.done()

	op := stepuptest.NewServer(t)
	res, err := http.Get(op.URL() + stepuptest.PathDiscovery)
	if err != nil {
		panic(err)
	}
	defer res.Body.Close()
	var d struct {
		Issuer    string              `json:"issuer"`
		JWKSURI   string              `json:"jwks_uri"`
		ACRs      []string            `json:"acr_values_supported"`
		Satisfies map[string][]string `json:"stepup_acr_satisfies"`
	}
	if err := json.NewDecoder(res.Body).Decode(&d); err != nil {
		panic(err)
	}
	fmt.Println(d.Issuer == op.Issuer(), d.JWKSURI == op.URL()+stepuptest.PathJWKS)
	fmt.Println(d.ACRs)
	fmt.Println(d.Satisfies["phr"])
	// Output:
	// true true
	// [phr phrh urn:okta:loa:1fa:any urn:okta:loa:1fa:pwd urn:okta:loa:2fa:any urn:okta:loa:2fa:any:ifpossible]
	// [phr urn:okta:loa:2fa:any urn:okta:loa:2fa:any:ifpossible urn:okta:loa:1fa:any]
}

// The zero AccessClaims mint a token for DefaultSubject and
// DefaultClientID, living DefaultTTL.
func ExampleDefaultSubject() {
	t := newExampleTB()
	defer t.done()

	op := stepuptest.NewServer(t)
	v, err := rs.NewVerifier(t.Context(), op.Issuer())
	if err != nil {
		panic(err)
	}
	c, err := v.Verify(t.Context(), op.MintAccessToken(t, stepuptest.AccessClaims{}))
	if err != nil {
		panic(err)
	}
	fmt.Println(c.Subject == stepuptest.DefaultSubject, c.ClientID == stepuptest.DefaultClientID,
		c.Expiry.Sub(c.IssuedAt) == stepuptest.DefaultTTL, c.ACR == "", c.JTI != "")
	// Output: true true true true true
}

// Every field set, and Extra claims for anything else.
func ExampleAccessClaims() {
	t := newExampleTB()
	defer t.done()

	op := stepuptest.NewServer(t)
	v, err := rs.NewVerifier(t.Context(), op.Issuer(), rs.WithAudience("https://api.example.com"))
	if err != nil {
		panic(err)
	}
	tok := op.MintAccessToken(t, stepuptest.AccessClaims{
		Subject:              "bob",
		ClientID:             "bank",
		Scope:                "openid accounts",
		ACR:                  "phr",
		AMR:                  []string{"hwk", "user"},
		AuthTime:             time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC),
		Audience:             "https://api.example.com",
		TTL:                  time.Minute,
		AuthorizationDetails: json.RawMessage(`[{"type":"payment.v1","amount":"150.00"}]`),
		Extra:                map[string]any{"sid": "s1"},
	})
	c, err := v.Verify(t.Context(), tok)
	if err != nil {
		panic(err)
	}
	fmt.Println(c.Subject, c.ClientID, c.Scope, c.ACR, c.AMR, c.AuthTime.UTC().Format(time.RFC3339), c.SID)
	fmt.Println(string(c.AuthorizationDetails))

	// A nil Extra value removes a claim; a negative TTL mints an expired token.
	_, err = v.Verify(t.Context(), op.MintAccessToken(t, stepuptest.AccessClaims{
		Audience: "https://api.example.com", Extra: map[string]any{"client_id": nil}}))
	fmt.Println(errors.Is(err, rs.ErrMalformed))
	_, err = v.Verify(t.Context(), op.MintAccessToken(t, stepuptest.AccessClaims{
		Audience: "https://api.example.com", TTL: -time.Hour}))
	fmt.Println(errors.Is(err, rs.ErrExpired))
	// Output:
	// bob bank openid accounts phr [hwk user] 2030-01-02T03:04:05Z s1
	// [{"type":"payment.v1","amount":"150.00"}]
	// true
	// true
}

// An ID token is not an access token: rs refuses it.
func ExampleIDClaims() {
	t := newExampleTB()
	defer t.done()

	op := stepuptest.NewServer(t)
	v, err := rs.NewVerifier(t.Context(), op.Issuer())
	if err != nil {
		panic(err)
	}
	id := op.MintIDToken(t, stepuptest.IDClaims{ClientID: op.Issuer(), ACR: "phr"})
	_, err = v.Verify(t.Context(), id)
	fmt.Println(errors.Is(err, rs.ErrWrongType))
	// Output: true
}

// An rp.Client logs in against the server once the test serves a token
// endpoint: here one that returns an ID token with the request's nonce.
func ExampleServer_MintIDToken() {
	t := newExampleTB()
	defer t.done()

	op := stepuptest.NewServer(t)
	var nonce string // the nonce of the pending login; a real test may keep one per code
	op.Handle("POST "+stepuptest.PathToken, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := op.MintIDToken(t, stepuptest.IDClaims{ClientID: "bank", Nonce: nonce, ACR: "phr", AMR: []string{"hwk", "user"}})
		at := op.MintAccessToken(t, stepuptest.AccessClaims{ClientID: "bank", ACR: "phr"})
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": at, "token_type": "Bearer", "expires_in": 300, "id_token": id})
	}))

	c, err := rp.New(t.Context(), rp.Config{Issuer: op.Issuer(), ClientID: "bank", RedirectURL: "http://localhost/callback"})
	if err != nil {
		panic(err)
	}
	_, st, err := c.AuthCodeURL(t.Context(), rp.ACRValues("phr"))
	if err != nil {
		panic(err)
	}
	nonce = st.Nonce
	// The browser would come back with a code; the server accepts any.
	tok, err := c.Exchange(t.Context(), st, url.Values{"code": {"any"}, "state": {st.State}})
	if err != nil {
		panic(err)
	}
	fmt.Println(tok.Claims.Subject, tok.Claims.ACR, tok.Claims.AMR)
	// Output: alice phr [hwk user]
}

// Handle adds endpoints; WithMetadata lists them in discovery. Here an
// introspection endpoint for opaque tokens.
func ExampleServer_Handle() {
	t := newExampleTB()
	defer t.done()

	op := stepuptest.NewServer(t)
	op.Handle("POST /introspect", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		active := r.PostFormValue("token") == "opaque-1"
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"active": active, "sub": "alice", "acr": "phr"})
	}))
	v, err := rs.NewVerifier(t.Context(), op.Issuer(), rs.WithIntrospection(op.URL()+"/introspect", "api", "secret", 0))
	if err != nil {
		panic(err)
	}
	c, err := v.Verify(t.Context(), "opaque-1")
	fmt.Println(c.Subject, c.ACR, err)
	_, err = v.Verify(t.Context(), "opaque-2")
	fmt.Println(errors.Is(err, rs.ErrInactive))
	// Output:
	// alice phr <nil>
	// true
}

// WithMetadata adds, replaces or (with nil) removes a discovery field.
func ExampleWithMetadata() {
	t := newExampleTB()
	defer t.done()

	op := stepuptest.NewServer(t, stepuptest.WithMetadata("introspection_endpoint", "https://elsewhere.example/introspect"),
		stepuptest.WithMetadata("jwks_uri", nil))
	_, err := rs.NewVerifier(t.Context(), op.Issuer())
	fmt.Println(err)
	// Output: rs: discovery has no jwks_uri
}

func ExampleOption() {
	t := newExampleTB()
	defer t.done()

	opts := []stepuptest.Option{stepuptest.WithAlgorithm("EdDSA"), stepuptest.WithACRSatisfies(nil)}
	op := stepuptest.NewServer(t, opts...)
	v, err := rs.NewVerifier(t.Context(), op.Issuer())
	if err != nil {
		panic(err)
	}
	c, err := v.Verify(t.Context(), op.MintAccessToken(t, stepuptest.AccessClaims{ACR: "phr"}))
	if err != nil {
		panic(err)
	}
	// Without stepup_acr_satisfies, only the exact value is accepted.
	fmt.Println(v.Check(c, rs.ACR("phr")) == nil, v.Check(c, rs.ACR("urn:okta:loa:2fa:any")) == nil)
	// Output: true false
}

// WithAlgorithm picks what the keys sign with: ES256, RS256 or EdDSA.
func ExampleWithAlgorithm() {
	t := newExampleTB()
	defer t.done()

	for _, alg := range []string{"ES256", "RS256", "EdDSA"} {
		op := stepuptest.NewServer(t, stepuptest.WithAlgorithm(alg))
		tok := op.MintAccessToken(t, stepuptest.AccessClaims{})
		jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
		if err != nil {
			panic(err)
		}
		h := jws.Signatures[0].Header
		fmt.Println(h.Algorithm, h.ExtraHeaders[jose.HeaderType], strings.HasPrefix(h.KeyID, strings.ToLower(alg)+"-"))
	}
	// Output:
	// ES256 at+jwt true
	// RS256 at+jwt true
	// EdDSA at+jwt true
}

// A provider with another vocabulary: here the bankid one, where the
// hardware-key level satisfies the base level.
func ExampleWithACRSatisfies() {
	t := newExampleTB()
	defer t.done()

	op := stepuptest.NewServer(t, stepuptest.WithACRSatisfies(map[string][]string{
		"urn:bankid:bis;LOA=3": {"urn:bankid:bis;LOA=3"},
		"urn:bankid:hwk;LOA=4": {"urn:bankid:hwk;LOA=4", "urn:bankid:bis;LOA=3"},
	}))
	v, err := rs.NewVerifier(t.Context(), op.Issuer())
	if err != nil {
		panic(err)
	}
	for _, acr := range []string{"urn:bankid:bis;LOA=3", "urn:bankid:hwk;LOA=4"} {
		c, err := v.Verify(t.Context(), op.MintAccessToken(t, stepuptest.AccessClaims{ACR: acr}))
		if err != nil {
			panic(err)
		}
		fmt.Println(acr, v.Check(c, rs.ACR("urn:bankid:bis;LOA=3")) == nil, v.Check(c, rs.ACR("urn:bankid:hwk;LOA=4")) == nil)
	}
	// Output:
	// urn:bankid:bis;LOA=3 true false
	// urn:bankid:hwk;LOA=4 true true
}

func ExampleDefaultACRSatisfies() {
	s := stepuptest.DefaultACRSatisfies()
	fmt.Println(s["urn:okta:loa:2fa:any"])
	fmt.Println(s["phrh"])
	// Output:
	// [urn:okta:loa:2fa:any urn:okta:loa:2fa:any:ifpossible urn:okta:loa:1fa:any]
	// [phrh phr urn:okta:loa:2fa:any urn:okta:loa:2fa:any:ifpossible urn:okta:loa:1fa:any]
}

// WithNow mints tokens on a test's clock; give rs the same clock.
func ExampleWithNow() {
	t := newExampleTB()
	defer t.done()

	now := func() time.Time { return time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC) }
	op := stepuptest.NewServer(t, stepuptest.WithNow(now))
	v, err := rs.NewVerifier(t.Context(), op.Issuer(), rs.WithNow(now))
	if err != nil {
		panic(err)
	}
	c, err := v.Verify(t.Context(), op.MintAccessToken(t, stepuptest.AccessClaims{}))
	if err != nil {
		panic(err)
	}
	fmt.Println(c.IssuedAt.UTC(), c.Expiry.UTC(), c.AuthTime.UTC())
	// Output: 2030-01-02 03:04:05 +0000 UTC 2030-01-02 03:09:05 +0000 UTC 2030-01-02 03:04:05 +0000 UTC
}

// After RotateKey, tokens carry a new kid; a verifier allowed to refetch
// the JWKS at once accepts them, and the old tokens still verify.
func ExampleServer_RotateKey() {
	t := newExampleTB()
	defer t.done()

	op := stepuptest.NewServer(t)
	v, err := rs.NewVerifier(t.Context(), op.Issuer(), rs.WithMinRefreshInterval(0))
	if err != nil {
		panic(err)
	}
	before := op.MintAccessToken(t, stepuptest.AccessClaims{})
	op.RotateKey()
	after := op.MintAccessToken(t, stepuptest.AccessClaims{})
	_, err1 := v.Verify(t.Context(), after)
	_, err2 := v.Verify(t.Context(), before)
	fmt.Println(err1, err2)
	// Output: <nil> <nil>
}
