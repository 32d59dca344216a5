package e2e

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stepup-oidc/stepup/internal/authn"
	"github.com/stepup-oidc/stepup/internal/store"
)

// countingStore counts the store's write calls (statements that change
// rows), including those made inside transactions, and the commits: a
// write outside a transaction, or a whole transaction, is one commit.
type countingStore struct {
	store.Store
	writes  *atomic.Int64
	commits *atomic.Int64 // nil inside a transaction
}

func (c countingStore) count() {
	c.writes.Add(1)
	if c.commits != nil {
		c.commits.Add(1)
	}
}
func (c countingStore) CreateSession(ctx context.Context, s store.Session) error {
	c.count()
	return c.Store.CreateSession(ctx, s)
}
func (c countingStore) AppendEvent(ctx context.Context, id string, e authn.Event) error {
	c.count()
	return c.Store.AppendEvent(ctx, id, e)
}
func (c countingStore) RotateSessionHandle(ctx context.Context, id, o, n string) error {
	c.count()
	return c.Store.RotateSessionHandle(ctx, id, o, n)
}
func (c countingStore) CreateCode(ctx context.Context, v store.Code) error {
	c.count()
	return c.Store.CreateCode(ctx, v)
}
func (c countingStore) ConsumeCode(ctx context.Context, h, g string, now time.Time) (store.Code, error) {
	c.count()
	return c.Store.ConsumeCode(ctx, h, g, now)
}
func (c countingStore) CreateGrant(ctx context.Context, g store.Grant) error {
	c.count()
	return c.Store.CreateGrant(ctx, g)
}
func (c countingStore) RevokeGrant(ctx context.Context, id string, at time.Time) error {
	c.count()
	return c.Store.RevokeGrant(ctx, id, at)
}
func (c countingStore) CreateRefreshToken(ctx context.Context, rt store.RefreshToken) error {
	c.count()
	return c.Store.CreateRefreshToken(ctx, rt)
}
func (c countingStore) UseRefreshToken(ctx context.Context, h string, now time.Time) (store.RefreshToken, error) {
	c.count()
	return c.Store.UseRefreshToken(ctx, h, now)
}
func (c countingStore) Tx(ctx context.Context, fn func(store.Store) error) error {
	if c.commits != nil {
		c.commits.Add(1)
	}
	return c.Store.Tx(ctx, func(tx store.Store) error { return fn(countingStore{Store: tx, writes: c.writes}) })
}

// TestWritesPerCodeFlow pins how many rows a complete flow writes; the
// figures are quoted in docs/benchmarks.md.
func TestWritesPerCodeFlow(t *testing.T) {
	var writes, commits atomic.Int64
	p := start(t, countingStore{Store: openSQLite(t), writes: &writes, commits: &commits}, nil)
	r := newRP(t, p, confidentialID, confidentialSecret)
	b := newBrowser(t)

	writes.Store(0)
	commits.Store(0)
	exchange(t, r, b)
	fresh, freshCommits := writes.Load(), commits.Load()

	writes.Store(0)
	commits.Store(0)
	cb, v := r.authorize(t, b, "")
	if _, err := r.oauth.Exchange(t.Context(), cb.Get("code"), oauthVerifier(v)); err != nil {
		t.Fatal(err)
	}
	sso, ssoCommits := writes.Load(), commits.Load()
	t.Logf("per code flow: fresh password login %d row writes in %d commits; with an SSO session %d row writes in %d commits",
		fresh, freshCommits, sso, ssoCommits)
	// fresh: session with its first event (1 commit); code (1 commit); the
	// token request's one transaction: consume, grant, refresh token.
	if fresh != 5 || freshCommits != 3 || sso != 4 || ssoCommits != 2 {
		t.Fatalf("fresh %d writes / %d commits (want 5 / 3), sso %d / %d (want 4 / 2)", fresh, freshCommits, sso, ssoCommits)
	}
}
