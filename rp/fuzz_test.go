package rp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// offlineClient is a Client whose key set is already loaded with key's
// public half, so that verification needs no network.
func offlineClient(t testing.TB, key *ecdsa.PrivateKey, now time.Time) *Client {
	t.Helper()
	clock := func() time.Time { return now }
	ks := newKeySet(nil, "http://127.0.0.1:1/jwks", supportedAlgs(), clock)
	ks.keys = []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}}
	ks.fetched, ks.tried = now, now
	return &Client{cfg: Config{Issuer: "https://op.example", ClientID: "bank", Now: clock}, keys: ks}
}

func sign(t testing.TB, key *ecdsa.PrivateKey, payload []byte) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestUnsignedAndSymmetricTokensAreRefused(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	c := offlineClient(t, key, now)
	b64 := base64.RawURLEncoding.EncodeToString
	payload := b64([]byte(`{"iss":"https://op.example","sub":"alice","aud":"bank","exp":1800000300,"iat":1800000000}`))
	hs := func(secret []byte) string {
		in := b64([]byte(`{"alg":"HS256","kid":"k1"}`)) + "." + payload
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(in))
		return in + "." + b64(m.Sum(nil))
	}
	for name, raw := range map[string]string{
		"alg_none":                            b64([]byte(`{"alg":"none"}`)) + "." + payload + ".",
		"hs256_with_the_public_key_as_secret": hs(elliptic.MarshalCompressed(elliptic.P256(), key.X, key.Y)),
		"garbage":                             "not.a.jwt",
		"two_parts":                           strings.Join(strings.Split(sign(t, key, []byte("{}")), ".")[:2], "."),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := c.verifyIDToken(t.Context(), raw, ""); !errors.Is(err, ErrInvalidIDToken) {
				t.Fatalf("verifyIDToken = %v, want ErrInvalidIDToken", err)
			}
		})
	}
	good := sign(t, key, []byte(`{"iss":"https://op.example","sub":"alice","aud":"bank","exp":1800000300,"iat":1800000000}`))
	if cl, err := c.verifyIDToken(t.Context(), good, ""); err != nil || cl.Subject != "alice" {
		t.Fatalf("the control token: %v %v", cl, err)
	}
}

// FuzzVerifyIDToken signs arbitrary payloads and verifies them: claim
// parsing must never panic, and what passes must satisfy every rule.
func FuzzVerifyIDToken(f *testing.F) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	c := offlineClient(f, key, now)
	for _, s := range []string{
		`{"iss":"https://op.example","sub":"alice","aud":"bank","exp":1800000300,"iat":1800000000,"nonce":"n"}`,
		`{"iss":"https://op.example","sub":"alice","aud":["bank","x"],"azp":"bank","exp":1.8e9,"iat":1800000000.5,"nonce":"n","auth_time":1799999999,"amr":["pwd"]}`,
		`{"aud":7,"exp":"soon","iat":-1,"auth_time":1e300}`,
		`[]`, `null`, ``,
	} {
		f.Add([]byte(s), "n")
	}
	f.Fuzz(func(t *testing.T, payload []byte, nonce string) {
		cl, err := c.verifyIDToken(t.Context(), sign(t, key, payload), nonce)
		if err != nil {
			if !errors.Is(err, ErrInvalidIDToken) {
				t.Fatalf("error %v does not wrap ErrInvalidIDToken", err)
			}
			return
		}
		if cl.Subject == "" || (nonce != "" && cl.Nonce != nonce) {
			t.Fatalf("accepted claims %+v for nonce %q", cl, nonce)
		}
	})
}

// FuzzVerifyCompact feeds arbitrary strings to the JWS parser.
func FuzzVerifyCompact(f *testing.F) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	c := offlineClient(f, key, time.Unix(1_800_000_000, 0))
	f.Add(sign(f, key, []byte(`{"sub":"alice"}`)))
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("..")
	f.Fuzz(func(t *testing.T, raw string) {
		if _, err := c.verifyIDToken(t.Context(), raw, ""); err != nil && !errors.Is(err, ErrInvalidIDToken) {
			t.Fatalf("error %v does not wrap ErrInvalidIDToken", err)
		}
	})
}
