package keys_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"

	"github.com/stepup-oidc/stepup/internal/keys"
	"github.com/stepup-oidc/stepup/internal/store"
	"github.com/stepup-oidc/stepup/internal/store/sqlite"
)

// clock is a settable time source shared by the managers of one test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

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

func openStore(t testing.TB) store.Keys {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// newManager returns a Manager over st on which Ensure has run.
func newManager(t testing.TB, st store.Keys, clk *clock, overlap time.Duration) *keys.Manager {
	t.Helper()
	m, err := keys.New(keys.Config{Store: st, Overlap: overlap, Now: clk.Now})
	if err != nil {
		t.Fatalf("keys.New: %v", err)
	}
	if err := m.Ensure(context.Background()); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	return m
}

func listKeys(t *testing.T, st store.Keys) []store.Key {
	t.Helper()
	ks, err := st.ListKeys(context.Background())
	if err != nil {
		t.Fatalf("ListKeys: %v", err)
	}
	return ks
}

// activeKIDs returns the kid of every active signing key, by alg.
func activeKIDs(t *testing.T, st store.Keys) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, k := range listKeys(t, st) {
		if k.Use == "sig" && k.RetiredAt.IsZero() {
			if _, dup := out[k.Alg]; dup {
				t.Fatalf("two active %s keys", k.Alg)
			}
			out[k.Alg] = k.ID
		}
	}
	return out
}

// jwks parses the published key set.
func jwks(t *testing.T, m *keys.Manager) jose.JSONWebKeySet {
	t.Helper()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(m.JWKS(context.Background()), &set); err != nil {
		t.Fatalf("JWKS is not a key set: %v", err)
	}
	return set
}

func kids(set jose.JSONWebKeySet) []string {
	var out []string
	for _, k := range set.Keys {
		out = append(out, k.KeyID)
	}
	slices.Sort(out)
	return out
}

// header decodes the protected header of a compact JWS.
func header(t *testing.T, compact string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(compact, ".")[0])
	if err != nil {
		t.Fatalf("header: %v", err)
	}
	var h map[string]any
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatalf("header: %v", err)
	}
	return h
}

func sign(t *testing.T, m *keys.Manager, alg, typ string, payload string) string {
	t.Helper()
	s, err := m.Sign(context.Background(), alg, typ, []byte(payload))
	if err != nil {
		t.Fatalf("Sign(%s, %s): %v", alg, typ, err)
	}
	return s
}

func wantVerified(t *testing.T, m *keys.Manager, compact, wantPayload, wantTyp string) {
	t.Helper()
	p, typ, err := m.Verify(context.Background(), compact)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if string(p) != wantPayload || typ != wantTyp {
		t.Fatalf("Verify = %q, %q; want %q, %q", p, typ, wantPayload, wantTyp)
	}
}

func TestEnsureCreatesOneActiveKeyPerAlgorithmAndASecret(t *testing.T) {
	st := openStore(t)
	clk := newClock()
	m := newManager(t, st, clk, time.Hour)

	first := listKeys(t, st)
	var got []string
	for _, k := range first {
		if !k.RetiredAt.IsZero() || !k.ExpiresAt.IsZero() {
			t.Errorf("key %s %s is retired after Ensure", k.Alg, k.ID)
		}
		if !k.CreatedAt.Equal(clk.Now()) {
			t.Errorf("key %s created at %v, want the injected clock %v", k.Alg, k.CreatedAt, clk.Now())
		}
		got = append(got, k.Use+" "+k.Alg)
	}
	slices.Sort(got)
	if diff := cmp.Diff([]string{"enc A256GCM", "sig ES256", "sig EdDSA", "sig RS256"}, got); diff != "" {
		t.Fatalf("keys after Ensure (-want +got):\n%s", diff)
	}
	if n := len(m.Secret()); n != 32 {
		t.Errorf("Secret() has %d bytes, want 32", n)
	}
	if diff := cmp.Diff(keys.Algorithms(), []string{"ES256", "RS256", "EdDSA"}); diff != "" {
		t.Errorf("Algorithms (-want +got):\n%s", diff)
	}

	t.Run("a second Ensure creates nothing", func(t *testing.T) {
		clk.Advance(time.Minute)
		if err := m.Ensure(context.Background()); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(first, listKeys(t, st)); diff != "" {
			t.Errorf("keys changed (-before +after):\n%s", diff)
		}
	})
	t.Run("Ensure by another node creates nothing and shares the secret", func(t *testing.T) {
		other := newManager(t, st, clk, time.Hour)
		if diff := cmp.Diff(first, listKeys(t, st)); diff != "" {
			t.Errorf("keys changed (-before +after):\n%s", diff)
		}
		if !slices.Equal(other.Secret(), m.Secret()) {
			t.Error("the two nodes have different sealing secrets")
		}
	})
}

func TestJWKSPublishesOnlyPublicSigningKeys(t *testing.T) {
	st := openStore(t)
	m := newManager(t, st, newClock(), time.Hour)
	set := jwks(t, m)
	active := activeKIDs(t, st)
	if len(set.Keys) != len(keys.Algorithms()) {
		t.Fatalf("JWKS has %d keys, want %d", len(set.Keys), len(keys.Algorithms()))
	}
	for _, k := range set.Keys {
		if !k.IsPublic() {
			t.Errorf("JWKS key %s is not public", k.KeyID)
		}
		if k.Use != "sig" || active[k.Algorithm] != k.KeyID {
			t.Errorf("JWKS key %s: alg %s use %s, want the active key of its alg with use sig", k.KeyID, k.Algorithm, k.Use)
		}
	}
	raw := string(m.JWKS(context.Background()))
	for _, private := range []string{`"d":`, `"p":`, `"q":`, `"dp":`, `"k":`} {
		if strings.Contains(raw, private) {
			t.Errorf("JWKS contains private member %s: %s", private, raw)
		}
	}
}

func TestSignVerifyRoundTrip(t *testing.T) {
	st := openStore(t)
	m := newManager(t, st, newClock(), time.Hour)
	active := activeKIDs(t, st)
	for _, alg := range keys.Algorithms() {
		for _, typ := range []string{"JWT", "at+jwt", "logout+jwt"} {
			t.Run(alg+" "+typ+" round-trips", func(t *testing.T) {
				payload := `{"iss":"https://op.example","alg":"` + alg + `"}`
				jws := sign(t, m, alg, typ, payload)
				h := header(t, jws)
				want := map[string]any{"alg": alg, "kid": active[alg], "typ": typ}
				if diff := cmp.Diff(want, h); diff != "" {
					t.Errorf("header (-want +got):\n%s", diff)
				}
				wantVerified(t, m, jws, payload, typ)
			})
		}
	}
	t.Run("an unknown typ is refused", func(t *testing.T) {
		if _, err := m.Sign(context.Background(), "ES256", "JOSE", []byte("{}")); err == nil || !strings.Contains(err.Error(), `unsupported typ "JOSE"`) {
			t.Errorf("Sign with typ JOSE: %v, want unsupported typ", err)
		}
	})
	t.Run("an unknown alg is refused", func(t *testing.T) {
		if _, err := m.Sign(context.Background(), "HS256", "JWT", []byte("{}")); err == nil || !strings.Contains(err.Error(), `no active key for "HS256"`) {
			t.Errorf("Sign with HS256: %v, want no active key", err)
		}
	})
}

// compact assembles a compact JWS from a header, a payload and a signer.
func compact(t *testing.T, h map[string]any, payload string, sig func(signingInput []byte) []byte) string {
	t.Helper()
	hb, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	in := base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString([]byte(payload))
	return in + "." + base64.RawURLEncoding.EncodeToString(sig([]byte(in)))
}

func hs256(secret []byte) func([]byte) []byte {
	return func(in []byte) []byte {
		mac := hmac.New(sha256.New, secret)
		mac.Write(in)
		return mac.Sum(nil)
	}
}

func TestVerifyRejects(t *testing.T) {
	st := openStore(t)
	clk := newClock()
	m := newManager(t, st, clk, time.Hour)
	active := activeKIDs(t, st)
	set := jwks(t, m)
	pubOf := func(alg string) jose.JSONWebKey {
		t.Helper()
		for _, k := range set.Keys {
			if k.Algorithm == alg {
				return k
			}
		}
		t.Fatalf("no %s key in the JWKS", alg)
		return jose.JSONWebKey{}
	}
	rsaPub := pubOf("RS256")
	spki, err := x509.MarshalPKIXPublicKey(rsaPub.Key)
	if err != nil {
		t.Fatal(err)
	}
	rsaPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki})
	rsaJWK, err := rsaPub.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	good := sign(t, m, "ES256", "at+jwt", `{"sub":"alice"}`)
	parts := strings.Split(good, ".")

	// foreign is an ES256 key we never published.
	foreign, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	foreignSigned := func(kid string) string {
		t.Helper()
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: foreign, KeyID: kid}},
			(&jose.SignerOptions{}).WithType("at+jwt"))
		if err != nil {
			t.Fatal(err)
		}
		jws, err := s.Sign([]byte(`{"sub":"admin"}`))
		if err != nil {
			t.Fatal(err)
		}
		c, err := jws.CompactSerialize()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	tests := []struct {
		name    string
		compact string
		want    error
	}{
		{name: "alg none", compact: compact(t, map[string]any{"alg": "none", "kid": active["ES256"], "typ": "at+jwt"}, `{"sub":"admin"}`,
			func([]byte) []byte { return nil }), want: keys.ErrInvalidSignature},
		{name: "HS256 keyed with the RSA public key PEM (key confusion)", compact: compact(t, map[string]any{"alg": "HS256", "kid": active["RS256"], "typ": "at+jwt"}, `{"sub":"admin"}`,
			hs256(rsaPEM)), want: keys.ErrInvalidSignature},
		{name: "HS256 keyed with the published JWK (key confusion)", compact: compact(t, map[string]any{"alg": "HS256", "kid": active["RS256"], "typ": "at+jwt"}, `{"sub":"admin"}`,
			hs256(rsaJWK)), want: keys.ErrInvalidSignature},
		{name: "HS256 keyed with the Ed25519 public key bytes (key confusion)", compact: compact(t, map[string]any{"alg": "HS256", "kid": active["EdDSA"], "typ": "at+jwt"}, `{"sub":"admin"}`,
			hs256(pubOf("EdDSA").Key.(ed25519.PublicKey))), want: keys.ErrInvalidSignature},
		{name: "a tampered payload", compact: parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"admin"}`)) + "." + parts[2],
			want: keys.ErrInvalidSignature},
		{name: "a tampered header", compact: base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"ES256","kid":"`+active["ES256"]+`","typ":"JWT"}`)) + "." + parts[1] + "." + parts[2],
			want: keys.ErrInvalidSignature},
		{name: "a truncated signature", compact: parts[0] + "." + parts[1] + "." + parts[2][:10], want: keys.ErrInvalidSignature},
		{name: "an empty signature", compact: parts[0] + "." + parts[1] + ".", want: keys.ErrInvalidSignature},
		{name: "a foreign key naming one of our kids", compact: foreignSigned(active["ES256"]), want: keys.ErrInvalidSignature},
		{name: "an ES256 signature naming our RS256 kid", compact: foreignSigned(active["RS256"]), want: keys.ErrInvalidSignature},
		{name: "an unknown kid", compact: foreignSigned("not-our-kid"), want: keys.ErrUnknownKey},
		{name: "no kid", compact: foreignSigned(""), want: keys.ErrUnknownKey},
		{name: "not a JWS", compact: "not.a.jws", want: keys.ErrInvalidSignature},
		{name: "the empty string", compact: "", want: keys.ErrInvalidSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name+" is refused", func(t *testing.T) {
			p, typ, err := m.Verify(context.Background(), tt.compact)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %q, %q, %v; want %v", p, typ, err, tt.want)
			}
			if p != nil || typ != "" {
				t.Errorf("Verify returned payload %q and typ %q with an error", p, typ)
			}
		})
	}
	// The good token still verifies: the rejections did not poison the set.
	wantVerified(t, m, good, `{"sub":"alice"}`, "at+jwt")
}

func TestRotate(t *testing.T) {
	const overlap = time.Hour
	ctx := context.Background()
	st := openStore(t)
	clk := newClock()
	m := newManager(t, st, clk, overlap)
	oldKIDs := activeKIDs(t, st)
	oldSecret := slices.Clone(m.Secret())
	before := map[string]string{}
	for _, alg := range keys.Algorithms() {
		before[alg] = sign(t, m, alg, "JWT", `{"n":"before"}`)
	}

	clk.Advance(time.Minute)
	rotatedAt := clk.Now()
	if err := m.Rotate(ctx); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	newKIDs := activeKIDs(t, st)

	t.Run("the old keys are retired with the overlap", func(t *testing.T) {
		for _, k := range listKeys(t, st) {
			if k.Use != "sig" || k.ID != oldKIDs[k.Alg] {
				continue
			}
			if !k.RetiredAt.Equal(rotatedAt) || !k.ExpiresAt.Equal(rotatedAt.Add(overlap)) {
				t.Errorf("%s: retired %v expires %v, want %v and %v", k.Alg, k.RetiredAt, k.ExpiresAt, rotatedAt, rotatedAt.Add(overlap))
			}
		}
	})
	t.Run("the sealing secret is kept", func(t *testing.T) {
		if !slices.Equal(oldSecret, m.Secret()) {
			t.Error("Rotate changed the sealing secret")
		}
	})
	t.Run("tokens signed before the rotation still verify", func(t *testing.T) {
		for _, jws := range before {
			wantVerified(t, m, jws, `{"n":"before"}`, "JWT")
		}
	})
	t.Run("the JWKS holds the old and the new keys", func(t *testing.T) {
		var want []string
		for _, alg := range keys.Algorithms() {
			want = append(want, oldKIDs[alg], newKIDs[alg])
		}
		slices.Sort(want)
		if diff := cmp.Diff(want, kids(jwks(t, m))); diff != "" {
			t.Errorf("JWKS kids (-want +got):\n%s", diff)
		}
	})
	t.Run("new signatures use the new kid", func(t *testing.T) {
		for _, alg := range keys.Algorithms() {
			jws := sign(t, m, alg, "JWT", `{"n":"after"}`)
			if kid := header(t, jws)["kid"]; kid != newKIDs[alg] || kid == oldKIDs[alg] {
				t.Errorf("%s: signed with kid %v, want the new %s (old %s)", alg, kid, newKIDs[alg], oldKIDs[alg])
			}
			wantVerified(t, m, jws, `{"n":"after"}`, "JWT")
		}
	})
	t.Run("the old key is published until just before the overlap ends", func(t *testing.T) {
		clk.Advance(overlap - time.Second)
		if got := len(jwks(t, m).Keys); got != 2*len(keys.Algorithms()) {
			t.Errorf("JWKS has %d keys one second before the overlap ends, want %d", got, 2*len(keys.Algorithms()))
		}
		clk.Advance(time.Second)
	})
	t.Run("after the overlap the old key leaves the JWKS", func(t *testing.T) {
		clk.Advance(2 * time.Minute) // past the reload period as well
		var want []string
		for _, k := range newKIDs {
			want = append(want, k)
		}
		slices.Sort(want)
		if diff := cmp.Diff(want, kids(jwks(t, m))); diff != "" {
			t.Errorf("JWKS kids (-want +got):\n%s", diff)
		}
	})
	t.Run("after the overlap tokens of the old key fail with ErrUnknownKey", func(t *testing.T) {
		for alg, jws := range before {
			if _, _, err := m.Verify(ctx, jws); !errors.Is(err, keys.ErrUnknownKey) {
				t.Errorf("%s: Verify = %v, want ErrUnknownKey", alg, err)
			}
		}
	})
	t.Run("a second rotation keeps every key of the first", func(t *testing.T) {
		clk.Advance(time.Minute)
		if err := m.Rotate(ctx); err != nil {
			t.Fatal(err)
		}
		if got := len(jwks(t, m).Keys); got != 2*len(keys.Algorithms()) {
			t.Errorf("JWKS has %d keys, want %d", got, 2*len(keys.Algorithms()))
		}
	})
}

// Verify must not accept a key past its overlap even when nothing else
// (JWKS, Sign) has made the manager reload since the key expired.
func TestVerifyRefusesExpiredKeyWithoutPriorReload(t *testing.T) {
	const overlap = time.Hour
	ctx := context.Background()
	st := openStore(t)
	clk := newClock()
	m := newManager(t, st, clk, overlap)
	old := sign(t, m, "ES256", "JWT", `{}`)
	if err := m.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	clk.Advance(overlap + 2*time.Minute)
	if _, _, err := m.Verify(ctx, old); !errors.Is(err, keys.ErrUnknownKey) {
		t.Fatalf("Verify of a token whose key expired = %v, want ErrUnknownKey", err)
	}
}

func TestAnotherNodeSeesRotation(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	clk := newClock()
	a := newManager(t, st, clk, time.Hour)
	b := newManager(t, st, clk, time.Hour)
	oldKIDs := activeKIDs(t, st)

	clk.Advance(10 * time.Second)
	if err := a.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	newKIDs := activeKIDs(t, st)

	t.Run("a token of the rotated key verifies on the other node (reload on unknown kid)", func(t *testing.T) {
		for _, alg := range keys.Algorithms() {
			jws := sign(t, a, alg, "at+jwt", `{"node":"a"}`)
			wantVerified(t, b, jws, `{"node":"a"}`, "at+jwt")
		}
	})
	t.Run("the other node signs with the new key after its reload period", func(t *testing.T) {
		clk.Advance(2 * time.Minute)
		for _, alg := range keys.Algorithms() {
			kid := header(t, sign(t, b, alg, "JWT", `{}`))["kid"]
			if kid != newKIDs[alg] || kid == oldKIDs[alg] {
				t.Errorf("%s: node b signs with %v, want %s", alg, kid, newKIDs[alg])
			}
		}
	})
	t.Run("reloads on unknown kids are throttled to one every five seconds", func(t *testing.T) {
		// b reloaded for the previous subtest's unknown kid; make it try once more now.
		if _, _, err := b.Verify(ctx, compact(t, map[string]any{"alg": "ES256", "kid": "nope"}, "{}", func([]byte) []byte { return make([]byte, 64) })); !errors.Is(err, keys.ErrUnknownKey) {
			t.Fatalf("Verify with an unknown kid = %v, want ErrUnknownKey", err)
		}
		if err := a.Rotate(ctx); err != nil {
			t.Fatal(err)
		}
		jws := sign(t, a, "EdDSA", "JWT", `{}`)
		if _, _, err := b.Verify(ctx, jws); !errors.Is(err, keys.ErrUnknownKey) {
			t.Errorf("Verify within 5s of the last reload = %v, want ErrUnknownKey", err)
		}
		clk.Advance(6 * time.Second)
		wantVerified(t, b, jws, `{}`, "JWT")
	})
}

func TestConcurrentSignVerifyDuringRotation(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	clk := newClock()
	m := newManager(t, st, clk, time.Hour)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 8 {
		wg.Go(func() {
			alg := keys.Algorithms()[i%len(keys.Algorithms())]
			for range 20 {
				jws, err := m.Sign(ctx, alg, "at+jwt", []byte(`{}`))
				if err != nil {
					errs <- err
					return
				}
				if _, _, err := m.Verify(ctx, jws); err != nil {
					errs <- err
					return
				}
				_ = m.JWKS(ctx)
			}
		})
	}
	wg.Go(func() {
		for range 3 {
			clk.Advance(time.Second)
			if err := m.Rotate(ctx); err != nil {
				errs <- err
				return
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent use: %v", err)
	}
	if got := len(jwks(t, m).Keys); got != 4*len(keys.Algorithms()) {
		t.Errorf("JWKS has %d keys after three rotations within the overlap, want %d", got, 4*len(keys.Algorithms()))
	}
}

func TestNewRequiresAStore(t *testing.T) {
	if _, err := keys.New(keys.Config{}); err == nil || !strings.Contains(err.Error(), "nil store") {
		t.Errorf("New without a store = %v, want a nil store error", err)
	}
}

func TestGenerate(t *testing.T) {
	at := newClock().Now()
	tests := []struct {
		alg     string
		wantUse string
		wantErr string
	}{
		{alg: "ES256", wantUse: "sig"},
		{alg: "RS256", wantUse: "sig"},
		{alg: "EdDSA", wantUse: "sig"},
		{alg: "A256GCM", wantUse: "enc"},
		{alg: "HS256", wantErr: `unsupported algorithm "HS256"`},
		{alg: "none", wantErr: `unsupported algorithm "none"`},
	}
	for _, tt := range tests {
		t.Run("Generate "+tt.alg, func(t *testing.T) {
			k, err := keys.Generate(tt.alg, at)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Generate(%s) = %v, want %q", tt.alg, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if k.ID == "" || k.Use != tt.wantUse || k.Alg != tt.alg || !k.CreatedAt.Equal(at) || len(k.Private) == 0 {
				t.Errorf("Generate(%s) = %+v", tt.alg, k)
			}
			if tt.wantUse == "sig" {
				var jwk jose.JSONWebKey
				if err := jwk.UnmarshalJSON(k.Private); err != nil {
					t.Fatalf("private key is not a JWK: %v", err)
				}
				if jwk.IsPublic() || jwk.KeyID != k.ID || jwk.Algorithm != tt.alg {
					t.Errorf("JWK: public=%v kid=%s alg=%s", jwk.IsPublic(), jwk.KeyID, jwk.Algorithm)
				}
			} else if len(k.Private) != 32 {
				t.Errorf("secret has %d bytes, want 32", len(k.Private))
			}
		})
	}
}

func BenchmarkSign(b *testing.B) {
	m := newManager(b, openStore(b), newClock(), time.Hour)
	payload := []byte(`{"iss":"https://op.example","sub":"248289761001","aud":"app","exp":1767268800,"iat":1767265200}`)
	for _, alg := range keys.Algorithms() {
		b.Run(alg, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.Sign(context.Background(), alg, "JWT", payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
