package rs_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// fakeOP is a stand-in provider: discovery, JWKS and introspection on an
// httptest server, plus token minting. Like oidctest, it panics on misuse.
type fakeOP struct {
	srv *httptest.Server

	mu         sync.Mutex
	published  []*opKey
	satisfies  map[string][]string
	introspect func(token string) (status int, body map[string]any)

	jwksHits, introHits atomic.Int32
}

type opKey struct {
	kid, alg string
	priv     crypto.Signer
}

// satisfiesOkta is what Stepup publishes for the okta preset with
// passwords, TOTP and passkeys.
func satisfiesOkta() map[string][]string {
	return map[string][]string{
		"urn:okta:loa:1fa:any":            {"urn:okta:loa:1fa:any"},
		"urn:okta:loa:1fa:pwd":            {"urn:okta:loa:1fa:pwd", "urn:okta:loa:1fa:any"},
		"urn:okta:loa:2fa:any:ifpossible": {"urn:okta:loa:2fa:any:ifpossible", "urn:okta:loa:1fa:any"},
		"urn:okta:loa:2fa:any":            {"urn:okta:loa:2fa:any", "urn:okta:loa:2fa:any:ifpossible", "urn:okta:loa:1fa:any"},
		"phr":                             {"phr", "urn:okta:loa:2fa:any", "urn:okta:loa:2fa:any:ifpossible", "urn:okta:loa:1fa:any"},
	}
}

// newFakeOP starts a provider publishing one ES256 key. Close it.
func newFakeOP() *fakeOP {
	op := &fakeOP{satisfies: satisfiesOkta()}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		op.mu.Lock()
		d := map[string]any{"issuer": op.URL(), "jwks_uri": op.URL() + "/jwks",
			"introspection_endpoint": op.URL() + "/introspect"}
		if op.satisfies != nil {
			d["stepup_acr_satisfies"] = op.satisfies
		}
		op.mu.Unlock()
		writeJSON(w, http.StatusOK, d)
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		op.jwksHits.Add(1)
		op.mu.Lock()
		defer op.mu.Unlock()
		var set jose.JSONWebKeySet
		for _, k := range op.published {
			set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Algorithm: k.alg, Use: "sig"})
		}
		writeJSON(w, http.StatusOK, set)
	})
	mux.HandleFunc("POST /introspect", func(w http.ResponseWriter, r *http.Request) {
		op.introHits.Add(1)
		if id, secret, ok := r.BasicAuth(); !ok || id != "api" || secret != "api-secret" {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "invalid_client"})
			return
		}
		op.mu.Lock()
		f := op.introspect
		op.mu.Unlock()
		if f == nil {
			writeJSON(w, http.StatusOK, map[string]any{"active": false})
			return
		}
		status, body := f(r.PostFormValue("token"))
		writeJSON(w, status, body)
	})
	op.srv = httptest.NewServer(mux)
	op.addKey("ES256")
	return op
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (op *fakeOP) URL() string { return op.srv.URL }
func (op *fakeOP) Close()      { op.srv.Close() }

// newKey makes a key without publishing it.
func newKey(alg string) *opKey {
	var priv crypto.Signer
	var err error
	switch alg {
	case "ES256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "RS256":
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case "EdDSA":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		panic("fakeOP: unsupported alg " + alg)
	}
	if err != nil {
		panic(err)
	}
	b := make([]byte, 8)
	rand.Read(b)
	return &opKey{kid: fmt.Sprintf("%s-%x", strings.ToLower(alg), b), alg: alg, priv: priv}
}

// addKey publishes a new key in the JWKS and returns it.
func (op *fakeOP) addKey(alg string) *opKey {
	k := newKey(alg)
	op.mu.Lock()
	op.published = append(op.published, k)
	op.mu.Unlock()
	return k
}

// key returns the i-th published key.
func (op *fakeOP) key(i int) *opKey {
	op.mu.Lock()
	defer op.mu.Unlock()
	return op.published[i]
}

// claims are the claims of a Stepup access token for alice, issued at now.
func (op *fakeOP) claims(now time.Time) map[string]any {
	return map[string]any{
		"iss": op.URL(), "sub": "alice", "aud": op.URL(), "exp": now.Add(5 * time.Minute).Unix(),
		"iat": now.Unix(), "jti": "g1.t1", "client_id": "bank", "scope": "openid accounts",
		"auth_time": now.Add(-time.Minute).Unix(), "acr": "urn:okta:loa:1fa:pwd", "amr": []string{"pwd"}, "sid": "s1",
	}
}

// sign signs claims with k, with the given typ header ("" for none).
func sign(k *opKey, typ string, claims map[string]any) string {
	opts := (&jose.SignerOptions{}).WithHeader(jose.HeaderKey("kid"), k.kid)
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.alg), Key: k.priv}, opts)
	if err != nil {
		panic(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		panic(err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		panic(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		panic(err)
	}
	return out
}

// mint returns an at+jwt access token signed with the first key, with
// claims changed by edit.
func (op *fakeOP) mint(now time.Time, edit func(map[string]any)) string {
	c := op.claims(now)
	if edit != nil {
		edit(c)
	}
	return sign(op.key(0), "at+jwt", c)
}

// TestFakeOPServesWhatTheTestsAssume checks the fake provider the other
// tests stand on: discovery names it and its JWKS, and it signs verifiably.
func TestFakeOPServesWhatTheTestsAssume(t *testing.T) {
	op := newFakeOP()
	defer op.Close()
	res, err := http.Get(op.URL() + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var d map[string]any
	if err := json.NewDecoder(res.Body).Decode(&d); err != nil {
		t.Fatal(err)
	}
	if d["issuer"] != op.URL() || d["jwks_uri"] == nil {
		t.Fatalf("discovery %v", d)
	}
	if tok := op.mint(time.Now(), nil); strings.Count(tok, ".") != 2 {
		t.Fatalf("minted %q", tok)
	}
}
