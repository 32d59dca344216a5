package sqlite

import (
	"path/filepath"
	"testing"
)

// TestPragmas checks the settings every pooled connection gets from the DSN.
func TestPragmas(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "stepup.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want := map[string]string{"journal_mode": "wal", "busy_timeout": "5000", "foreign_keys": "1", "synchronous": "1"}
	for pool, db := range map[string]querier{"writer": s.w, "reader": s.r} {
		for p, v := range want {
			var got string
			if err := db.QueryRowContext(ctx, "PRAGMA "+p).Scan(&got); err != nil {
				t.Fatalf("%s: PRAGMA %s: %v", pool, p, err)
			}
			if got != v {
				t.Errorf("%s: %s = %s, want %s", pool, p, got, v)
			}
		}
	}
	if _, err := s.r.ExecContext(ctx, `DELETE FROM clients`); err == nil {
		t.Error("the reader pool accepted a write")
	}
}
