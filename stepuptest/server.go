// Package stepuptest is a test double of a Stepup provider, for the tests
// of applications built on packages rs and rp. Like net/http/httptest, it
// is meant for tests only: it signs whatever it is asked to, with keys it
// makes up, and never checks who asks.
//
// NewServer starts an httptest.Server publishing what a resource server
// or a relying party fetches from Stepup: the discovery document (with
// acr_values_supported and Stepup's stepup_acr_satisfies extension) and a
// JWKS. The server mints RFC 9068 access tokens and ID tokens on demand:
//
//	op := stepuptest.NewServer(t)
//	v, err := rs.NewVerifier(t.Context(), op.Issuer())
//	…
//	tok := op.MintAccessToken(t, stepuptest.AccessClaims{ACR: "phr", AMR: []string{"hwk", "user"}})
//	req.Header.Set("Authorization", "Bearer "+tok)
//
// The server is closed by the test's Cleanup. Misuse, such as a nil
// testing.TB, an unknown algorithm or claims that do not encode as JSON,
// panics with a message starting "stepuptest:"; a failure that is not the
// caller's fault fails the test through tb.Fatalf.
//
// The server serves no login: authorization_endpoint and token_endpoint
// are listed in discovery (rp.New requires them) at /authorize and /token,
// but answer 404 unless the test adds handlers with Server.Handle.
package stepuptest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Paths the server serves or lists, relative to its URL.
const (
	PathDiscovery = "/.well-known/openid-configuration"
	PathJWKS      = "/jwks"
	PathAuthorize = "/authorize" // listed in discovery, served only through Handle
	PathToken     = "/token"     // listed in discovery, served only through Handle
)

// Server is a running test provider. Its methods are safe for concurrent
// use.
type Server struct {
	srv *httptest.Server
	mux *http.ServeMux
	alg string
	now func() time.Time

	mu        sync.Mutex
	keys      []*signingKey // keys[0] signs; all are published
	satisfies map[string][]string
	meta      map[string]any // overrides of the discovery document
}

type signingKey struct {
	kid  string
	priv crypto.Signer
}

// Option configures a Server.
type Option func(*config)

type config struct {
	alg       string
	satisfies map[string][]string
	meta      map[string]any
	now       func() time.Time
}

// WithAlgorithm sets the signature algorithm of the server's keys:
// "ES256" (the default), "RS256" or "EdDSA", the algorithms Stepup signs
// with. NewServer panics on any other.
func WithAlgorithm(alg string) Option {
	return func(c *config) { c.alg = alg }
}

// WithACRSatisfies sets the stepup_acr_satisfies extension of discovery:
// for each acr value, every acr value it satisfies (itself included).
// Its keys, sorted, become acr_values_supported. The default is
// DefaultACRSatisfies; nil publishes neither, so that an rs.Verifier
// accepts only exact acr values.
func WithACRSatisfies(satisfies map[string][]string) Option {
	return func(c *config) { c.satisfies = cloneSatisfies(satisfies) }
}

// WithMetadata sets the discovery field name to value, adding it or
// replacing what the server publishes; a nil value removes the field. Use
// it for endpoints added with Handle (introspection_endpoint, …) or to
// publish a broken document.
func WithMetadata(name string, value any) Option {
	return func(c *config) { c.meta[name] = value }
}

// WithNow sets the clock that minted tokens are issued by (iat, exp and
// the default auth_time). The default is time.Now. NewServer panics on
// nil.
func WithNow(now func() time.Time) Option {
	return func(c *config) {
		if now == nil {
			panic("stepuptest: WithNow(nil)")
		}
		c.now = now
	}
}

// DefaultACRSatisfies returns, freshly made, the vocabulary Stepup
// publishes with its default (okta) preset: two factors satisfy one, and
// phishing-resistant (phr) and hardware-bound (phrh) passkeys satisfy two
// factors.
func DefaultACRSatisfies() map[string][]string {
	const (
		any1fa    = "urn:okta:loa:1fa:any"
		pwd       = "urn:okta:loa:1fa:pwd"
		any2faIfP = "urn:okta:loa:2fa:any:ifpossible"
		any2fa    = "urn:okta:loa:2fa:any"
	)
	return map[string][]string{
		any1fa:    {any1fa},
		pwd:       {pwd, any1fa},
		any2faIfP: {any2faIfP, any1fa},
		any2fa:    {any2fa, any2faIfP, any1fa},
		"phr":     {"phr", any2fa, any2faIfP, any1fa},
		"phrh":    {"phrh", "phr", any2fa, any2faIfP, any1fa},
	}
}

func cloneSatisfies(m map[string][]string) map[string][]string {
	if m == nil {
		return nil
	}
	out := make(map[string][]string, len(m))
	for k, v := range m {
		out[k] = slices.Clone(v)
	}
	return out
}

// NewServer starts a provider whose issuer is its URL, publishing one
// signing key, and closes it when tb's test ends. It panics when tb is nil
// or an option is invalid.
func NewServer(tb testing.TB, opts ...Option) *Server {
	if tb == nil {
		panic("stepuptest: NewServer needs the test's testing.TB, got nil")
	}
	tb.Helper()
	cfg := config{alg: "ES256", satisfies: DefaultACRSatisfies(), meta: map[string]any{}, now: time.Now}
	for _, o := range opts {
		o(&cfg)
	}
	if _, err := json.Marshal(cfg.meta); err != nil {
		panic(fmt.Sprintf("stepuptest: WithMetadata: a value does not encode as JSON: %v", err))
	}
	s := &Server{mux: http.NewServeMux(), alg: cfg.alg, now: cfg.now, satisfies: cfg.satisfies, meta: cfg.meta}
	s.keys = []*signingKey{newKey(s.alg)} // panics on an unknown algorithm, before anything starts
	s.mux.HandleFunc("GET "+PathDiscovery, s.discovery)
	s.mux.HandleFunc("GET "+PathJWKS, s.jwks)
	s.srv = httptest.NewServer(s.mux)
	tb.Cleanup(s.srv.Close)
	return s
}

// URL returns the server's base URL, such as "http://127.0.0.1:41234".
func (s *Server) URL() string { return s.srv.URL }

// Issuer returns the issuer identifier: the URL. Pass it to
// rs.NewVerifier or as rp.Config.Issuer.
func (s *Server) Issuer() string { return s.srv.URL }

// Handle serves pattern (an http.ServeMux pattern, such as "POST
// /token") with h, for endpoints a test needs beyond discovery and JWKS.
// Like ServeMux.Handle, it panics when pattern conflicts with one already
// registered.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// RotateKey makes a new signing key, with a new kid, and signs every token
// minted from now on with it. It publishes the new key first in the JWKS
// and keeps publishing the previous ones, as a provider does until their
// tokens expire, so tokens minted before still verify.
//
// An rs.Verifier fetches the JWKS again when it meets the new kid, but at
// most once per rs.WithMinRefreshInterval (30 seconds by default): a test
// of rotation sets it to 0.
func (s *Server) RotateKey() {
	k := newKey(s.alg)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = append([]*signingKey{k}, s.keys...)
}

// newKey makes a key for alg. It panics on an algorithm Stepup does not
// sign with.
func newKey(alg string) *signingKey {
	var (
		priv crypto.Signer
		err  error
	)
	switch alg {
	case "ES256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "RS256":
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case "EdDSA":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		panic(fmt.Sprintf("stepuptest: algorithm %q is not one Stepup signs with (ES256, RS256, EdDSA)", alg))
	}
	if err != nil {
		panic(fmt.Sprintf("stepuptest: generate %s key: %v", alg, err))
	}
	return &signingKey{kid: strings.ToLower(alg) + "-" + strings.ToLower(rand.Text()[:10]), priv: priv}
}

// signer returns the current signing key.
func (s *Server) signer() *signingKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys[0]
}

// metadata is the discovery document.
func (s *Server) metadata() map[string]any {
	iss := s.Issuer()
	d := map[string]any{
		"issuer":                                iss,
		"authorization_endpoint":                iss + PathAuthorize,
		"token_endpoint":                        iss + PathToken,
		"jwks_uri":                              iss + PathJWKS,
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{s.alg},
		"code_challenge_methods_supported":      []string{"S256"},
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.satisfies != nil {
		d["acr_values_supported"] = slices.Sorted(maps.Keys(s.satisfies))
		d["stepup_acr_satisfies"] = s.satisfies
	}
	for k, v := range s.meta {
		if v == nil {
			delete(d, k)
		} else {
			d[k] = v
		}
	}
	return d
}

func (s *Server) discovery(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, s.metadata())
}

func (s *Server) jwks(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(s.keys))}
	for _, k := range s.keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Algorithm: s.alg, Use: "sig"})
	}
	s.mu.Unlock()
	writeJSON(w, set)
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "stepuptest: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}
