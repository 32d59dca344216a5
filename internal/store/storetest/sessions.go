package storetest

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/stepup-oidc/stepup/internal/authn"
	"github.com/stepup-oidc/stepup/internal/store"
)

func testSessionsCreateGet(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	sess := newSession("s1", "u1", at(0))
	sess.Events = append(sess.Events, newEvent(authn.MethodTOTP, time.Second), newEvent(authn.MethodUpstream, 2*time.Second))
	must(t, s.CreateSession(ctx, sess))
	got, err := s.GetSession(ctx, "s1")
	must(t, err)
	diff(t, "session by id", sess, got)
	got, err = s.GetSessionByHandle(ctx, sess.HandleHash)
	must(t, err)
	diff(t, "session by handle", sess, got)

	bare := newSession("s2", "u1", at(time.Hour))
	bare.Events = nil
	must(t, s.CreateSession(ctx, bare))
	got, err = s.GetSession(ctx, "s2")
	must(t, err)
	diff(t, "session without events", bare, got)
}

func testSessionsDuplicate(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	sess := newSession("s1", "u1", at(0))
	must(t, s.CreateSession(ctx, sess))
	dupID := newSession("s1", "u2", at(time.Hour))
	dupID.HandleHash = "other-handle"
	wantErr(t, "CreateSession same id", s.CreateSession(ctx, dupID), store.ErrConflict)
	dupHandle := newSession("s2", "u2", at(time.Hour))
	dupHandle.HandleHash = sess.HandleHash
	wantErr(t, "CreateSession same handle", s.CreateSession(ctx, dupHandle), store.ErrConflict)
	_, err := s.GetSession(ctx, "s2")
	wantErr(t, "session of failed create", err, store.ErrNotFound)
	got, err := s.GetSession(ctx, "s1")
	must(t, err)
	diff(t, "session after duplicate creates", sess, got)
}

func testSessionsEvents(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	sess := newSession("s1", "u1", at(0))
	must(t, s.CreateSession(ctx, sess))
	other := newSession("s2", "u1", at(0))
	must(t, s.CreateSession(ctx, other))

	want := sess.Events
	// Appended events keep the order of appending, not of their times.
	for i, m := range []string{authn.MethodTOTP, authn.MethodPasskey, authn.MethodPassword, authn.MethodUpstream} {
		e := newEvent(m, time.Duration(10-i)*time.Minute)
		must(t, s.AppendEvent(ctx, "s1", e))
		want = append(want, e)
		got, err := s.GetSession(ctx, "s1")
		must(t, err)
		diff(t, fmt.Sprintf("events after append %d", i+1), want, got.Events)
	}
	// The returned history is a copy: changing it changes nothing stored.
	got, err := s.GetSessionByHandle(ctx, sess.HandleHash)
	must(t, err)
	got.Events[0].Method = "tampered"
	got.Events = got.Events[:1]
	again, err := s.GetSession(ctx, "s1")
	must(t, err)
	diff(t, "events after changing a returned copy", want, again.Events)

	gotOther, err := s.GetSession(ctx, "s2")
	must(t, err)
	diff(t, "events of the other session", other.Events, gotOther.Events)
}

func testSessionsConcurrentAppend(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	sess := newSession("s1", "u1", at(0))
	must(t, s.CreateSession(ctx, sess))
	const n = 16
	errs := make([]error, n)
	parallel(n, func(i int) {
		e := newEvent(authn.MethodTOTP, time.Duration(i+1)*time.Second)
		e.CredentialID = fmt.Sprintf("cred-%02d", i)
		errs[i] = s.AppendEvent(ctx, "s1", e)
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("AppendEvent %d: %v", i, err)
		}
	}
	got, err := s.GetSession(ctx, "s1")
	must(t, err)
	if len(got.Events) != n+1 {
		t.Fatalf("got %d events, want %d", len(got.Events), n+1)
	}
	diff(t, "first event", sess.Events[0], got.Events[0])
	var creds []string
	for _, e := range got.Events[1:] {
		creds = append(creds, e.CredentialID)
	}
	sort.Strings(creds)
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf("cred-%02d", i))
	}
	diff(t, "appended credential ids", want, creds)
}

func testSessionsRotate(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	sess := newSession("s1", "u1", at(0))
	must(t, s.CreateSession(ctx, sess))
	must(t, s.RotateSessionHandle(ctx, "s1", "handle-s1", "handle-2"))
	_, err := s.GetSessionByHandle(ctx, "handle-s1")
	wantErr(t, "GetSessionByHandle old handle", err, store.ErrNotFound)
	got, err := s.GetSessionByHandle(ctx, "handle-2")
	must(t, err)
	want := sess
	want.HandleHash = "handle-2"
	diff(t, "session by new handle", want, got)

	wantErr(t, "rotate with stale old handle", s.RotateSessionHandle(ctx, "s1", "handle-s1", "handle-3"), store.ErrNotFound)
	wantErr(t, "rotate unknown session", s.RotateSessionHandle(ctx, "nope", "handle-2", "handle-3"), store.ErrNotFound)
	got, err = s.GetSession(ctx, "s1")
	must(t, err)
	diff(t, "session after failed rotations", want, got)

	// Only one of concurrent rotations from the same old handle wins.
	const n = 8
	errs := make([]error, n)
	parallel(n, func(i int) {
		errs[i] = s.RotateSessionHandle(ctx, "s1", "handle-2", fmt.Sprintf("handle-race-%d", i))
	})
	wins := 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
			want.HandleHash = fmt.Sprintf("handle-race-%d", i)
		default:
			wantErr(t, "losing rotation", err, store.ErrNotFound)
		}
	}
	if wins != 1 {
		t.Fatalf("%d concurrent rotations succeeded, want 1", wins)
	}
	got, err = s.GetSessionByHandle(ctx, want.HandleHash)
	must(t, err)
	diff(t, "session after concurrent rotations", want, got)
}

func testSessionsList(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	got, err := s.ListUserSessions(ctx, "u1")
	must(t, err)
	diff(t, "sessions of user without any", []store.Session(nil), got)

	s1 := newSession("s1", "u1", at(0))
	s2 := newSession("s2", "u1", at(2*time.Hour))
	s2.Events = append(s2.Events, newEvent(authn.MethodPasskey, time.Minute))
	s3 := newSession("s3", "u1", at(time.Hour))
	s3.Events = nil
	other := newSession("s4", "u2", at(3*time.Hour))
	for _, sess := range []store.Session{s1, s2, s3, other} {
		must(t, s.CreateSession(ctx, sess))
	}
	e := newEvent(authn.MethodTOTP, 5*time.Minute)
	must(t, s.AppendEvent(ctx, "s1", e))
	s1.Events = append(s1.Events, e)

	got, err = s.ListUserSessions(ctx, "u1")
	must(t, err)
	diff(t, "sessions of u1", []store.Session{s2, s3, s1}, got)
	got, err = s.ListUserSessions(ctx, "u2")
	must(t, err)
	diff(t, "sessions of u2", []store.Session{other}, got)
}

func testSessionsDelete(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	sess := newSession("s1", "u1", at(0))
	must(t, s.CreateSession(ctx, sess))
	must(t, s.AppendEvent(ctx, "s1", newEvent(authn.MethodTOTP, time.Second)))
	must(t, s.DeleteSession(ctx, "s1"))
	_, err := s.GetSession(ctx, "s1")
	wantErr(t, "GetSession after delete", err, store.ErrNotFound)
	_, err = s.GetSessionByHandle(ctx, sess.HandleHash)
	wantErr(t, "GetSessionByHandle after delete", err, store.ErrNotFound)
	wantErr(t, "DeleteSession twice", s.DeleteSession(ctx, "s1"), store.ErrNotFound)

	// A new session with the same id starts with its own history only.
	fresh := newSession("s1", "u1", at(time.Hour))
	fresh.Events = []authn.Event{newEvent(authn.MethodPasskey, time.Hour)}
	must(t, s.CreateSession(ctx, fresh))
	got, err := s.GetSession(ctx, "s1")
	must(t, err)
	diff(t, "recreated session", fresh, got)
}

func testSessionsNotFound(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	must(t, s.CreateSession(ctx, newSession("s1", "u1", at(0))))
	_, err := s.GetSession(ctx, "nope")
	wantErr(t, "GetSession", err, store.ErrNotFound)
	_, err = s.GetSessionByHandle(ctx, "nope")
	wantErr(t, "GetSessionByHandle", err, store.ErrNotFound)
	wantErr(t, "AppendEvent", s.AppendEvent(ctx, "nope", newEvent(authn.MethodTOTP, 0)), store.ErrNotFound)
	wantErr(t, "DeleteSession", s.DeleteSession(ctx, "nope"), store.ErrNotFound)
}
