package stepuptest_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/stepup-oidc/stepup/challenge"
	"github.com/stepup-oidc/stepup/rp"
	"github.com/stepup-oidc/stepup/rs"
	"github.com/stepup-oidc/stepup/stepuptest"
)

func newVerifier(t *testing.T, op *stepuptest.Server, opts ...rs.Option) *rs.Verifier {
	t.Helper()
	v, err := rs.NewVerifier(t.Context(), op.Issuer(), opts...)
	if err != nil {
		t.Fatalf("rs.NewVerifier: %v", err)
	}
	return v
}

func TestMintedAccessTokensVerifyWithRS(t *testing.T) {
	for _, alg := range []string{"ES256", "RS256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			op := stepuptest.NewServer(t, stepuptest.WithAlgorithm(alg))
			v := newVerifier(t, op, rs.WithAlgorithms(alg))
			authTime := time.Now().Add(-2 * time.Minute).Truncate(time.Second)
			tok := op.MintAccessToken(t, stepuptest.AccessClaims{Subject: "bob", ClientID: "bank", Scope: "openid accounts",
				ACR: "phr", AMR: []string{"hwk", "user"}, AuthTime: authTime, TTL: time.Minute,
				AuthorizationDetails: json.RawMessage(`[{"type":"text.v1"}]`)})
			c, err := v.Verify(t.Context(), tok)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if c.Issuer != op.Issuer() || c.Subject != "bob" || c.ClientID != "bank" || c.Scope != "openid accounts" ||
				c.ACR != "phr" || strings.Join(c.AMR, " ") != "hwk user" || !c.AuthTime.Equal(authTime) ||
				len(c.Audience) != 1 || c.Audience[0] != op.Issuer() || c.JTI == "" ||
				c.Expiry.Sub(c.IssuedAt) != time.Minute || string(c.AuthorizationDetails) != `[{"type":"text.v1"}]` {
				t.Errorf("claims %+v", c)
			}
		})
	}
}

func TestDefaultsMakeAValidTokenWithoutOptionalClaims(t *testing.T) {
	op := stepuptest.NewServer(t)
	v := newVerifier(t, op)
	before := time.Now().Truncate(time.Second)
	c, err := v.Verify(t.Context(), op.MintAccessToken(t, stepuptest.AccessClaims{}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject != "alice" || c.ClientID != "client" || c.AuthTime.Before(before) || c.Expiry.Sub(c.IssuedAt) != 5*time.Minute {
		t.Errorf("claims %+v", c)
	}
	for _, name := range []string{"scope", "acr", "amr", "authorization_details", "nonce"} {
		if _, ok := c.Raw[name]; ok {
			t.Errorf("claim %s is set by default: %v", name, c.Raw[name])
		}
	}
	other := op.MintAccessToken(t, stepuptest.AccessClaims{})
	if o, err := v.Verify(t.Context(), other); err != nil || o.JTI == c.JTI {
		t.Errorf("two tokens share jti %q (err %v)", c.JTI, err)
	}
}

// The tokens a test mints to be refused are refused for that reason.
func TestTokensForNegativeTests(t *testing.T) {
	op := stepuptest.NewServer(t)
	v := newVerifier(t, op)
	for name, tc := range map[string]struct {
		c    stepuptest.AccessClaims
		want error
	}{
		"expired":           {stepuptest.AccessClaims{TTL: -time.Hour}, rs.ErrExpired},
		"other audience":    {stepuptest.AccessClaims{Audience: "https://other.example"}, rs.ErrWrongAudience},
		"other issuer":      {stepuptest.AccessClaims{Extra: map[string]any{"iss": "https://other.example"}}, rs.ErrWrongIssuer},
		"without jti":       {stepuptest.AccessClaims{Extra: map[string]any{"jti": nil}}, rs.ErrMalformed},
		"issued in future":  {stepuptest.AccessClaims{Extra: map[string]any{"iat": time.Now().Add(time.Hour).Unix()}}, rs.ErrNotYetValid},
		"aud as array, too": {stepuptest.AccessClaims{Extra: map[string]any{"aud": []string{"x", op.Issuer()}}}, nil},
	} {
		t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
			_, err := v.Verify(t.Context(), op.MintAccessToken(t, tc.c))
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Errorf("Verify: %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := v.Verify(t.Context(), op.MintIDToken(t, stepuptest.IDClaims{ClientID: op.Issuer()})); !errors.Is(err, rs.ErrWrongType) {
		t.Errorf("an ID token verified as an access token: %v", err)
	}
}

func TestRequireMeetsOrChallengesTheACR(t *testing.T) {
	op := stepuptest.NewServer(t)
	v := newVerifier(t, op)
	h := v.Require(rs.ACR("urn:okta:loa:2fa:any"), rs.MaxAge(10*time.Minute))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := rs.ClaimsFrom(r.Context())
		w.Write([]byte(c.ACR))
	}))
	for _, tc := range []struct {
		name     string
		c        stepuptest.AccessClaims
		status   int
		errCode  string
		wantDesc string
	}{
		{"stronger acr satisfies", stepuptest.AccessClaims{ACR: "phr"}, http.StatusOK, "", ""},
		{"same acr", stepuptest.AccessClaims{ACR: "urn:okta:loa:2fa:any"}, http.StatusOK, "", ""},
		{"weaker acr", stepuptest.AccessClaims{ACR: "urn:okta:loa:1fa:pwd"}, http.StatusUnauthorized,
			challenge.ErrorInsufficientUserAuthentication, "A different authentication level is required"},
		{"no acr", stepuptest.AccessClaims{}, http.StatusUnauthorized,
			challenge.ErrorInsufficientUserAuthentication, "A different authentication level is required"},
		{"too old", stepuptest.AccessClaims{ACR: "phr", AuthTime: time.Now().Add(-time.Hour)}, http.StatusUnauthorized,
			challenge.ErrorInsufficientUserAuthentication, "More recent authentication is required"},
		{"expired", stepuptest.AccessClaims{ACR: "phr", TTL: -time.Minute}, http.StatusUnauthorized,
			challenge.ErrorInvalidToken, "The access token expired"},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			req := httptest.NewRequest("POST", "/transfer", nil)
			req.Header.Set("Authorization", "Bearer "+op.MintAccessToken(t, tc.c))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Header().Get("WWW-Authenticate"))
			}
			if tc.status == http.StatusOK {
				if rec.Body.String() != tc.c.ACR {
					t.Errorf("body %q", rec.Body)
				}
				return
			}
			cs, err := challenge.Parse(rec.Header().Get("WWW-Authenticate"))
			if err != nil || len(cs) != 1 {
				t.Fatalf("challenge %q: %v", rec.Header().Get("WWW-Authenticate"), err)
			}
			if string(cs[0].Error) != string(tc.errCode) || cs[0].ErrorDescription != tc.wantDesc {
				t.Errorf("challenge %+v", cs[0])
			}
			if tc.errCode == challenge.ErrorInsufficientUserAuthentication &&
				(strings.Join(cs[0].ACRValues, " ") != "urn:okta:loa:2fa:any" || cs[0].MaxAge == nil || *cs[0].MaxAge != 600) {
				t.Errorf("step-up challenge %+v", cs[0])
			}
		})
	}
}

func TestWithACRSatisfiesReplacesTheVocabulary(t *testing.T) {
	m := map[string][]string{"gold": {"gold", "silver"}, "silver": {"silver"}}
	op := stepuptest.NewServer(t, stepuptest.WithACRSatisfies(m))
	m["silver"] = append(m["silver"], "gold") // the server took a copy
	v := newVerifier(t, op)
	check := func(acr, want string) bool {
		c, err := v.Verify(t.Context(), op.MintAccessToken(t, stepuptest.AccessClaims{ACR: acr}))
		if err != nil {
			t.Fatal(err)
		}
		return v.Check(c, rs.ACR(want)) == nil
	}
	if !check("gold", "silver") || check("silver", "gold") || check("phr", "urn:okta:loa:2fa:any") {
		t.Error("the vocabulary is not the one given")
	}
	d := discovery(t, op)
	if got := d["acr_values_supported"]; len(got.([]any)) != 2 || got.([]any)[0] != "gold" {
		t.Errorf("acr_values_supported %v", got)
	}

	none := stepuptest.NewServer(t, stepuptest.WithACRSatisfies(nil))
	d = discovery(t, none)
	if _, ok := d["stepup_acr_satisfies"]; ok {
		t.Errorf("WithACRSatisfies(nil) publishes %v", d["stepup_acr_satisfies"])
	}
}

func discovery(t *testing.T, op *stepuptest.Server) map[string]any {
	t.Helper()
	res, err := http.Get(op.URL() + stepuptest.PathDiscovery)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var d map[string]any
	if err := json.NewDecoder(res.Body).Decode(&d); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestRotateKeyIsPickedUp(t *testing.T) {
	op := stepuptest.NewServer(t)
	v := newVerifier(t, op, rs.WithMinRefreshInterval(0))
	before := op.MintAccessToken(t, stepuptest.AccessClaims{})
	op.RotateKey()
	after := op.MintAccessToken(t, stepuptest.AccessClaims{})
	if kid(t, before) == kid(t, after) {
		t.Fatalf("the kid did not change: %s", kid(t, before))
	}
	for name, tok := range map[string]string{"new": after, "old": before} {
		if _, err := v.Verify(t.Context(), tok); err != nil {
			t.Errorf("%s token: %v", name, err)
		}
	}
	// A verifier that may not refetch yet does not know the new key.
	op.RotateKey()
	slow := newVerifier(t, op)
	op.RotateKey()
	if _, err := slow.Verify(t.Context(), op.MintAccessToken(t, stepuptest.AccessClaims{})); !errors.Is(err, rs.ErrUnknownKey) {
		t.Errorf("Verify with a key published after the fetch: %v, want ErrUnknownKey", err)
	}
}

func kid(t *testing.T, tok string) string {
	t.Helper()
	jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	return jws.Signatures[0].Header.KeyID
}

func TestMintedIDTokensLogInWithRP(t *testing.T) {
	op := stepuptest.NewServer(t, stepuptest.WithAlgorithm("RS256"))
	var (
		mu      sync.Mutex
		id      stepuptest.IDClaims // of the next ID token
		gotCode string
	)
	op.Handle("POST "+stepuptest.PathToken, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		gotCode = r.PostFormValue("code")
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"access_token": op.MintAccessToken(t, stepuptest.AccessClaims{ClientID: "bank"}),
			"token_type":   "Bearer",
			"id_token":     op.MintIDToken(t, id),
		})
	}))
	c, err := rp.New(t.Context(), rp.Config{Issuer: op.Issuer(), ClientID: "bank", RedirectURL: "http://localhost/cb"})
	if err != nil {
		t.Fatal(err)
	}
	login := func(edit func(c *stepuptest.IDClaims)) (*rp.Tokens, error) {
		_, st, err := c.AuthCodeURL(t.Context(), rp.ACRValues("phr"), rp.MaxAge(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		id = stepuptest.IDClaims{Subject: "bob", ClientID: "bank", Nonce: st.Nonce, ACR: "phr", AMR: []string{"hwk", "user"},
			Extra: map[string]any{"sid": "s1"}}
		edit(&id)
		mu.Unlock()
		return c.Exchange(t.Context(), st, url.Values{"code": {"c1"}, "state": {st.State}, "iss": {op.Issuer()}})
	}

	tok, err := login(func(*stepuptest.IDClaims) {})
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	cl := tok.Claims
	if gotCode != "c1" || cl.Subject != "bob" || cl.ACR != "phr" || strings.Join(cl.AMR, " ") != "hwk user" ||
		cl.SID != "s1" || cl.Nonce == "" || time.Since(cl.AuthTime) > time.Minute {
		t.Errorf("claims %+v (code %q)", cl, gotCode)
	}

	for name, edit := range map[string]func(c *stepuptest.IDClaims){
		"wrong nonce":   func(c *stepuptest.IDClaims) { c.Nonce = "other" },
		"other client":  func(c *stepuptest.IDClaims) { c.ClientID = "other" },
		"expired":       func(c *stepuptest.IDClaims) { c.TTL = -time.Hour },
		"old auth_time": func(c *stepuptest.IDClaims) { c.AuthTime = time.Now().Add(-time.Hour) },
	} {
		if _, err := login(edit); err == nil {
			t.Errorf("%s: Exchange accepted the ID token", name)
		}
	}
}

func TestServerClosesWhenTheTestEnds(t *testing.T) {
	var u string
	t.Run("test", func(t *testing.T) {
		u = stepuptest.NewServer(t).URL()
		if res, err := http.Get(u + stepuptest.PathJWKS); err != nil {
			t.Fatal(err)
		} else {
			res.Body.Close()
		}
	})
	if res, err := http.Get(u + stepuptest.PathJWKS); err == nil {
		res.Body.Close()
		t.Errorf("the server still answers after its test ended")
	}
}

func TestMisusePanicsWithAClearMessage(t *testing.T) {
	op := stepuptest.NewServer(t)
	for name, tc := range map[string]struct {
		f    func()
		want string
	}{
		"nil tb in NewServer":       {func() { stepuptest.NewServer(nil) }, "NewServer needs the test's testing.TB"},
		"unknown algorithm":         {func() { stepuptest.NewServer(t, stepuptest.WithAlgorithm("HS256")) }, `algorithm "HS256"`},
		"nil clock":                 {func() { stepuptest.NewServer(t, stepuptest.WithNow(nil)) }, "WithNow(nil)"},
		"metadata not JSON":         {func() { stepuptest.NewServer(t, stepuptest.WithMetadata("x", func() {})) }, "WithMetadata"},
		"nil tb in MintAccessToken": {func() { op.MintAccessToken(nil, stepuptest.AccessClaims{}) }, "MintAccessToken needs"},
		"nil tb in MintIDToken":     {func() { op.MintIDToken(nil, stepuptest.IDClaims{}) }, "MintIDToken needs"},
		"details not JSON": {func() {
			op.MintAccessToken(t, stepuptest.AccessClaims{AuthorizationDetails: json.RawMessage("[")})
		}, "AuthorizationDetails are not valid JSON"},
		"extra not JSON": {func() {
			op.MintAccessToken(t, stepuptest.AccessClaims{Extra: map[string]any{"x": make(chan int)}})
		}, "do not encode as JSON"},
	} {
		t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
			defer func() {
				msg, _ := recover().(string)
				if !strings.HasPrefix(msg, "stepuptest: ") || !strings.Contains(msg, tc.want) {
					t.Errorf("panic %q, want one with %q", msg, tc.want)
				}
			}()
			tc.f()
		})
	}
}
