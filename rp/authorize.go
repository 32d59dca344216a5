package rp

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// State is what a login must remember between AuthCodeURL (or StepUp) and
// Exchange: keep it server-side in the user's session, or in an
// encrypted, integrity-protected cookie, and pass it back to Exchange.
// It marshals to JSON. It holds the PKCE verifier and the nonce, so it is
// a secret of the browser session it belongs to: never put it in a URL.
type State struct {
	// Issuer is the provider the request went to; Exchange refuses a
	// State started at another provider.
	Issuer string `json:"iss"`
	// Created is when the request was made. max_age is counted from it;
	// an application may also refuse States older than it likes.
	Created time.Time `json:"created"`
	// State is the state parameter sent and expected back.
	State string `json:"state"`
	// Nonce is the nonce sent and expected in the ID token.
	Nonce string `json:"nonce"`
	// CodeVerifier is the PKCE (S256) verifier of the code_challenge sent.
	CodeVerifier string `json:"code_verifier"`
	// ACRValues are the acr_values sent, in order of preference. They are
	// voluntary: the provider may return another acr (a stronger one, or
	// a weaker one when it is allowed to fall back).
	ACRValues []string `json:"acr_values,omitempty"`
	// EssentialACR are the values of an essential acr claim request;
	// Exchange requires the ID token's acr to be one of them.
	EssentialACR []string `json:"essential_acr,omitempty"`
	// MaxAge is the max_age sent, in seconds; nil when none was sent.
	// Exchange then requires an auth_time no earlier than MaxAge before
	// Created (with a minute of clock skew).
	MaxAge *int64 `json:"max_age,omitempty"`
	// ExpectSubject, when set, is the subject the ID token must name:
	// StepUp sets it to the subject of the tokens being stepped up.
	ExpectSubject string `json:"expect_sub,omitempty"`
	// Resume is the application's own value set by ResumeWith, e.g. the
	// action to resume after the user is back. Exchange ignores it.
	Resume string `json:"resume,omitempty"`
}

// AuthOption sets a parameter of an authorization request. Options apply
// in order; a later option overrides an earlier one for the same
// parameter.
type AuthOption interface {
	applyAuth(*authRequest)
}

type authOption func(*authRequest)

func (f authOption) applyAuth(r *authRequest) { f(r) }

// authRequest is an authorization request being built.
type authRequest struct {
	params url.Values
	st     *State
	par    bool
	err    error
}

func (r *authRequest) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

// Wire names of authorization request parameters.
const (
	paramACRValues            = "acr_values"
	paramMaxAge               = "max_age"
	paramPrompt               = "prompt"
	paramLoginHint            = "login_hint"
	paramIDTokenHint          = "id_token_hint"
	paramClaims               = "claims"
	paramAuthorizationDetails = "authorization_details"
	paramUILocales            = "ui_locales"
)

// ACRValues asks for one of the authentication context classes values, in
// order of preference (acr_values). The request is voluntary: to require
// one of them, use ClaimsEssentialACR as well or instead.
func ACRValues(values ...string) AuthOption {
	values = slices.Clone(values)
	return authOption(func(r *authRequest) {
		for _, v := range values {
			if v == "" || strings.ContainsAny(v, " \t\r\n") {
				r.fail(fmt.Errorf("rp: ACRValues: invalid value %q", v))
				return
			}
		}
		if len(values) == 0 {
			r.params.Del(paramACRValues)
			r.st.ACRValues = nil
			return
		}
		r.params.Set(paramACRValues, strings.Join(values, " "))
		r.st.ACRValues = values
	})
}

// MaxAge asks that the user has actively authenticated within d (max_age,
// in whole seconds, rounded down). MaxAge(0) forces a new authentication.
// Exchange then checks the ID token's auth_time.
func MaxAge(d time.Duration) AuthOption {
	return authOption(func(r *authRequest) {
		if d < 0 {
			r.fail(fmt.Errorf("rp: MaxAge: negative duration %v", d))
			return
		}
		secs := int64(d / time.Second)
		r.params.Set(paramMaxAge, strconv.FormatInt(secs, 10))
		r.st.MaxAge = &secs
	})
}

// Prompt sets the prompt parameter: "none", "login", "consent",
// "select_account".
func Prompt(values ...string) AuthOption {
	return stringParam(paramPrompt, strings.Join(values, " "))
}

// LoginHint sets login_hint: a hint about the login identifier. It ends
// up in browser history unless the request is pushed (PAR).
func LoginHint(hint string) AuthOption { return stringParam(paramLoginHint, hint) }

// IDTokenHint sets id_token_hint to a previously issued ID token: the
// provider then accepts only that user.
func IDTokenHint(rawIDToken string) AuthOption { return stringParam(paramIDTokenHint, rawIDToken) }

// UILocales sets ui_locales: the user's preferred languages as BCP 47
// tags, in order of preference.
func UILocales(tags ...string) AuthOption {
	return stringParam(paramUILocales, strings.Join(tags, " "))
}

// ClaimsEssentialACR requests acr as an essential claim with these
// values (the claims parameter). A provider that cannot meet any of them
// must fail with unmet_authentication_requirements, and Exchange refuses
// an ID token whose acr is not one of them.
func ClaimsEssentialACR(values ...string) AuthOption {
	values = slices.Clone(values)
	return authOption(func(r *authRequest) {
		if len(values) == 0 {
			r.fail(errors.New("rp: ClaimsEssentialACR: no values"))
			return
		}
		type acr struct {
			Essential bool     `json:"essential"`
			Values    []string `json:"values"`
		}
		b, err := json.Marshal(map[string]map[string]acr{"id_token": {"acr": {Essential: true, Values: values}}})
		if err != nil {
			r.fail(fmt.Errorf("rp: ClaimsEssentialACR: %w", err))
			return
		}
		r.params.Set(paramClaims, string(b))
		r.st.EssentialACR = values
	})
}

// AuthorizationDetails sets authorization_details (RFC 9396): a JSON
// array of typed objects describing what the user is asked to approve.
// Send it with PAR: the details then stay out of browser history.
func AuthorizationDetails(details json.RawMessage) AuthOption {
	details = bytes.Clone(details)
	return authOption(func(r *authRequest) {
		var buf bytes.Buffer
		if err := json.Compact(&buf, details); err != nil {
			r.fail(fmt.Errorf("rp: AuthorizationDetails: %w", err))
			return
		}
		if !bytes.HasPrefix(buf.Bytes(), []byte("[")) {
			r.fail(errors.New("rp: AuthorizationDetails: must be a JSON array"))
			return
		}
		r.params.Set(paramAuthorizationDetails, buf.String())
	})
}

// reservedParams are set by the client itself, or by an option whose
// value Exchange checks; Param may not touch them.
func reservedParams() []string {
	return []string{"client_id", "redirect_uri", "response_type", "state", "nonce",
		"code_challenge", "code_challenge_method", "request", "request_uri", paramACRValues, paramMaxAge}
}

// Param sets any other authorization request parameter, such as
// response_mode. It refuses those the client manages itself (state,
// nonce, PKCE, client_id, redirect_uri, response_type, request,
// request_uri) and acr_values and max_age: use ACRValues and MaxAge,
// whose values Exchange checks. An acr requested through Param("claims",
// …) is not checked; use ClaimsEssentialACR for that.
func Param(key, value string) AuthOption {
	return authOption(func(r *authRequest) {
		if key == "" || slices.Contains(reservedParams(), key) {
			r.fail(fmt.Errorf("rp: Param: %q cannot be set", key))
			return
		}
		r.params.Set(key, value)
	})
}

// PAR pushes the request to the provider's pushed authorization request
// endpoint (RFC 9126) with client authentication; the URL returned then
// carries only client_id and request_uri. When the provider requires PAR,
// every request is pushed without this option.
func PAR() AuthOption { return authOption(func(r *authRequest) { r.par = true }) }

// ResumeWith stores an opaque value of the application in the State
// (State.Resume), e.g. the URL or action to resume after the user is back.
func ResumeWith(resume string) AuthOption {
	return authOption(func(r *authRequest) { r.st.Resume = resume })
}

// stringParam sets key to value, or removes it when value is empty.
func stringParam(key, value string) AuthOption {
	return authOption(func(r *authRequest) {
		if value == "" {
			r.params.Del(key)
			return
		}
		r.params.Set(key, value)
	})
}

// AuthCodeURL starts a login: it returns the URL to send the browser to
// and the State to keep until the callback. Every request carries a
// fresh state, a nonce and a PKCE S256 challenge. ctx bounds the pushed
// authorization request when the request is pushed (PAR).
func (c *Client) AuthCodeURL(ctx context.Context, opts ...AuthOption) (string, *State, error) {
	verifier := oauth2.GenerateVerifier()
	st := &State{Issuer: c.cfg.Issuer, Created: c.cfg.Now().UTC().Truncate(time.Second), State: rand.Text(), Nonce: rand.Text(), CodeVerifier: verifier}
	r := &authRequest{st: st, par: c.meta.RequirePushedAuthorizationRequests, params: url.Values{
		"response_type":         {"code"},
		"client_id":             {c.cfg.ClientID},
		"redirect_uri":          {c.cfg.RedirectURL},
		"scope":                 {strings.Join(c.cfg.Scopes, " ")},
		"state":                 {st.State},
		"nonce":                 {st.Nonce},
		"code_challenge":        {oauth2.S256ChallengeFromVerifier(verifier)},
		"code_challenge_method": {"S256"},
	}}
	for _, o := range opts {
		if o != nil {
			o.applyAuth(r)
		}
	}
	if r.err != nil {
		return "", nil, r.err
	}
	params := r.params
	if r.par {
		uri, err := c.push(ctx, r.params)
		if err != nil {
			return "", nil, err
		}
		params = url.Values{"client_id": {c.cfg.ClientID}, "request_uri": {uri}}
	}
	u, err := url.Parse(c.meta.AuthorizationEndpoint)
	if err != nil {
		return "", nil, fmt.Errorf("rp: authorization_endpoint: %w", err)
	}
	q := u.Query()
	for k, vs := range params {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	return u.String(), st, nil
}
