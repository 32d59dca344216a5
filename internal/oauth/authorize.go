package oauth

import (
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Authorization request parameter names.
const (
	ParamClientID             = "client_id"
	ParamRedirectURI          = "redirect_uri"
	ParamResponseType         = "response_type"
	ParamResponseMode         = "response_mode"
	ParamScope                = "scope"
	ParamState                = "state"
	ParamNonce                = "nonce"
	ParamCodeChallenge        = "code_challenge"
	ParamCodeChallengeMethod  = "code_challenge_method"
	ParamPrompt               = "prompt"
	ParamMaxAge               = "max_age"
	ParamACRValues            = "acr_values"
	ParamClaims               = "claims"
	ParamLoginHint            = "login_hint"
	ParamIDTokenHint          = "id_token_hint"
	ParamUILocales            = "ui_locales"
	ParamRequest              = "request"
	ParamRequestURI           = "request_uri"
	ParamAuthorizationDetails = "authorization_details"
)

// AuthorizeRequest is a syntactically parsed authorization request.
type AuthorizeRequest struct {
	ClientID            string
	RedirectURI         string
	ResponseType        string
	ResponseMode        string // "query" (default) or "form_post"
	Scope               []string
	State               string
	Nonce               string
	CodeChallenge       string
	CodeChallengeMethod string
	Prompt              []string
	MaxAge              int // -1 when absent
	ACRValues           []string
	EssentialACR        []string // from claims: {"id_token":{"acr":{"essential":true,...}}}
	LoginHint           string
	IDTokenHint         string
	UILocales           []string
	// AuthorizationDetails is the canonical RFC 9396 JSON ("" for none).
	AuthorizationDetails string

	values url.Values
}

// ParseAuthorize reads the parameters that decide where errors may go:
// client_id and redirect_uri. An error here must be shown on an error page,
// never redirected. Everything else is checked by Validate.
func ParseAuthorize(v url.Values) (AuthorizeRequest, error) {
	r := AuthorizeRequest{values: v, MaxAge: -1}
	for _, p := range []string{ParamClientID, ParamRedirectURI} {
		if len(v[p]) > 1 {
			return r, Err(InvalidRequest, "duplicate %s parameter", p)
		}
	}
	r.ClientID = v.Get(ParamClientID)
	r.RedirectURI = v.Get(ParamRedirectURI)
	if r.ClientID == "" {
		return r, Err(InvalidRequest, "missing client_id parameter")
	}
	return r, nil
}

// Validate parses and checks every other parameter. Its errors may be
// redirected to the (validated) redirect URI.
func (r *AuthorizeRequest) Validate() *Error {
	v := r.values
	for p, vals := range v {
		if len(vals) > 1 {
			return Err(InvalidRequest, "duplicate %s parameter", p)
		}
	}
	if v.Has(ParamRequest) {
		return Err(RequestNotSupported, "request objects are not supported; use pushed authorization requests")
	}
	if v.Has(ParamRequestURI) {
		return Err(RequestURINotSupported, "request_uri is not supported")
	}
	r.ResponseMode = v.Get(ParamResponseMode)
	switch r.ResponseMode {
	case "":
		r.ResponseMode = "query"
	case "query", "form_post":
	default:
		r.ResponseMode = "query"
		return Err(InvalidRequest, "unsupported response_mode")
	}
	r.ResponseType = v.Get(ParamResponseType)
	switch r.ResponseType {
	case "code":
	case "":
		return Err(InvalidRequest, "missing response_type parameter")
	default:
		return Err(UnsupportedResponseType, "only response_type=code is supported")
	}
	r.Scope = strings.Fields(v.Get(ParamScope))
	r.State = v.Get(ParamState)
	r.Nonce = v.Get(ParamNonce)
	r.CodeChallenge = v.Get(ParamCodeChallenge)
	r.CodeChallengeMethod = v.Get(ParamCodeChallengeMethod)
	if r.CodeChallenge != "" {
		if r.CodeChallengeMethod == "" {
			r.CodeChallengeMethod = "plain"
		}
		if r.CodeChallengeMethod != "S256" {
			return Err(InvalidRequest, "code_challenge_method must be S256")
		}
		if !validChallenge(r.CodeChallenge) {
			return Err(InvalidRequest, "code_challenge must be 43 base64url characters")
		}
	} else if r.CodeChallengeMethod != "" {
		return Err(InvalidRequest, "code_challenge_method without code_challenge")
	}
	r.Prompt = strings.Fields(v.Get(ParamPrompt))
	for _, p := range r.Prompt {
		switch p {
		case "none", "login", "consent", "select_account":
		default:
			return Err(InvalidRequest, "unsupported prompt value")
		}
	}
	if slices.Contains(r.Prompt, "none") && len(r.Prompt) > 1 {
		return Err(InvalidRequest, "prompt=none cannot be combined with other values")
	}
	if s := v.Get(ParamMaxAge); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || strings.TrimLeft(s, "0123456789") != "" || len(s) > 10 {
			return Err(InvalidRequest, "max_age must be a non-negative integer")
		}
		r.MaxAge = n
	}
	r.ACRValues = strings.Fields(v.Get(ParamACRValues))
	if s := v.Get(ParamClaims); s != "" {
		ess, vol, err := ParseClaimsACR(s)
		if err != nil {
			return err
		}
		r.EssentialACR = ess
		r.ACRValues = append(r.ACRValues, vol...)
	}
	r.LoginHint = v.Get(ParamLoginHint)
	r.IDTokenHint = v.Get(ParamIDTokenHint)
	r.UILocales = strings.Fields(v.Get(ParamUILocales))
	if s := v.Get(ParamAuthorizationDetails); s != "" {
		_, canonical, oe := ParseAuthorizationDetails(s)
		if oe != nil {
			return oe
		}
		r.AuthorizationDetails = canonical
	}
	return nil
}

// HasScope reports whether scope s was requested.
func (r *AuthorizeRequest) HasScope(s string) bool { return slices.Contains(r.Scope, s) }

func validChallenge(c string) bool {
	if len(c) < 43 || len(c) > 128 {
		return false
	}
	for _, ch := range c {
		if !(ch >= 'A' && ch <= 'Z' || ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
			return false
		}
	}
	return true
}

type claimRequest struct {
	Essential bool     `json:"essential"`
	Value     *string  `json:"value"`
	Values    []string `json:"values"`
}

// ParseClaimsACR reads the acr member of the claims request parameter (OIDC
// Core §5.5) from id_token and userinfo. Essential values come first;
// values of a voluntary acr request are returned as preferences.
func ParseClaimsACR(s string) (essential, voluntary []string, err *Error) {
	var c map[string]map[string]json.RawMessage
	if json.Unmarshal([]byte(s), &c) != nil {
		return nil, nil, Err(InvalidRequest, "claims must be a JSON object of claim requests")
	}
	for _, member := range []string{"id_token", "userinfo"} {
		raw, ok := c[member]["acr"]
		if !ok {
			continue
		}
		var acr *claimRequest
		if json.Unmarshal(raw, &acr) != nil {
			return nil, nil, Err(InvalidRequest, "the acr claim request must be null or an object with string values")
		}
		if acr == nil {
			continue
		}
		if slices.Contains(acr.Values, "") || (acr.Value != nil && *acr.Value == "") {
			return nil, nil, Err(InvalidRequest, "empty acr value in claims")
		}
		vals := acr.Values
		if acr.Value != nil {
			vals = append([]string{*acr.Value}, vals...)
		}
		if acr.Essential {
			if len(vals) == 0 {
				return nil, nil, Err(InvalidRequest, "essential acr claim without values")
			}
			essential = append(essential, vals...)
		} else {
			voluntary = append(voluntary, vals...)
		}
	}
	return essential, voluntary, nil
}
