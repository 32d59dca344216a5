package oauth_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/stepup-oidc/stepup/internal/oauth"
)

// challenge is the S256 challenge of the RFC 7636 appendix B verifier.
const challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"

// baseAuthorize returns the parameters of a minimal valid request.
func baseAuthorize() url.Values {
	return url.Values{
		"client_id":             {"app"},
		"redirect_uri":          {"https://app.example/cb"},
		"response_type":         {"code"},
		"scope":                 {"openid"},
		"state":                 {"st"},
		"code_challenge":        {challenge},
		"code_challenge_method": {"S256"},
	}
}

func set(kv ...string) func(url.Values) {
	return func(v url.Values) {
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
	}
}

func del(keys ...string) func(url.Values) {
	return func(v url.Values) {
		for _, k := range keys {
			v.Del(k)
		}
	}
}

func add(k, val string) func(url.Values) {
	return func(v url.Values) { v.Add(k, val) }
}

// codeOf returns the OAuth code of err, "" for nil, and fails the test for
// errors that are not *oauth.Error.
func codeOf(t *testing.T, err error) oauth.Code {
	t.Helper()
	if err == nil {
		return ""
	}
	var oe *oauth.Error
	if !errors.As(err, &oe) {
		t.Fatalf("error %v (%T) is not an *oauth.Error", err, err)
	}
	if !errors.Is(err, oauth.Err(oe.Code, "")) {
		t.Fatalf("errors.Is(%v, Err(%s)) = false", err, oe.Code)
	}
	return oe.Code
}

// validate runs ParseAuthorize then Validate and returns the request and
// the code of the first error ("" when both pass).
func validate(t *testing.T, v url.Values) (oauth.AuthorizeRequest, oauth.Code, oauth.Code) {
	t.Helper()
	r, err := oauth.ParseAuthorize(v)
	if pc := codeOf(t, err); pc != "" {
		return r, pc, ""
	}
	var verr error
	if oe := r.Validate(); oe != nil {
		verr = oe
	}
	return r, "", codeOf(t, verr)
}

func TestParseAuthorizeAndValidate(t *testing.T) {
	tests := []struct {
		name         string
		edit         func(url.Values)
		wantParse    oauth.Code // error from ParseAuthorize (shown on a page)
		wantValidate oauth.Code // error from Validate (redirected)
		check        func(t *testing.T, r oauth.AuthorizeRequest)
	}{
		// Parameters that decide where errors go.
		{name: "a minimal request is valid", edit: func(url.Values) {}},
		{name: "missing client_id is an error page", edit: del("client_id"), wantParse: oauth.InvalidRequest},
		{name: "empty client_id is an error page", edit: set("client_id", ""), wantParse: oauth.InvalidRequest},
		{name: "duplicate client_id is an error page", edit: add("client_id", "other"), wantParse: oauth.InvalidRequest},
		{name: "duplicate redirect_uri is an error page", edit: add("redirect_uri", "https://evil.example/cb"), wantParse: oauth.InvalidRequest},
		{name: "missing redirect_uri passes parsing (the client's registration decides)", edit: del("redirect_uri"),
			check: func(t *testing.T, r oauth.AuthorizeRequest) {
				if r.RedirectURI != "" {
					t.Errorf("RedirectURI = %q, want empty", r.RedirectURI)
				}
			}},

		// Other duplicates are redirected errors.
		{name: "duplicate state is invalid_request", edit: add("state", "x"), wantValidate: oauth.InvalidRequest},
		{name: "duplicate scope is invalid_request", edit: add("scope", "profile"), wantValidate: oauth.InvalidRequest},
		{name: "duplicate response_type is invalid_request", edit: add("response_type", "code"), wantValidate: oauth.InvalidRequest},
		{name: "duplicate acr_values is invalid_request", edit: func(v url.Values) { v["acr_values"] = []string{"phr", "phrh"} }, wantValidate: oauth.InvalidRequest},
		{name: "duplicate unknown parameter is invalid_request", edit: func(v url.Values) { v["foo"] = []string{"1", "2"} }, wantValidate: oauth.InvalidRequest},
		{name: "an unknown single parameter is ignored", edit: set("foo", "bar")},

		// response_type.
		{name: "missing response_type is invalid_request", edit: del("response_type"), wantValidate: oauth.InvalidRequest},
		{name: "response_type token is unsupported", edit: set("response_type", "token"), wantValidate: oauth.UnsupportedResponseType},
		{name: "response_type code id_token is unsupported", edit: set("response_type", "code id_token"), wantValidate: oauth.UnsupportedResponseType},
		{name: "response_type code is accepted", edit: set("response_type", "code"),
			check: func(t *testing.T, r oauth.AuthorizeRequest) {
				if r.ResponseType != "code" {
					t.Errorf("ResponseType = %q, want code", r.ResponseType)
				}
			}},

		// response_mode.
		{name: "response_mode defaults to query", edit: del("response_mode"), check: wantResponseMode("query")},
		{name: "response_mode query is accepted", edit: set("response_mode", "query"), check: wantResponseMode("query")},
		{name: "response_mode form_post is accepted", edit: set("response_mode", "form_post"), check: wantResponseMode("form_post")},
		{name: "response_mode fragment is refused and errors go by query", edit: set("response_mode", "fragment"),
			wantValidate: oauth.InvalidRequest, check: wantResponseMode("query")},
		{name: "response_mode form_post.jwt is refused", edit: set("response_mode", "form_post.jwt"), wantValidate: oauth.InvalidRequest},

		// PKCE.
		{name: "PKCE with S256 is accepted", edit: func(url.Values) {},
			check: func(t *testing.T, r oauth.AuthorizeRequest) {
				if r.CodeChallenge != challenge || r.CodeChallengeMethod != "S256" {
					t.Errorf("challenge = %q/%q, want %q/S256", r.CodeChallenge, r.CodeChallengeMethod, challenge)
				}
			}},
		{name: "PKCE plain is refused", edit: set("code_challenge_method", "plain"), wantValidate: oauth.InvalidRequest},
		{name: "PKCE without a method defaults to plain and is refused", edit: del("code_challenge_method"), wantValidate: oauth.InvalidRequest},
		{name: "PKCE method is case-sensitive", edit: set("code_challenge_method", "s256"), wantValidate: oauth.InvalidRequest},
		{name: "PKCE challenge of 42 characters is refused", edit: set("code_challenge", challenge[:42]), wantValidate: oauth.InvalidRequest},
		{name: "PKCE challenge with a padding character is refused", edit: set("code_challenge", challenge+"="), wantValidate: oauth.InvalidRequest},
		{name: "PKCE challenge with a plus sign is refused", edit: set("code_challenge", strings.Replace(challenge, "-", "+", 1)), wantValidate: oauth.InvalidRequest},
		{name: "PKCE challenge with a non-ASCII letter is refused", edit: set("code_challenge", challenge[:42]+"é"), wantValidate: oauth.InvalidRequest},
		{name: "PKCE challenge of 128 unreserved characters is accepted", edit: set("code_challenge", strings.Repeat("a-._~", 25)+"abc")},
		{name: "PKCE challenge of 129 characters is refused", edit: set("code_challenge", strings.Repeat("a", 129)), wantValidate: oauth.InvalidRequest},
		{name: "PKCE method without a challenge is refused", edit: del("code_challenge"), wantValidate: oauth.InvalidRequest},
		{name: "no PKCE at all passes syntax checks (the flow decides if it is required)", edit: del("code_challenge", "code_challenge_method"),
			check: func(t *testing.T, r oauth.AuthorizeRequest) {
				if r.CodeChallenge != "" || r.CodeChallengeMethod != "" {
					t.Errorf("challenge = %q/%q, want empty", r.CodeChallenge, r.CodeChallengeMethod)
				}
			}},

		// prompt.
		{name: "prompt none alone is accepted", edit: set("prompt", "none"), check: wantPrompt("none")},
		{name: "prompt none with login is refused", edit: set("prompt", "none login"), wantValidate: oauth.InvalidRequest},
		{name: "prompt none twice is refused", edit: set("prompt", "none none"), wantValidate: oauth.InvalidRequest},
		{name: "prompt login consent select_account is accepted in order", edit: set("prompt", "login  consent select_account"),
			check: wantPrompt("login", "consent", "select_account")},
		{name: "an unknown prompt value is refused", edit: set("prompt", "login create"), wantValidate: oauth.InvalidRequest},

		// max_age.
		{name: "max_age absent is -1", edit: del("max_age"), check: wantMaxAge(-1)},
		{name: "max_age 0 is accepted", edit: set("max_age", "0"), check: wantMaxAge(0)},
		{name: "max_age 3600 is accepted", edit: set("max_age", "3600"), check: wantMaxAge(3600)},
		{name: "max_age -1 is refused", edit: set("max_age", "-1"), wantValidate: oauth.InvalidRequest},
		{name: "max_age abc is refused", edit: set("max_age", "abc"), wantValidate: oauth.InvalidRequest},
		{name: "max_age 1.5 is refused", edit: set("max_age", "1.5"), wantValidate: oauth.InvalidRequest},
		{name: "max_age beyond int64 is refused", edit: set("max_age", "99999999999999999999"), wantValidate: oauth.InvalidRequest},

		// Request objects.
		{name: "a request object is request_not_supported", edit: set("request", "eyJhbGciOiJub25lIn0.e30."), wantValidate: oauth.RequestNotSupported},
		{name: "an empty request parameter is request_not_supported", edit: set("request", ""), wantValidate: oauth.RequestNotSupported},
		{name: "request_uri is request_uri_not_supported", edit: set("request_uri", "urn:ietf:params:oauth:request_uri:abc"), wantValidate: oauth.RequestURINotSupported},

		// acr_values and claims.
		{name: "acr_values are split in order", edit: set("acr_values", "phrh  phr\turn:okta:loa:2fa:any"),
			check: wantACR([]string{"phrh", "phr", "urn:okta:loa:2fa:any"}, nil)},
		{name: "an essential acr claim with values", edit: set("claims", `{"id_token":{"acr":{"essential":true,"values":["phrh","phr"]}}}`),
			check: wantACR(nil, []string{"phrh", "phr"})},
		{name: "an essential acr claim with a single value", edit: set("claims", `{"id_token":{"acr":{"essential":true,"value":"phrh"}}}`),
			check: wantACR(nil, []string{"phrh"})},
		{name: "a voluntary acr claim adds preferences after acr_values", edit: set("acr_values", "phr", "claims", `{"id_token":{"acr":{"values":["urn:okta:loa:2fa:any"]}}}`),
			check: wantACR([]string{"phr", "urn:okta:loa:2fa:any"}, nil)},
		{name: "a voluntary acr claim with a value", edit: set("claims", `{"userinfo":{"acr":{"value":"phr"}}}`),
			check: wantACR([]string{"phr"}, nil)},
		{name: "claims about other members are ignored", edit: set("claims", `{"userinfo":{"email":{"essential":true},"name":null}}`),
			check: wantACR(nil, nil)},
		{name: "malformed claims JSON is invalid_request", edit: set("claims", `{"id_token":`), wantValidate: oauth.InvalidRequest},
		{name: "claims that are not an object are invalid_request", edit: set("claims", `["acr"]`), wantValidate: oauth.InvalidRequest},
		{name: "an essential acr claim without values is invalid_request", edit: set("claims", `{"id_token":{"acr":{"essential":true}}}`), wantValidate: oauth.InvalidRequest},
		{name: "an essential acr claim with empty values is invalid_request", edit: set("claims", `{"id_token":{"acr":{"essential":true,"values":[]}}}`), wantValidate: oauth.InvalidRequest},

		// Other fields.
		{name: "scope, hints and locales are parsed", edit: set("scope", "openid  profile email", "login_hint", "alice", "id_token_hint", "eyJ.x.y", "ui_locales", "fr-CH fr en", "nonce", "n-0S6"),
			check: func(t *testing.T, r oauth.AuthorizeRequest) {
				want := oauth.AuthorizeRequest{
					ClientID: "app", RedirectURI: "https://app.example/cb", ResponseType: "code", ResponseMode: "query",
					Scope: []string{"openid", "profile", "email"}, State: "st", Nonce: "n-0S6",
					CodeChallenge: challenge, CodeChallengeMethod: "S256", MaxAge: -1,
					LoginHint: "alice", IDTokenHint: "eyJ.x.y", UILocales: []string{"fr-CH", "fr", "en"},
				}
				if diff := cmp.Diff(want, r, cmpopts.IgnoreUnexported(oauth.AuthorizeRequest{}), cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("request (-want +got):\n%s", diff)
				}
				if !r.HasScope("email") || r.HasScope("offline_access") {
					t.Errorf("HasScope: email=%v offline_access=%v, want true false", r.HasScope("email"), r.HasScope("offline_access"))
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := baseAuthorize()
			tt.edit(v)
			r, pc, vc := validate(t, v)
			if pc != tt.wantParse {
				t.Fatalf("ParseAuthorize code = %q, want %q", pc, tt.wantParse)
			}
			if pc != "" {
				return
			}
			if vc != tt.wantValidate {
				t.Fatalf("Validate code = %q, want %q", vc, tt.wantValidate)
			}
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}

func wantResponseMode(m string) func(*testing.T, oauth.AuthorizeRequest) {
	return func(t *testing.T, r oauth.AuthorizeRequest) {
		t.Helper()
		if r.ResponseMode != m {
			t.Errorf("ResponseMode = %q, want %q", r.ResponseMode, m)
		}
	}
}

func wantPrompt(p ...string) func(*testing.T, oauth.AuthorizeRequest) {
	return func(t *testing.T, r oauth.AuthorizeRequest) {
		t.Helper()
		if diff := cmp.Diff(p, r.Prompt); diff != "" {
			t.Errorf("Prompt (-want +got):\n%s", diff)
		}
	}
}

func wantMaxAge(n int) func(*testing.T, oauth.AuthorizeRequest) {
	return func(t *testing.T, r oauth.AuthorizeRequest) {
		t.Helper()
		if r.MaxAge != n {
			t.Errorf("MaxAge = %d, want %d", r.MaxAge, n)
		}
	}
}

func wantACR(voluntary, essential []string) func(*testing.T, oauth.AuthorizeRequest) {
	return func(t *testing.T, r oauth.AuthorizeRequest) {
		t.Helper()
		if diff := cmp.Diff(voluntary, r.ACRValues, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("ACRValues (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(essential, r.EssentialACR, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("EssentialACR (-want +got):\n%s", diff)
		}
	}
}

func TestParseClaimsACR(t *testing.T) {
	tests := []struct {
		name          string
		claims        string
		wantEssential []string
		wantVoluntary []string
		wantCode      oauth.Code
	}{
		{name: "essential values from id_token", claims: `{"id_token":{"acr":{"essential":true,"values":["a","b"]}}}`, wantEssential: []string{"a", "b"}},
		{name: "value comes before values", claims: `{"id_token":{"acr":{"essential":true,"value":"v","values":["a"]}}}`, wantEssential: []string{"v", "a"}},
		{name: "voluntary values from id_token", claims: `{"id_token":{"acr":{"values":["a"]}}}`, wantVoluntary: []string{"a"}},
		{name: "essential false is voluntary", claims: `{"id_token":{"acr":{"essential":false,"value":"a"}}}`, wantVoluntary: []string{"a"}},
		{name: "id_token is read before userinfo", claims: `{"userinfo":{"acr":{"values":["u"]}},"id_token":{"acr":{"values":["i"]}}}`, wantVoluntary: []string{"i", "u"}},
		{name: "essential and voluntary members are kept apart", claims: `{"userinfo":{"acr":{"essential":true,"value":"u"}},"id_token":{"acr":{"values":["i"]}}}`,
			wantEssential: []string{"u"}, wantVoluntary: []string{"i"}},
		{name: "a voluntary acr request without values asks for nothing", claims: `{"id_token":{"acr":null}}`},
		{name: "a voluntary empty acr request asks for nothing", claims: `{"id_token":{"acr":{}}}`},
		{name: "an empty object asks for nothing", claims: `{}`},
		{name: "other claims are ignored", claims: `{"id_token":{"auth_time":{"essential":true}},"userinfo":{"email":null}}`},
		{name: "essential without values is invalid_request", claims: `{"id_token":{"acr":{"essential":true}}}`, wantCode: oauth.InvalidRequest},
		{name: "malformed JSON is invalid_request", claims: `{"id_token":{"acr":`, wantCode: oauth.InvalidRequest},
		{name: "an empty string is invalid_request", claims: ``, wantCode: oauth.InvalidRequest},
		{name: "a member that is not an object is invalid_request", claims: `{"id_token":"acr"}`, wantCode: oauth.InvalidRequest},
		{name: "acr values that are not strings are invalid_request", claims: `{"id_token":{"acr":{"values":[1]}}}`, wantCode: oauth.InvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ess, vol, oe := oauth.ParseClaimsACR(tt.claims)
			var err error
			if oe != nil {
				err = oe
			}
			if got := codeOf(t, err); got != tt.wantCode {
				t.Fatalf("code = %q, want %q", got, tt.wantCode)
			}
			if diff := cmp.Diff(tt.wantEssential, ess, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("essential (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantVoluntary, vol, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("voluntary (-want +got):\n%s", diff)
			}
		})
	}
}

// OIDC Core §5.5.1: value and values of an individual claim request may be
// any JSON type; a request about other claims must not break acr parsing.
func TestParseClaimsACRIgnoresNonStringValuesOfOtherClaims(t *testing.T) {
	tests := []struct {
		name          string
		claims        string
		wantEssential []string
	}{
		{"a boolean value for email_verified", `{"userinfo":{"email_verified":{"value":true}}}`, nil},
		{"numeric values next to an essential acr", `{"id_token":{"acr":{"essential":true,"values":["phr"]}},"userinfo":{"birthdate":{"values":[1990]}}}`, []string{"phr"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ess, _, oe := oauth.ParseClaimsACR(tt.claims)
			if oe != nil {
				t.Fatalf("ParseClaimsACR(%s) = %v, want no error", tt.claims, oe)
			}
			if diff := cmp.Diff(tt.wantEssential, ess, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("essential (-want +got):\n%s", diff)
			}
		})
	}
}
