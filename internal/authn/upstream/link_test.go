package upstream

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stepup-oidc/stepup/internal/store"
	"github.com/stepup-oidc/stepup/internal/store/sqlite"
)

const (
	aliceNNIN = testNNIN
	bobNNIN   = "02027054321"
	carolNNIN = "03037011111"
)

// linkFixture opens a SQLite store holding alice, bob and carol (disabled),
// each with an NNIN.
func linkFixture(t *testing.T) *sqlite.Store {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Now().UTC().Truncate(time.Second)
	for _, u := range []store.User{
		{ID: "u-alice", Username: "alice", NNIN: aliceNNIN},
		{ID: "u-bob", Username: "bob", NNIN: bobNNIN},
		{ID: "u-carol", Username: "carol", NNIN: carolNNIN, Disabled: true},
	} {
		u.CreatedAt, u.UpdatedAt = now, now
		if err := st.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

func TestLink(t *testing.T) {
	tests := []struct {
		name      string
		linkClaim string
		existing  *store.Link // created before Link
		sub       string
		claims    map[string]any
		mustBe    string
		wantUser  string
		wantErr   error
		// wantLink is the user the subject is linked to afterwards ("" = none).
		wantLink string
	}{
		{
			name: "an existing link finds its user", linkClaim: "",
			existing: &store.Link{Upstream: testName, Subject: "sub-a", UserID: "u-bob"},
			sub:      "sub-a", claims: map[string]any{"nnin": aliceNNIN},
			wantUser: "u-bob", wantLink: "u-bob",
		},
		{
			name: "an existing link to the user who must authenticate passes", linkClaim: LinkClaimNNIN,
			existing: &store.Link{Upstream: testName, Subject: "sub-a", UserID: "u-bob"},
			sub:      "sub-a", mustBe: "u-bob",
			wantUser: "u-bob", wantLink: "u-bob",
		},
		{
			name: "an existing link to another user than the one who must authenticate is refused", linkClaim: LinkClaimNNIN,
			existing: &store.Link{Upstream: testName, Subject: "sub-a", UserID: "u-bob"},
			sub:      "sub-a", claims: map[string]any{"nnin": aliceNNIN}, mustBe: "u-alice",
			wantErr: ErrWrongUser, wantLink: "u-bob",
		},
		{
			name: "a link of another upstream does not count", linkClaim: "",
			existing: &store.Link{Upstream: "other", Subject: "sub-a", UserID: "u-bob"},
			sub:      "sub-a",
			wantErr:  ErrNotLinked,
		},
		{
			name: "a first login is linked by nnin", linkClaim: LinkClaimNNIN,
			sub: "sub-new", claims: map[string]any{"nnin": aliceNNIN},
			wantUser: "u-alice", wantLink: "u-alice",
		},
		{
			name: "a first login during a step-up of the same user is linked by nnin", linkClaim: LinkClaimNNIN,
			sub: "sub-new", claims: map[string]any{"nnin": aliceNNIN}, mustBe: "u-alice",
			wantUser: "u-alice", wantLink: "u-alice",
		},
		{
			name: "a first login whose nnin is another user's than the one who must authenticate is refused and not linked", linkClaim: LinkClaimNNIN,
			sub: "sub-new", claims: map[string]any{"nnin": bobNNIN}, mustBe: "u-alice",
			wantErr: ErrWrongUser,
		},
		{
			name: "a first login without the nnin claim is not linked", linkClaim: LinkClaimNNIN,
			sub: "sub-new", claims: map[string]any{"acr": testACR},
			wantErr: ErrNotLinked,
		},
		{
			name: "a first login with an unknown nnin is not linked", linkClaim: LinkClaimNNIN,
			sub: "sub-new", claims: map[string]any{"nnin": "09099099999"},
			wantErr: ErrNotLinked,
		},
		{
			name: "a non-string nnin claim is ignored", linkClaim: LinkClaimNNIN,
			sub: "sub-new", claims: map[string]any{"nnin": 1017012345.0},
			wantErr: ErrNotLinked,
		},
		{
			name: "without a link claim only existing links count", linkClaim: "",
			sub: "sub-new", claims: map[string]any{"nnin": aliceNNIN},
			wantErr: ErrNotLinked,
		},
		{
			name: "a disabled user is neither returned nor linked", linkClaim: LinkClaimNNIN,
			sub: "sub-new", claims: map[string]any{"nnin": carolNNIN},
			wantErr: ErrUserDisabled,
		},
		{
			name: "a link to a disabled user is refused", linkClaim: LinkClaimNNIN,
			existing: &store.Link{Upstream: testName, Subject: "sub-a", UserID: "u-carol"},
			sub:      "sub-a",
			wantErr:  ErrUserDisabled, wantLink: "u-carol",
		},
		{
			name: "an empty subject is not linked", linkClaim: LinkClaimNNIN,
			sub: "", claims: map[string]any{"nnin": aliceNNIN},
			wantErr: ErrNotLinked,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			st := linkFixture(t)
			m, _, _ := newTestMethod(t, func(c *Config) { c.LinkClaim = tc.linkClaim })
			if tc.existing != nil {
				l := *tc.existing
				l.CreatedAt = time.Now().UTC().Truncate(time.Second)
				if err := st.CreateLink(ctx, l); err != nil {
					t.Fatal(err)
				}
			}
			u, err := m.Link(ctx, st, Result{Subject: tc.sub, Claims: tc.claims}, tc.mustBe)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Link error = %v, want %v", err, tc.wantErr)
			}
			if err == nil && u.ID != tc.wantUser {
				t.Errorf("Link user = %q, want %q", u.ID, tc.wantUser)
			}
			if err != nil {
				for _, nnin := range []string{aliceNNIN, bobNNIN, carolNNIN} {
					if strings.Contains(err.Error(), nnin) {
						t.Errorf("error %q discloses an nnin", err)
					}
				}
			}
			if tc.sub == "" {
				return
			}
			l, err := st.GetLink(ctx, testName, tc.sub)
			switch {
			case tc.wantLink == "" && !errors.Is(err, store.ErrNotFound):
				t.Errorf("link after Link = %+v, %v; want none", l, err)
			case tc.wantLink != "" && (err != nil || l.UserID != tc.wantLink):
				t.Errorf("link after Link = %+v, %v; want to %q", l, err, tc.wantLink)
			}
		})
	}
}

func TestLinkAfterFinish(t *testing.T) {
	ctx := context.Background()
	st := linkFixture(t)
	m, op, _ := newTestMethod(t, nil)
	login := func() Result {
		t.Helper()
		authURL, err := m.Begin(ctx, "resume", "")
		if err != nil {
			t.Fatal(err)
		}
		res, err := m.Finish(ctx, callbackFor(t, authURL, op.issue(t, authURL, nil), op.issuer()))
		if err != nil {
			t.Fatalf("Finish: %v", err)
		}
		return res
	}
	// First login: linked by the nnin claim; second: found through the link.
	for i := range 2 {
		u, err := m.Link(ctx, st, login(), "")
		if err != nil || u.ID != "u-alice" {
			t.Fatalf("login %d: Link = %q, %v; want u-alice", i+1, u.ID, err)
		}
	}
}
