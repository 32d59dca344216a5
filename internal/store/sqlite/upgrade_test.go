package sqlite

import (
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestUpgradeFromVersion3 migrates a database at schema version 3 holding a
// code and a grant: they read back with no authorization details, and the
// pushed_requests table works.
func TestUpgradeFromVersion3(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "stepup.db")
	w, err := openWriter(path)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	stmts := []string{`CREATE TABLE schema_version (version INTEGER NOT NULL PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT`}
	for _, m := range ms {
		if m.Version <= 3 {
			stmts = append(stmts, m.SQL, `INSERT INTO schema_version VALUES (`+strconv.Itoa(m.Version)+`, 0)`)
		}
	}
	stmts = append(stmts,
		`INSERT INTO codes (hash, client_id, redirect_uri, user_id, session_id, scope, nonce, code_challenge,
			code_challenge_method, acr, amr, grant_id) VALUES ('h1', 'app', '', 'u1', 's1', 'openid', '', '', '', '', '[]', '')`,
		`INSERT INTO grants (id, client_id, user_id, session_id, scope, acr, amr) VALUES ('g1', 'app', 'u1', 's1', 'openid', '', '[]')`)
	for _, q := range stmts {
		if _, err := w.ExecContext(ctx, q); err != nil {
			w.Close()
			t.Fatalf("%s: %v", q, err)
		}
	}
	w.Close()

	v, err := Migrate(ctx, path)
	if err != nil || v < 4 {
		t.Fatalf("Migrate from version 3 = %d, %v", v, err)
	}
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
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
