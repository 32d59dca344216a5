package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// maxCachedStmts bounds a statement cache; queries beyond it run unprepared.
// The backend's SQL texts are a small fixed set, so this is only a guard.
const maxCachedStmts = 256

// stmtCache holds statements prepared lazily on one pool, keyed by SQL
// text, so that SQLite parses each hot query once per connection instead of
// on every call. database/sql prepares a cached *sql.Stmt again on each
// pool connection it runs on, and Tx.StmtContext reuses (or adds) the
// connection's preparation inside a transaction.
//
// A stmtCache is a querier running queries on its pool outside any
// transaction. The driver reuses one SQLite statement per connection and
// query, so a query's rows must be closed before the same query runs again
// on that connection; the Store's methods never let rows escape, and outside
// a transaction database/sql holds the connection until the rows close.
type stmtCache struct {
	db *sql.DB

	mu     sync.RWMutex
	m      map[string]*sql.Stmt
	closed bool
}

var _ querier = (*stmtCache)(nil)

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: map[string]*sql.Stmt{}}
}

// lookup returns the statement cached for query, nil when there is none.
func (c *stmtCache) lookup(query string) *sql.Stmt {
	c.mu.RLock()
	st := c.m[query]
	c.mu.RUnlock()
	return st
}

// get returns the statement for query, preparing it on the pool when it is
// not cached yet; nil when it cannot be (the cache is full or closed, or
// preparing failed: running the query unprepared then reports the error).
// It may wait for a pool connection, so it must not be called while the
// caller holds a transaction on the pool.
func (c *stmtCache) get(ctx context.Context, query string) *sql.Stmt {
	if st := c.lookup(query); st != nil {
		return st
	}
	c.mu.RLock()
	full := c.closed || len(c.m) >= maxCachedStmts
	c.mu.RUnlock()
	if full {
		return nil
	}
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur := c.m[query]; cur != nil || c.closed || len(c.m) >= maxCachedStmts {
		st.Close()
		return cur
	}
	c.m[query] = st
	return st
}

// close closes the cached statements; later queries run unprepared.
func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	var errs []error
	for q, st := range c.m {
		errs = append(errs, st.Close())
		delete(c.m, q)
	}
	return errors.Join(errs...)
}

func (c *stmtCache) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := c.get(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return c.db.ExecContext(ctx, query, args...)
}

func (c *stmtCache) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := c.get(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return c.db.QueryContext(ctx, query, args...)
}

func (c *stmtCache) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := c.get(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return c.db.QueryRowContext(ctx, query, args...)
}

// txQuerier is a querier running queries in tx through the statements
// cached on tx's pool. Preparing on the pool would wait for a connection
// while tx holds one (for the writer, the only one), so a query not cached
// yet runs unprepared and is noted; finish prepares the noted queries once
// tx has ended.
type txQuerier struct {
	tx *sql.Tx
	c  *stmtCache

	mu     sync.Mutex
	missed []string
}

var _ querier = (*txQuerier)(nil)

func newTxQuerier(tx *sql.Tx, c *stmtCache) *txQuerier {
	return &txQuerier{tx: tx, c: c}
}

// stmt returns query's cached statement bound to tx, nil when query is not
// cached yet.
func (t *txQuerier) stmt(ctx context.Context, query string) *sql.Stmt {
	if st := t.c.lookup(query); st != nil {
		return t.tx.StmtContext(ctx, st)
	}
	t.mu.Lock()
	t.missed = append(t.missed, query)
	t.mu.Unlock()
	return nil
}

// finish prepares on the pool the queries that missed the cache. Call it
// after tx has committed or rolled back.
func (t *txQuerier) finish(ctx context.Context) {
	t.mu.Lock()
	missed := t.missed
	t.missed = nil
	t.mu.Unlock()
	for _, q := range missed {
		if ctx.Err() != nil {
			return
		}
		t.c.get(ctx, q)
	}
}

func (t *txQuerier) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := t.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, query, args...)
}

func (t *txQuerier) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := t.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, query, args...)
}

func (t *txQuerier) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := t.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, query, args...)
}
