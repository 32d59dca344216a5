package e2e

import (
	"encoding/base64"
	"encoding/json"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/stepup-oidc/stepup/internal/app"
	"github.com/stepup-oidc/stepup/internal/config"
	"github.com/stepup-oidc/stepup/internal/store/sqlite"
)

// inProcess is a provider driven through its handler, without sockets.
type inProcess struct {
	h      http.Handler
	issuer string
}

func newInProcess(b testing.TB, realHashCost bool) *inProcess {
	b.Helper()
	cfg := testConfig()
	if realHashCost {
		cfg.PasswordHash = config.PasswordHash{} // defaults: argon2id m=19456 t=2 p=1
	}
	cfg.Issuer = "http://127.0.0.1:8080"
	cfg.Defaults()
	st, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	a, err := app.New(b.Context(), cfg, st, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	return &inProcess{h: a.Handler(), issuer: cfg.Issuer}
}

func (p *inProcess) do(method, target string, form url.Values, cookies []*http.Cookie, basic bool) *httptest.ResponseRecorder {
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	req := httptest.NewRequest(method, p.issuer+target, body)
	req.RemoteAddr = "127.0.0.1:40000"
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if basic {
		req.SetBasicAuth(confidentialID, confidentialSecret)
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	w := httptest.NewRecorder()
	p.h.ServeHTTP(w, req)
	return w
}

var fieldRE = regexp.MustCompile(`name="(tx|csrf)" value="([^"]*)"`)

// login runs authorize -> login page -> POST /login and returns the
// redirect (with the code) and the cookies of the new session.
func (p *inProcess) login(b *testing.B, authURL string) (string, []*http.Cookie) {
	b.Helper()
	w := p.do("GET", authURL, nil, nil, false)
	loc := w.Header().Get("Location")
	w = p.do("GET", loc, nil, nil, false)
	cookies := w.Result().Cookies()
	form := url.Values{"username": {"alice"}, "password": {"alice-password"}, "decision": {"login"}}
	for _, m := range fieldRE.FindAllStringSubmatch(w.Body.String(), -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	w = p.do("POST", "/login", form, cookies, false)
	if w.Code != http.StatusSeeOther {
		b.Fatalf("login: %d %s", w.Code, w.Body)
	}
	return w.Header().Get("Location"), append(cookies, w.Result().Cookies()...)
}

// redeemClaims redeems the code in location and returns the ID token claims.
func (p *inProcess) redeemClaims(tb testing.TB, location *url.URL, verifier string) idClaims {
	tb.Helper()
	w := p.do("POST", "/token", url.Values{"grant_type": {"authorization_code"}, "code": {location.Query().Get("code")},
		"redirect_uri": {redirectURI}, "code_verifier": {verifier}}, nil, true)
	var res struct {
		IDToken string `json:"id_token"`
	}
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &res) != nil {
		tb.Fatalf("token: %d %s", w.Code, w.Body)
	}
	parts := strings.Split(res.IDToken, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var c idClaims
	json.Unmarshal(payload, &c)
	return c
}

func (p *inProcess) redeem(b testing.TB, location, verifier string) {
	u, _ := url.Parse(location)
	code := u.Query().Get("code")
	if code == "" {
		b.Fatalf("no code in %s", location)
	}
	w := p.do("POST", "/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {redirectURI}, "code_verifier": {verifier}}, nil, true)
	if w.Code != 200 {
		b.Fatalf("token: %d %s", w.Code, w.Body)
	}
}

func authURL(verifier string) string {
	return "/authorize?" + url.Values{"client_id": {confidentialID}, "response_type": {"code"},
		"scope": {"openid profile"}, "redirect_uri": {redirectURI}, "state": {"s"}, "nonce": {"n"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"}}.Encode()
}

// BenchmarkCodeFlowWithSession is a complete authorization code + PKCE flow
// for a user with an SSO session: authorize (code issued) then token.
func BenchmarkCodeFlowWithSession(b *testing.B) {
	p := newInProcess(b, false)
	v := oauth2.GenerateVerifier()
	_, cookies := p.login(b, authURL(v))
	au := authURL(v)
	b.ReportAllocs()
	for b.Loop() {
		w := p.do("GET", au, nil, cookies, false)
		p.redeem(b, w.Header().Get("Location"), v)
	}
}

// BenchmarkCodeFlowWithPasswordLogin adds a fresh password login at the
// default argon2id cost (m=19456 KiB, t=2, p=1).
func BenchmarkCodeFlowWithPasswordLogin(b *testing.B) {
	p := newInProcess(b, true)
	v := oauth2.GenerateVerifier()
	au := authURL(v)
	b.ReportAllocs()
	for b.Loop() {
		loc, _ := p.login(b, au)
		p.redeem(b, loc, v)
	}
}

// BenchmarkTokenClientCredentials is the token endpoint alone.
func BenchmarkTokenClientCredentials(b *testing.B) {
	p := newInProcess(b, false)
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"payments"}}
	b.ReportAllocs()
	for b.Loop() {
		if w := p.do("POST", "/token", form, nil, true); w.Code != 200 {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
}

// BenchmarkTokenRefresh is a refresh-token rotation at the token endpoint.
func BenchmarkTokenRefresh(b *testing.B) {
	p := newInProcess(b, false)
	v := oauth2.GenerateVerifier()
	loc, _ := p.login(b, authURL(v))
	u, _ := url.Parse(loc)
	w := p.do("POST", "/token", url.Values{"grant_type": {"authorization_code"}, "code": {u.Query().Get("code")},
		"redirect_uri": {redirectURI}, "code_verifier": {v}}, nil, true)
	rt := regexp.MustCompile(`"refresh_token":"([^"]+)"`).FindStringSubmatch(w.Body.String())[1]
	b.ReportAllocs()
	for b.Loop() {
		w := p.do("POST", "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, nil, true)
		if w.Code != 200 {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
		rt = regexp.MustCompile(`"refresh_token":"([^"]+)"`).FindStringSubmatch(w.Body.String())[1]
	}
}
