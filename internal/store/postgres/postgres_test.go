package postgres_test

import (
	"net/url"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/stepup-oidc/stepup/internal/store"
	"github.com/stepup-oidc/stepup/internal/store/postgres"
	"github.com/stepup-oidc/stepup/internal/store/storetest"
	"github.com/stepup-oidc/stepup/internal/store/storetest/backends"
)

// TestConformance runs the storage suite on STEPUP_TEST_POSTGRES, each
// subtest in a schema of its own. Without it the test is skipped, or fails
// when STEPUP_REQUIRE_POSTGRES=1.
func TestConformance(t *testing.T) {
	if backends.PostgresDSN(t) == "" {
		t.Skipf("%s is not set", backends.EnvPostgres)
	}
	storetest.Run(t, backends.Postgres)
}

// TestConcurrentOpenMigratesOnce opens several stores on one new schema at
// once, as nodes starting together do.
func TestConcurrentOpenMigratesOnce(t *testing.T) {
	cfg := backends.PostgresConfig(t)
	ctx := t.Context()
	const n = 4
	var wg sync.WaitGroup
	stores := make([]*postgres.Store, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			c := cfg.Copy()
			c.MaxConns = 2
			stores[i], errs[i] = postgres.OpenConfig(ctx, c)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig.Copy())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var rows, max int
	if err := conn.QueryRow(ctx, `SELECT count(*), max(version) FROM schema_version`).Scan(&rows, &max); err != nil {
		t.Fatal(err)
	}
	if rows != max {
		t.Errorf("schema_version has %d rows for version %d", rows, max)
	}
	// Writes through one store are seen by another.
	if err := stores[0].CreateClient(ctx, store.Client{ID: "app"}); err != nil {
		t.Fatal(err)
	}
	if _, err := stores[n-1].GetClient(ctx, "app"); err != nil {
		t.Fatal(err)
	}
}

// TestOpenDSNWithSearchPath opens a store by a URL DSN naming its schema,
// then migrates it again.
func TestOpenDSNWithSearchPath(t *testing.T) {
	cfg := backends.PostgresConfig(t)
	u, err := url.Parse(backends.PostgresDSN(t))
	if err != nil || u.Scheme == "" {
		t.Skipf("%s is not a URL", backends.EnvPostgres)
	}
	q := u.Query()
	q.Set("search_path", cfg.ConnConfig.RuntimeParams["search_path"])
	u.RawQuery = q.Encode()
	ctx := t.Context()
	s, err := postgres.Open(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.CreateClient(ctx, store.Client{ID: "app"}); err != nil {
		t.Fatal(err)
	}
	v, err := postgres.Migrate(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig.Copy())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM schema_version`).Scan(&n); err != nil || n != v || v < 1 {
		t.Fatalf("Migrate = %d; %d migrations recorded (%v)", v, n, err)
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM clients`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("clients in the schema: %d, %v; want 1", n, err)
	}
}
