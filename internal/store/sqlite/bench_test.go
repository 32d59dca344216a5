package sqlite_test

import (
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stepup-oidc/stepup/internal/authn"
	"github.com/stepup-oidc/stepup/internal/store"
	"github.com/stepup-oidc/stepup/internal/store/sqlite"
)

func openBench(b *testing.B) *sqlite.Store {
	b.Helper()
	s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "stepup.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkConsumeCode measures CreateCode followed by ConsumeCode, the
// writer's share of an authorization code's life.
func BenchmarkConsumeCode(b *testing.B) {
	ctx := b.Context()
	s := openBench(b)
	now := time.Now()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		h := "code-" + strconv.Itoa(i)
		c := store.Code{
			Hash: h, ClientID: "app", RedirectURI: "https://app.example/cb", UserID: "u1", SessionID: "s1",
			Scope: "openid", Nonce: "n", CodeChallenge: "x", CodeChallengeMethod: "S256", ACR: "acr",
			AMR: []string{"pwd"}, AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Minute),
		}
		if err := s.CreateCode(ctx, c); err != nil {
			b.Fatal(err)
		}
		if _, err := s.ConsumeCode(ctx, h, "g-"+strconv.Itoa(i), now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetSessionByHandle measures the read-only transaction that loads
// a session and its events.
func BenchmarkGetSessionByHandle(b *testing.B) {
	ctx := b.Context()
	s := openBench(b)
	now := time.Now()
	ev := authn.Event{Method: "pwd", AMR: []string{"pwd"}, Time: now, Factors: []string{authn.FactorKnowledge}}
	if err := s.CreateSession(ctx, store.Session{
		ID: "s1", HandleHash: "h1", UserID: "u1", CreatedAt: now, ExpiresAt: now.Add(time.Hour),
		Events: []authn.Event{ev, ev},
	}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		sess, err := s.GetSessionByHandle(ctx, "h1")
		if err != nil || len(sess.Events) != 2 {
			b.Fatal(sess, err)
		}
	}
}

// BenchmarkAppendEvent measures a small write transaction.
func BenchmarkAppendEvent(b *testing.B) {
	ctx := b.Context()
	s := openBench(b)
	now := time.Now()
	if err := s.CreateSession(ctx, store.Session{
		ID: "s1", HandleHash: "h1", UserID: "u1", CreatedAt: now, ExpiresAt: now.Add(time.Hour),
	}); err != nil {
		b.Fatal(err)
	}
	ev := authn.Event{Method: "pwd", AMR: []string{"pwd"}, Time: now, Factors: []string{authn.FactorKnowledge}}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.AppendEvent(ctx, "s1", ev); err != nil {
			b.Fatal(err)
		}
	}
}
