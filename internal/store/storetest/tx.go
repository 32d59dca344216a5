package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stepup-oidc/stepup/internal/authn"
	"github.com/stepup-oidc/stepup/internal/store"
)

func testTxCommit(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	must(t, s.CreateCode(ctx, newCode("h1")))
	must(t, s.CreateSession(ctx, newSession("s1", "u1", at(0))))
	err := s.Tx(ctx, func(tx store.Store) error {
		if _, err := tx.ConsumeCode(ctx, "h1", "g1", at(time.Second)); err != nil {
			return err
		}
		if err := tx.CreateGrant(ctx, newGrant("g1")); err != nil {
			return err
		}
		if err := tx.CreateRefreshToken(ctx, newRefresh("r1", "g1")); err != nil {
			return err
		}
		if err := tx.AppendEvent(ctx, "s1", newEvent(authn.MethodTOTP, time.Second)); err != nil {
			return err
		}
		// Reads inside the transaction see its writes.
		if _, err := tx.GetGrant(ctx, "g1"); err != nil {
			return fmt.Errorf("read own write: %w", err)
		}
		sess, err := tx.GetSession(ctx, "s1")
		if err != nil {
			return err
		}
		if len(sess.Events) != 2 {
			return fmt.Errorf("read own write: %d events, want 2", len(sess.Events))
		}
		return nil
	})
	must(t, err)
	_, err = s.ConsumeCode(ctx, "h1", "g2", at(time.Minute))
	wantErr(t, "code consumed in committed Tx", err, store.ErrAlreadyUsed)
	got, err := s.GetGrant(ctx, "g1")
	must(t, err)
	diff(t, "grant created in Tx", newGrant("g1"), got)
	_, err = s.GetRefreshToken(ctx, "r1")
	must(t, err)
	sess, err := s.GetSession(ctx, "s1")
	must(t, err)
	if len(sess.Events) != 2 {
		t.Errorf("session has %d events after Tx, want 2", len(sess.Events))
	}
}

func testTxRollback(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	must(t, s.CreateSession(ctx, newSession("s1", "u1", at(0))))
	must(t, s.CreateKey(ctx, newKey("k1", at(0))))
	rc := newCredential("c-rc", "u1", store.CredentialRecovery, at(0))
	must(t, s.CreateCredential(ctx, rc))
	boom := errors.New("boom")
	err := s.Tx(ctx, func(tx store.Store) error {
		must(t, tx.CreateClient(ctx, newClient("app")))
		must(t, tx.CreateUser(ctx, newUser("u1", "alice")))
		must(t, tx.AppendEvent(ctx, "s1", newEvent(authn.MethodTOTP, time.Second)))
		must(t, tx.RotateSessionHandle(ctx, "s1", "handle-s1", "handle-new"))
		must(t, tx.RetireKey(ctx, "k1", at(time.Hour), at(2*time.Hour)))
		must(t, tx.CreateGrant(ctx, newGrant("g1")))
		must(t, tx.DeleteCredential(ctx, "c-rc"))
		must(t, tx.CreateLink(ctx, store.Link{Upstream: "up", Subject: "sub", UserID: "u1"}))
		return fmt.Errorf("wrapped: %w", boom)
	})
	wantErr(t, "Tx error", err, boom)
	_, err = s.GetClient(ctx, "app")
	wantErr(t, "client of rolled back Tx", err, store.ErrNotFound)
	_, err = s.GetUserByUsername(ctx, "alice")
	wantErr(t, "user of rolled back Tx", err, store.ErrNotFound)
	_, err = s.GetGrant(ctx, "g1")
	wantErr(t, "grant of rolled back Tx", err, store.ErrNotFound)
	got, err := s.GetSessionByHandle(ctx, "handle-s1")
	must(t, err)
	diff(t, "session after rolled back Tx", newSession("s1", "u1", at(0)), got)
	keys, err := s.ListKeys(ctx)
	must(t, err)
	diff(t, "keys after rolled back Tx", []store.Key{newKey("k1", at(0))}, keys)
	gotRC, err := s.GetCredential(ctx, "c-rc")
	must(t, err)
	diff(t, "credential deleted in rolled back Tx", rc, gotRC)
	_, err = s.GetLink(ctx, "up", "sub")
	wantErr(t, "link of rolled back Tx", err, store.ErrNotFound)

	// The store is still usable, for transactions too.
	must(t, s.Tx(ctx, func(tx store.Store) error { return tx.CreateClient(ctx, newClient("app")) }))
	_, err = s.GetClient(ctx, "app")
	must(t, err)
}

func testTxPanic(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("recovered %v, want the panic value boom", r)
			}
		}()
		s.Tx(ctx, func(tx store.Store) error {
			must(t, tx.CreateClient(ctx, newClient("app")))
			panic("boom")
		})
	}()
	_, err := s.GetClient(ctx, "app")
	wantErr(t, "client of panicked Tx", err, store.ErrNotFound)
	must(t, s.CreateClient(ctx, newClient("app2")))
	must(t, s.Tx(ctx, func(tx store.Store) error { return tx.CreateClient(ctx, newClient("app3")) }))
}

func testTxIsolation(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	err := s.Tx(ctx, func(tx store.Store) error {
		if err := tx.CreateClient(ctx, newClient("app")); err != nil {
			return err
		}
		if _, err := tx.GetClient(ctx, "app"); err != nil {
			return fmt.Errorf("inside: %w", err)
		}
		_, err := s.GetClient(ctx, "app")
		wantErr(t, "uncommitted client read outside the Tx", err, store.ErrNotFound)
		return nil
	})
	must(t, err)
	_, err = s.GetClient(ctx, "app")
	must(t, err)
}

func testTxVisible(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	must(t, s.Tx(ctx, func(tx store.Store) error {
		if err := tx.CreateClient(ctx, newClient("app")); err != nil {
			return err
		}
		return tx.CreateUser(ctx, newUser("u1", "alice"))
	}))
	// Enough concurrent readers to need several pooled connections.
	const n = 8
	errs := make([]error, n)
	parallel(n, func(i int) {
		if _, err := s.GetClient(ctx, "app"); err != nil {
			errs[i] = err
			return
		}
		_, errs[i] = s.GetUserByUsername(ctx, "ALICE")
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("reader %d: %v", i, err)
		}
	}
}

func testTxNested(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	inner := errors.New("inner")
	err := s.Tx(ctx, func(tx store.Store) error {
		if err := tx.CreateClient(ctx, newClient("outer")); err != nil {
			return err
		}
		err := tx.Tx(ctx, func(tx2 store.Store) error {
			must(t, tx2.CreateClient(ctx, newClient("inner")))
			return inner
		})
		wantErr(t, "inner Tx", err, inner)
		if _, err := tx.GetClient(ctx, "inner"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("client of failed inner Tx, read in outer: %v, want ErrNotFound", err)
		}
		return tx.Tx(ctx, func(tx2 store.Store) error { return tx2.CreateClient(ctx, newClient("inner2")) })
	})
	must(t, err)
	got, err := s.ListClients(ctx)
	must(t, err)
	diff(t, "clients after nested Tx", []store.Client{newClient("inner2"), newClient("outer")}, got)
}

func testTxSentinels(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	must(t, s.CreateClient(ctx, newClient("app")))
	must(t, s.CreateUser(ctx, newUser("u1", "alice")))
	must(t, s.CreateUser(ctx, newUser("u2", "bob")))
	must(t, s.CreateCode(ctx, newCode("h1")))
	_, err := s.ConsumeCode(ctx, "h1", "g0", at(0))
	must(t, err)
	must(t, s.CreateCredential(ctx, newCredential("c-totp", "u1", store.CredentialTOTP, at(0))))
	must(t, s.CreateLink(ctx, store.Link{Upstream: "up", Subject: "sub", UserID: "u1"}))
	nnin := newUser("u4", "dave")
	nnin.NNIN = "01017012345"
	must(t, s.CreateUser(ctx, nnin))
	err = s.Tx(ctx, func(tx store.Store) error {
		wantErr(t, "CreateClient duplicate", tx.CreateClient(ctx, newClient("app")), store.ErrConflict)
		wantErr(t, "CreateUser duplicate", tx.CreateUser(ctx, newUser("u3", "ALICE")), store.ErrConflict)
		b := newUser("u2", "alice")
		wantErr(t, "UpdateUser to taken username", tx.UpdateUser(ctx, b), store.ErrConflict)
		_, err := tx.UpsertUserByUsername(ctx, newUser("u1", "carol"))
		wantErr(t, "UpsertUserByUsername with a taken id", err, store.ErrConflict)
		_, err = tx.GetClient(ctx, "nope")
		wantErr(t, "GetClient", err, store.ErrNotFound)
		_, err = tx.ConsumeCode(ctx, "h1", "g1", at(time.Second))
		wantErr(t, "ConsumeCode", err, store.ErrAlreadyUsed)
		_, err = tx.ConsumeCode(ctx, "nope", "g1", at(time.Second))
		wantErr(t, "ConsumeCode", err, store.ErrNotFound)
		wantErr(t, "AppendEvent", tx.AppendEvent(ctx, "nope", newEvent(authn.MethodTOTP, 0)), store.ErrNotFound)
		wantErr(t, "UseCredential replay", tx.UseCredential(ctx, "c-totp", 100, at(0)), store.ErrConflict)
		wantErr(t, "CreateLink duplicate", tx.CreateLink(ctx, store.Link{Upstream: "up", Subject: "sub"}), store.ErrConflict)
		wantErr(t, "CreateCredential duplicate",
			tx.CreateCredential(ctx, newCredential("c-totp", "u2", store.CredentialTOTP, at(0))), store.ErrConflict)
		taken := newUser("u1", "alice")
		taken.NNIN = nnin.NNIN
		wantErr(t, "UpdateUser to a taken NNIN", tx.UpdateUser(ctx, taken), store.ErrConflict)
		return tx.CreateClient(ctx, newClient("app2"))
	})
	must(t, err)
	_, err = s.GetClient(ctx, "app2")
	must(t, err)
	users, err := s.ListUsers(ctx)
	must(t, err)
	diff(t, "users", []store.User{newUser("u1", "alice"), newUser("u2", "bob"), nnin}, users)
}

func testTxConsumeRollback(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	must(t, s.CreateCode(ctx, newCode("h1")))
	must(t, s.CreateRefreshToken(ctx, newRefresh("r1", "g0")))
	boom := errors.New("boom")
	err := s.Tx(ctx, func(tx store.Store) error {
		if _, err := tx.ConsumeCode(ctx, "h1", "g1", at(time.Second)); err != nil {
			return err
		}
		if _, err := tx.UseRefreshToken(ctx, "r1", at(time.Second)); err != nil {
			return err
		}
		return boom
	})
	wantErr(t, "Tx", err, boom)
	c, err := s.ConsumeCode(ctx, "h1", "g2", at(time.Minute))
	must(t, err)
	if c.GrantID != "g2" {
		t.Errorf("GrantID %q, want g2", c.GrantID)
	}
	rt, err := s.UseRefreshToken(ctx, "r1", at(time.Minute))
	must(t, err)
	diff(t, "refresh token UsedAt", at(time.Minute), rt.UsedAt)
}
