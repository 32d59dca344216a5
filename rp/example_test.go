package rp_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/stepup-oidc/stepup/challenge"
	"github.com/stepup-oidc/stepup/rp"
)

// The examples run against fakeOP, a small provider on a loopback port
// (fakeop_test.go); fakeOP.Authorize stands in for the browser's trip
// through the login pages and returns the callback's query.

// exampleClient starts a fake provider and a client registered there.
func exampleClient() (*rp.Client, *fakeOP) {
	op := newFakeOP()
	c, err := rp.New(context.Background(), rp.Config{
		Issuer:       op.URL,
		ClientID:     "bank",
		ClientSecret: "bank-secret",
		RedirectURL:  "https://bank.example/callback",
		Scopes:       []string{"openid", "profile"},
	})
	if err != nil {
		panic(err)
	}
	return c, op
}

// query returns the query of an authorization URL.
func query(authURL string) url.Values {
	u, err := url.Parse(authURL)
	if err != nil {
		panic(err)
	}
	return u.Query()
}

func ExampleNew() {
	op := newFakeOP()
	defer op.Close()

	ctx := context.Background()
	c, err := rp.New(ctx, rp.Config{
		Issuer:       op.URL, // e.g. "https://id.example.com"
		ClientID:     "bank",
		ClientSecret: "bank-secret",
		RedirectURL:  "https://bank.example/callback",
		Scopes:       []string{"openid", "profile"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c != nil)
	// Output: true
}

// Discovery must name exactly the configured issuer.
func ExampleNew_issuerMismatch() {
	op := newFakeOP()
	defer op.Close()
	op.setMeta("issuer", "https://evil.example")

	_, err := rp.New(context.Background(), rp.Config{Issuer: op.URL, ClientID: "bank", RedirectURL: "https://bank.example/callback"})
	fmt.Println(errors.Is(err, rp.ErrIssuerMismatch))
	// Output: true
}

// Config is checked by New before any request.
func ExampleConfig() {
	ctx := context.Background()
	_, err := rp.New(ctx, rp.Config{Issuer: "https://id.example.com", ClientID: "bank",
		RedirectURL: "https://bank.example/callback", Scopes: []string{"profile"}})
	fmt.Println(err)
	_, err = rp.New(ctx, rp.Config{Issuer: "http://id.example.com", ClientID: "bank",
		RedirectURL: "https://bank.example/callback"})
	fmt.Println(err)
	// Output:
	// rp: Scopes must include "openid"
	// rp: Issuer "http://id.example.com" must use https
}

func ExampleClient() {
	c, op := exampleClient()
	defer op.Close()
	ctx := context.Background()

	// Login: redirect the browser to u, keep st in the session.
	u, st, err := c.AuthCodeURL(ctx)
	if err != nil {
		panic(err)
	}
	// Callback: the provider redirected the browser back.
	tok, err := c.Exchange(ctx, st, op.Authorize(u))
	if err != nil {
		panic(err)
	}
	fmt.Println(tok.Claims.Subject, tok.Claims.ACR)
	// Output: alice urn:okta:loa:1fa:pwd
}

func ExampleClient_AuthCodeURL() {
	c, op := exampleClient()
	defer op.Close()

	u, st, err := c.AuthCodeURL(context.Background(), rp.ACRValues("phr"), rp.MaxAge(5*time.Minute))
	if err != nil {
		panic(err)
	}
	q := query(u)
	fmt.Println("acr_values:", q.Get("acr_values"))
	fmt.Println("max_age:", q.Get("max_age"))
	fmt.Println("scope:", q.Get("scope"))
	fmt.Println("code_challenge_method:", q.Get("code_challenge_method"))
	fmt.Println("state and nonce kept:", q.Get("state") == st.State, q.Get("nonce") == st.Nonce)
	// Output:
	// acr_values: phr
	// max_age: 300
	// scope: openid profile
	// code_challenge_method: S256
	// state and nonce kept: true true
}

// With PAR the request goes to the provider first; the browser's URL
// carries only client_id and request_uri.
func ExampleClient_AuthCodeURL_par() {
	c, op := exampleClient()
	defer op.Close()

	u, _, err := c.AuthCodeURL(context.Background(), rp.PAR(), rp.LoginHint("alice@example.com"))
	if err != nil {
		panic(err)
	}
	fmt.Println(slices.Sorted(maps.Keys(query(u))))
	// Output: [client_id request_uri]
}

func ExampleClient_Exchange() {
	c, op := exampleClient()
	defer op.Close()
	ctx := context.Background()

	u, st, err := c.AuthCodeURL(ctx, rp.ACRValues("phr"))
	if err != nil {
		panic(err)
	}
	callback := op.Authorize(u) // in a handler: r.URL.Query()

	tok, err := c.Exchange(ctx, st, callback)
	var ae *rp.AuthError
	switch {
	case errors.As(err, &ae):
		fmt.Println("the provider said", ae.Code)
	case err != nil:
		fmt.Println("refused:", err)
	default:
		fmt.Printf("sub=%s acr=%s amr=%v\n", tok.Claims.Subject, tok.Claims.ACR, tok.Claims.AMR)
	}
	// Output: sub=alice acr=phr amr=[hwk user]
}

func ExampleClient_Refresh() {
	c, op := exampleClient()
	defer op.Close()
	ctx := context.Background()
	u, st, _ := c.AuthCodeURL(ctx)
	tok, err := c.Exchange(ctx, st, op.Authorize(u))
	if err != nil {
		panic(err)
	}

	fresh, err := c.Refresh(ctx, tok.RefreshToken)
	if err != nil {
		panic(err)
	}
	fmt.Println("rotated:", fresh.RefreshToken != tok.RefreshToken)
	fmt.Println("same user and level:", fresh.Claims.Subject == tok.Claims.Subject, fresh.Claims.ACR == tok.Claims.ACR)
	// Output:
	// rotated: true
	// same user and level: true true
}

// A resource server answered 401 with an RFC 9470 challenge: step the
// user up, then resume.
func ExampleClient_StepUp() {
	c, op := exampleClient()
	defer op.Close()
	ctx := context.Background()
	u, st, _ := c.AuthCodeURL(ctx)
	prev, err := c.Exchange(ctx, st, op.Authorize(u))
	if err != nil {
		panic(err)
	}

	// res.Header.Get("WWW-Authenticate") from the resource server:
	header := `Bearer error="insufficient_user_authentication", acr_values="phr", max_age="300"`
	cs, err := challenge.Parse(header)
	if err != nil {
		panic(err)
	}
	u, st, err = c.StepUp(ctx, cs[0], prev, rp.ResumeWith("/transfers/42"))
	if err != nil {
		panic(err)
	}
	q := query(u)
	fmt.Println("acr_values:", q.Get("acr_values"))
	fmt.Println("max_age:", q.Get("max_age"))
	fmt.Println("id_token_hint is the previous ID token:", q.Get("id_token_hint") == prev.IDToken)
	fmt.Println("expects:", st.ExpectSubject)

	tok, err := c.Exchange(ctx, st, op.Authorize(u))
	if err != nil {
		panic(err)
	}
	fmt.Println("now:", tok.Claims.ACR, "resume", st.Resume)
	// Output:
	// acr_values: phr
	// max_age: 300
	// id_token_hint is the previous ID token: true
	// expects: alice
	// now: phr resume /transfers/42
}

// State goes into the user's session (or an encrypted cookie) as JSON.
func ExampleState() {
	c, op := exampleClient()
	defer op.Close()
	ctx := context.Background()

	u, st, _ := c.AuthCodeURL(ctx, rp.MaxAge(time.Minute), rp.ResumeWith("/pay"))
	saved, err := json.Marshal(st)
	if err != nil {
		panic(err)
	}
	var fields map[string]any
	json.Unmarshal(saved, &fields)
	fmt.Println(slices.Sorted(maps.Keys(fields)))

	// Later, in the callback handler:
	var restored rp.State
	if err := json.Unmarshal(saved, &restored); err != nil {
		panic(err)
	}
	tok, err := c.Exchange(ctx, &restored, op.Authorize(u))
	fmt.Println(tok.Claims.Subject, err, restored.Resume)
	// Output:
	// [code_verifier created iss max_age nonce resume state]
	// alice <nil> /pay
}

// Options are values: keep a set for a sensitive action and reuse it.
func ExampleAuthOption() {
	c, op := exampleClient()
	defer op.Close()

	payment := []rp.AuthOption{rp.ACRValues("phr"), rp.MaxAge(0), rp.UILocales("nb", "en")}
	u, _, _ := c.AuthCodeURL(context.Background(), payment...)
	q := query(u)
	fmt.Println(q.Get("acr_values"), q.Get("max_age"), q.Get("ui_locales"))
	// Output: phr 0 nb en
}

func ExampleACRValues() {
	c, op := exampleClient()
	defer op.Close()
	u, st, _ := c.AuthCodeURL(context.Background(), rp.ACRValues("phrh", "phr"))
	fmt.Println(query(u).Get("acr_values"), st.ACRValues)
	// Output: phrh phr [phrh phr]
}

func ExampleMaxAge() {
	c, op := exampleClient()
	defer op.Close()
	u, st, _ := c.AuthCodeURL(context.Background(), rp.MaxAge(5*time.Minute))
	fmt.Println(query(u).Get("max_age"), *st.MaxAge)
	// Output: 300 300
}

func ExamplePrompt() {
	c, op := exampleClient()
	defer op.Close()
	u, _, _ := c.AuthCodeURL(context.Background(), rp.Prompt("login"))
	fmt.Println(query(u).Get("prompt"))
	// Output: login
}

func ExampleLoginHint() {
	c, op := exampleClient()
	defer op.Close()
	u, _, _ := c.AuthCodeURL(context.Background(), rp.LoginHint("alice@example.com"))
	fmt.Println(query(u).Get("login_hint"))
	// Output: alice@example.com
}

func ExampleIDTokenHint() {
	c, op := exampleClient()
	defer op.Close()
	ctx := context.Background()
	u, st, _ := c.AuthCodeURL(ctx)
	tok, _ := c.Exchange(ctx, st, op.Authorize(u))

	// Silent re-check that the same user is still signed in.
	u, _, _ = c.AuthCodeURL(ctx, rp.IDTokenHint(tok.IDToken), rp.Prompt("none"))
	fmt.Println(query(u).Get("id_token_hint") == tok.IDToken)
	// Output: true
}

func ExampleUILocales() {
	c, op := exampleClient()
	defer op.Close()
	u, _, _ := c.AuthCodeURL(context.Background(), rp.UILocales("nb-NO", "en"))
	fmt.Println(query(u).Get("ui_locales"))
	// Output: nb-NO en
}

func ExampleClaimsEssentialACR() {
	c, op := exampleClient()
	defer op.Close()
	u, _, _ := c.AuthCodeURL(context.Background(), rp.ClaimsEssentialACR("phr", "phrh"))
	fmt.Println(query(u).Get("claims"))
	// Output: {"id_token":{"acr":{"essential":true,"values":["phr","phrh"]}}}
}

// Ask the user to approve a statement; the granted details come back in
// the token response.
func ExampleAuthorizationDetails() {
	c, op := exampleClient()
	defer op.Close()
	ctx := context.Background()

	details := json.RawMessage(`[{"type": "text.v1", "text": "Move 100 NOK to savings"}]`)
	u, st, err := c.AuthCodeURL(ctx, rp.PAR(), rp.AuthorizationDetails(details))
	if err != nil {
		panic(err)
	}
	tok, err := c.Exchange(ctx, st, op.Authorize(u))
	if err != nil {
		panic(err)
	}
	fmt.Println(string(tok.AuthorizationDetails))

	// Stepup's permission_digest is base64url(SHA-256) of the granted
	// details, which Tokens keeps byte for byte.
	sum := sha256.Sum256(tok.AuthorizationDetails)
	fmt.Println(tok.Claims.PermissionDigest == base64.RawURLEncoding.EncodeToString(sum[:]))
	// Output:
	// [{"type":"text.v1","text":"Move 100 NOK to savings"}]
	// true
}

func ExampleParam() {
	c, op := exampleClient()
	defer op.Close()
	ctx := context.Background()
	u, _, _ := c.AuthCodeURL(ctx, rp.Param("response_mode", "form_post"))
	fmt.Println(query(u).Get("response_mode"))
	_, _, err := c.AuthCodeURL(ctx, rp.Param("state", "mine"))
	fmt.Println(err)
	// Output:
	// form_post
	// rp: Param: "state" cannot be set
}

func ExamplePAR() {
	c, op := exampleClient()
	defer op.Close()
	u, _, _ := c.AuthCodeURL(context.Background(), rp.PAR())
	q := query(u)
	fmt.Println(q.Get("client_id"), len(q.Get("request_uri")) > len("urn:ietf:params:oauth:request_uri:"))
	// Output: bank true
}

func ExampleResumeWith() {
	c, op := exampleClient()
	defer op.Close()
	u, st, _ := c.AuthCodeURL(context.Background(), rp.ResumeWith("/transfers/42"))
	fmt.Println(st.Resume, query(u).Has("resume"))
	// Output: /transfers/42 false
}

// Tokens can be kept in the session as JSON and stepped up later.
func ExampleTokens() {
	c, op := exampleClient()
	defer op.Close()
	ctx := context.Background()
	u, st, _ := c.AuthCodeURL(ctx)
	tok, _ := c.Exchange(ctx, st, op.Authorize(u))

	saved, _ := json.Marshal(tok)
	var back rp.Tokens
	if err := json.Unmarshal(saved, &back); err != nil {
		panic(err)
	}
	fmt.Println(back.Claims.Subject, back.IDToken == tok.IDToken, back.Expiry.After(time.Now()))
	// Output: alice true true
}

// Raw holds every claim; unmarshal it for those IDClaims has no field for.
func ExampleIDClaims() {
	c, op := exampleClient()
	defer op.Close()
	ctx := context.Background()
	u, st, _ := c.AuthCodeURL(ctx)
	tok, _ := c.Exchange(ctx, st, op.Authorize(u))

	var extra struct {
		Username string `json:"preferred_username"`
	}
	json.Unmarshal(tok.Claims.Raw, &extra)
	fmt.Println(tok.Claims.Name, extra.Username, tok.Claims.SID)
	// Output: Alice Example alice s1
}

// An error response from the provider is an *AuthError, matched by code.
func ExampleAuthError() {
	c, op := exampleClient()
	defer op.Close()
	ctx := context.Background()
	_, st, _ := c.AuthCodeURL(ctx, rp.ClaimsEssentialACR("phrh"))

	callback := url.Values{"state": {st.State}, "iss": {op.URL},
		"error": {"unmet_authentication_requirements"}, "error_description": {"phrh needs an attested passkey"}}
	_, err := c.Exchange(ctx, st, callback)
	switch {
	case errors.Is(err, rp.ErrUnmetAuthenticationRequirements):
		fmt.Println("offer another way")
	case errors.Is(err, rp.ErrAccessDenied):
		fmt.Println("the user said no")
	}
	var ae *rp.AuthError
	if errors.As(err, &ae) {
		fmt.Println(ae.Code, "-", ae.Description)
	}
	// Output:
	// offer another way
	// unmet_authentication_requirements - phrh needs an attested passkey
}

func ExampleAuthError_Error() {
	err := &rp.AuthError{Code: rp.ErrLoginRequired, Description: "nobody is signed in"}
	fmt.Println(err)
	// Output: login_required: nobody is signed in
}

func ExampleAuthError_Is() {
	var err error = fmt.Errorf("callback: %w", &rp.AuthError{Code: rp.ErrAccessDenied})
	fmt.Println(errors.Is(err, rp.ErrAccessDenied), errors.Is(err, rp.ErrLoginRequired))
	// Output: true false
}

// Codes are constants: switch on them.
func ExampleErrorCode() {
	for _, code := range []rp.ErrorCode{rp.ErrLoginRequired, rp.ErrInteractionRequired, rp.ErrUnmetAuthenticationRequirements} {
		switch code {
		case rp.ErrLoginRequired, rp.ErrInteractionRequired:
			fmt.Println(code, "→ retry without prompt=none")
		default:
			fmt.Println(code, "→ the level cannot be reached")
		}
	}
	// Output:
	// login_required → retry without prompt=none
	// interaction_required → retry without prompt=none
	// unmet_authentication_requirements → the level cannot be reached
}

func ExampleErrorCode_Error() {
	fmt.Println(rp.ErrInvalidGrant.Error())
	// Output: invalid_grant
}

// A callback whose state is not this login's is refused before anything
// else is looked at.
func ExampleErrStateMismatch() {
	c, op := exampleClient()
	defer op.Close()
	ctx := context.Background()
	u, st, _ := c.AuthCodeURL(ctx)
	callback := op.Authorize(u)
	callback.Set("state", "forged")

	_, err := c.Exchange(ctx, st, callback)
	fmt.Println(errors.Is(err, rp.ErrStateMismatch))
	// Output: true
}

// RFC 9207: a response claiming to come from another provider (mix-up)
// is refused.
func ExampleErrIssuerMismatch() {
	c, op := exampleClient()
	defer op.Close()
	ctx := context.Background()
	u, st, _ := c.AuthCodeURL(ctx)
	callback := op.Authorize(u)
	callback.Set("iss", "https://other-provider.example")

	_, err := c.Exchange(ctx, st, callback)
	fmt.Println(errors.Is(err, rp.ErrIssuerMismatch))
	// Output: true
}

func ExampleErrInvalidIDToken() {
	c, op := exampleClient()
	defer op.Close()
	ctx := context.Background()
	op.setEdit(func(claims map[string]any, _ map[jose.HeaderKey]any) *jose.SigningKey {
		claims["aud"] = "another-client"
		return nil
	})
	u, st, _ := c.AuthCodeURL(ctx)
	_, err := c.Exchange(ctx, st, op.Authorize(u))
	fmt.Println(errors.Is(err, rp.ErrInvalidIDToken))
	// Output: true
}

// The step-up was for alice; anyone else's ID token is refused.
func ExampleErrSubjectChanged() {
	c, op := exampleClient()
	defer op.Close()
	ctx := context.Background()
	prev := &rp.Tokens{IDToken: "eyJ…", Claims: rp.IDClaims{Subject: "bob"}}
	u, st, err := c.StepUp(ctx, challenge.Challenge{ACRValues: []string{"phr"}}, prev)
	if err != nil {
		panic(err)
	}
	_, err = c.Exchange(ctx, st, op.Authorize(u)) // the fake provider signs alice in
	fmt.Println(errors.Is(err, rp.ErrSubjectChanged))
	// Output: true
}

// A provider that ignores max_age and answers from an old session is
// caught.
func ExampleErrMaxAgeExceeded() {
	c, op := exampleClient()
	defer op.Close()
	ctx := context.Background()
	op.setEdit(func(claims map[string]any, _ map[jose.HeaderKey]any) *jose.SigningKey {
		claims["auth_time"] = time.Now().Add(-time.Hour).Unix()
		return nil
	})
	u, st, _ := c.AuthCodeURL(ctx, rp.MaxAge(5*time.Minute))
	_, err := c.Exchange(ctx, st, op.Authorize(u))
	fmt.Println(errors.Is(err, rp.ErrMaxAgeExceeded))
	// Output: true
}

func ExampleErrACRNotMet() {
	c, op := exampleClient()
	defer op.Close()
	ctx := context.Background()
	op.setEdit(func(claims map[string]any, _ map[jose.HeaderKey]any) *jose.SigningKey {
		claims["acr"] = "urn:okta:loa:1fa:pwd"
		return nil
	})
	u, st, _ := c.AuthCodeURL(ctx, rp.ClaimsEssentialACR("phr"))
	_, err := c.Exchange(ctx, st, op.Authorize(u))
	fmt.Println(errors.Is(err, rp.ErrACRNotMet))
	// Output: true
}
