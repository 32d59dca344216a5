package rp_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// fakeOP is a minimal provider for examples and for the ID-token checks
// a real Stepup never gets wrong: discovery, JWKS, PAR and a token
// endpoint minting ID tokens. Authorize stands in for the browser's trip
// through the login pages.
type fakeOP struct {
	*httptest.Server

	mu       sync.Mutex
	key      *ecdsa.PrivateKey
	kid      string
	meta     map[string]any
	pushed   map[string]url.Values // request_uri -> request
	codes    map[string]url.Values // code -> authorization request
	refresh  map[string]url.Values // refresh token -> authorization request
	ciba     map[string]*fakeCIBA  // auth_req_id -> backchannel request
	jwksHits int
	now      func() time.Time
	// edit, when set, changes the claims and the protected header of the
	// next ID tokens, and may return another signing key.
	edit func(claims map[string]any, hdr map[jose.HeaderKey]any) *jose.SigningKey
}

func newFakeOP() *fakeOP {
	op := &fakeOP{pushed: map[string]url.Values{}, codes: map[string]url.Values{},
		refresh: map[string]url.Values{}, ciba: map[string]*fakeCIBA{}, now: time.Now}
	op.rotate()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", op.discovery)
	mux.HandleFunc("GET /jwks", op.jwks)
	mux.HandleFunc("POST /par", op.par)
	mux.HandleFunc("POST /token", op.token)
	mux.HandleFunc("POST /bc-authorize", op.backchannel)
	op.Server = httptest.NewServer(mux)
	op.meta = map[string]any{
		"issuer":                                         op.URL,
		"authorization_endpoint":                         op.URL + "/authorize",
		"token_endpoint":                                 op.URL + "/token",
		"jwks_uri":                                       op.URL + "/jwks",
		"pushed_authorization_request_endpoint":          op.URL + "/par",
		"backchannel_authentication_endpoint":            op.URL + "/bc-authorize",
		"id_token_signing_alg_values_supported":          []string{"ES256"},
		"authorization_response_iss_parameter_supported": true,
	}
	return op
}

// rotate replaces the signing key; the old one leaves the JWKS.
func (op *fakeOP) rotate() {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	op.mu.Lock()
	defer op.mu.Unlock()
	op.key, op.kid = key, rand.Text()[:8]
}

func (op *fakeOP) setEdit(edit func(claims map[string]any, hdr map[jose.HeaderKey]any) *jose.SigningKey) {
	op.mu.Lock()
	defer op.mu.Unlock()
	op.edit = edit
}

func (op *fakeOP) setNow(now func() time.Time) {
	op.mu.Lock()
	defer op.mu.Unlock()
	op.now = now
}

func (op *fakeOP) hits() int {
	op.mu.Lock()
	defer op.mu.Unlock()
	return op.jwksHits
}

func (op *fakeOP) setMeta(k string, v any) {
	op.mu.Lock()
	defer op.mu.Unlock()
	op.meta[k] = v
}

func (op *fakeOP) discovery(w http.ResponseWriter, r *http.Request) {
	op.mu.Lock()
	defer op.mu.Unlock()
	writeJSON(w, http.StatusOK, op.meta)
}

func (op *fakeOP) jwks(w http.ResponseWriter, r *http.Request) {
	op.mu.Lock()
	defer op.mu.Unlock()
	op.jwksHits++
	writeJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: op.key.Public(), KeyID: op.kid, Algorithm: "ES256", Use: "sig"},
	}})
}

func (op *fakeOP) par(w http.ResponseWriter, r *http.Request) {
	if id, secret, _ := r.BasicAuth(); id != "bank" || secret != "bank-secret" {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	r.ParseForm()
	uri := "urn:ietf:params:oauth:request_uri:" + rand.Text()
	op.mu.Lock()
	op.pushed[uri] = r.PostForm
	op.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{"request_uri": uri, "expires_in": 60})
}

// Authorize plays the user's visit to authURL and returns the callback
// query: a code with state and iss, or the error a test asks for.
func (op *fakeOP) Authorize(authURL string) url.Values {
	u, err := url.Parse(authURL)
	if err != nil {
		panic(err)
	}
	req := u.Query()
	op.mu.Lock()
	defer op.mu.Unlock()
	if uri := req.Get("request_uri"); uri != "" {
		req = op.pushed[uri]
		delete(op.pushed, uri)
	}
	code := rand.Text()
	op.codes[code] = req
	return url.Values{"code": {code}, "state": {req.Get("state")}, "iss": {op.URL}}
}

func (op *fakeOP) token(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	op.mu.Lock()
	defer op.mu.Unlock()
	var req url.Values
	var ok bool
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		req, ok = op.codes[r.PostForm.Get("code")]
		delete(op.codes, r.PostForm.Get("code"))
	case "refresh_token":
		req, ok = op.refresh[r.PostForm.Get("refresh_token")]
		delete(op.refresh, r.PostForm.Get("refresh_token"))
		req = maps.Clone(req)
		req.Del("nonce") // refreshed ID tokens carry no nonce
	case "urn:openid:params:grant-type:ciba":
		// The user approves while the first poll is answered pending.
		b := op.ciba[r.PostForm.Get("auth_req_id")]
		if b != nil && b.polls == 0 {
			b.polls++
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "authorization_pending"})
			return
		}
		if b != nil {
			req, ok = b.req, true
			delete(op.ciba, r.PostForm.Get("auth_req_id"))
		}
	}
	if !ok {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "unknown code or refresh token"})
		return
	}
	now := op.now()
	acr := "urn:okta:loa:1fa:pwd"
	if v := strings.Fields(req.Get("acr_values")); len(v) > 0 {
		acr = v[0]
	}
	amr := []string{"pwd"}
	if acr == "phr" || acr == "phrh" {
		amr = []string{"hwk", "user"}
	}
	claims := map[string]any{
		"iss": op.URL, "sub": "alice", "aud": "bank", "azp": "bank",
		"exp": now.Add(5 * time.Minute).Unix(), "iat": now.Unix(), "auth_time": now.Unix(),
		"acr": acr, "amr": amr, "sid": "s1", "name": "Alice Example", "preferred_username": "alice",
	}
	if n := req.Get("nonce"); n != "" {
		claims["nonce"] = n
	}
	if d := req.Get("authorization_details"); d != "" {
		sum := sha256.Sum256([]byte(d))
		claims["permission_digest"] = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	hdr := map[jose.HeaderKey]any{jose.HeaderType: "JWT"}
	key := jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: op.key, KeyID: op.kid}}
	if op.edit != nil {
		if k := op.edit(claims, hdr); k != nil {
			key = *k
		}
	}
	maps.DeleteFunc(claims, func(_ string, v any) bool { return v == nil })
	payload, _ := json.Marshal(claims)
	signer, err := jose.NewSigner(key, &jose.SignerOptions{ExtraHeaders: hdr})
	if err != nil {
		panic(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		panic(err)
	}
	idToken, _ := jws.CompactSerialize()
	rt := "rt-" + rand.Text()
	op.refresh[rt] = req
	res := map[string]any{"access_token": "at-" + rand.Text(), "token_type": "Bearer", "expires_in": 300,
		"id_token": idToken, "refresh_token": rt}
	if d := req.Get("authorization_details"); d != "" {
		res["authorization_details"] = json.RawMessage(d)
	}
	writeJSON(w, http.StatusOK, res)
}

// fakeCIBA is a pending backchannel request of the fake provider.
type fakeCIBA struct {
	req   url.Values
	polls int
}

func (op *fakeOP) backchannel(w http.ResponseWriter, r *http.Request) {
	if id, secret, _ := r.BasicAuth(); id != "bank" || secret != "bank-secret" {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	r.ParseForm()
	if r.PostForm.Get("login_hint") != "alice" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unknown_user_id"})
		return
	}
	id := rand.Text()
	res := map[string]any{"auth_req_id": id, "expires_in": 120, "interval": 5}
	if r.PostForm.Get("binding_message") == "" {
		res["binding_message"] = "KX7-42Q"
	}
	op.mu.Lock()
	op.ciba[id] = &fakeCIBA{req: r.PostForm}
	op.mu.Unlock()
	writeJSON(w, http.StatusOK, res)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		panic(fmt.Sprint("fake provider: ", err))
	}
}
