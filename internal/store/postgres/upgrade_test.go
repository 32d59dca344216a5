package postgres_test

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stepup-oidc/stepup/internal/store/postgres"
	"github.com/stepup-oidc/stepup/internal/store/storetest/backends"
)

// TestUpgradeFromVersion3 migrates a schema at version 3 holding a code and
// a grant: they read back with no authorization details, and the
// pushed_requests table works.
func TestUpgradeFromVersion3(t *testing.T) {
	cfg := backends.PostgresConfig(t)
	ctx := t.Context()
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig.Copy())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	stmts := []string{`CREATE TABLE schema_version (version integer NOT NULL PRIMARY KEY,
		applied_at timestamptz NOT NULL DEFAULT now())`}
	for v, name := range []string{"0001_init.sql", "0002_acr_credentials_links.sql", "0003_client_nnin.sql"} {
		b, err := os.ReadFile(filepath.Join("migrations", name))
		if err != nil {
			t.Fatal(err)
		}
		stmts = append(stmts, string(b), `INSERT INTO schema_version (version) VALUES (`+strconv.Itoa(v+1)+`)`)
	}
	stmts = append(stmts,
		`INSERT INTO codes (hash, client_id, redirect_uri, user_id, session_id, scope, nonce, code_challenge,
			code_challenge_method, acr, amr, grant_id) VALUES ('h1', 'app', '', 'u1', 's1', 'openid', '', '', '', '', '{}', '')`,
		`INSERT INTO grants (id, client_id, user_id, session_id, scope, acr, amr) VALUES ('g1', 'app', 'u1', 's1', 'openid', '', '{}')`)
	for _, q := range stmts {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	s, err := postgres.OpenConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var v int
	if err := conn.QueryRow(ctx, `SELECT max(version) FROM schema_version`).Scan(&v); err != nil || v < 4 {
		t.Fatalf("schema version after Open = %d, %v", v, err)
	}
	c, err := s.ConsumeCode(ctx, "h1", "g1", time.Now())
	if err != nil || c.ClientID != "app" || c.AuthorizationDetails != "" {
		t.Errorf("code from version 3 = %+v, %v", c, err)
	}
	g, err := s.GetGrant(ctx, "g1")
	if err != nil || g.ClientID != "app" || g.AuthorizationDetails != "" {
		t.Errorf("grant from version 3 = %+v, %v", g, err)
	}
	if _, err := s.DeleteExpired(ctx, time.Now()); err != nil {
		t.Errorf("DeleteExpired after upgrade: %v", err)
	}
}
