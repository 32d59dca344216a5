package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stepup-oidc/stepup/internal/store"
)

// ciba returns s's CIBA methods. store.Store does not embed store.CIBA yet,
// but every backend implements it.
func ciba(t *testing.T, s store.Store) store.CIBA {
	t.Helper()
	c, ok := s.(store.CIBA)
	if !ok {
		t.Fatalf("%T does not implement store.CIBA", s)
	}
	return c
}

func newCIBA(id, userID string, created time.Time) store.CIBARequest {
	return store.CIBARequest{
		ID:                   id,
		ClientID:             "client-1",
		UserID:               userID,
		Scope:                "openid profile",
		ACRValues:            []string{"urn:stepup:acr:mfa", "urn:stepup:acr:pwd"},
		BindingMessage:       "Ærlig W4SCT ✓",
		AuthorizationDetails: accountDetails,
		Mode:                 "ping",
		NotificationToken:    "8d67dc78-7faa-4d41-aabd-67707b374255",
		Status:               store.CIBAPending,
		IntervalSeconds:      5,
		CreatedAt:            created,
		ExpiresAt:            created.Add(2 * time.Minute),
	}
}

func testCIBACreateGet(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	c := ciba(t, s)
	r := newCIBA("c1", "u1", at(0))
	must(t, c.CreateCIBARequest(ctx, r))
	got, err := c.GetCIBARequest(ctx, "c1")
	must(t, err)
	diff(t, "ciba request", r, got)

	// Every field set, as a decided and redeemed request.
	full := newCIBA("c2", "u1", at(0))
	full.Mode, full.Status = "poll", store.CIBAApproved
	full.ACR, full.AMR, full.AuthTime = "urn:stepup:acr:mfa", []string{"pwd", "otp"}, at(10*time.Second)
	full.LastPolledAt, full.DecidedAt = at(15*time.Second), at(11*time.Second)
	full.GrantID, full.RedeemedAt = "g1", at(20*time.Second)
	full.AuthorizationDetails = authorizationDetails(16 << 10)
	must(t, c.CreateCIBARequest(ctx, full))
	got, err = c.GetCIBARequest(ctx, "c2")
	must(t, err)
	diff(t, "full ciba request", full, got)

	empty := store.CIBARequest{ID: "c3"}
	must(t, c.CreateCIBARequest(ctx, empty))
	got, err = c.GetCIBARequest(ctx, "c3")
	must(t, err)
	diff(t, "empty ciba request", empty, got)
}

func testCIBADuplicate(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	c := ciba(t, s)
	r := newCIBA("c1", "u1", at(0))
	must(t, c.CreateCIBARequest(ctx, r))
	dup := newCIBA("c1", "u2", at(time.Hour))
	dup.Status = store.CIBAApproved
	wantErr(t, "CreateCIBARequest duplicate", c.CreateCIBARequest(ctx, dup), store.ErrConflict)
	got, err := c.GetCIBARequest(ctx, "c1")
	must(t, err)
	diff(t, "ciba request after duplicate create", r, got)
}

func testCIBAUnknown(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	c := ciba(t, s)
	must(t, c.CreateCIBARequest(ctx, newCIBA("c1", "u1", at(0))))
	for _, id := range []string{"nope", "C1", ""} {
		_, err := c.GetCIBARequest(ctx, id)
		wantErr(t, fmt.Sprintf("GetCIBARequest(%q)", id), err, store.ErrNotFound)
		err = c.DecideCIBARequest(ctx, id, store.CIBAApproved, "acr", []string{"pwd"}, at(0), at(time.Second))
		wantErr(t, fmt.Sprintf("DecideCIBARequest(%q)", id), err, store.ErrNotFound)
		prev, err := c.TouchCIBARequest(ctx, id, at(time.Second))
		wantErr(t, fmt.Sprintf("TouchCIBARequest(%q)", id), err, store.ErrNotFound)
		if !prev.IsZero() {
			t.Errorf("TouchCIBARequest(%q) returned %v with its error", id, prev)
		}
		got, err := c.RedeemCIBARequest(ctx, id, "g1", at(time.Second))
		wantErr(t, fmt.Sprintf("RedeemCIBARequest(%q)", id), err, store.ErrNotFound)
		diff(t, "request returned by RedeemCIBARequest of unknown", store.CIBARequest{}, got)
	}
	got, err := c.GetCIBARequest(ctx, "c1")
	must(t, err)
	diff(t, "bystander ciba request", newCIBA("c1", "u1", at(0)), got)
}

func testCIBAListPending(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	c := ciba(t, s)
	now := at(0)
	got, err := c.ListPendingCIBARequests(ctx, "u1", now)
	must(t, err)
	diff(t, "pending requests of user without any", []store.CIBARequest(nil), got)

	// Created out of order; "b" and "a" share a creation time.
	later := newCIBA("later", "u1", now.Add(-time.Second))
	first := newCIBA("first", "u1", now.Add(-time.Hour))
	first.ExpiresAt = now.Add(time.Microsecond)
	b := newCIBA("b", "u1", now.Add(-time.Minute))
	a := newCIBA("a", "u1", now.Add(-time.Minute))
	never := newCIBA("never", "u1", now.Add(-30*time.Second))
	never.ExpiresAt = time.Time{}
	expired := newCIBA("expired", "u1", now.Add(-time.Hour))
	expired.ExpiresAt = now.Add(-time.Microsecond)
	expiresNow := newCIBA("expires-now", "u1", now.Add(-time.Hour))
	expiresNow.ExpiresAt = now
	approved := newCIBA("approved", "u1", now.Add(-time.Minute))
	denied := newCIBA("denied", "u1", now.Add(-time.Minute))
	other := newCIBA("other", "u2", now.Add(-time.Minute))
	for _, r := range []store.CIBARequest{later, first, b, a, never, expired, expiresNow, approved, denied, other} {
		must(t, c.CreateCIBARequest(ctx, r))
	}
	must(t, c.DecideCIBARequest(ctx, "approved", store.CIBAApproved, "acr", []string{"pwd"}, now, now))
	must(t, c.DecideCIBARequest(ctx, "denied", store.CIBADenied, "", nil, time.Time{}, now))

	got, err = c.ListPendingCIBARequests(ctx, "u1", now)
	must(t, err)
	diff(t, "pending requests of u1", []store.CIBARequest{first, a, b, never, later}, got)
	got, err = c.ListPendingCIBARequests(ctx, "u2", now)
	must(t, err)
	diff(t, "pending requests of u2", []store.CIBARequest{other}, got)
	got, err = c.ListPendingCIBARequests(ctx, "U1", now)
	must(t, err)
	diff(t, "pending requests of U1", []store.CIBARequest(nil), got)
	got, err = c.ListPendingCIBARequests(ctx, "u1", now.Add(time.Hour))
	must(t, err)
	diff(t, "pending requests of u1 an hour later", []store.CIBARequest{never}, got)
}

func testCIBADecide(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	c := ciba(t, s)
	r := newCIBA("c1", "u1", at(0))
	must(t, c.CreateCIBARequest(ctx, r))
	d := newCIBA("c2", "u1", at(0))
	must(t, c.CreateCIBARequest(ctx, d))

	amr := []string{"hwk", "user"}
	must(t, c.DecideCIBARequest(ctx, "c1", store.CIBAApproved, "urn:stepup:acr:phr", amr, at(20*time.Second), at(21*time.Second)))
	want := r
	want.Status, want.ACR, want.AMR = store.CIBAApproved, "urn:stepup:acr:phr", []string{"hwk", "user"}
	want.AuthTime, want.DecidedAt = at(20*time.Second), at(21*time.Second)
	amr[0] = "changed" // the store must not keep the caller's slice
	got, err := c.GetCIBARequest(ctx, "c1")
	must(t, err)
	diff(t, "approved ciba request", want, got)

	err = c.DecideCIBARequest(ctx, "c1", store.CIBADenied, "", nil, time.Time{}, at(time.Minute))
	wantErr(t, "second DecideCIBARequest", err, store.ErrConflict)
	err = c.DecideCIBARequest(ctx, "c1", store.CIBAApproved, "x", []string{"pwd"}, at(time.Minute), at(time.Minute))
	wantErr(t, "third DecideCIBARequest", err, store.ErrConflict)
	got, err = c.GetCIBARequest(ctx, "c1")
	must(t, err)
	diff(t, "ciba request after second decision", want, got)

	must(t, c.DecideCIBARequest(ctx, "c2", store.CIBADenied, "", nil, time.Time{}, at(time.Second)))
	wantD := d
	wantD.Status, wantD.DecidedAt = store.CIBADenied, at(time.Second)
	got, err = c.GetCIBARequest(ctx, "c2")
	must(t, err)
	diff(t, "denied ciba request", wantD, got)
	err = c.DecideCIBARequest(ctx, "c2", store.CIBAApproved, "acr", []string{"pwd"}, at(time.Second), at(time.Minute))
	wantErr(t, "DecideCIBARequest of denied", err, store.ErrConflict)
	got, err = c.GetCIBARequest(ctx, "c2")
	must(t, err)
	diff(t, "denied ciba request after second decision", wantD, got)
}

func testCIBADecideConcurrent(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	c := ciba(t, s)
	r := newCIBA("c1", "u1", at(0))
	must(t, c.CreateCIBARequest(ctx, r))
	bystander := newCIBA("c2", "u1", at(0))
	must(t, c.CreateCIBARequest(ctx, bystander))
	const n = 16
	errs := make([]error, n)
	parallel(n, func(i int) {
		status := store.CIBAApproved
		if i%2 == 1 {
			status = store.CIBADenied
		}
		errs[i] = c.DecideCIBARequest(ctx, "c1", status, fmt.Sprint("acr-", i), []string{fmt.Sprint("amr-", i)},
			at(time.Duration(i)*time.Second), at(time.Duration(i)*time.Second+time.Millisecond))
	})
	winner := -1
	for i, err := range errs {
		if err == nil {
			if winner >= 0 {
				t.Fatalf("DecideCIBARequest succeeded for both %d and %d", winner, i)
			}
			winner = i
			continue
		}
		wantErr(t, fmt.Sprintf("loser %d", i), err, store.ErrConflict)
	}
	if winner < 0 {
		t.Fatalf("no DecideCIBARequest succeeded: %v", errs)
	}
	want := r
	want.Status = store.CIBAApproved
	if winner%2 == 1 {
		want.Status = store.CIBADenied
	}
	want.ACR, want.AMR = fmt.Sprint("acr-", winner), []string{fmt.Sprint("amr-", winner)}
	want.AuthTime, want.DecidedAt = at(time.Duration(winner)*time.Second), at(time.Duration(winner)*time.Second+time.Millisecond)
	got, err := c.GetCIBARequest(ctx, "c1")
	must(t, err)
	diff(t, "ciba request after the race", want, got)
	got, err = c.GetCIBARequest(ctx, "c2")
	must(t, err)
	diff(t, "bystander ciba request", bystander, got)
}

func testCIBATouch(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	c := ciba(t, s)
	r := newCIBA("c1", "u1", at(0))
	must(t, c.CreateCIBARequest(ctx, r))
	prev, err := c.TouchCIBARequest(ctx, "c1", at(5*time.Second))
	must(t, err)
	if !prev.IsZero() {
		t.Errorf("first TouchCIBARequest returned %v, want the zero time", prev)
	}
	prev, err = c.TouchCIBARequest(ctx, "c1", at(10*time.Second+time.Microsecond))
	must(t, err)
	if !sameTime(prev, at(5*time.Second)) {
		t.Errorf("second TouchCIBARequest returned %v, want %v", prev, at(5*time.Second))
	}
	got, err := c.GetCIBARequest(ctx, "c1")
	must(t, err)
	want := r
	want.LastPolledAt = at(10*time.Second + time.Microsecond)
	diff(t, "polled ciba request", want, got)

	// Concurrent polls: each sees the one before it, so the previous poll
	// times returned are the zero time once plus all but one of the others.
	must(t, c.CreateCIBARequest(ctx, newCIBA("c2", "u1", at(0))))
	const n = 16
	prevs := make([]time.Time, n)
	errs := make([]error, n)
	parallel(n, func(i int) {
		prevs[i], errs[i] = c.TouchCIBARequest(ctx, "c2", at(time.Duration(i+1)*time.Second))
	})
	seen := map[time.Time]int{}
	for i := range n {
		must(t, errs[i])
		seen[prevs[i]]++
	}
	got, err = c.GetCIBARequest(ctx, "c2")
	must(t, err)
	seen[got.LastPolledAt]++
	if len(seen) != n+1 {
		t.Errorf("concurrent TouchCIBARequest: previous poll times plus the last %v are not %d distinct times", seen, n+1)
	}
	if seen[time.Time{}] != 1 {
		t.Errorf("concurrent TouchCIBARequest returned the zero time %d times, want once", seen[time.Time{}])
	}
}

func testCIBARedeem(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	c := ciba(t, s)
	r := newCIBA("c1", "u1", at(0))
	must(t, c.CreateCIBARequest(ctx, r))

	got, err := c.RedeemCIBARequest(ctx, "c1", "g0", at(time.Second))
	wantErr(t, "RedeemCIBARequest of pending", err, store.ErrConflict)
	diff(t, "pending request returned by RedeemCIBARequest", r, got)

	must(t, c.DecideCIBARequest(ctx, "c1", store.CIBAApproved, "urn:stepup:acr:mfa", []string{"pwd", "otp"},
		at(2*time.Second), at(3*time.Second)))
	want := r
	want.Status, want.ACR, want.AMR = store.CIBAApproved, "urn:stepup:acr:mfa", []string{"pwd", "otp"}
	want.AuthTime, want.DecidedAt = at(2*time.Second), at(3*time.Second)
	want.GrantID, want.RedeemedAt = "g1", at(4*time.Second)
	got, err = c.RedeemCIBARequest(ctx, "c1", "g1", at(4*time.Second))
	must(t, err)
	diff(t, "redeemed ciba request", want, got)
	got, err = c.RedeemCIBARequest(ctx, "c1", "g2", at(5*time.Second))
	wantErr(t, "second RedeemCIBARequest", err, store.ErrAlreadyUsed)
	diff(t, "ciba request returned with ErrAlreadyUsed", want, got)
	got, err = c.GetCIBARequest(ctx, "c1")
	must(t, err)
	diff(t, "ciba request after second redemption", want, got)
	err = c.DecideCIBARequest(ctx, "c1", store.CIBADenied, "", nil, time.Time{}, at(time.Minute))
	wantErr(t, "DecideCIBARequest of redeemed", err, store.ErrConflict)

	d := newCIBA("c2", "u1", at(0))
	must(t, c.CreateCIBARequest(ctx, d))
	must(t, c.DecideCIBARequest(ctx, "c2", store.CIBADenied, "", nil, time.Time{}, at(time.Second)))
	d.Status, d.DecidedAt = store.CIBADenied, at(time.Second)
	got, err = c.RedeemCIBARequest(ctx, "c2", "g3", at(2*time.Second))
	wantErr(t, "RedeemCIBARequest of denied", err, store.ErrConflict)
	diff(t, "denied request returned by RedeemCIBARequest", d, got)
	got, err = c.GetCIBARequest(ctx, "c2")
	must(t, err)
	diff(t, "denied ciba request after redemption attempt", d, got)
}

func testCIBARedeemConcurrent(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	c := ciba(t, s)
	r := newCIBA("c1", "u1", at(0))
	must(t, c.CreateCIBARequest(ctx, r))
	must(t, c.DecideCIBARequest(ctx, "c1", store.CIBAApproved, "acr", []string{"pwd"}, at(time.Second), at(time.Second)))
	r.Status, r.ACR, r.AMR, r.AuthTime, r.DecidedAt = store.CIBAApproved, "acr", []string{"pwd"}, at(time.Second), at(time.Second)
	const n = 16
	reqs := make([]store.CIBARequest, n)
	errs := make([]error, n)
	parallel(n, func(i int) {
		reqs[i], errs[i] = c.RedeemCIBARequest(ctx, "c1", fmt.Sprint("g-", i), at(time.Duration(i+2)*time.Second))
	})
	winner := -1
	for i, err := range errs {
		if err == nil {
			if winner >= 0 {
				t.Fatalf("RedeemCIBARequest succeeded for both %d and %d", winner, i)
			}
			winner = i
		}
	}
	if winner < 0 {
		t.Fatalf("no RedeemCIBARequest succeeded: %v", errs)
	}
	want := r
	want.GrantID, want.RedeemedAt = fmt.Sprint("g-", winner), at(time.Duration(winner+2)*time.Second)
	for i := range n {
		if i != winner {
			wantErr(t, fmt.Sprintf("loser %d", i), errs[i], store.ErrAlreadyUsed)
		}
		diff(t, fmt.Sprintf("ciba request returned to %d", i), want, reqs[i])
	}
	got, err := c.GetCIBARequest(ctx, "c1")
	must(t, err)
	diff(t, "ciba request after the race", want, got)
}

func testCIBADeleteExpired(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	c := ciba(t, s)
	now := at(0)
	// One expired ("old"), one expiring exactly now ("now": not expired
	// yet), one live ("new") and one that never expires ("never"), each
	// pending and approved.
	exp := map[string]time.Time{"old": now.Add(-time.Microsecond), "now": now, "new": now.Add(time.Minute), "never": {}}
	want := map[string]store.CIBARequest{}
	for name, e := range exp {
		for _, status := range []string{store.CIBAPending, store.CIBAApproved} {
			r := newCIBA(name+"-"+status, "u1", at(-time.Hour))
			r.Status, r.ExpiresAt = status, e
			must(t, c.CreateCIBARequest(ctx, r))
			want[r.ID] = r
		}
	}
	// A live row of another kind with the same id stays.
	must(t, s.CreatePushedRequest(ctx, newPushed("old-"+store.CIBAPending)))
	n, err := s.DeleteExpired(ctx, now)
	must(t, err)
	if n != 2 {
		t.Errorf("DeleteExpired removed %d rows, want 2", n)
	}
	n, err = s.DeleteExpired(ctx, now)
	must(t, err)
	if n != 0 {
		t.Errorf("second DeleteExpired removed %d rows, want 0", n)
	}
	for id, r := range want {
		got, err := c.GetCIBARequest(ctx, id)
		if r.ExpiresAt.Equal(exp["old"]) {
			wantErr(t, "expired ciba request "+id+" after DeleteExpired", err, store.ErrNotFound)
			continue
		}
		if err != nil {
			t.Errorf("ciba request %q after DeleteExpired: %v", id, err)
			continue
		}
		diff(t, "ciba request "+id, r, got)
	}
	_, err = s.ConsumePushedRequest(ctx, "old-"+store.CIBAPending)
	must(t, err)
}

// testTxCIBA checks CIBA requests inside transactions: a decision and a
// redemption rolled back are undone, and the sentinel errors leave the
// transaction usable.
func testTxCIBA(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	c := ciba(t, s)
	r := newCIBA("c1", "u1", at(0))
	must(t, c.CreateCIBARequest(ctx, r))
	boom := errors.New("boom")
	err := s.Tx(ctx, func(tx store.Store) error {
		tc := ciba(t, tx)
		if err := tc.DecideCIBARequest(ctx, "c1", store.CIBAApproved, "acr", []string{"pwd"}, at(time.Second), at(time.Second)); err != nil {
			return err
		}
		if _, err := tc.RedeemCIBARequest(ctx, "c1", "g1", at(2*time.Second)); err != nil {
			return err
		}
		if _, err := tc.TouchCIBARequest(ctx, "c1", at(3*time.Second)); err != nil {
			return err
		}
		return boom
	})
	wantErr(t, "Tx", err, boom)
	got, err := c.GetCIBARequest(ctx, "c1")
	must(t, err)
	diff(t, "ciba request after rolled back Tx", r, got)

	err = s.Tx(ctx, func(tx store.Store) error {
		tc := ciba(t, tx)
		wantErr(t, "CreateCIBARequest duplicate in Tx", tc.CreateCIBARequest(ctx, newCIBA("c1", "u2", at(0))), store.ErrConflict)
		_, err := tc.GetCIBARequest(ctx, "nope")
		wantErr(t, "GetCIBARequest unknown in Tx", err, store.ErrNotFound)
		_, err = tc.RedeemCIBARequest(ctx, "c1", "g0", at(time.Second))
		wantErr(t, "RedeemCIBARequest of pending in Tx", err, store.ErrConflict)
		_, err = tc.TouchCIBARequest(ctx, "nope", at(time.Second))
		wantErr(t, "TouchCIBARequest unknown in Tx", err, store.ErrNotFound)
		if err := tc.DecideCIBARequest(ctx, "c1", store.CIBAApproved, "acr", []string{"pwd"}, at(time.Second), at(time.Second)); err != nil {
			return err
		}
		err = tc.DecideCIBARequest(ctx, "c1", store.CIBADenied, "", nil, time.Time{}, at(time.Second))
		wantErr(t, "second DecideCIBARequest in Tx", err, store.ErrConflict)
		if _, err := tc.RedeemCIBARequest(ctx, "c1", "g1", at(2*time.Second)); err != nil {
			return err
		}
		_, err = tc.RedeemCIBARequest(ctx, "c1", "g2", at(3*time.Second))
		wantErr(t, "second RedeemCIBARequest in Tx", err, store.ErrAlreadyUsed)
		return nil
	})
	must(t, err)
	got, err = c.GetCIBARequest(ctx, "c1")
	must(t, err)
	want := r
	want.Status, want.ACR, want.AMR, want.AuthTime, want.DecidedAt = store.CIBAApproved, "acr", []string{"pwd"}, at(time.Second), at(time.Second)
	want.GrantID, want.RedeemedAt = "g1", at(2*time.Second)
	diff(t, "ciba request after committed Tx", want, got)
}
