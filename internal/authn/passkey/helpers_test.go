package passkey

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stepup-oidc/stepup/internal/authn"
	"github.com/stepup-oidc/stepup/internal/authn/passkey/softauthn"
	"github.com/stepup-oidc/stepup/internal/store"
	"github.com/stepup-oidc/stepup/internal/store/sqlite"
)

const (
	testRPID   = "localhost"
	testOrigin = "http://localhost:8080"
)

// sealed is the test sealer's envelope: JSON + base64, purpose checked, no
// secrecy (the real sealer is AES-GCM with expiry).
type sealed struct {
	Purpose string          `json:"p"`
	Value   json.RawMessage `json:"v"`
}

func testSeal(purpose string, v any) (string, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(sealed{Purpose: purpose, Value: raw})
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

var errBadSeal = errors.New("test: bad seal")

func testUnseal(purpose, s string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return fmt.Errorf("%w: %w", errBadSeal, err)
	}
	var env sealed
	if err := json.Unmarshal(b, &env); err != nil {
		return fmt.Errorf("%w: %w", errBadSeal, err)
	}
	if env.Purpose != purpose {
		return fmt.Errorf("%w: purpose %q, want %q", errBadSeal, env.Purpose, purpose)
	}
	return json.Unmarshal(env.Value, v)
}

// openState decodes a login state (tests only: the test sealer is readable).
func openState(t testing.TB, state string) loginState {
	t.Helper()
	var st loginState
	if err := testUnseal(purposeLogin, state, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// reseal re-encodes a modified login state, as an attacker without the
// sealing key could not.
func reseal(t testing.TB, st loginState) string {
	t.Helper()
	s, err := testSeal(purposeLogin, st)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// env is one relying party with a store, a clock and a log.
type env struct {
	t     testing.TB
	m     *Method
	store store.Credentials
	log   *syncBuffer
	users map[string]User
}

type envOptions struct {
	roots [][]byte
	store store.Credentials // nil: a fresh SQLite store
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	st := o.store
	if st == nil {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
		if err != nil {
			t.Fatalf("sqlite.Open: %v", err)
		}
		t.Cleanup(func() { db.Close() })
		st = db
	}
	logs := &syncBuffer{}
	m, err := New(Config{
		RPID:             testRPID,
		RPDisplayName:    "Stepup",
		RPOrigins:        []string{testOrigin},
		Store:            st,
		AttestationRoots: o.roots,
		Seal:             testSeal,
		Unseal:           testUnseal,
		Now:              func() time.Time { return time.Now().Truncate(time.Second) },
		Logger:           slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &env{t: t, m: m, store: st, log: logs, users: map[string]User{}}
}

func (e *env) user(id string) User {
	u := User{ID: id, Username: id + "@example.com", DisplayName: "User " + id}
	e.users[id] = u
	return u
}

func (e *env) creds(u User) []store.Credential {
	e.t.Helper()
	cs, err := e.store.ListCredentials(context.Background(), u.ID)
	if err != nil {
		e.t.Fatalf("ListCredentials: %v", err)
	}
	return cs
}

func (e *env) lookup(ctx context.Context, handle []byte) (User, []store.Credential, error) {
	u, ok := e.users[string(handle)]
	if !ok {
		return User{}, nil, fmt.Errorf("user %q: %w", handle, store.ErrNotFound)
	}
	cs, err := e.store.ListCredentials(ctx, u.ID)
	return u, cs, err
}

// register enrolls a passkey of a for u, failing the test on error.
func (e *env) register(u User, a *softauthn.Authenticator) store.Credential {
	e.t.Helper()
	c, err := e.tryRegister(u, a)
	if err != nil {
		e.t.Fatalf("register: %v", err)
	}
	return c
}

func (e *env) tryRegister(u User, a *softauthn.Authenticator) (store.Credential, error) {
	e.t.Helper()
	ctx := context.Background()
	opts, state, err := e.m.BeginRegistration(ctx, u, e.creds(u))
	if err != nil {
		e.t.Fatalf("BeginRegistration: %v", err)
	}
	resp, err := a.Create(opts)
	if err != nil {
		e.t.Fatalf("softauthn Create: %v", err)
	}
	return e.m.FinishRegistration(ctx, u, state, resp)
}

// assert runs a login ceremony: known user when u is non-nil, username-less
// otherwise.
func (e *env) assert(u *User, a *softauthn.Authenticator, bind []byte) (string, authnResult, error) {
	e.t.Helper()
	ctx := context.Background()
	var creds []store.Credential
	if u != nil {
		creds = e.creds(*u)
	}
	opts, state, err := e.m.BeginLogin(ctx, u, creds, bind)
	if err != nil {
		e.t.Fatalf("BeginLogin: %v", err)
	}
	resp, err := a.Get(opts)
	if err != nil {
		e.t.Fatalf("softauthn Get: %v", err)
	}
	id, ev, err := e.m.FinishLogin(ctx, state, resp, e.lookup)
	return id, authnResult{ev: ev, state: state, resp: resp, opts: opts}, err
}

type authnResult struct {
	ev    authn.Event
	state string
	resp  []byte
	opts  []byte
}

// testCA is an attestation root and a leaf for an authenticator model.
type testCA struct {
	rootPEM []byte
	att     *softauthn.Attestation
}

func newTestCA(t *testing.T, aaguid [16]byte) testCA {
	t.Helper()
	now := time.Now()
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rootTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Test Attestation Root", Organization: []string{"Test"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	root, err := x509.ParseCertificate(rootDER)
	if err != nil {
		t.Fatal(err)
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject: pkix.Name{
			Country:            []string{"SE"},
			Organization:       []string{"Test Vendor"},
			OrganizationalUnit: []string{"Authenticator Attestation"},
			CommonName:         "Test Authenticator",
		},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		BasicConstraintsValid: true,
		IsCA:                  false,
		KeyUsage:              x509.KeyUsageDigitalSignature,
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, root, &leafKey.PublicKey, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	return testCA{
		rootPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rootDER}),
		att:     &softauthn.Attestation{Key: leafKey, Chain: [][]byte{leafDER}},
	}
}
