// Package sqlite is Stepup's SQLite storage backend, on the pure-Go
// modernc.org/sqlite driver.
//
// The database runs in WAL mode. Writes go through a pool of exactly one
// connection whose transactions begin with BEGIN IMMEDIATE, so writers queue
// in Go instead of failing with SQLITE_BUSY; reads go through a separate,
// query-only pool and see the last committed state. Consequently, inside
// Tx(fn) fn must write only through the Store it is given: writing through
// the outer Store would wait for the writer connection fn itself holds.
//
// Times are stored as INTEGER unix microseconds in UTC (NULL for the zero
// time), durations as INTEGER nanoseconds, lists and session events as JSON
// text.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"github.com/stepup-oidc/stepup/internal/store/migration"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"time"

	sqlitedrv "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/stepup-oidc/stepup/internal/store"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Store is a store.Store on one SQLite database file. A Store bound to a
// transaction (the one Tx passes to fn) has tx set.
type Store struct {
	w  *sql.DB    // writer pool: one connection, BEGIN IMMEDIATE
	r  *sql.DB    // reader pool: query_only connections
	ws *stmtCache // statements prepared on w
	rs *stmtCache // statements prepared on r
	tx *sql.Tx    // set on a Store bound to a transaction
	tq *txQuerier // runs queries in tx through ws
	sp int        // savepoint nesting depth inside tx
}

var _ store.Store = (*Store)(nil)

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func dsn(path string, readOnly bool) (string, error) {
	if path == "" || strings.ContainsRune(path, '?') || strings.HasPrefix(path, "file:") || strings.Contains(path, ":memory:") {
		return "", fmt.Errorf("store/sqlite: unsupported database path %q: want a plain file path", path)
	}
	// The driver runs these on every new connection of both pools.
	q := url.Values{"_pragma": {
		"busy_timeout(5000)",
		"journal_mode(WAL)",
		"foreign_keys(ON)",
		"synchronous(NORMAL)",
	}}
	if readOnly {
		q.Set("_query_only", "1")
	} else {
		q.Set("_txlock", "immediate")
	}
	return path + "?" + q.Encode(), nil
}

func openWriter(path string) (*sql.DB, error) {
	d, err := dsn(path, false)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", d)
	if err != nil {
		return nil, fmt.Errorf("store/sqlite: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	return db, nil
}

// Open opens (creating if needed) the database at path, applies pending
// migrations and returns the Store. path must be a plain file path: the
// writer and reader pools need to share one database.
func Open(ctx context.Context, path string) (*Store, error) {
	w, err := openWriter(path)
	if err != nil {
		return nil, err
	}
	if err := migrate(ctx, w); err != nil {
		w.Close()
		return nil, err
	}
	d, err := dsn(path, true)
	if err != nil {
		w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite", d)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("store/sqlite: open %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	if err := r.PingContext(ctx); err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("store/sqlite: open %s: %w", path, err)
	}
	return &Store{w: w, r: r, ws: newStmtCache(w), rs: newStmtCache(r)}, nil
}

// Migrate applies pending migrations to the database at path (creating it
// if needed) and returns the schema version it is at afterwards.
func Migrate(ctx context.Context, path string) (int, error) {
	w, err := openWriter(path)
	if err != nil {
		return 0, err
	}
	defer w.Close()
	if err := migrate(ctx, w); err != nil {
		return 0, err
	}
	var v int
	if err := w.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v); err != nil {
		return 0, fmt.Errorf("store/sqlite: read schema version: %w", err)
	}
	return v, nil
}

func migrations() ([]migration.Migration, error) {
	ms, err := migration.Load(migrationFS)
	if err != nil {
		return nil, fmt.Errorf("store/sqlite: %w", err)
	}
	return ms, nil
}

// migrate applies, in one IMMEDIATE transaction, every migration newer than
// the schema_version recorded in the database.
func migrate(ctx context.Context, w *sql.DB) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store/sqlite: migrate: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
		version    INTEGER NOT NULL PRIMARY KEY,
		applied_at INTEGER NOT NULL
	) STRICT`); err != nil {
		return fmt.Errorf("store/sqlite: migrate: %w", err)
	}
	var cur int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&cur); err != nil {
		return fmt.Errorf("store/sqlite: migrate: %w", err)
	}
	if len(ms) > 0 && cur > ms[len(ms)-1].Version {
		return fmt.Errorf("store/sqlite: database schema version %d is newer than this binary's %d", cur, ms[len(ms)-1].Version)
	}
	for _, m := range ms {
		if m.Version <= cur {
			continue
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return fmt.Errorf("store/sqlite: migration %s: %w", m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version, applied_at) VALUES (?, ?)`,
			m.Version, time.Now().UnixMicro()); err != nil {
			return fmt.Errorf("store/sqlite: migration %s: %w", m.Name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store/sqlite: migrate: %w", err)
	}
	return nil
}

// Close closes both pools. On a Store bound to a transaction it does nothing.
func (s *Store) Close() error {
	if s.tx != nil {
		return nil
	}
	return errors.Join(s.rs.close(), s.ws.close(), s.r.Close(), s.w.Close())
}

// reader is the querier for reads: s's transaction, or the reader pool.
func (s *Store) reader() querier {
	if s.tx != nil {
		return s.tq
	}
	return s.rs
}

// writer is the querier for writes: s's transaction, or the writer pool.
func (s *Store) writer() querier {
	if s.tx != nil {
		return s.tq
	}
	return s.ws
}

// Tx runs fn in a transaction (a savepoint when s is already bound to one).
func (s *Store) Tx(ctx context.Context, fn func(store.Store) error) error {
	return s.atomic(ctx, func(ts *Store) error { return fn(ts) })
}

// atomic runs fn with a Store bound to a new transaction, or to a savepoint
// of s's transaction, committing when fn returns nil and rolling back when it
// returns an error or panics.
func (s *Store) atomic(ctx context.Context, fn func(*Store) error) error {
	if s.tx == nil {
		tx, err := s.w.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("store/sqlite: begin: %w", err)
		}
		tq := newTxQuerier(tx, s.ws)
		// Deferred first so that it runs last, once tx has ended and the
		// writer connection is free again.
		defer tq.finish(ctx)
		done := false
		defer func() {
			if !done {
				tx.Rollback()
			}
		}()
		if err := fn(&Store{w: s.w, r: s.r, ws: s.ws, rs: s.rs, tx: tx, tq: tq}); err != nil {
			return err
		}
		done = true
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("store/sqlite: commit: %w", err)
		}
		return nil
	}
	name := "sp" + strconv.Itoa(s.sp+1)
	if _, err := s.tx.ExecContext(ctx, "SAVEPOINT "+name); err != nil {
		return fmt.Errorf("store/sqlite: savepoint: %w", err)
	}
	done := false
	defer func() {
		if !done {
			// Rolling back to a savepoint leaves it open; release it too.
			// The context may be done already: the transaction must still
			// be left consistent.
			bg := context.WithoutCancel(ctx)
			s.tx.ExecContext(bg, "ROLLBACK TO "+name)
			s.tx.ExecContext(bg, "RELEASE "+name)
		}
	}()
	if err := fn(&Store{w: s.w, r: s.r, ws: s.ws, rs: s.rs, tx: s.tx, tq: s.tq, sp: s.sp + 1}); err != nil {
		return err
	}
	done = true
	if _, err := s.tx.ExecContext(ctx, "RELEASE "+name); err != nil {
		return fmt.Errorf("store/sqlite: release savepoint: %w", err)
	}
	return nil
}

// DeleteExpired removes rows whose expiry is set and before now.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time) (int64, error) {
	var total int64
	err := s.atomic(ctx, func(ts *Store) error {
		total = 0
		n := toDB(now)
		for _, table := range []string{"codes", "refresh_tokens", "grants", "sessions", "keys", "pushed_requests", "ciba_requests"} {
			res, err := ts.tq.ExecContext(ctx, `DELETE FROM `+table+` WHERE expires_at IS NOT NULL AND expires_at < ?`, n)
			if err != nil {
				return fmt.Errorf("store/sqlite: delete expired %s: %w", table, err)
			}
			c, err := res.RowsAffected()
			if err != nil {
				return fmt.Errorf("store/sqlite: delete expired %s: %w", table, err)
			}
			total += c
		}
		return nil
	})
	return total, err
}

// toDB encodes t as unix microseconds, nil for the zero time.
func toDB(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

// fromDB decodes what toDB stored.
func fromDB(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.UnixMicro(v.Int64).UTC()
}

// normTime is t as it comes back from the database.
func normTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return time.UnixMicro(t.UnixMicro()).UTC()
}

// mapErr turns constraint violations into store.ErrConflict and
// sql.ErrNoRows into store.ErrNotFound, adding what and key as context.
func mapErr(err error, what, key string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("store/sqlite: %s %q: %w", what, key, store.ErrNotFound)
	}
	var se *sqlitedrv.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
			return fmt.Errorf("store/sqlite: %s %q: %w (%v)", what, key, store.ErrConflict, err)
		}
	}
	return fmt.Errorf("store/sqlite: %s %q: %w", what, key, err)
}

// notFound is the error for an update or delete that matched no row.
func notFound(what, key string) error {
	return fmt.Errorf("store/sqlite: %s %q: %w", what, key, store.ErrNotFound)
}

// mustAffect returns notFound unless res reports at least one affected row.
func mustAffect(res sql.Result, err error, what, key string) error {
	if err != nil {
		return mapErr(err, what, key)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return mapErr(err, what, key)
	}
	if n == 0 {
		return notFound(what, key)
	}
	return nil
}
