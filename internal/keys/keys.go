// Package keys owns Stepup's signing keys: generation, rotation with an
// overlap, the published JWKS, and signing and verifying compact JWS.
//
// Keys live in the store so that every node signs with and publishes the
// same set. A node reloads the set periodically and whenever it meets an
// unknown kid, so a rotation made by one node reaches all of them.
package keys

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/stepup-oidc/stepup/internal/store"
)

// Algorithms returns the supported signature algorithms, in the order they
// are advertised.
func Algorithms() []string { return []string{"ES256", "RS256", "EdDSA"} }

// types are the JWS typ headers Sign accepts: ID tokens and other JWTs,
// RFC 9068 access tokens, and logout tokens.
func types() []string { return []string{"JWT", "at+jwt", "logout+jwt"} }

// ErrUnknownKey is returned when a JWS names a kid we do not publish.
var ErrUnknownKey = errors.New("keys: unknown key")

// ErrInvalidSignature is returned when a JWS does not verify.
var ErrInvalidSignature = errors.New("keys: invalid signature")

// Config configures a Manager.
type Config struct {
	Store store.Keys
	// Overlap is how long a retired key stays in the JWKS; it must exceed the
	// longest token lifetime so tokens signed before a rotation keep verifying.
	Overlap time.Duration
	// Reload is how often the key set is re-read from the store (default 1m).
	Reload time.Duration
	Now    func() time.Time
}

// Manager signs with the active key of each algorithm and publishes the
// public half of every unexpired key.
type Manager struct {
	cfg Config

	mu      sync.RWMutex
	loaded  time.Time
	active  map[string]*signingKey // by alg
	byKID   map[string]*signingKey
	jwks    []byte
	secrets [][]byte // the current sealing secret first, then retired ones
	lastTry time.Time
}

type signingKey struct {
	kid     string
	alg     string
	signers map[string]jose.Signer // by typ header
	expires time.Time              // zero while active
	public  jose.JSONWebKey
}

// New returns a Manager; call Ensure before use.
func New(cfg Config) (*Manager, error) {
	if cfg.Store == nil {
		return nil, errors.New("keys: nil store")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Reload <= 0 {
		cfg.Reload = time.Minute
	}
	if cfg.Overlap <= 0 {
		cfg.Overlap = 24 * time.Hour
	}
	return &Manager{cfg: cfg}, nil
}

// Ensure makes sure an active key exists for every algorithm and a sealing
// secret exists, generating what is missing, then loads the set.
func (m *Manager) Ensure(ctx context.Context) error {
	ks, err := m.cfg.Store.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("keys: list: %w", err)
	}
	have := map[string]bool{}
	for _, k := range ks {
		if k.RetiredAt.IsZero() {
			have[k.Alg] = true
		}
	}
	for _, alg := range append(Algorithms(), "A256GCM") {
		if have[alg] {
			continue
		}
		k, err := Generate(alg, m.cfg.Now())
		if err != nil {
			return err
		}
		if err := m.cfg.Store.CreateKey(ctx, k); err != nil {
			return fmt.Errorf("keys: create %s: %w", alg, err)
		}
	}
	if err := m.dedupe(ctx); err != nil {
		return err
	}
	return m.reload(ctx)
}

// dedupe retires all but the oldest active key of each algorithm. Nodes
// starting together may each create a key; every node then settles on the
// same one (the oldest), and the others stay published for the overlap.
func (m *Manager) dedupe(ctx context.Context) error {
	ks, err := m.cfg.Store.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("keys: list: %w", err)
	}
	oldest := map[string]store.Key{}
	for _, k := range ks {
		if !k.RetiredAt.IsZero() {
			continue
		}
		if o, ok := oldest[k.Alg]; !ok || older(k, o) {
			oldest[k.Alg] = k
		}
	}
	now := m.cfg.Now()
	for _, k := range ks {
		if k.RetiredAt.IsZero() && oldest[k.Alg].ID != k.ID {
			err := m.cfg.Store.RetireKey(ctx, k.ID, now, now.Add(m.cfg.Overlap))
			if err != nil && !errors.Is(err, store.ErrConflict) && !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("keys: retire duplicate %s: %w", k.ID, err)
			}
		}
	}
	return nil
}

// older orders keys by creation time, then id: the same on every node.
func older(a, b store.Key) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.Before(b.CreatedAt)
	}
	return a.ID < b.ID
}

// Reload re-reads the key set now (after a value failed to open, say).
func (m *Manager) Reload(ctx context.Context) error { return m.reload(ctx) }

// Rotate retires every active key and creates successors. Retired signing
// keys stay published for the overlap.
func (m *Manager) Rotate(ctx context.Context) error {
	ks, err := m.cfg.Store.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("keys: list: %w", err)
	}
	now := m.cfg.Now()
	for _, k := range ks {
		if !k.RetiredAt.IsZero() || k.Use != "sig" {
			continue
		}
		if err := m.cfg.Store.RetireKey(ctx, k.ID, now, now.Add(m.cfg.Overlap)); err != nil {
			return fmt.Errorf("keys: retire %s: %w", k.ID, err)
		}
	}
	for _, alg := range Algorithms() {
		k, err := Generate(alg, now)
		if err != nil {
			return err
		}
		if err := m.cfg.Store.CreateKey(ctx, k); err != nil {
			return fmt.Errorf("keys: create %s: %w", alg, err)
		}
	}
	return m.reload(ctx)
}

// Generate creates a new key for alg ("ES256", "RS256", "EdDSA" or "A256GCM").
func Generate(alg string, now time.Time) (store.Key, error) {
	var priv crypto.PrivateKey
	var err error
	switch alg {
	case "ES256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "RS256":
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case "EdDSA":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case "A256GCM":
		b := make([]byte, 32)
		rand.Read(b)
		return store.Key{ID: randomID(), Use: "enc", Alg: alg, Private: b, CreatedAt: now}, nil
	default:
		return store.Key{}, fmt.Errorf("keys: unsupported algorithm %q", alg)
	}
	if err != nil {
		return store.Key{}, fmt.Errorf("keys: generate %s: %w", alg, err)
	}
	kid := randomID()
	jwk := jose.JSONWebKey{Key: priv, KeyID: kid, Algorithm: alg, Use: "sig"}
	b, err := jwk.MarshalJSON()
	if err != nil {
		return store.Key{}, fmt.Errorf("keys: marshal: %w", err)
	}
	return store.Key{ID: kid, Use: "sig", Alg: alg, Private: b, CreatedAt: now}, nil
}

func randomID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (m *Manager) reload(ctx context.Context) error {
	ks, err := m.cfg.Store.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("keys: list: %w", err)
	}
	now := m.cfg.Now()
	active := map[string]*signingKey{}
	byKID := map[string]*signingKey{}
	var pub []jose.JSONWebKey
	var secrets [][]byte
	var current *store.Key
	activeKey := map[string]store.Key{}
	for _, k := range ks {
		if !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt) {
			continue
		}
		if k.RetiredAt.IsZero() {
			if o, ok := activeKey[k.Alg]; !ok || older(k, o) {
				activeKey[k.Alg] = k
			}
		}
	}
	for _, k := range ks { // newest first
		if !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt) {
			continue
		}
		if k.Use == "enc" {
			if a, ok := activeKey[k.Alg]; ok && a.ID == k.ID {
				kk := k
				current = &kk
			} else {
				secrets = append(secrets, k.Private)
			}
			continue
		}
		var jwk jose.JSONWebKey
		if err := jwk.UnmarshalJSON(k.Private); err != nil {
			return fmt.Errorf("keys: decode %s: %w", k.ID, err)
		}
		sk := &signingKey{kid: k.ID, alg: k.Alg, signers: map[string]jose.Signer{}, public: jwk.Public(), expires: k.ExpiresAt}
		for _, typ := range types() {
			s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.Alg), Key: jwk},
				(&jose.SignerOptions{}).WithType(jose.ContentType(typ)))
			if err != nil {
				return fmt.Errorf("keys: signer %s: %w", k.ID, err)
			}
			sk.signers[typ] = s
		}
		byKID[k.ID] = sk
		pub = append(pub, sk.public)
		if a, ok := activeKey[k.Alg]; ok && a.ID == k.ID {
			active[k.Alg] = sk
		}
	}
	if current != nil {
		secrets = append([][]byte{current.Private}, secrets...)
	}
	if len(active) == 0 {
		return errors.New("keys: no active signing key")
	}
	doc, err := json.Marshal(jose.JSONWebKeySet{Keys: pub})
	if err != nil {
		return fmt.Errorf("keys: marshal jwks: %w", err)
	}
	m.mu.Lock()
	m.active, m.byKID, m.jwks, m.secrets, m.loaded = active, byKID, doc, secrets, now
	m.mu.Unlock()
	return nil
}

// refreshIfStale reloads when the set is older than the reload period.
func (m *Manager) refreshIfStale(ctx context.Context) {
	m.mu.RLock()
	stale := m.cfg.Now().Sub(m.loaded) > m.cfg.Reload
	m.mu.RUnlock()
	if stale {
		_ = m.reload(ctx) // keep serving the old set if the store is down
	}
}

// JWKS returns the JSON Web Key Set document.
func (m *Manager) JWKS(ctx context.Context) []byte {
	m.refreshIfStale(ctx)
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.jwks
}

// Secret returns the current 32-byte sealing secret.
func (m *Manager) Secret() []byte {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if len(m.secrets) == 0 {
		return nil
	}
	return m.secrets[0]
}

// Secrets returns every unexpired sealing secret, the current one first:
// values sealed with a retired secret still open during the overlap.
func (m *Manager) Secrets() [][]byte {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.secrets
}

// Sign serialises payload as a compact JWS with the active key for alg and
// the given typ header ("JWT", "at+jwt", …).
func (m *Manager) Sign(ctx context.Context, alg, typ string, payload []byte) (string, error) {
	m.refreshIfStale(ctx)
	m.mu.RLock()
	sk := m.active[alg]
	m.mu.RUnlock()
	if sk == nil {
		return "", fmt.Errorf("keys: no active key for %q", alg)
	}
	signer := sk.signers[typ]
	if signer == nil {
		return "", fmt.Errorf("keys: unsupported typ %q", typ)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("keys: sign: %w", err)
	}
	return jws.CompactSerialize()
}

// Verify checks a compact JWS signed by one of our published keys and
// returns its payload and header typ. Only our algorithms are accepted
// ("none" and HMAC never are).
func (m *Manager) Verify(ctx context.Context, compact string) (payload []byte, typ string, err error) {
	algs := make([]jose.SignatureAlgorithm, len(Algorithms()))
	for i, a := range Algorithms() {
		algs[i] = jose.SignatureAlgorithm(a)
	}
	m.refreshIfStale(ctx)
	jws, err := jose.ParseSignedCompact(compact, algs)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", ErrInvalidSignature, err)
	}
	if len(jws.Signatures) != 1 {
		return nil, "", ErrInvalidSignature
	}
	h := jws.Signatures[0].Header
	sk := m.lookup(h.KeyID)
	if sk == nil {
		m.mu.Lock()
		retry := m.cfg.Now().Sub(m.lastTry) > 5*time.Second
		if retry {
			m.lastTry = m.cfg.Now()
		}
		m.mu.Unlock()
		if retry {
			_ = m.reload(ctx)
			sk = m.lookup(h.KeyID)
		}
	}
	if sk == nil || (!sk.expires.IsZero() && !m.cfg.Now().Before(sk.expires)) {
		return nil, "", ErrUnknownKey
	}
	if h.Algorithm != sk.alg {
		return nil, "", ErrInvalidSignature
	}
	p, err := jws.Verify(sk.public)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", ErrInvalidSignature, err)
	}
	t, _ := h.ExtraHeaders[jose.HeaderType].(string)
	return p, t, nil
}

func (m *Manager) lookup(kid string) *signingKey {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.byKID[kid]
}
