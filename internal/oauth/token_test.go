package oauth_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stepup-oidc/stepup/internal/oauth"
)

// verifier is the RFC 7636 appendix B code verifier.
const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

func TestParseTokenRequest(t *testing.T) {
	codeGrant := func() url.Values {
		return url.Values{
			"grant_type":    {"authorization_code"},
			"code":          {"c0de"},
			"redirect_uri":  {"https://app.example/cb"},
			"code_verifier": {verifier},
		}
	}
	with := func(base url.Values, edit func(url.Values)) url.Values {
		edit(base)
		return base
	}
	tests := []struct {
		name     string
		form     url.Values
		want     oauth.TokenRequest
		wantCode oauth.Code
	}{
		{name: "an authorization code grant with PKCE", form: codeGrant(),
			want: oauth.TokenRequest{GrantType: "authorization_code", Code: "c0de", RedirectURI: "https://app.example/cb", CodeVerifier: verifier}},
		{name: "an authorization code grant without a verifier passes syntax checks",
			form: with(codeGrant(), del("code_verifier")),
			want: oauth.TokenRequest{GrantType: "authorization_code", Code: "c0de", RedirectURI: "https://app.example/cb"}},
		{name: "a missing grant_type is invalid_request", form: with(codeGrant(), del("grant_type")), wantCode: oauth.InvalidRequest},
		{name: "an unknown grant_type is unsupported_grant_type", form: with(codeGrant(), set("grant_type", "password")), wantCode: oauth.UnsupportedGrantType},
		{name: "the device code grant is unsupported", form: url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}}, wantCode: oauth.UnsupportedGrantType},
		{name: "a missing code is invalid_request", form: with(codeGrant(), del("code")), wantCode: oauth.InvalidRequest},
		{name: "a missing redirect_uri is invalid_request", form: with(codeGrant(), del("redirect_uri")), wantCode: oauth.InvalidRequest},
		{name: "a verifier of 42 characters is invalid_request", form: with(codeGrant(), set("code_verifier", verifier[:42])), wantCode: oauth.InvalidRequest},
		{name: "a verifier of 129 characters is invalid_request", form: with(codeGrant(), set("code_verifier", strings.Repeat("v", 129))), wantCode: oauth.InvalidRequest},
		{name: "a verifier with a space is invalid_request", form: with(codeGrant(), set("code_verifier", verifier[:42]+" ")), wantCode: oauth.InvalidRequest},
		{name: "a duplicate code is invalid_request", form: with(codeGrant(), add("code", "other")), wantCode: oauth.InvalidRequest},
		{name: "a duplicate grant_type is invalid_request", form: with(codeGrant(), add("grant_type", "refresh_token")), wantCode: oauth.InvalidRequest},
		{name: "a refresh grant with scope", form: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"rt"}, "scope": {"openid"}},
			want: oauth.TokenRequest{GrantType: "refresh_token", RefreshToken: "rt", Scope: "openid"}},
		{name: "a refresh grant without a refresh_token is invalid_request", form: url.Values{"grant_type": {"refresh_token"}}, wantCode: oauth.InvalidRequest},
		{name: "a client credentials grant", form: url.Values{"grant_type": {"client_credentials"}, "scope": {"api"}},
			want: oauth.TokenRequest{GrantType: "client_credentials", Scope: "api"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, oe := oauth.ParseTokenRequest(tt.form)
			var err error
			if oe != nil {
				err = oe
			}
			if c := codeOf(t, err); c != tt.wantCode {
				t.Fatalf("code = %q (%v), want %q", c, err, tt.wantCode)
			}
			if tt.wantCode != "" {
				return
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("request (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseClientAuth(t *testing.T) {
	type basic struct {
		user, pass string
	}
	tests := []struct {
		name     string
		basic    *basic
		form     url.Values
		want     oauth.ClientAuth
		wantCode oauth.Code
	}{
		{name: "basic credentials", basic: &basic{"app", "s3cret"},
			want: oauth.ClientAuth{ClientID: "app", Secret: "s3cret", Method: "client_secret_basic"}},
		{name: "percent-encoded basic credentials are decoded", basic: &basic{"my%3Aapp", "p%40ss%2Bword%25"},
			want: oauth.ClientAuth{ClientID: "my:app", Secret: "p@ss+word%", Method: "client_secret_basic"}},
		{name: "a plus sign in basic credentials is a form-encoded space", basic: &basic{"app", "a+b"},
			want: oauth.ClientAuth{ClientID: "app", Secret: "a b", Method: "client_secret_basic"}},
		{name: "basic with a matching client_id in the body", basic: &basic{"app", "s"}, form: url.Values{"client_id": {"app"}},
			want: oauth.ClientAuth{ClientID: "app", Secret: "s", Method: "client_secret_basic"}},
		{name: "basic with a mismatched client_id in the body is refused", basic: &basic{"app", "s"}, form: url.Values{"client_id": {"other"}},
			wantCode: oauth.InvalidRequest},
		{name: "basic and post together are refused", basic: &basic{"app", "s"}, form: url.Values{"client_id": {"app"}, "client_secret": {"s"}},
			wantCode: oauth.InvalidRequest},
		{name: "basic with an empty user is invalid_client", basic: &basic{"", "s"}, wantCode: oauth.InvalidClient},
		{name: "basic with a broken percent escape is invalid_client", basic: &basic{"app", "%zz"}, wantCode: oauth.InvalidClient},
		{name: "basic with an empty secret", basic: &basic{"app", ""},
			want: oauth.ClientAuth{ClientID: "app", Method: "client_secret_basic"}},
		{name: "post credentials", form: url.Values{"client_id": {"app"}, "client_secret": {"s3cret"}},
			want: oauth.ClientAuth{ClientID: "app", Secret: "s3cret", Method: "client_secret_post"}},
		{name: "post credentials are not percent-decoded twice", form: url.Values{"client_id": {"app"}, "client_secret": {"a%40b"}},
			want: oauth.ClientAuth{ClientID: "app", Secret: "a%40b", Method: "client_secret_post"}},
		{name: "a public client is method none", form: url.Values{"client_id": {"spa"}},
			want: oauth.ClientAuth{ClientID: "spa", Method: "none"}},
		{name: "a missing client is invalid_client", form: url.Values{"grant_type": {"authorization_code"}}, wantCode: oauth.InvalidClient},
		{name: "a secret without a client_id is invalid_client", form: url.Values{"client_secret": {"s"}}, wantCode: oauth.InvalidClient},
		{name: "a duplicate client_id is invalid_request", form: url.Values{"client_id": {"a", "b"}}, wantCode: oauth.InvalidRequest},
		{name: "a duplicate client_secret is invalid_request", form: url.Values{"client_id": {"a"}, "client_secret": {"x", "y"}}, wantCode: oauth.InvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var user, pass string
			if tt.basic != nil {
				user, pass = tt.basic.user, tt.basic.pass
			}
			got, oe := oauth.ParseClientAuth(user, pass, tt.basic != nil, tt.form)
			var err error
			if oe != nil {
				err = oe
			}
			if c := codeOf(t, err); c != tt.wantCode {
				t.Fatalf("code = %q (%v), want %q", c, err, tt.wantCode)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("client auth (-want +got):\n%s", diff)
			}
		})
	}
}
