// Package backends opens every storage backend for tests: the conformance
// suite (storetest) runs against each, and so can the tests of packages
// built on store.Store.
//
// SQLite is always available. PostgreSQL is used when STEPUP_TEST_POSTGRES
// holds a DSN (e.g. postgres://root@127.0.0.1:5432/test?sslmode=disable);
// each opened store gets a fresh schema, dropped when the test ends. When
// STEPUP_REQUIRE_POSTGRES=1, a missing DSN fails the test instead of
// skipping PostgreSQL.
package backends

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stepup-oidc/stepup/internal/store"
	"github.com/stepup-oidc/stepup/internal/store/postgres"
	"github.com/stepup-oidc/stepup/internal/store/sqlite"
)

// Environment variables read by this package.
const (
	EnvPostgres        = "STEPUP_TEST_POSTGRES"
	EnvRequirePostgres = "STEPUP_REQUIRE_POSTGRES"
)

// Backend names a backend and opens new, empty, migrated stores on it.
type Backend struct {
	Name string
	Open func(t *testing.T) store.Store
}

// All returns SQLite and, when configured, PostgreSQL.
func All(t *testing.T) []Backend {
	t.Helper()
	bs := []Backend{{Name: "sqlite", Open: SQLite}}
	if PostgresDSN(t) != "" {
		bs = append(bs, Backend{Name: "postgres", Open: Postgres})
	}
	return bs
}

// SQLite opens a store on a new database file in t.TempDir(), closed when
// the test ends.
func SQLite(t *testing.T) store.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "stepup.db"))
	if err != nil {
		t.Fatalf("open sqlite store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// PostgresDSN returns STEPUP_TEST_POSTGRES. When it is empty it fails t if
// STEPUP_REQUIRE_POSTGRES=1 and returns "" otherwise.
func PostgresDSN(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv(EnvPostgres)
	if dsn == "" && os.Getenv(EnvRequirePostgres) == "1" {
		t.Fatalf("%s=1 but %s is not set", EnvRequirePostgres, EnvPostgres)
	}
	return dsn
}

// Postgres opens a store in a new schema of the STEPUP_TEST_POSTGRES
// database, and drops the schema when the test ends. Without a DSN it skips
// t (or fails it, see PostgresDSN).
func Postgres(t *testing.T) store.Store {
	t.Helper()
	cfg := PostgresConfig(t)
	// Parallel tests each hold a pool: keep them small.
	cfg.MaxConns = 4
	s, err := postgres.OpenConfig(t.Context(), cfg)
	if err != nil {
		t.Fatalf("open postgres store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// PostgresConfig creates a new, empty schema in the STEPUP_TEST_POSTGRES
// database, to be dropped when the test ends, and returns a pool
// configuration whose search_path is that schema. Without a DSN it skips t
// (or fails it, see PostgresDSN).
func PostgresConfig(t *testing.T) *pgxpool.Config {
	t.Helper()
	dsn := PostgresDSN(t)
	if dsn == "" {
		t.Skipf("%s is not set", EnvPostgres)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatalf("%s: %v", EnvPostgres, err)
	}
	b := make([]byte, 8)
	rand.Read(b)
	schema := "stepup_test_" + hex.EncodeToString(b)
	if err := adminExec(t.Context(), cfg, `CREATE SCHEMA `+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		// t.Context() is done by now.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := adminExec(ctx, cfg, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	return cfg
}

// adminExec runs sql on a connection of its own, in the DSN's search_path.
func adminExec(ctx context.Context, cfg *pgxpool.Config, sql string) error {
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	return err
}
