package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stepup-oidc/stepup/internal/store"
)

func newPushed(hash string) store.PushedRequest {
	return store.PushedRequest{
		Hash:      hash,
		ClientID:  "client-1",
		Payload:   []byte(`{"response_type":"code","client_id":"client-1","state":"` + hash + `"}`),
		CreatedAt: at(0),
		ExpiresAt: at(90 * time.Second),
	}
}

// authorizationDetails returns an RFC 9396 authorization_details JSON array
// of at least n bytes, with non-ASCII text and characters needing escapes.
func authorizationDetails(n int) string {
	var b strings.Builder
	b.WriteByte('[')
	for i := 0; b.Len() < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"type":"payment_initiation","actions":["initiate","status","cancel"],`+
			`"locations":["https://bank-%d.example/payments"],"instructedAmount":{"currency":"NOK","amount":"%d.50"},`+
			`"creditorName":"Ærlig Østlandsk Åpen ✓ 𝄞 \"AS\" \\ 'x'; DROP TABLE grants;--",`+
			`"creditorAccount":{"iban":"NO93860111%05d"},"remittanceInformationUnstructured":"Ref %d\t\n"}`, i, i, i, i)
	}
	b.WriteByte(']')
	return b.String()
}

func testPushedCreateConsume(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	r := newPushed("p1")
	must(t, s.CreatePushedRequest(ctx, r))
	bin := newPushed("p-bin") // binary, not UTF-8, 64 KiB
	bin.Payload = make([]byte, 64<<10)
	for i := range bin.Payload {
		bin.Payload[i] = byte(i * 13)
	}
	must(t, s.CreatePushedRequest(ctx, bin))
	// Expiry is the caller's check: an expired request is still returned.
	old := newPushed("p-old")
	old.CreatedAt, old.ExpiresAt = time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2001, 1, 1, 0, 1, 30, 0, time.UTC)
	must(t, s.CreatePushedRequest(ctx, old))
	empty := store.PushedRequest{Hash: "p-empty", ClientID: "client-2"}
	must(t, s.CreatePushedRequest(ctx, empty))

	got, err := s.ConsumePushedRequest(ctx, "p1")
	must(t, err)
	diff(t, "consumed pushed request", r, got)
	_, err = s.ConsumePushedRequest(ctx, "p1")
	wantErr(t, "second ConsumePushedRequest", err, store.ErrNotFound)
	_, err = s.ConsumePushedRequest(ctx, "p1")
	wantErr(t, "third ConsumePushedRequest", err, store.ErrNotFound)

	got, err = s.ConsumePushedRequest(ctx, "p-bin")
	must(t, err)
	if !bytes.Equal(got.Payload, bin.Payload) {
		t.Errorf("payload of %d bytes differs from the %d bytes stored", len(got.Payload), len(bin.Payload))
	}
	got.Payload, bin.Payload = nil, nil // cmp is slow on 64 Ki slice elements
	diff(t, "binary pushed request", bin, got)

	got, err = s.ConsumePushedRequest(ctx, "p-old")
	must(t, err)
	diff(t, "expired pushed request", old, got)

	got, err = s.ConsumePushedRequest(ctx, "p-empty")
	must(t, err)
	diff(t, "pushed request without payload or times", empty, got)
}

func testPushedConcurrent(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	r := newPushed("p1")
	must(t, s.CreatePushedRequest(ctx, r))
	bystander := newPushed("p2")
	must(t, s.CreatePushedRequest(ctx, bystander))
	const n = 16
	reqs := make([]store.PushedRequest, n)
	errs := make([]error, n)
	parallel(n, func(i int) {
		reqs[i], errs[i] = s.ConsumePushedRequest(ctx, "p1")
	})
	winner := -1
	for i, err := range errs {
		if err == nil {
			if winner >= 0 {
				t.Fatalf("ConsumePushedRequest succeeded for both %d and %d", winner, i)
			}
			winner = i
		}
	}
	if winner < 0 {
		t.Fatalf("no ConsumePushedRequest succeeded: %v", errs)
	}
	for i := range n {
		if i == winner {
			diff(t, "winner's pushed request", r, reqs[i])
			continue
		}
		wantErr(t, fmt.Sprintf("loser %d", i), errs[i], store.ErrNotFound)
		diff(t, fmt.Sprintf("pushed request returned to loser %d", i), store.PushedRequest{}, reqs[i])
	}
	_, err := s.ConsumePushedRequest(ctx, "p1")
	wantErr(t, "ConsumePushedRequest after the race", err, store.ErrNotFound)
	got, err := s.ConsumePushedRequest(ctx, "p2")
	must(t, err)
	diff(t, "bystander pushed request", bystander, got)
}

func testPushedDuplicate(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	r := newPushed("p1")
	must(t, s.CreatePushedRequest(ctx, r))
	dup := newPushed("p1")
	dup.ClientID, dup.Payload = "client-2", []byte("other")
	wantErr(t, "CreatePushedRequest duplicate", s.CreatePushedRequest(ctx, dup), store.ErrConflict)
	got, err := s.ConsumePushedRequest(ctx, "p1")
	must(t, err)
	diff(t, "pushed request after duplicate create", r, got)
}

func testPushedUnknown(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	r := newPushed("p1")
	must(t, s.CreatePushedRequest(ctx, r))
	_, err := s.ConsumePushedRequest(ctx, "nope")
	wantErr(t, "ConsumePushedRequest unknown", err, store.ErrNotFound)
	_, err = s.ConsumePushedRequest(ctx, "P1")
	wantErr(t, "ConsumePushedRequest other case", err, store.ErrNotFound)
	_, err = s.ConsumePushedRequest(ctx, "")
	wantErr(t, "ConsumePushedRequest empty", err, store.ErrNotFound)
	got, err := s.ConsumePushedRequest(ctx, "p1")
	must(t, err)
	diff(t, "pushed request", r, got)
}

func testPushedDeleteExpired(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	now := at(0)
	// One expired ("old"), one expiring exactly now ("now": not expired
	// yet), one live ("new") and one that never expires ("never").
	exp := map[string]time.Time{"old": now.Add(-time.Microsecond), "now": now, "new": now.Add(time.Minute), "never": {}}
	want := map[string]store.PushedRequest{}
	for name, e := range exp {
		r := newPushed("p-" + name)
		r.CreatedAt, r.ExpiresAt = at(-time.Hour), e
		must(t, s.CreatePushedRequest(ctx, r))
		want[name] = r
	}
	n, err := s.DeleteExpired(ctx, now)
	must(t, err)
	if n != 1 {
		t.Errorf("DeleteExpired removed %d rows, want 1", n)
	}
	n, err = s.DeleteExpired(ctx, now)
	must(t, err)
	if n != 0 {
		t.Errorf("second DeleteExpired removed %d rows, want 0", n)
	}
	for name := range exp {
		got, err := s.ConsumePushedRequest(ctx, "p-"+name)
		if name == "old" {
			wantErr(t, "expired pushed request after DeleteExpired", err, store.ErrNotFound)
			continue
		}
		if err != nil {
			t.Errorf("pushed request %q after DeleteExpired: %v", name, err)
			continue
		}
		diff(t, "pushed request "+name, want[name], got)
	}
}

// testTxPushed checks pushed requests inside transactions: a consumption
// rolled back leaves the request consumable, and the sentinel errors leave
// the transaction usable.
func testTxPushed(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	r := newPushed("p1")
	must(t, s.CreatePushedRequest(ctx, r))
	boom := errors.New("boom")
	err := s.Tx(ctx, func(tx store.Store) error {
		got, err := tx.ConsumePushedRequest(ctx, "p1")
		if err != nil {
			return err
		}
		diff(t, "pushed request consumed in Tx", r, got)
		_, err = tx.ConsumePushedRequest(ctx, "p1")
		wantErr(t, "ConsumePushedRequest again in Tx", err, store.ErrNotFound)
		return boom
	})
	wantErr(t, "Tx", err, boom)

	err = s.Tx(ctx, func(tx store.Store) error {
		wantErr(t, "CreatePushedRequest duplicate in Tx", tx.CreatePushedRequest(ctx, newPushed("p1")), store.ErrConflict)
		_, err := tx.ConsumePushedRequest(ctx, "nope")
		wantErr(t, "ConsumePushedRequest unknown in Tx", err, store.ErrNotFound)
		if err := tx.CreatePushedRequest(ctx, newPushed("p2")); err != nil {
			return err
		}
		got, err := tx.ConsumePushedRequest(ctx, "p1")
		if err != nil {
			return fmt.Errorf("consume after a rolled back consumption: %w", err)
		}
		diff(t, "pushed request consumed after rollback", r, got)
		return nil
	})
	must(t, err)
	_, err = s.ConsumePushedRequest(ctx, "p1")
	wantErr(t, "ConsumePushedRequest after committed consumption", err, store.ErrNotFound)
	got, err := s.ConsumePushedRequest(ctx, "p2")
	must(t, err)
	diff(t, "pushed request created in Tx", newPushed("p2"), got)
}

func testCodesLargeAuthorizationDetails(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	ad := authorizationDetails(64 << 10)
	c := newCode("h1")
	c.AuthorizationDetails = ad
	must(t, s.CreateCode(ctx, c))
	got, err := s.ConsumeCode(ctx, "h1", "g1", at(time.Second))
	must(t, err)
	want := c
	want.GrantID, want.ConsumedAt = "g1", at(time.Second)
	diff(t, "consumed code", want, got)
	got, err = s.ConsumeCode(ctx, "h1", "g2", at(time.Minute))
	wantErr(t, "second ConsumeCode", err, store.ErrAlreadyUsed)
	diff(t, "code returned with ErrAlreadyUsed", want, got)
}

func testGrantsLargeAuthorizationDetails(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	ad := authorizationDetails(64 << 10)
	g := newGrant("g1")
	g.AuthorizationDetails = ad
	must(t, s.CreateGrant(ctx, g))
	got, err := s.GetGrant(ctx, "g1")
	must(t, err)
	diff(t, "grant", g, got)
	must(t, s.RevokeGrant(ctx, "g1", at(time.Hour)))
	got, err = s.GetGrant(ctx, "g1")
	must(t, err)
	g.RevokedAt = at(time.Hour)
	diff(t, "revoked grant", g, got)
}
