package storetest

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stepup-oidc/stepup/internal/authn"
	"github.com/stepup-oidc/stepup/internal/store"
)

func testLargeValues(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	big := strings.Repeat("0123456789abcdef", 4096) // 64 KiB
	uni := strings.Repeat("Ünïcødé ✓ 𝄞 \"quoted\" \\ 'single'; DROP TABLE clients;--\t\n", 1200)
	many := make([]string, 1000)
	for i := range many {
		many[i] = fmt.Sprintf("https://app.example/cb/%04d?q=\"%s\"", i, strings.Repeat("x", 32))
	}
	amr := many[:500]

	c := newClient("app")
	c.Name, c.SecretHash, c.RedirectURIs, c.GrantTypes = uni, big, many, amr
	must(t, s.CreateClient(ctx, c))
	gc, err := s.GetClient(ctx, "app")
	must(t, err)
	diff(t, "client", c, gc)
	cs, err := s.ListClients(ctx)
	must(t, err)
	diff(t, "client list", []store.Client{c}, cs)

	u := newUser("u1", "alice")
	u.Name, u.PasswordHash, u.Email = uni, big, big
	must(t, s.CreateUser(ctx, u))
	gu, err := s.GetUser(ctx, "u1")
	must(t, err)
	diff(t, "user", u, gu)

	ev := newEvent(authn.MethodUpstream, time.Second)
	ev.AMR, ev.UpstreamAMR, ev.CredentialID, ev.UpstreamACR = amr, many, big, uni
	sess := newSession("s1", "u1", at(0))
	sess.Events = append(sess.Events, ev)
	must(t, s.CreateSession(ctx, sess))
	must(t, s.AppendEvent(ctx, "s1", ev))
	sess.Events = append(sess.Events, ev)
	gs, err := s.GetSessionByHandle(ctx, sess.HandleHash)
	must(t, err)
	diff(t, "session", sess, gs)
	ss, err := s.ListUserSessions(ctx, "u1")
	must(t, err)
	diff(t, "session list", []store.Session{sess}, ss)

	code := newCode("h1")
	code.AMR, code.Scope, code.Nonce, code.RedirectURI = amr, big, uni, big
	must(t, s.CreateCode(ctx, code))
	gcode, err := s.ConsumeCode(ctx, "h1", big, at(time.Second))
	must(t, err)
	code.GrantID, code.ConsumedAt = big, at(time.Second)
	diff(t, "code", code, gcode)

	g := newGrant("g1")
	g.AMR, g.Scope, g.ACR = amr, big, uni
	must(t, s.CreateGrant(ctx, g))
	gg, err := s.GetGrant(ctx, "g1")
	must(t, err)
	diff(t, "grant", g, gg)

	cred := newCredential("c1", "u1", store.CredentialPasskey, at(0))
	cred.Name, cred.Secret, cred.AAGUID = uni, []byte(big), big
	must(t, s.CreateCredential(ctx, cred))
	gcred, err := s.GetCredential(ctx, "c1")
	must(t, err)
	if !bytes.Equal(gcred.Secret, cred.Secret) {
		t.Errorf("credential secret of %d bytes differs from the %d bytes stored", len(gcred.Secret), len(cred.Secret))
	}
	gcred.Secret, cred.Secret = nil, nil // cmp is slow on 64 Ki slice elements
	diff(t, "credential", cred, gcred)

	l := store.Link{Upstream: "https://idp.example/ü" + big[:100], Subject: "𝄞" + big[:200], UserID: big}
	must(t, s.CreateLink(ctx, l))
	gl, err := s.GetLink(ctx, l.Upstream, l.Subject)
	must(t, err)
	diff(t, "link", l, gl)

	k := newKey("k1", at(0))
	k.Private = make([]byte, 64<<10)
	for i := range k.Private {
		k.Private[i] = byte(i * 7)
	}
	must(t, s.CreateKey(ctx, k))
	ks, err := s.ListKeys(ctx)
	must(t, err)
	if len(ks) != 1 {
		t.Fatalf("%d keys, want 1", len(ks))
	}
	// Compared apart: cmp is slow on 64 Ki slice elements.
	if !bytes.Equal(ks[0].Private, k.Private) {
		t.Errorf("key material of %d bytes differs from the %d bytes stored", len(ks[0].Private), len(k.Private))
	}
	ks[0].Private, k.Private = nil, nil
	diff(t, "key", k, ks[0])
}

// testConcurrency mixes plain writes, reads and transactions from several
// goroutines: none may fail (e.g. with a "database is locked" error).
func testConcurrency(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	const workers, ops = 8, 12
	errs := make([][]error, workers)
	parallel(workers, func(w int) {
		fail := func(err error) {
			if err != nil {
				errs[w] = append(errs[w], err)
			}
		}
		user := fmt.Sprint("u", w)
		for i := range ops {
			id := fmt.Sprintf("w%d-%d", w, i)
			switch i % 4 {
			case 0:
				fail(s.CreateClient(ctx, newClient(id)))
				_, err := s.GetClient(ctx, id)
				fail(err)
				_, err = s.ListClients(ctx)
				fail(err)
				fail(s.CreatePushedRequest(ctx, newPushed(id)))
				_, err = s.ConsumePushedRequest(ctx, id)
				fail(err)
			case 1:
				fail(s.CreateCode(ctx, newCode(id)))
				fail(s.Tx(ctx, func(tx store.Store) error {
					if _, err := tx.ConsumeCode(ctx, id, id, at(time.Second)); err != nil {
						return err
					}
					if err := tx.CreateGrant(ctx, newGrant(id)); err != nil {
						return err
					}
					return tx.CreateRefreshToken(ctx, newRefresh(id, id))
				}))
				_, err := s.UseRefreshToken(ctx, id, at(time.Minute))
				fail(err)
			case 2:
				fail(s.CreateSession(ctx, newSession(id, user, at(time.Duration(i)*time.Second))))
				fail(s.AppendEvent(ctx, id, newEvent(authn.MethodTOTP, time.Second)))
				_, err := s.ListUserSessions(ctx, user)
				fail(err)
			case 3:
				_, err := s.UpsertUserByUsername(ctx, newUser(id, user))
				fail(err)
				_, err = s.GetUserByUsername(ctx, user)
				fail(err)
				_, err = s.DeleteExpired(ctx, at(-time.Hour))
				fail(err)
			}
		}
	})
	for w, es := range errs {
		for _, err := range es {
			t.Errorf("worker %d: %v", w, err)
		}
	}
	cs, err := s.ListClients(ctx)
	must(t, err)
	if want := workers * ops / 4; len(cs) != want {
		t.Errorf("%d clients, want %d", len(cs), want)
	}
	us, err := s.ListUsers(ctx)
	must(t, err)
	if len(us) != workers {
		t.Errorf("%d users, want %d", len(us), workers)
	}
}
