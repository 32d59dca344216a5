package upstream

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/stepup-oidc/stepup/internal/seal"
)

const (
	testClientID     = "stepup"
	testClientSecret = "s3cret"
	testName         = "bankid-high"
	testACR          = "urn:bankid:high"
	testSub          = "upstream-subject-1"
	testNNIN         = "01017012345"
	testRedirectURI  = "https://stepup.example/upstream/callback"
)

// clock is a settable test clock shared by the sealer and the Method.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fakeOP is a minimal upstream OpenID provider: discovery, JWKS and a token
// endpoint. Codes are issued by the test itself (issue), standing in for
// the authorization endpoint.
type fakeOP struct {
	srv *httptest.Server
	key *ecdsa.PrivateKey
	clk *clock

	mu sync.Mutex
	// issParam is advertised as authorization_response_iss_parameter_supported.
	issParam bool
	// failDiscovery makes that many discovery requests fail.
	failDiscovery int
	discoveryHits int
	codes         map[string]issued
	// lastVerifier is the code_verifier of the last token request;
	// pkceMatched whether its S256 matched the code's challenge.
	lastVerifier string
	pkceMatched  bool
}

type issued struct {
	challenge string
	idToken   string
}

func newFakeOP(t *testing.T, clk *clock) *fakeOP {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	op := &fakeOP{key: key, clk: clk, issParam: true, codes: map[string]issued{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", op.discovery)
	mux.HandleFunc("GET /jwks", op.jwks)
	mux.HandleFunc("POST /token", op.token)
	op.srv = httptest.NewTLSServer(mux)
	t.Cleanup(op.srv.Close)
	return op
}

func (op *fakeOP) issuer() string { return op.srv.URL }

func (op *fakeOP) discovery(w http.ResponseWriter, _ *http.Request) {
	op.mu.Lock()
	op.discoveryHits++
	fail := op.failDiscovery > 0
	if fail {
		op.failDiscovery--
	}
	issParam := op.issParam
	op.mu.Unlock()
	if fail {
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                         op.issuer(),
		"authorization_endpoint":                         op.issuer() + "/authorize",
		"token_endpoint":                                 op.issuer() + "/token",
		"jwks_uri":                                       op.issuer() + "/jwks",
		"response_types_supported":                       []string{"code"},
		"subject_types_supported":                        []string{"pairwise"},
		"id_token_signing_alg_values_supported":          []string{"ES256"},
		"token_endpoint_auth_methods_supported":          []string{"client_secret_basic"},
		"code_challenge_methods_supported":               []string{"S256"},
		"acr_values_supported":                           []string{testACR, "urn:bankid:substantial"},
		"authorization_response_iss_parameter_supported": issParam,
	})
}

func (op *fakeOP) jwks(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: &op.key.PublicKey, KeyID: "k1", Algorithm: string(jose.ES256), Use: "sig"},
	}})
}

func (op *fakeOP) token(w http.ResponseWriter, r *http.Request) {
	if id, secret, ok := r.BasicAuth(); !ok || id != testClientID || secret != testClientSecret {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "authorization_code" ||
		r.PostForm.Get("redirect_uri") != testRedirectURI {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	}
	op.mu.Lock()
	code := r.PostForm.Get("code")
	is, ok := op.codes[code]
	delete(op.codes, code) // single use
	verifier := r.PostForm.Get("code_verifier")
	sum := sha256.Sum256([]byte(verifier))
	op.lastVerifier = verifier
	op.pkceMatched = ok && base64.RawURLEncoding.EncodeToString(sum[:]) == is.challenge
	matched := op.pkceMatched
	op.mu.Unlock()
	if !ok || !matched {
		writeJSON(w, http.StatusBadRequest, map[string]string{
			"error": "invalid_grant", "error_description": "code " + code + " is not valid",
		})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": "upstream-access-token", "token_type": "Bearer", "expires_in": 300,
		"id_token": is.idToken,
	})
}

// issue plays the upstream's authorization endpoint for the request in
// authURL: it returns a code bound to the request's PKCE challenge whose
// ID token carries the request's nonce and the default claims, changed by
// mutate (nil values delete a claim).
func (op *fakeOP) issue(t *testing.T, authURL string, mutate func(map[string]any)) string {
	t.Helper()
	u, err := url.Parse(authURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	now := op.clk.Now()
	claims := map[string]any{
		"iss":   op.issuer(),
		"aud":   testClientID,
		"sub":   testSub,
		"nonce": q.Get("nonce"),
		"iat":   now.Unix(),
		"exp":   now.Add(5 * time.Minute).Unix(),
		"acr":   testACR,
		"amr":   []string{"bid"},
		"nnin":  testNNIN,
	}
	if mutate != nil {
		mutate(claims)
	}
	for k, v := range claims {
		if v == nil {
			delete(claims, k)
		}
	}
	code := rand.Text()
	op.mu.Lock()
	op.codes[code] = issued{challenge: q.Get("code_challenge"), idToken: op.sign(t, claims)}
	op.mu.Unlock()
	return code
}

func (op *fakeOP) sign(t *testing.T, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: op.key, KeyID: "k1", Algorithm: string(jose.ES256)}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// testConfig is a valid Config for op; edit changes it before New.
func testConfig(op *fakeOP, clk *clock, edit func(*Config)) Config {
	secret := make([]byte, 32)
	rand.Read(secret)
	cfg := Config{
		Name:         testName,
		DisplayName:  "BankID",
		Issuer:       op.issuer(),
		ClientID:     testClientID,
		ClientSecret: testClientSecret,
		RedirectURI:  testRedirectURI,
		ACRValues:    []string{testACR},
		Assurance:    "high",
		LinkClaim:    LinkClaimNNIN,
		HTTPClient:   op.srv.Client(),
		Sealer:       seal.Sealer{Secret: func() []byte { return secret }, Now: clk.Now},
		Now:          clk.Now,
	}
	if edit != nil {
		edit(&cfg)
	}
	return cfg
}

func newTestMethod(t *testing.T, edit func(*Config)) (*Method, *fakeOP, *clock) {
	t.Helper()
	clk := &clock{t: time.Now().Truncate(time.Second)}
	op := newFakeOP(t, clk)
	m, err := New(testConfig(op, clk, edit))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return m, op, clk
}

// callbackFor is the upstream's successful authorization response to the
// request in authURL.
func callbackFor(t *testing.T, authURL, code, iss string) url.Values {
	t.Helper()
	u, err := url.Parse(authURL)
	if err != nil {
		t.Fatal(err)
	}
	return url.Values{"code": {code}, "state": {u.Query().Get("state")}, "iss": {iss}}
}
