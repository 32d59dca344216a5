package rs

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// introspector asks an RFC 7662 endpoint about opaque tokens and caches
// the answers by the SHA-256 of the token.
type introspector struct {
	endpoint, clientID, secret string
	ttl                        time.Duration

	mu    sync.Mutex
	cache map[[32]byte]introEntry
}

type introEntry struct {
	claims *Claims // nil when err is set
	err    error   // ErrInactive or ErrWrongType
	until  time.Time
}

// maxIntrospectionCache bounds the cache: past it, expired answers are
// dropped, then the whole cache if that is not enough.
const maxIntrospectionCache = 10000

// introspect verifies an opaque token by introspection, from the cache
// when it holds a fresh answer. Claims are checked on every call, so a
// cached token still expires at its exp.
func (v *Verifier) introspect(ctx context.Context, token string) (*Claims, error) {
	in := v.intro
	key := sha256.Sum256([]byte(token))
	now := v.now()
	in.mu.Lock()
	e, ok := in.cache[key]
	in.mu.Unlock()
	if !ok || !now.Before(e.until) {
		c, err := in.ask(ctx, v.client, token)
		if errors.Is(err, ErrIntrospection) {
			return nil, err
		}
		e = introEntry{claims: c, err: err, until: now.Add(in.ttl)}
		if c != nil && !c.Expiry.IsZero() && c.Expiry.Before(e.until) {
			e.until = c.Expiry
		}
		if in.ttl > 0 {
			in.put(key, e, now)
		}
	}
	if e.err != nil {
		return nil, e.err
	}
	if err := v.check(e.claims, false); err != nil {
		return nil, err
	}
	c := *e.claims
	return &c, nil
}

func (in *introspector) put(key [32]byte, e introEntry, now time.Time) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.cache) >= maxIntrospectionCache {
		for k, old := range in.cache {
			if !now.Before(old.until) {
				delete(in.cache, k)
			}
		}
		if len(in.cache) >= maxIntrospectionCache {
			clear(in.cache)
		}
	}
	in.cache[key] = e
}

// ask posts the token to the endpoint. Errors other than ErrInactive and
// ErrWrongType wrap ErrIntrospection and are not cached.
func (in *introspector) ask(ctx context.Context, client *http.Client, token string) (*Claims, error) {
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrIntrospection, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(url.QueryEscape(in.clientID), url.QueryEscape(in.secret)) // RFC 6749 §2.3.1
	res, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrIntrospection, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrIntrospection, err)
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: %s", ErrIntrospection, res.Status)
	}
	var r struct {
		Active    bool   `json:"active"`
		TokenType string `json:"token_type"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrIntrospection, err)
	}
	if !r.Active {
		return nil, ErrInactive
	}
	switch strings.ToLower(r.TokenType) {
	case "", "bearer", "access_token":
	default:
		return nil, fmt.Errorf("%w: introspection reports a %q", ErrWrongType, r.TokenType)
	}
	c, err := decodeClaims(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrIntrospection, err)
	}
	return c, nil
}
