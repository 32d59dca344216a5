// Package postgres is Stepup's PostgreSQL storage backend, on pgx's native
// API and a pgxpool.Pool.
//
// Tables live in the connection's current schema: set search_path in the
// DSN (e.g. "postgres://host/db?search_path=stepup") to use another one
// than the default. Migrations are embedded and applied by Open under an
// advisory lock, so nodes starting together migrate once.
//
// Times are timestamptz truncated to microseconds (NULL for the zero time),
// durations bigint nanoseconds, lists text[] and session events jsonb.
// Methods failing with a sentinel error do not abort an enclosing Tx.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"github.com/stepup-oidc/stepup/internal/store/migration"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stepup-oidc/stepup/internal/store"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migrationLock is the first key of the advisory lock held while migrating;
// the second is a hash of the schema being migrated.
const migrationLock = 0x53746570 // "Step"

// Store is a store.Store on a PostgreSQL database. A Store bound to a
// transaction (the one Tx passes to fn) has tx set.
type Store struct {
	pool *pgxpool.Pool
	tx   pgx.Tx
}

var _ store.Store = (*Store)(nil)

// querier is what *pgxpool.Pool and pgx.Tx have in common.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Begin(ctx context.Context) (pgx.Tx, error)
}

// scanner is what pgx.Row and pgx.CollectableRow have in common.
type scanner interface {
	Scan(dest ...any) error
}

// collect scans every row of rows with scan.
func collect[T any](rows pgx.Rows, scan func(scanner) (T, error)) ([]T, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (T, error) { return scan(r) })
}

// Open connects to the database at dsn (a URL or keyword/value string that
// pgxpool.ParseConfig accepts), applies pending migrations and returns the
// Store.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("store/postgres: parse dsn: %w", err)
	}
	return OpenConfig(ctx, cfg)
}

// OpenConfig is Open with a pool configuration, e.g. one with
// ConnConfig.RuntimeParams["search_path"] set. It takes ownership of cfg.
func OpenConfig(ctx context.Context, cfg *pgxpool.Config) (*Store, error) {
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store/postgres: connect: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	return &Store{pool: pool}, nil
}

// Migrate applies pending migrations to the database at dsn and returns the
// schema version it is at afterwards.
func Migrate(ctx context.Context, dsn string) (int, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return 0, fmt.Errorf("store/postgres: parse dsn: %w", err)
	}
	cfg.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return 0, fmt.Errorf("store/postgres: connect: %w", err)
	}
	defer pool.Close()
	if err := migrate(ctx, pool); err != nil {
		return 0, err
	}
	var v int
	if err := pool.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v); err != nil {
		return 0, fmt.Errorf("store/postgres: read schema version: %w", err)
	}
	return v, nil
}

func migrations() ([]migration.Migration, error) {
	ms, err := migration.Load(migrationFS)
	if err != nil {
		return nil, fmt.Errorf("store/postgres: %w", err)
	}
	return ms, nil
}

// migrate applies, in one transaction holding an advisory lock for the
// current schema, every migration newer than the recorded schema_version.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("store/postgres: migrate: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var schema *string
	if err := tx.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return fmt.Errorf("store/postgres: migrate: %w", err)
	}
	if schema == nil {
		return errors.New("store/postgres: migrate: no schema selected: the search_path names no existing schema")
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, int32(migrationLock), *schema); err != nil {
		return fmt.Errorf("store/postgres: migrate: lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
		version    integer     NOT NULL PRIMARY KEY,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		return fmt.Errorf("store/postgres: migrate: %w", err)
	}
	var cur int
	if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&cur); err != nil {
		return fmt.Errorf("store/postgres: migrate: %w", err)
	}
	if len(ms) > 0 && cur > ms[len(ms)-1].Version {
		return fmt.Errorf("store/postgres: database schema version %d is newer than this binary's %d", cur, ms[len(ms)-1].Version)
	}
	for _, m := range ms {
		if m.Version <= cur {
			continue
		}
		// No arguments: the simple protocol runs every statement of the file.
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return fmt.Errorf("store/postgres: migration %s: %w", m.Name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_version (version) VALUES ($1)`, m.Version); err != nil {
			return fmt.Errorf("store/postgres: migration %s: %w", m.Name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("store/postgres: migrate: %w", err)
	}
	return nil
}

// Close closes the pool. On a Store bound to a transaction it does nothing.
func (s *Store) Close() error {
	if s.tx == nil {
		s.pool.Close()
	}
	return nil
}

func (s *Store) q() querier {
	if s.tx != nil {
		return s.tx
	}
	return s.pool
}

// Tx runs fn in a transaction (a savepoint when s is already bound to one).
func (s *Store) Tx(ctx context.Context, fn func(store.Store) error) error {
	return s.atomic(ctx, func(ts *Store) error { return fn(ts) })
}

// atomic runs fn with a Store bound to a new transaction, or to a savepoint
// of s's transaction, committing when fn returns nil and rolling back when it
// returns an error or panics.
func (s *Store) atomic(ctx context.Context, fn func(*Store) error) error {
	tx, err := s.q().Begin(ctx)
	if err != nil {
		return fmt.Errorf("store/postgres: begin: %w", err)
	}
	done := false
	defer func() {
		if !done {
			// Also when ctx is done: the connection must be left clean.
			tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if err := fn(&Store{pool: s.pool, tx: tx}); err != nil {
		return err
	}
	done = true
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("store/postgres: commit: %w", err)
	}
	return nil
}

// guarded runs fn directly outside a transaction and in a savepoint inside
// one, so that a statement failing with a constraint violation does not
// abort the caller's transaction.
func (s *Store) guarded(ctx context.Context, fn func(q querier) error) error {
	if s.tx == nil {
		return fn(s.pool)
	}
	return s.atomic(ctx, func(ts *Store) error { return fn(ts.tx) })
}

// DeleteExpired removes rows whose expiry is set and before now.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	err := s.q().QueryRow(ctx, `WITH
		c AS (DELETE FROM codes WHERE expires_at < $1 RETURNING 1),
		r AS (DELETE FROM refresh_tokens WHERE expires_at < $1 RETURNING 1),
		g AS (DELETE FROM grants WHERE expires_at < $1 RETURNING 1),
		s AS (DELETE FROM sessions WHERE expires_at < $1 RETURNING 1),
		k AS (DELETE FROM keys WHERE expires_at < $1 RETURNING 1),
		p AS (DELETE FROM pushed_requests WHERE expires_at < $1 RETURNING 1),
		b AS (DELETE FROM ciba_requests WHERE expires_at < $1 RETURNING 1)
		SELECT (SELECT count(*) FROM c) + (SELECT count(*) FROM r) + (SELECT count(*) FROM g)
			+ (SELECT count(*) FROM s) + (SELECT count(*) FROM k) + (SELECT count(*) FROM p)
			+ (SELECT count(*) FROM b)`, toDB(now)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store/postgres: delete expired: %w", err)
	}
	return n, nil
}

// toDB encodes t as a timestamptz truncated to microseconds, nil (NULL) for
// the zero time. PostgreSQL would round, not truncate.
func toDB(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return normTime(t)
}

// fromDB decodes what toDB stored.
func fromDB(ts pgtype.Timestamptz) time.Time {
	if !ts.Valid {
		return time.Time{}
	}
	return ts.Time.UTC()
}

// normTime is t as it comes back from the database.
func normTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return time.UnixMicro(t.UnixMicro()).UTC()
}

// list is how lists are passed: text[] columns are NOT NULL.
func list(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// mapErr turns unique violations into store.ErrConflict and pgx.ErrNoRows
// into store.ErrNotFound, adding what and key as context.
func mapErr(err error, what, key string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("store/postgres: %s %q: %w", what, key, store.ErrNotFound)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" { // unique_violation
		return fmt.Errorf("store/postgres: %s %q: %w (%v)", what, key, store.ErrConflict, err)
	}
	return fmt.Errorf("store/postgres: %s %q: %w", what, key, err)
}

// mustAffect maps err, and a tag of no rows to ErrNotFound.
func mustAffect(tag pgconn.CommandTag, err error, what, key string) error {
	if err != nil {
		return mapErr(err, what, key)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("store/postgres: %s %q: %w", what, key, store.ErrNotFound)
	}
	return nil
}

// mustInsert maps err, and a tag of no rows (ON CONFLICT DO NOTHING) to
// ErrConflict.
func mustInsert(tag pgconn.CommandTag, err error, what, key string) error {
	if err != nil {
		return mapErr(err, what, key)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("store/postgres: %s %q: %w", what, key, store.ErrConflict)
	}
	return nil
}
