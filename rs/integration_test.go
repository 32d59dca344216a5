package rs_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stepup-oidc/stepup/challenge"
	"github.com/stepup-oidc/stepup/internal/app"
	"github.com/stepup-oidc/stepup/internal/config"
	"github.com/stepup-oidc/stepup/internal/store/sqlite"
	"github.com/stepup-oidc/stepup/rs"
)

// These tests run a real Stepup provider (SQLite in t.TempDir) on a
// loopback port and verify what it issues. Only the tests import internal
// packages; package rs does not.

const (
	ccClientID     = "bank"
	ccClientSecret = "bank-secret"
	callbackURI    = "http://127.0.0.1:9999/callback"
)

// startStepup runs a provider until the test ends and returns it.
func startStepup(t *testing.T) *app.App {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "stepup.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Issuer = "http://" + ln.Addr().String()
	cfg.Listen = ln.Addr().String()
	cfg.PasswordHash = config.PasswordHash{MemoryKiB: 64, Iterations: 1, Parallelism: 1}
	cfg.Clients = []config.Client{{
		ID: ccClientID, Name: "Test Bank", Secret: ccClientSecret, RedirectURIs: []string{callbackURI},
		GrantTypes:              []string{"authorization_code", "refresh_token", "client_credentials"},
		TokenEndpointAuthMethod: "client_secret_basic",
	}}
	cfg.Users = []config.User{{Username: "alice", Password: "alice-password", Email: "alice@example.com", Name: "Alice",
		TOTPSecret: aliceTOTP}}
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	a, err := app.New(t.Context(), cfg, st, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return a
}

// tokenRequest posts form to the token endpoint as the confidential client.
func tokenRequest(t *testing.T, issuer string, form url.Values) map[string]any {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, issuer+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(ccClientID, ccClientSecret)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("token endpoint: %s %v %v", res.Status, body, err)
	}
	return body
}

func clientCredentials(t *testing.T, issuer, scope string) string {
	t.Helper()
	tok, _ := tokenRequest(t, issuer, url.Values{"grant_type": {"client_credentials"}, "scope": {scope}})["access_token"].(string)
	return tok
}

// serve sends a request with token to h and returns the status and the
// WWW-Authenticate header.
func serve(h http.Handler, token string) (int, string) {
	req := httptest.NewRequest(http.MethodPost, "/transfer", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Header().Get("WWW-Authenticate")
}

func TestStepupClientCredentialsToken(t *testing.T) {
	a := startStepup(t)
	iss := a.Config.Issuer
	ctx := t.Context()
	v, err := rs.NewVerifier(ctx, iss, rs.WithMinRefreshInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	tok := clientCredentials(t, iss, "accounts")

	c, err := v.Verify(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if c.Issuer != iss || c.Subject != ccClientID || c.ClientID != ccClientID || c.Scope != "accounts" ||
		len(c.Audience) != 1 || c.Audience[0] != iss || c.JTI == "" || c.ACR != "" || !c.AuthTime.IsZero() {
		t.Fatalf("claims = %+v", c)
	}

	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	if code, _ := serve(v.Require(rs.Scope("accounts"))(ok), tok); code != http.StatusOK {
		t.Errorf("scope accounts: %d, want 200", code)
	}
	code, ch := serve(v.Require(rs.ACR("urn:okta:loa:1fa:any"))(ok), tok)
	if want := `Bearer error="insufficient_user_authentication", error_description="A different authentication level is required", acr_values="urn:okta:loa:1fa:any"`; code != 401 || ch != want {
		t.Errorf("a machine token on a user route: %d %q, want 401 %q", code, ch, want)
	}

	// The provider rotates its keys: the next token has a new kid, which
	// the verifier fetches once.
	if err := a.Keys.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	tok2 := clientCredentials(t, iss, "accounts")
	if kid(t, tok2) == kid(t, tok) {
		t.Fatal("rotation kept the kid")
	}
	if _, err := v.Verify(ctx, tok2); err != nil {
		t.Fatalf("token signed after rotation: %v", err)
	}
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatalf("token signed before rotation, key still published: %v", err)
	}
}

func kid(t *testing.T, tok string) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h struct {
		Kid string `json:"kid"`
	}
	json.Unmarshal(b, &h)
	return h.Kid
}

var (
	formRE   = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
	hiddenRE = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)
	buttonRE = regexp.MustCompile(`<button type="submit" name="method" value="([^"]+)"`)
)

// aliceTOTP is the authenticator-app secret configured for alice.
const aliceTOTP = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

// totpCode computes the RFC 6238 code (SHA-1, 6 digits, 30 s) of a base32
// secret at t.
func totpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	key, err := base32.StdEncoding.DecodeString(secret)
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha1.New, key)
	binary.Write(mac, binary.BigEndian, uint64(at.Unix()/30))
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	n := binary.BigEndian.Uint32(sum[off:]) & 0x7fffffff
	return fmt.Sprintf("%06d", n%1_000_000)
}

// codeFlow signs alice in, with her password and, when the pages ask for
// it, her authenticator app, and returns the token response.
func codeFlow(t *testing.T, issuer, acrValues string) map[string]any {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if strings.HasPrefix(req.URL.String(), callbackURI) {
				return http.ErrUseLastResponse
			}
			return nil
		}}
	verifier := "a-code-verifier-of-more-than-forty-three-characters-0123456789"
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{"client_id": {ccClientID}, "response_type": {"code"}, "scope": {"openid accounts"},
		"redirect_uri": {callbackURI}, "state": {"st"}, "nonce": {"n"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	if acrValues != "" {
		q.Set("acr_values", acrValues)
	}
	res, err := browser.Get(issuer + "/authorize?" + q.Encode())
	for range 5 {
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode/100 == 3 {
			break
		}
		m := formRE.FindSubmatch(body)
		if m == nil {
			t.Fatalf("no form on %s (status %d):\n%s", res.Request.URL, res.StatusCode, body)
		}
		form := url.Values{}
		for _, h := range hiddenRE.FindAllSubmatch(body, -1) {
			form.Set(string(h[1]), html.UnescapeString(string(h[2])))
		}
		var buttons []string
		for _, b := range buttonRE.FindAllSubmatch(body, -1) {
			buttons = append(buttons, string(b[1]))
		}
		switch page := string(body); {
		case strings.Contains(page, `autocomplete="current-password"`):
			form.Set("username", "alice")
			form.Set("password", "alice-password")
			form.Set("method", "password")
		case strings.Contains(page, `autocomplete="one-time-code"`):
			form.Set("method", "totp")
			form.Set("code", totpCode(t, aliceTOTP, time.Now()))
		case slices.Contains(buttons, "totp"):
			form.Set("method", "totp")
		default:
			t.Fatalf("unexpected page %s:\n%s", res.Request.URL, body)
		}
		action, _ := res.Request.URL.Parse(html.UnescapeString(string(m[1])))
		res, err = browser.PostForm(action.String(), form)
	}
	loc, _ := url.Parse(res.Header.Get("Location"))
	code := loc.Query().Get("code")
	if code == "" {
		t.Fatalf("no code after login: %s, Location %q", res.Status, res.Header.Get("Location"))
	}
	return tokenRequest(t, issuer, url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {callbackURI}, "code_verifier": {verifier}})
}

func TestStepupCodeFlowToken(t *testing.T) {
	a := startStepup(t)
	iss := a.Config.Issuer
	ctx := t.Context()
	v, err := rs.NewVerifier(ctx, iss, rs.WithIntrospection("", ccClientID, ccClientSecret, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	res := codeFlow(t, iss, "")
	access, _ := res["access_token"].(string)
	c, err := v.Verify(ctx, access)
	if err != nil {
		t.Fatal(err)
	}
	if c.ACR != "urn:okta:loa:1fa:pwd" || len(c.AMR) != 1 || c.AMR[0] != "pwd" || c.AuthTime.IsZero() ||
		time.Since(c.AuthTime) > time.Minute || c.SID == "" || c.Subject == "" {
		t.Fatalf("claims = %+v", c)
	}

	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	if code, ch := serve(v.Require(rs.ACR("urn:okta:loa:1fa:pwd"), rs.MaxAge(5*time.Minute))(ok), access); code != 200 {
		t.Errorf("1fa:pwd within 5 minutes: %d %q, want 200", code, ch)
	}
	code, ch := serve(v.Require(rs.ACR("urn:okta:loa:2fa:any"), rs.MaxAge(5*time.Minute))(ok), access)
	if want := `Bearer error="insufficient_user_authentication", error_description="A different authentication level is required", acr_values="urn:okta:loa:2fa:any", max_age="300"`; code != 401 || ch != want {
		t.Errorf("2fa: %d %q, want 401 %q", code, ch, want)
	}

	// The ID token is a JWT of the same provider, but not an access token.
	if _, err := v.Verify(ctx, res["id_token"].(string)); !errors.Is(err, rs.ErrWrongType) {
		t.Errorf("ID token: %v, want ErrWrongType", err)
	}
	// The refresh token is opaque: introspection reports it, and its type
	// keeps it from being used as a bearer token.
	if _, err := v.Verify(ctx, res["refresh_token"].(string)); !errors.Is(err, rs.ErrWrongType) {
		t.Errorf("refresh token: %v, want ErrWrongType", err)
	}
	if _, err := v.Verify(ctx, "no-such-token"); !errors.Is(err, rs.ErrInactive) {
		t.Errorf("unknown opaque token: %v, want ErrInactive", err)
	}
}

// TestStepupStepUp follows the challenge: the client asks again with the
// challenge's acr_values, and the stronger token passes, because the
// provider's stepup_acr_satisfies says urn:okta:loa:2fa:any satisfies
// urn:okta:loa:1fa:any.
func TestStepupStepUp(t *testing.T) {
	a := startStepup(t)
	iss := a.Config.Issuer
	v, err := rs.NewVerifier(t.Context(), iss)
	if err != nil {
		t.Fatal(err)
	}
	h := v.Require(rs.ACR("urn:okta:loa:2fa:any"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))

	weak, _ := codeFlow(t, iss, "")["access_token"].(string)
	code, header := serve(h, weak)
	cs, err := challenge.Parse(header)
	if code != 401 || err != nil || len(cs) != 1 || cs[0].Error != challenge.ErrorInsufficientUserAuthentication {
		t.Fatalf("password token: %d %q (%v)", code, header, err)
	}
	strong, _ := codeFlow(t, iss, strings.Join(cs[0].ACRValues, " "))["access_token"].(string)
	c, err := v.Verify(t.Context(), strong)
	if err != nil || c.ACR != "urn:okta:loa:2fa:any" || !slices.Equal(c.AMR, []string{"pwd", "otp", "mfa"}) {
		t.Fatalf("stepped-up token: %+v, %v", c, err)
	}
	if code, header := serve(h, strong); code != 200 {
		t.Fatalf("stepped-up token: %d %q", code, header)
	}
	weaker := v.Require(rs.ACR("urn:okta:loa:1fa:any"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	if code, header := serve(weaker, strong); code != 200 {
		t.Fatalf("2fa token on a 1fa:any route: %d %q", code, header)
	}
}
