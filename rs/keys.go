package rs

import (
	"context"
	"errors"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"
)

// keySet is an immutable snapshot of the provider's signing keys.
type keySet struct {
	byKID map[string]jose.JSONWebKey
	all   []jose.JSONWebKey
}

// fetchKeys fetches the JWKS, keeping the public signing keys only: an
// encryption key, a symmetric key or a malformed key is never used to
// verify.
func (v *Verifier) fetchKeys(ctx context.Context) (*keySet, error) {
	var set jose.JSONWebKeySet
	if err := v.getJSON(ctx, v.jwksURI, &set); err != nil {
		return nil, fmt.Errorf("rs: jwks: %w", err)
	}
	ks := &keySet{byKID: map[string]jose.JSONWebKey{}}
	for _, k := range set.Keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		if _, symmetric := k.Key.([]byte); symmetric {
			continue
		}
		k = k.Public()
		if !k.Valid() {
			continue
		}
		ks.all = append(ks.all, k)
		if k.KeyID != "" {
			ks.byKID[k.KeyID] = k
		}
	}
	return ks, nil
}

// candidates returns the keys that may have signed a token with kid and
// alg: the key with that kid, or every key when the token names none.
func (ks *keySet) candidates(kid string) []jose.JSONWebKey {
	if kid == "" {
		return ks.all
	}
	if k, ok := ks.byKID[kid]; ok {
		return []jose.JSONWebKey{k}
	}
	return nil
}

var errNoKey = errors.New("no key")

func verifyWith(jws *jose.JSONWebSignature, keys []jose.JSONWebKey, alg string) error {
	if len(keys) == 0 {
		return errNoKey
	}
	var err error
	for _, k := range keys {
		if k.Algorithm != "" && k.Algorithm != alg {
			err = fmt.Errorf("key %q is for %s, not %s", k.KeyID, k.Algorithm, alg)
			continue
		}
		if _, err = jws.Verify(k); err == nil {
			return nil
		}
	}
	return err
}

// verifySignature verifies jws with the cached keys. A kid the cache does
// not know, or a token without kid that no cached key verifies, triggers
// one JWKS fetch, at most once per minimum refresh interval.
func (v *Verifier) verifySignature(ctx context.Context, jws *jose.JSONWebSignature, kid, alg string) error {
	ks := v.keys.Load()
	err := verifyWith(jws, ks.candidates(kid), alg)
	if err == nil {
		return nil
	}
	if kid != "" && !errors.Is(err, errNoKey) {
		return fmt.Errorf("%w: %w", ErrInvalidSignature, err)
	}
	ks, ferr := v.refresh(ctx, ks)
	if err = verifyWith(jws, ks.candidates(kid), alg); err == nil {
		return nil
	}
	if errors.Is(err, errNoKey) && kid != "" {
		if ferr != nil {
			return fmt.Errorf("%w: kid %q: %w", ErrUnknownKey, kid, ferr)
		}
		return fmt.Errorf("%w: kid %q", ErrUnknownKey, kid)
	}
	return fmt.Errorf("%w: %w", ErrInvalidSignature, errors.Join(err, ferr))
}

var errRateLimited = errors.New("jwks fetched too recently")

// refresh refetches the JWKS unless it was fetched within the minimum
// refresh interval, or another caller refreshed it since seen was loaded.
// It returns the current key set, and why it did not fetch or the fetch
// failed.
func (v *Verifier) refresh(ctx context.Context, seen *keySet) (*keySet, error) {
	select {
	case v.fetching <- struct{}{}:
	case <-ctx.Done():
		return seen, ctx.Err()
	}
	defer func() { <-v.fetching }()
	if cur := v.keys.Load(); cur != seen {
		return cur, nil
	}
	if now := v.now(); now.Sub(v.lastFetch) < v.minRefresh {
		return seen, errRateLimited
	}
	ks, err := v.fetchKeys(ctx)
	v.lastFetch = v.now()
	if err != nil {
		return seen, err
	}
	v.keys.Store(ks)
	return ks, nil
}
