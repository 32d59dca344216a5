package rp

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// supportedAlgs is the allow-list of ID token signature algorithms.
func supportedAlgs() []jose.SignatureAlgorithm {
	return []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.EdDSA}
}

// allowedAlgs intersects the allow-list with what the provider advertises
// (all of the allow-list when it advertises nothing).
func allowedAlgs(advertised []string) []jose.SignatureAlgorithm {
	if len(advertised) == 0 {
		return supportedAlgs()
	}
	var out []jose.SignatureAlgorithm
	for _, a := range supportedAlgs() {
		if slices.Contains(advertised, string(a)) {
			out = append(out, a)
		}
	}
	return out
}

const (
	// refetchInterval is the least time between two JWKS fetches caused
	// by an unknown kid, so that forged tokens cannot make us hammer the
	// provider.
	refetchInterval = 30 * time.Second
	// maxKeysAge is how long a fetched set is used before it is fetched
	// again, so that a key the provider withdrew stops verifying.
	maxKeysAge = time.Hour
)

// keySet is the provider's JWKS, fetched on first use and again when a
// token names a key it does not hold (rate-limited).
type keySet struct {
	hc   *http.Client
	uri  string
	algs []jose.SignatureAlgorithm
	now  func() time.Time

	mu      sync.Mutex
	keys    []jose.JSONWebKey
	fetched time.Time // zero: never fetched successfully
	tried   time.Time // last fetch attempt
}

func newKeySet(hc *http.Client, uri string, algs []jose.SignatureAlgorithm, now func() time.Time) *keySet {
	return &keySet{hc: hc, uri: uri, algs: algs, now: now}
}

var errUnknownKey = errors.New("no provider key matches the token's kid and alg")

// verify checks the signature of a compact JWS and returns its payload.
func (ks *keySet) verify(ctx context.Context, raw string) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(raw, ks.algs)
	if err != nil {
		return nil, err
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("want exactly one signature")
	}
	h := jws.Signatures[0].Protected
	if typ, ok := h.ExtraHeaders[jose.HeaderType].(string); ok && !strings.EqualFold(typ, "JWT") {
		// at+jwt, logout+jwt and the like are never ID tokens.
		return nil, fmt.Errorf("typ %q is not an ID token", typ)
	}
	alg := jose.SignatureAlgorithm(h.Algorithm)
	for attempt := 0; attempt < 2; attempt++ {
		candidates, err := ks.candidates(ctx, h.KeyID, alg, attempt == 1)
		if err != nil {
			return nil, err
		}
		for _, k := range candidates {
			if payload, err := jws.Verify(k); err == nil {
				return payload, nil
			}
		}
		if len(candidates) > 0 {
			// A known key that does not verify: a bad signature, not a
			// rotation. Do not refetch.
			return nil, errors.New("signature does not verify")
		}
	}
	return nil, errUnknownKey
}

// candidates returns the cached keys usable for kid and alg, fetching
// the set first when it was never fetched or is older than maxKeysAge, or
// when refresh is set; a fetch is attempted at most every refetchInterval
// once a set is cached.
func (ks *keySet) candidates(ctx context.Context, kid string, alg jose.SignatureAlgorithm, refresh bool) ([]jose.JSONWebKey, error) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	now := ks.now()
	stale := refresh || now.Sub(ks.fetched) >= maxKeysAge
	if ks.fetched.IsZero() || (stale && now.Sub(ks.tried) >= refetchInterval) {
		ks.tried = now
		keys, err := ks.fetch(ctx)
		if err != nil {
			if ks.fetched.IsZero() {
				return nil, err
			}
			// Keep serving the cached set when a refetch fails.
		} else {
			ks.keys, ks.fetched = keys, now
		}
	}
	var out []jose.JSONWebKey
	for _, k := range ks.keys {
		if (kid == "" || k.KeyID == kid) && keyFits(k, alg) {
			out = append(out, k)
		}
	}
	return out, nil
}

// keyFits reports whether k is a public signing key usable with alg.
func keyFits(k jose.JSONWebKey, alg jose.SignatureAlgorithm) bool {
	if k.Use != "" && k.Use != "sig" {
		return false
	}
	if k.Algorithm != "" && k.Algorithm != string(alg) {
		return false
	}
	switch k.Key.(type) {
	case *ecdsa.PublicKey:
		return alg == jose.ES256
	case *rsa.PublicKey:
		return alg == jose.RS256
	case ed25519.PublicKey:
		return alg == jose.EdDSA
	}
	return false // private or symmetric keys never verify anything here
}

// fetch downloads the JWKS, skipping keys go-jose cannot parse (a key
// type added later must not break every login).
func (ks *keySet) fetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := getJSON(ctx, ks.hc, ks.uri, &set); err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	var keys []jose.JSONWebKey
	for _, raw := range set.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err == nil && k.Valid() {
			keys = append(keys, k)
		}
	}
	return keys, nil
}
