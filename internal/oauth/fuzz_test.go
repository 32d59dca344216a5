package oauth_test

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stepup-oidc/stepup/internal/oauth"
)

// wantCodeIn fails when err is not an *oauth.Error with one of codes.
func wantCodeIn(t *testing.T, err error, codes ...oauth.Code) {
	t.Helper()
	if c := codeOf(t, err); !slices.Contains(codes, c) {
		t.Fatalf("error %v has code %q, want one of %q", err, c, codes)
	}
}

func isUnreserved(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

func FuzzParseAuthorize(f *testing.F) {
	for _, seed := range []string{
		"client_id=app&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&response_type=code&scope=openid&state=st&code_challenge=" + challenge + "&code_challenge_method=S256",
		"client_id=app&response_type=code&response_mode=form_post&prompt=none&max_age=0&acr_values=phrh+phr",
		"client_id=app&response_type=code&prompt=none+login",
		"client_id=app&response_type=code&code_challenge=" + challenge,
		"client_id=app&response_type=code&code_challenge_method=S256",
		"client_id=app&response_type=token&response_mode=fragment",
		"client_id=app&client_id=app&response_type=code",
		"client_id=app&response_type=code&state=a&state=b",
		"client_id=app&response_type=code&max_age=-1",
		"client_id=app&response_type=code&request=eyJhbGciOiJub25lIn0.e30.",
		"client_id=app&response_type=code&request_uri=urn%3Aexample",
		"client_id=app&response_type=code&claims=%7B%22id_token%22%3A%7B%22acr%22%3A%7B%22essential%22%3Atrue%2C%22values%22%3A%5B%22phr%22%5D%7D%7D%7D",
		"client_id=app&response_type=code&claims=%7B",
		"",
		"%zz&&;=",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, query string) {
		v, err := url.ParseQuery(query)
		if err != nil && v == nil {
			return
		}
		r, perr := oauth.ParseAuthorize(v)
		if perr != nil {
			wantCodeIn(t, perr, oauth.InvalidRequest)
			return
		}
		if r.ClientID == "" || r.ClientID != v.Get("client_id") {
			t.Fatalf("ParseAuthorize accepted client_id %q from %q", r.ClientID, v["client_id"])
		}
		oe := r.Validate()
		if oe != nil {
			wantCodeIn(t, oe, oauth.InvalidRequest, oauth.UnsupportedResponseType, oauth.RequestNotSupported, oauth.RequestURINotSupported)
			if oe.Description == "" {
				t.Fatalf("error %s without a description", oe.Code)
			}
			return
		}
		if r.ResponseType != "code" {
			t.Fatalf("valid request with response_type %q", r.ResponseType)
		}
		if r.ResponseMode != "query" && r.ResponseMode != "form_post" {
			t.Fatalf("valid request with response_mode %q", r.ResponseMode)
		}
		if slices.Contains(r.Prompt, "none") && len(r.Prompt) != 1 {
			t.Fatalf("valid request with prompt %q", r.Prompt)
		}
		if r.CodeChallenge != "" {
			if r.CodeChallengeMethod != "S256" {
				t.Fatalf("valid request with code_challenge_method %q", r.CodeChallengeMethod)
			}
			if n := len(r.CodeChallenge); n < 43 || n > 128 || !isUnreserved(r.CodeChallenge) {
				t.Fatalf("valid request with code_challenge %q", r.CodeChallenge)
			}
		} else if r.CodeChallengeMethod != "" {
			t.Fatalf("valid request with a method %q but no challenge", r.CodeChallengeMethod)
		}
		if r.MaxAge < -1 {
			t.Fatalf("valid request with max_age %d", r.MaxAge)
		}
		if v.Has("request") || v.Has("request_uri") {
			t.Fatal("valid request with a request object")
		}
		for p, vals := range v {
			if len(vals) > 1 {
				t.Fatalf("valid request with duplicate %s", p)
			}
		}
	})
}

func FuzzParseTokenRequest(f *testing.F) {
	for _, seed := range []string{
		"grant_type=authorization_code&code=c0de&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&code_verifier=" + verifier,
		"grant_type=authorization_code&code=c0de",
		"grant_type=refresh_token&refresh_token=rt&scope=openid",
		"grant_type=client_credentials",
		"grant_type=password&username=a&password=b",
		"grant_type=authorization_code&grant_type=refresh_token",
		"",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		form, err := url.ParseQuery(body)
		if err != nil && form == nil {
			return
		}
		r, oe := oauth.ParseTokenRequest(form)
		if oe != nil {
			wantCodeIn(t, oe, oauth.InvalidRequest, oauth.UnsupportedGrantType)
			return
		}
		switch r.GrantType {
		case "authorization_code":
			if r.Code == "" || r.RedirectURI == "" {
				t.Fatalf("code grant accepted without code or redirect_uri: %+v", r)
			}
			if r.CodeVerifier != "" && (len(r.CodeVerifier) < 43 || len(r.CodeVerifier) > 128 || !isUnreserved(r.CodeVerifier)) {
				t.Fatalf("code grant accepted with verifier %q", r.CodeVerifier)
			}
		case "refresh_token":
			if r.RefreshToken == "" {
				t.Fatal("refresh grant accepted without refresh_token")
			}
		case "client_credentials":
		default:
			t.Fatalf("accepted grant_type %q", r.GrantType)
		}
	})
}

func FuzzParseClientAuth(f *testing.F) {
	f.Add("app", "s3cret", true, "grant_type=client_credentials")
	f.Add("my%3Aapp", "p%40ss", true, "client_id=my%3Aapp")
	f.Add("app", "s", true, "client_id=app&client_secret=s")
	f.Add("app", "s", true, "client_id=other")
	f.Add("", "%zz", true, "")
	f.Add("", "", false, "client_id=app&client_secret=s")
	f.Add("", "", false, "client_id=spa")
	f.Add("", "", false, "client_id=a&client_id=b")
	f.Fuzz(func(t *testing.T, user, pass string, hasBasic bool, body string) {
		form, err := url.ParseQuery(body)
		if err != nil && form == nil {
			return
		}
		ca, oe := oauth.ParseClientAuth(user, pass, hasBasic, form)
		if oe != nil {
			wantCodeIn(t, oe, oauth.InvalidRequest, oauth.InvalidClient)
			if diff := cmp.Diff(oauth.ClientAuth{}, ca); diff != "" {
				t.Fatalf("error %v with a client (-want +got):\n%s", oe, diff)
			}
			return
		}
		if ca.ClientID == "" {
			t.Fatal("accepted an empty client_id")
		}
		switch {
		case hasBasic:
			if ca.Method != "client_secret_basic" {
				t.Fatalf("basic credentials gave method %q", ca.Method)
			}
			if form.Has("client_secret") {
				t.Fatal("basic and post accepted together")
			}
			if id := form.Get("client_id"); id != "" && id != ca.ClientID {
				t.Fatalf("basic client %q accepted with body client_id %q", ca.ClientID, id)
			}
			if want, _ := url.QueryUnescape(user); ca.ClientID != want {
				t.Fatalf("basic user %q decoded to %q, want %q", user, ca.ClientID, want)
			}
		case form.Has("client_secret"):
			if ca.Method != "client_secret_post" || ca.Secret != form.Get("client_secret") {
				t.Fatalf("post credentials gave %+v", ca)
			}
		default:
			if ca.Method != "none" || ca.Secret != "" {
				t.Fatalf("public client gave %+v", ca)
			}
		}
	})
}

func FuzzParseClaimsACR(f *testing.F) {
	for _, seed := range []string{
		`{"id_token":{"acr":{"essential":true,"values":["phrh","phr"]}}}`,
		`{"id_token":{"acr":{"essential":true,"value":"phr"}}}`,
		`{"userinfo":{"acr":{"values":["urn:okta:loa:2fa:any"]}},"id_token":{"acr":null}}`,
		`{"id_token":{"acr":{"essential":true}}}`,
		`{"id_token":{"email":{"essential":true}}}`,
		`{"id_token":`,
		`null`,
		`[]`,
		``,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ess, vol, oe := oauth.ParseClaimsACR(s)
		if oe != nil {
			wantCodeIn(t, oe, oauth.InvalidRequest)
			if ess != nil || vol != nil {
				t.Fatalf("error %v with values %q %q", oe, ess, vol)
			}
			return
		}
		if !json.Valid([]byte(s)) {
			t.Fatalf("accepted invalid JSON %q", s)
		}
		if len(ess)+len(vol) > 0 && !strings.Contains(s, "acr") && !strings.Contains(s, `\u`) {
			t.Fatalf("found acr values %q %q in %q", ess, vol, s)
		}
		ess2, vol2, _ := oauth.ParseClaimsACR(s)
		if !slices.Equal(ess, ess2) || !slices.Equal(vol, vol2) {
			t.Fatalf("not deterministic: %q %q then %q %q", ess, vol, ess2, vol2)
		}
	})
}
