package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/stepup-oidc/stepup/internal/store"
	"github.com/stepup-oidc/stepup/internal/store/sqlite"
	"github.com/stepup-oidc/stepup/internal/store/storetest"
)

func open(t *testing.T) store.Store {
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "stepup.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, open)
}

// TestReopen checks that data survives a restart and that migrating an
// up-to-date database changes nothing.
func TestReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "stepup.db")
	v, err := sqlite.Migrate(ctx, path)
	if err != nil || v < 1 {
		t.Fatalf("Migrate on a new file = %d, %v", v, err)
	}
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateClient(ctx, store.Client{ID: "app"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if v2, err := sqlite.Migrate(ctx, path); err != nil || v2 != v {
		t.Fatalf("Migrate again = %d, %v; want %d", v2, err, v)
	}
	s, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.GetClient(ctx, "app"); err != nil {
		t.Fatal(err)
	}
}

func TestOpenRejectsNonFilePaths(t *testing.T) {
	for _, p := range []string{"", ":memory:", "file:x.db?mode=memory", "x.db?_pragma=foo"} {
		if s, err := sqlite.Open(t.Context(), p); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", p)
		}
	}
}
