package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/stepup-oidc/stepup/internal/store"
)

func testCodesCreateConsume(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	c := newCode("h1")
	must(t, s.CreateCode(ctx, c))
	now := at(10 * time.Second)
	got, err := s.ConsumeCode(ctx, "h1", "g1", now)
	must(t, err)
	want := c
	want.GrantID, want.ConsumedAt = "g1", now
	diff(t, "consumed code", want, got)

	got, err = s.ConsumeCode(ctx, "h1", "g2", at(20*time.Second))
	wantErr(t, "second ConsumeCode", err, store.ErrAlreadyUsed)
	diff(t, "code returned with ErrAlreadyUsed", want, got)
}

func testCodesDuplicate(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	c := newCode("h1")
	must(t, s.CreateCode(ctx, c))
	other := newCode("h1")
	other.ClientID = "client-2"
	wantErr(t, "CreateCode duplicate", s.CreateCode(ctx, other), store.ErrConflict)
	got, err := s.ConsumeCode(ctx, "h1", "g1", at(time.Second))
	must(t, err)
	if got.ClientID != c.ClientID {
		t.Errorf("code client is %q after duplicate create, want %q", got.ClientID, c.ClientID)
	}
}

func testCodesConcurrent(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	c := newCode("h1")
	must(t, s.CreateCode(ctx, c))
	must(t, s.CreateCode(ctx, newCode("h2"))) // a bystander
	const n = 16
	codes := make([]store.Code, n)
	errs := make([]error, n)
	parallel(n, func(i int) {
		codes[i], errs[i] = s.ConsumeCode(ctx, "h1", fmt.Sprintf("grant-%d", i), at(time.Duration(i+1)*time.Second))
	})
	winner := -1
	for i, err := range errs {
		if err == nil {
			if winner >= 0 {
				t.Fatalf("ConsumeCode succeeded for both %d and %d", winner, i)
			}
			winner = i
		}
	}
	if winner < 0 {
		t.Fatalf("no ConsumeCode succeeded: %v", errs)
	}
	want := c
	want.GrantID, want.ConsumedAt = fmt.Sprintf("grant-%d", winner), at(time.Duration(winner+1)*time.Second)
	for i := range n {
		if i == winner {
			diff(t, "winner's code", want, codes[i])
			continue
		}
		wantErr(t, fmt.Sprintf("loser %d", i), errs[i], store.ErrAlreadyUsed)
		diff(t, fmt.Sprintf("code returned to loser %d", i), want, codes[i])
	}
	got, err := s.ConsumeCode(ctx, "h2", "g", at(time.Hour))
	must(t, err)
	if got.GrantID != "g" {
		t.Errorf("bystander code consumed by %q, want g", got.GrantID)
	}
}

func testCodesUnknown(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	must(t, s.CreateCode(ctx, newCode("h1")))
	_, err := s.ConsumeCode(ctx, "nope", "g1", at(0))
	wantErr(t, "ConsumeCode unknown", err, store.ErrNotFound)
	_, err = s.ConsumeCode(ctx, "H1", "g1", at(0))
	wantErr(t, "ConsumeCode other case", err, store.ErrNotFound)
}

func testCodesExpiry(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	c := newCode("h1")
	must(t, s.CreateCode(ctx, c))
	late := c.ExpiresAt.Add(time.Hour)
	got, err := s.ConsumeCode(ctx, "h1", "g1", late)
	must(t, err)
	want := c
	want.GrantID, want.ConsumedAt = "g1", late
	diff(t, "code consumed after expiry", want, got)
}

func testGrantsCreateGet(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	g := newGrant("g1")
	must(t, s.CreateGrant(ctx, g))
	got, err := s.GetGrant(ctx, "g1")
	must(t, err)
	diff(t, "grant", g, got)

	cc := store.Grant{ID: "g2", ClientID: "svc", Scope: "api", CreatedAt: at(0), ExpiresAt: at(time.Hour)}
	must(t, s.CreateGrant(ctx, cc))
	got, err = s.GetGrant(ctx, "g2")
	must(t, err)
	diff(t, "client credentials grant", cc, got)

	dup := newGrant("g1")
	dup.Scope = "other"
	wantErr(t, "CreateGrant duplicate", s.CreateGrant(ctx, dup), store.ErrConflict)
	got, err = s.GetGrant(ctx, "g1")
	must(t, err)
	diff(t, "grant after duplicate create", g, got)
	_, err = s.GetGrant(ctx, "nope")
	wantErr(t, "GetGrant unknown", err, store.ErrNotFound)
}

func testGrantsRevoke(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	g, bystander := newGrant("g1"), newGrant("g2")
	must(t, s.CreateGrant(ctx, g))
	must(t, s.CreateGrant(ctx, bystander))
	must(t, s.RevokeGrant(ctx, "g1", at(time.Hour)))
	got, err := s.GetGrant(ctx, "g1")
	must(t, err)
	want := g
	want.RevokedAt = at(time.Hour)
	diff(t, "revoked grant", want, got)

	must(t, s.RevokeGrant(ctx, "g1", at(2*time.Hour))) // keeps the first time
	got, err = s.GetGrant(ctx, "g1")
	must(t, err)
	diff(t, "grant revoked twice", want, got)

	wantErr(t, "RevokeGrant unknown", s.RevokeGrant(ctx, "nope", at(time.Hour)), store.ErrNotFound)
	got, err = s.GetGrant(ctx, "g2")
	must(t, err)
	diff(t, "bystander grant", bystander, got)
}

func testRefreshCreateGetUse(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	rt := newRefresh("r1", "g1")
	must(t, s.CreateRefreshToken(ctx, rt))
	got, err := s.GetRefreshToken(ctx, "r1")
	must(t, err)
	diff(t, "refresh token", rt, got)

	dup := newRefresh("r1", "g2")
	wantErr(t, "CreateRefreshToken duplicate", s.CreateRefreshToken(ctx, dup), store.ErrConflict)

	used, err := s.UseRefreshToken(ctx, "r1", at(time.Minute))
	must(t, err)
	want := rt
	want.UsedAt = at(time.Minute)
	diff(t, "used refresh token", want, used)
	got, err = s.GetRefreshToken(ctx, "r1")
	must(t, err)
	diff(t, "stored used refresh token", want, got)

	again, err := s.UseRefreshToken(ctx, "r1", at(2*time.Minute))
	wantErr(t, "second UseRefreshToken", err, store.ErrAlreadyUsed)
	diff(t, "token returned with ErrAlreadyUsed", want, again)
}

func testRefreshConcurrent(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	rt := newRefresh("r1", "g1")
	must(t, s.CreateRefreshToken(ctx, rt))
	const n = 16
	toks := make([]store.RefreshToken, n)
	errs := make([]error, n)
	parallel(n, func(i int) {
		toks[i], errs[i] = s.UseRefreshToken(ctx, "r1", at(time.Duration(i+1)*time.Second))
	})
	winner := -1
	for i, err := range errs {
		if err == nil {
			if winner >= 0 {
				t.Fatalf("UseRefreshToken succeeded for both %d and %d", winner, i)
			}
			winner = i
		}
	}
	if winner < 0 {
		t.Fatalf("no UseRefreshToken succeeded: %v", errs)
	}
	want := rt
	want.UsedAt = at(time.Duration(winner+1) * time.Second)
	for i := range n {
		if i != winner {
			wantErr(t, fmt.Sprintf("loser %d", i), errs[i], store.ErrAlreadyUsed)
		}
		diff(t, fmt.Sprintf("token returned to %d", i), want, toks[i])
	}
}

func testRefreshUnknown(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	must(t, s.CreateRefreshToken(ctx, newRefresh("r1", "g1")))
	_, err := s.GetRefreshToken(ctx, "nope")
	wantErr(t, "GetRefreshToken unknown", err, store.ErrNotFound)
	_, err = s.UseRefreshToken(ctx, "nope", at(0))
	wantErr(t, "UseRefreshToken unknown", err, store.ErrNotFound)
}

func testKeys(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	got, err := s.ListKeys(ctx)
	must(t, err)
	diff(t, "empty key list", []store.Key(nil), got)

	k1 := newKey("k1", at(0))
	k2 := newKey("k2", at(2*time.Hour))
	k3 := newKey("k3", at(time.Hour))
	k3.Use, k3.Alg, k3.Private = "enc", "A256GCM", []byte{0, 1, 2, 0xff, 0xfe, 0}
	for _, k := range []store.Key{k1, k2, k3} {
		must(t, s.CreateKey(ctx, k))
	}
	wantErr(t, "CreateKey duplicate", s.CreateKey(ctx, newKey("k1", at(5*time.Hour))), store.ErrConflict)
	got, err = s.ListKeys(ctx)
	must(t, err)
	diff(t, "keys newest first", []store.Key{k2, k3, k1}, got)

	must(t, s.RetireKey(ctx, "k1", at(3*time.Hour), at(4*time.Hour)))
	k1.RetiredAt, k1.ExpiresAt = at(3*time.Hour), at(4*time.Hour)
	got, err = s.ListKeys(ctx)
	must(t, err)
	diff(t, "keys after retiring k1", []store.Key{k2, k3, k1}, got)

	wantErr(t, "RetireKey unknown", s.RetireKey(ctx, "nope", at(3*time.Hour), at(4*time.Hour)), store.ErrNotFound)
	wantErr(t, "RetireKey retired", s.RetireKey(ctx, "k1", at(5*time.Hour), at(6*time.Hour)), store.ErrConflict)
	got, err = s.ListKeys(ctx)
	must(t, err)
	diff(t, "keys after failed retirements", []store.Key{k2, k3, k1}, got)
}
