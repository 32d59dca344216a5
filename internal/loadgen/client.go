package loadgen

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"

	"golang.org/x/oauth2"
)

// worker is one concurrent user agent: a cookie-keeping HTTP client that
// talks to the issuer's origin only, plus per-scenario state.
type worker struct {
	r  *runner
	id int
	n  int // iterations started
	hc *http.Client

	refreshToken string // refresh
	nonce        string // refresh: the nonce of the original authentication
	accessToken  string // introspection
}

func (r *runner) newWorker(id int) (*worker, error) {
	w := &worker{r: r, id: id}
	w.hc = &http.Client{Timeout: r.cfg.Timeout, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if !r.sameOrigin(req.URL) {
			return http.ErrUseLastResponse // the client's redirect URI: stop there
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}}
	return w, w.resetCookies()
}

// resetCookies forgets every cookie: the next request starts a new browser
// session.
func (w *worker) resetCookies() error {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return fmt.Errorf("cookie jar: %w", err)
	}
	w.hc.Jar = jar
	return nil
}

// sameOrigin reports whether u is on the issuer's scheme, host and port.
func (r *runner) sameOrigin(u *url.URL) bool {
	return strings.EqualFold(u.Scheme, r.origin.Scheme) && strings.EqualFold(u.Host, r.origin.Host)
}

// page is where a request ended: a page of the provider, or a redirect
// away from it (Location set).
type page struct {
	status   int
	url      *url.URL
	body     string
	location *url.URL
}

func (p page) snippet() string {
	s := strings.Join(strings.Fields(p.body), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// do sends a request to the issuer's origin; form, when set, is the body.
func (w *worker) do(ctx context.Context, method, target string, form url.Values, basic bool) (page, error) {
	u, err := url.Parse(target)
	if err != nil {
		return page{}, fmt.Errorf("url %q: %w", target, err)
	}
	if !w.r.sameOrigin(u) {
		return page{}, fmt.Errorf("refusing to send a request outside the issuer's origin: %s", u.Redacted())
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return page{}, fmt.Errorf("request: %w", err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if basic {
		req.SetBasicAuth(url.QueryEscape(w.r.cfg.ClientID), url.QueryEscape(w.r.cfg.ClientSecret))
	}
	res, err := w.hc.Do(req)
	if err != nil {
		return page{}, fmt.Errorf("%s %s: %w", method, u.Path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	if err != nil {
		return page{}, fmt.Errorf("%s %s: read body: %w", method, u.Path, err)
	}
	p := page{status: res.StatusCode, url: res.Request.URL, body: string(b)}
	if loc := res.Header.Get("Location"); loc != "" && res.StatusCode/100 == 3 {
		if p.location, err = res.Request.URL.Parse(loc); err != nil {
			return page{}, fmt.Errorf("location %q: %w", loc, err)
		}
	}
	return p, nil
}

// oauthError is an OAuth error response.
type oauthError struct {
	Status      int
	Code        string `json:"error"`
	Description string `json:"error_description"`
}

func (e *oauthError) Error() string {
	return fmt.Sprintf("HTTP %d: %s: %s", e.Status, e.Code, e.Description)
}

// postJSON posts form (with client authentication) and decodes a 200 JSON
// answer into out; other answers are an *oauthError.
func (w *worker) postJSON(ctx context.Context, endpoint string, form url.Values, out any) error {
	p, err := w.do(ctx, http.MethodPost, endpoint, form, true)
	if err != nil {
		return err
	}
	if p.status != http.StatusOK {
		e := &oauthError{Status: p.status}
		if json.Unmarshal([]byte(p.body), e) != nil || e.Code == "" {
			e.Code, e.Description = "unexpected answer", p.snippet()
		}
		return e
	}
	if err := json.Unmarshal([]byte(p.body), out); err != nil {
		return fmt.Errorf("POST %s: decode: %w", endpoint, err)
	}
	return nil
}

// getJSON fetches a JSON document.
func (w *worker) getJSON(ctx context.Context, target string, out any) error {
	p, err := w.do(ctx, http.MethodGet, target, nil, false)
	if err != nil {
		return err
	}
	if p.status != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d: %s", target, p.status, p.snippet())
	}
	if err := json.Unmarshal([]byte(p.body), out); err != nil {
		return fmt.Errorf("GET %s: decode: %w", target, err)
	}
	return nil
}

var (
	formRE    = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
	hiddenRE  = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)
	buttonRE  = regexp.MustCompile(`<button type="submit" name="method" value="([^"]+)"`)
	optionsRE = regexp.MustCompile(`(?s)<script type="application/json" id="webauthn-options">(.*?)</script>`)
	modeRE    = regexp.MustCompile(`<script src="/static/webauthn\.js" data-mode="([a-z]+)">`)
	sectionRE = regexp.MustCompile(`(?s)<section class="request" id="request-([^"]+)">(.*?)</section>`)
)

// submit fills the first form of p with its hidden fields plus fields and
// posts it to the form's action, as a browser would.
func (w *worker) submit(ctx context.Context, p page, fields url.Values) (page, error) {
	m := formRE.FindStringSubmatch(p.body)
	if m == nil {
		return page{}, fmt.Errorf("no form on %s (HTTP %d): %s", p.url.Path, p.status, p.snippet())
	}
	form := url.Values{}
	for _, h := range hiddenRE.FindAllStringSubmatch(p.body, -1) {
		form.Set(h[1], html.UnescapeString(h[2]))
	}
	for k, v := range fields {
		form[k] = v
	}
	action, err := p.url.Parse(html.UnescapeString(m[1]))
	if err != nil {
		return page{}, fmt.Errorf("form action: %w", err)
	}
	return w.do(ctx, http.MethodPost, action.String(), form, false)
}

// isStepupLogin reports whether p is Stepup's login page: a form posting
// to /login with hidden tx and csrf fields.
func isStepupLogin(p page) bool {
	return strings.Contains(p.body, `<form method="post" action="/login"`) &&
		strings.Contains(p.body, `name="tx" value="`) && strings.Contains(p.body, `name="csrf" value="`)
}

func methods(p page) map[string]bool {
	out := map[string]bool{}
	for _, m := range buttonRE.FindAllStringSubmatch(p.body, -1) {
		out[html.UnescapeString(m[1])] = true
	}
	return out
}

// How drive answers the login pages.
type mode int

const (
	byPassword mode = iota // the password form
	byPasskey              // a passkey the runner holds
	toEnroll               // enrol the runner's passkey, then use it
)

var errForeignPasskey = errors.New("the user already has a passkey this run does not hold")

// drive answers the provider's login and WebAuthn pages until the browser
// leaves them: it returns the redirect away from the provider, or the first
// page that is neither.
func (w *worker) drive(ctx context.Context, p page, how mode) (page, error) {
	created := false
	for range 12 {
		switch {
		case p.location != nil:
			return p, nil
		case p.status >= 400:
			return p, fmt.Errorf("%s: HTTP %d: %s", p.url.Path, p.status, p.snippet())
		case optionsRE.MatchString(p.body) && strings.Contains(p.body, `id="webauthn-form"`):
			create := false
			if m := modeRE.FindStringSubmatch(p.body); m != nil {
				create = m[1] == "create"
			}
			resp, err := w.r.ceremony(p, create)
			if err != nil {
				return p, err
			}
			created = created || create
			fields := url.Values{"response": {string(resp)}}
			var next page
			if next, err = w.submit(ctx, p, fields); err != nil {
				return p, err
			}
			p = next
			continue
		case !isStepupLogin(p):
			return p, nil
		}
		offered := methods(p)
		fields := url.Values{}
		switch {
		case how == byPassword && strings.Contains(p.body, `autocomplete="current-password"`):
			fields = url.Values{"method": {"password"}, "username": {w.r.cfg.User}, "password": {w.r.cfg.Password}}
		case how == byPasskey && offered["webauthn"]:
			fields.Set("method", "webauthn")
		case how == toEnroll && offered["webauthn"] && created:
			fields.Set("method", "webauthn")
		case how == toEnroll && offered["webauthn"]:
			return p, errForeignPasskey
		case how == toEnroll && offered["enroll:webauthn"]:
			fields.Set("method", "enroll:webauthn")
		default:
			msg := "no usable method"
			if m := regexp.MustCompile(`id="login-error">([^<]*)<`).FindStringSubmatch(p.body); m != nil {
				msg = html.UnescapeString(m[1])
			}
			return p, fmt.Errorf("login page %s: %s (methods offered: %v)", p.url.Path, msg, keys(offered))
		}
		next, err := w.submit(ctx, p, fields)
		if err != nil {
			return p, err
		}
		p = next
	}
	return p, errors.New("too many login steps")
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// authRequest is one authorization request's secrets.
type authRequest struct {
	verifier, state, nonce string
}

func random() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// authorize starts an authorization code + PKCE request.
func (w *worker) authorize(ctx context.Context, extra url.Values) (authRequest, page, error) {
	ar := authRequest{verifier: oauth2.GenerateVerifier(), state: random(), nonce: random()}
	q := url.Values{"client_id": {w.r.cfg.ClientID}, "response_type": {"code"}, "scope": {"openid profile"},
		"redirect_uri": {w.r.cfg.RedirectURI}, "state": {ar.state}, "nonce": {ar.nonce},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(ar.verifier)}, "code_challenge_method": {"S256"}}
	for k, v := range extra {
		q[k] = v
	}
	u, err := url.Parse(w.r.meta.AuthorizationEndpoint)
	if err != nil {
		return ar, page{}, fmt.Errorf("authorization endpoint: %w", err)
	}
	u.RawQuery = q.Encode()
	p, err := w.do(ctx, http.MethodGet, u.String(), nil, false)
	return ar, p, err
}

// code extracts the authorization code from a redirect to the client.
func (w *worker) code(ar authRequest, p page) (string, error) {
	if p.location == nil {
		return "", fmt.Errorf("no redirect to the client; ended on %s (HTTP %d): %s", p.url.Path, p.status, p.snippet())
	}
	loc := *p.location
	q := loc.Query()
	loc.RawQuery, loc.Fragment = "", ""
	if loc.String() != w.r.cfg.RedirectURI {
		return "", fmt.Errorf("redirected to %s, not the redirect URI", loc.Redacted())
	}
	if e := q.Get("error"); e != "" {
		return "", fmt.Errorf("authorization error: %s: %s", e, q.Get("error_description"))
	}
	if q.Get("state") != ar.state {
		return "", errors.New("authorization response: state mismatch")
	}
	if iss := q.Get("iss"); iss != "" && iss != w.r.cfg.Issuer {
		return "", fmt.Errorf("authorization response: iss %q", iss)
	}
	c := q.Get("code")
	if c == "" {
		return "", errors.New("authorization response without a code")
	}
	return c, nil
}

// tokens is a token response.
type tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
	TokenType    string `json:"token_type"`
}

// redeem exchanges the code and verifies the ID token.
func (w *worker) redeem(ctx context.Context, ar authRequest, code string) (tokens, idClaims, error) {
	var t tokens
	err := w.postJSON(ctx, w.r.meta.TokenEndpoint, url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {w.r.cfg.RedirectURI}, "code_verifier": {ar.verifier}}, &t)
	if err != nil {
		return t, idClaims{}, fmt.Errorf("token: %w", err)
	}
	c, err := w.r.verifyIDToken(ctx, t.IDToken, ar.nonce, true)
	return t, c, err
}

// login runs a whole code flow answered as how says, with extra
// authorization parameters.
func (w *worker) login(ctx context.Context, how mode, extra url.Values) (tokens, idClaims, error) {
	ar, p, err := w.authorize(ctx, extra)
	if err != nil {
		return tokens{}, idClaims{}, err
	}
	if p, err = w.drive(ctx, p, how); err != nil {
		return tokens{}, idClaims{}, err
	}
	code, err := w.code(ar, p)
	if err != nil {
		return tokens{}, idClaims{}, err
	}
	return w.redeem(ctx, ar, code)
}
