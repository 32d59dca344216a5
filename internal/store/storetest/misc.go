package storetest

import (
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/stepup-oidc/stepup/internal/authn"
	"github.com/stepup-oidc/stepup/internal/store"
)

// checkTime fails t unless got is in as the contract says a store returns
// it: in UTC, without monotonic reading, truncated to microseconds.
func checkTime(t *testing.T, what string, in, got time.Time) {
	t.Helper()
	want := in.Round(0).UTC().Truncate(time.Microsecond)
	if in.IsZero() {
		want = time.Time{}
	}
	switch {
	case !got.Equal(want):
		t.Errorf("%s: got %v, want %v (from %v)", what, got, want, in)
	case got.Location() != time.UTC:
		t.Errorf("%s: location %v, want UTC", what, got.Location())
	case hasMono(got):
		t.Errorf("%s: %v has a monotonic clock reading", what, got)
	case got.Nanosecond()%1000 != 0:
		t.Errorf("%s: %v has sub-microsecond precision", what, got)
	case in.IsZero() && !got.IsZero():
		t.Errorf("%s: got %v, want the zero time", what, got)
	}
}

func testTimeRoundTrip(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	zone := time.FixedZone("UTC+05:30", 5*3600+1800)
	mono := time.Now().Add(123 * time.Nanosecond) // local, monotonic, nanoseconds
	if !hasMono(mono) {
		t.Fatal("time.Now() has no monotonic reading")
	}
	ts := []time.Time{
		mono,
		time.Date(2031, 5, 6, 7, 8, 9, 123456789, zone),
		time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC), // before the epoch
		time.Date(1970, 1, 1, 0, 0, 0, 1, zone),
		time.Date(2999, 12, 31, 23, 59, 59, 999999999, zone),
		time.Date(2031, 5, 6, 7, 8, 9, 999, time.UTC),
		mono.Add(time.Hour),
	}
	for i, tm := range ts {
		name := func(field string) string { return fmt.Sprintf("time %d (%v): %s", i, tm, field) }
		id := fmt.Sprint("x", i)
		c := newClient(id)
		c.CreatedAt, c.UpdatedAt = tm, ts[(i+1)%len(ts)]
		must(t, s.CreateClient(ctx, c))
		gc, err := s.GetClient(ctx, id)
		must(t, err)
		checkTime(t, name("Client.CreatedAt"), c.CreatedAt, gc.CreatedAt)
		checkTime(t, name("Client.UpdatedAt"), c.UpdatedAt, gc.UpdatedAt)

		u := newUser(id, id)
		u.CreatedAt, u.UpdatedAt = tm, tm
		must(t, s.CreateUser(ctx, u))
		gu, err := s.GetUser(ctx, id)
		must(t, err)
		checkTime(t, name("User.CreatedAt"), tm, gu.CreatedAt)
		checkTime(t, name("User.UpdatedAt"), tm, gu.UpdatedAt)

		sess := newSession(id, id, tm)
		sess.ExpiresAt = tm
		sess.Events[0].Time = tm
		must(t, s.CreateSession(ctx, sess))
		ev := newEvent(authn.MethodPasskey, 0)
		ev.Time = tm
		must(t, s.AppendEvent(ctx, id, ev))
		gs, err := s.GetSession(ctx, id)
		must(t, err)
		checkTime(t, name("Session.CreatedAt"), tm, gs.CreatedAt)
		checkTime(t, name("Session.ExpiresAt"), tm, gs.ExpiresAt)
		if len(gs.Events) != 2 {
			t.Fatalf("%d events, want 2", len(gs.Events))
		}
		checkTime(t, name("Session.Events[0].Time"), tm, gs.Events[0].Time)
		checkTime(t, name("Session.Events[1].Time"), tm, gs.Events[1].Time)

		code := newCode(id)
		code.AuthTime, code.CreatedAt, code.ExpiresAt = tm, tm, tm
		must(t, s.CreateCode(ctx, code))
		gcode, err := s.ConsumeCode(ctx, id, "g", tm)
		must(t, err)
		gcode2, err := s.ConsumeCode(ctx, id, "g", tm)
		wantErr(t, name("ConsumeCode again"), err, store.ErrAlreadyUsed)
		for _, gc := range []store.Code{gcode, gcode2} {
			checkTime(t, name("Code.AuthTime"), tm, gc.AuthTime)
			checkTime(t, name("Code.CreatedAt"), tm, gc.CreatedAt)
			checkTime(t, name("Code.ExpiresAt"), tm, gc.ExpiresAt)
			checkTime(t, name("Code.ConsumedAt"), tm, gc.ConsumedAt)
		}

		g := newGrant(id)
		g.AuthTime, g.CreatedAt, g.ExpiresAt = tm, tm, tm
		must(t, s.CreateGrant(ctx, g))
		must(t, s.RevokeGrant(ctx, id, tm))
		gg, err := s.GetGrant(ctx, id)
		must(t, err)
		checkTime(t, name("Grant.AuthTime"), tm, gg.AuthTime)
		checkTime(t, name("Grant.CreatedAt"), tm, gg.CreatedAt)
		checkTime(t, name("Grant.ExpiresAt"), tm, gg.ExpiresAt)
		checkTime(t, name("Grant.RevokedAt"), tm, gg.RevokedAt)

		rt := newRefresh(id, id)
		rt.CreatedAt, rt.ExpiresAt = tm, tm
		must(t, s.CreateRefreshToken(ctx, rt))
		used, err := s.UseRefreshToken(ctx, id, tm)
		must(t, err)
		grt, err := s.GetRefreshToken(ctx, id)
		must(t, err)
		for _, r := range []store.RefreshToken{used, grt} {
			checkTime(t, name("RefreshToken.CreatedAt"), tm, r.CreatedAt)
			checkTime(t, name("RefreshToken.ExpiresAt"), tm, r.ExpiresAt)
			checkTime(t, name("RefreshToken.UsedAt"), tm, r.UsedAt)
		}

		must(t, s.CreateKey(ctx, newKey(id, tm)))
		must(t, s.RetireKey(ctx, id, tm, tm))

		must(t, s.CreateCredential(ctx, newCredential(id, id, store.CredentialTOTP, tm)))
		must(t, s.UseCredential(ctx, id, 1000, tm))
		gcred, err := s.GetCredential(ctx, id)
		must(t, err)
		checkTime(t, name("Credential.CreatedAt"), tm, gcred.CreatedAt)
		checkTime(t, name("Credential.LastUsedAt"), tm, gcred.LastUsedAt)

		must(t, s.CreateLink(ctx, store.Link{Upstream: "up", Subject: id, UserID: id, CreatedAt: tm}))
		gl, err := s.GetLink(ctx, "up", id)
		must(t, err)
		checkTime(t, name("Link.CreatedAt"), tm, gl.CreatedAt)

		pr := newPushed(id)
		pr.CreatedAt, pr.ExpiresAt = tm, tm
		must(t, s.CreatePushedRequest(ctx, pr))
		gpr, err := s.ConsumePushedRequest(ctx, id)
		must(t, err)
		checkTime(t, name("PushedRequest.CreatedAt"), tm, gpr.CreatedAt)
		checkTime(t, name("PushedRequest.ExpiresAt"), tm, gpr.ExpiresAt)
	}
	keys, err := s.ListKeys(ctx)
	must(t, err)
	if len(keys) != len(ts) {
		t.Fatalf("%d keys, want %d", len(keys), len(ts))
	}
	for _, k := range keys {
		var i int
		if _, err := fmt.Sscanf(k.ID, "x%d", &i); err != nil {
			t.Fatalf("key id %q: %v", k.ID, err)
		}
		checkTime(t, k.ID+": Key.CreatedAt", ts[i], k.CreatedAt)
		checkTime(t, k.ID+": Key.RetiredAt", ts[i], k.RetiredAt)
		checkTime(t, k.ID+": Key.ExpiresAt", ts[i], k.ExpiresAt)
	}
}

func testTimeZero(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	c := newClient("app")
	c.CreatedAt, c.UpdatedAt = time.Time{}, time.Time{}
	must(t, s.CreateClient(ctx, c))
	gc, err := s.GetClient(ctx, "app")
	must(t, err)
	diff(t, "client", c, gc)

	u := store.User{ID: "u1", Username: "alice"}
	must(t, s.CreateUser(ctx, u))
	gu, err := s.GetUser(ctx, "u1")
	must(t, err)
	diff(t, "user", u, gu)

	sess := store.Session{ID: "s1", HandleHash: "h", UserID: "u1", Events: []authn.Event{{Method: authn.MethodPassword}}}
	must(t, s.CreateSession(ctx, sess))
	gs, err := s.GetSession(ctx, "s1")
	must(t, err)
	diff(t, "session", sess, gs)

	code := store.Code{Hash: "h1"}
	must(t, s.CreateCode(ctx, code))
	gcode, err := s.ConsumeCode(ctx, "h1", "g1", at(0))
	must(t, err)
	code.GrantID, code.ConsumedAt = "g1", at(0)
	diff(t, "code", code, gcode)

	g := store.Grant{ID: "g1"}
	must(t, s.CreateGrant(ctx, g))
	gg, err := s.GetGrant(ctx, "g1")
	must(t, err)
	diff(t, "grant", g, gg)

	rt := store.RefreshToken{Hash: "r1"}
	must(t, s.CreateRefreshToken(ctx, rt))
	grt, err := s.GetRefreshToken(ctx, "r1")
	must(t, err)
	diff(t, "refresh token", rt, grt)

	k := store.Key{ID: "k1"}
	must(t, s.CreateKey(ctx, k))
	ks, err := s.ListKeys(ctx)
	must(t, err)
	diff(t, "keys", []store.Key{k}, ks)

	cred := store.Credential{ID: "c1"}
	must(t, s.CreateCredential(ctx, cred))
	gcred, err := s.GetCredential(ctx, "c1")
	must(t, err)
	diff(t, "credential", cred, gcred)

	l := store.Link{Upstream: "up", Subject: "sub"}
	must(t, s.CreateLink(ctx, l))
	gl, err := s.GetLink(ctx, "up", "sub")
	must(t, err)
	diff(t, "link", l, gl)

	pr := store.PushedRequest{Hash: "p1"}
	must(t, s.CreatePushedRequest(ctx, pr))
	must(t, s.CreatePushedRequest(ctx, store.PushedRequest{Hash: "p2"})) // left for DeleteExpired
	gpr, err := s.ConsumePushedRequest(ctx, "p1")
	must(t, err)
	diff(t, "pushed request", pr, gpr)

	// A zero expiry never expires.
	n, err := s.DeleteExpired(ctx, at(100*365*24*time.Hour))
	must(t, err)
	if n != 0 {
		t.Errorf("DeleteExpired removed %d rows with zero expiry", n)
	}
}

func testDeleteExpired(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	now := at(0)
	past, future := now.Add(-time.Microsecond), now.Add(time.Hour)
	// Per table: one expired row ("old"), one expiring exactly now ("now")
	// and one live row ("new"); rows expiring now are not expired yet.
	exp := map[string]time.Time{"old": past, "now": now, "new": future}
	for name, e := range exp {
		c := newCode("code-" + name)
		c.ExpiresAt = e
		must(t, s.CreateCode(ctx, c))
		rt := newRefresh("rt-"+name, "g")
		rt.ExpiresAt = e
		must(t, s.CreateRefreshToken(ctx, rt))
		g := newGrant("grant-" + name)
		g.ExpiresAt = e
		must(t, s.CreateGrant(ctx, g))
		sess := newSession("sess-"+name, "u1", at(-time.Hour))
		sess.ExpiresAt = e
		must(t, s.CreateSession(ctx, sess))
		must(t, s.AppendEvent(ctx, sess.ID, newEvent(authn.MethodTOTP, time.Second)))
		k := newKey("key-"+name, at(-time.Hour))
		must(t, s.CreateKey(ctx, k))
		must(t, s.RetireKey(ctx, k.ID, past.Add(-time.Hour), e))
	}
	must(t, s.CreateKey(ctx, newKey("key-active", at(-2*time.Hour))))
	must(t, s.CreateClient(ctx, newClient("app")))
	must(t, s.CreateUser(ctx, newUser("u1", "alice")))

	n, err := s.DeleteExpired(ctx, now)
	must(t, err)
	if n != 5 {
		t.Errorf("DeleteExpired removed %d rows, want 5", n)
	}
	for name := range exp {
		want := error(nil)
		if name == "old" {
			want = store.ErrNotFound
		}
		check := func(what string, err error) {
			t.Helper()
			if !errors.Is(err, want) {
				t.Errorf("%s %q after DeleteExpired: error %v, want %v", what, name, err, want)
			}
		}
		_, err := s.ConsumeCode(ctx, "code-"+name, "g", now)
		check("code", err)
		_, err = s.GetRefreshToken(ctx, "rt-"+name)
		check("refresh token", err)
		_, err = s.GetGrant(ctx, "grant-"+name)
		check("grant", err)
		_, err = s.GetSession(ctx, "sess-"+name)
		check("session", err)
	}
	ks, err := s.ListKeys(ctx)
	must(t, err)
	var ids []string
	for _, k := range ks {
		ids = append(ids, k.ID)
	}
	sort.Strings(ids)
	diff(t, "keys after DeleteExpired", []string{"key-active", "key-new", "key-now"}, ids)

	// The expired session's events went with it.
	must(t, s.CreateSession(ctx, store.Session{ID: "sess-old", HandleHash: "h-again", UserID: "u1"}))
	got, err := s.GetSession(ctx, "sess-old")
	must(t, err)
	if len(got.Events) != 0 {
		t.Errorf("recreated expired session has %d events of the deleted one", len(got.Events))
	}
	// Clients and users do not expire.
	_, err = s.GetClient(ctx, "app")
	must(t, err)
	_, err = s.GetUser(ctx, "u1")
	must(t, err)

	n, err = s.DeleteExpired(ctx, now)
	must(t, err)
	if n != 0 {
		t.Errorf("second DeleteExpired removed %d rows, want 0", n)
	}
}
