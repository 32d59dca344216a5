package flow

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/stepup-oidc/stepup/internal/authn"
	"github.com/stepup-oidc/stepup/internal/password"
	"github.com/stepup-oidc/stepup/internal/store"
	"github.com/stepup-oidc/stepup/internal/token"
)

// Login errors, shown on the login page.
var (
	ErrBadCredentials = errors.New("flow: wrong username or password")
	ErrThrottled      = errors.New("flow: too many failed attempts; try again later")
	ErrWrongUser      = errors.New("flow: a different user must sign in")
)

// CheckPassword authenticates username/password for a login from ip, with
// throttling per account and per IP. mustBe, when set, is the only user
// allowed to sign in (a step-up or an id_token_hint).
func (s *Service) CheckPassword(ctx context.Context, username, pw, ip, mustBe string) (store.User, authn.Event, error) {
	now := s.cfg.Now()
	account := "u:" + strings.ToLower(username)
	if s.throttle.blocked(account, s.cfg.MaxFailuresPerAccount, now) || s.throttle.blocked("ip:"+ip, s.cfg.MaxFailuresPerIP, now) {
		return store.User{}, authn.Event{}, ErrThrottled
	}
	u, err := s.cfg.Store.GetUserByUsername(ctx, username)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return u, authn.Event{}, internal("get user", err)
	}
	hash := u.PasswordHash
	if hash == "" || u.Disabled {
		hash = s.dummyHash
	}
	ok, verr := password.Verify(pw, hash)
	if err != nil || verr != nil || !ok || u.Disabled {
		s.throttle.fail(account, now)
		s.throttle.fail("ip:"+ip, now)
		return store.User{}, authn.Event{}, ErrBadCredentials
	}
	if mustBe != "" && u.ID != mustBe {
		return store.User{}, authn.Event{}, ErrWrongUser
	}
	s.throttle.reset(account)
	return u, PasswordEvent(now), nil
}

// RecordEvent adds e to the browser's session for user u: appended to sess
// when it belongs to u (a step-up; the handle rotates), otherwise a new
// session. It returns the session and the new cookie handle.
func (s *Service) RecordEvent(ctx context.Context, sess *store.Session, u store.User, e authn.Event) (*store.Session, string, error) {
	handle := token.Random()
	now := s.cfg.Now()
	if sess != nil && sess.UserID == u.ID {
		err := s.cfg.Store.Tx(ctx, func(tx store.Store) error {
			if err := tx.AppendEvent(ctx, sess.ID, e); err != nil {
				return err
			}
			return tx.RotateSessionHandle(ctx, sess.ID, sess.HandleHash, token.Hash(handle))
		})
		if err != nil {
			return nil, "", internal("step up session", err)
		}
		ns := *sess
		ns.HandleHash = token.Hash(handle)
		ns.Events = append(append([]authn.Event(nil), sess.Events...), e)
		return &ns, handle, nil
	}
	ns := store.Session{ID: token.ID(), HandleHash: token.Hash(handle), UserID: u.ID,
		CreatedAt: now, ExpiresAt: now.Add(s.cfg.SessionTTL), Events: []authn.Event{e}}
	if err := s.cfg.Store.CreateSession(ctx, ns); err != nil {
		return nil, "", internal("create session", err)
	}
	return &ns, handle, nil
}

// Session returns the live session for a cookie handle, or nil.
func (s *Service) Session(ctx context.Context, handle string) (*store.Session, error) {
	if handle == "" {
		return nil, nil
	}
	sess, err := s.cfg.Store.GetSessionByHandle(ctx, token.Hash(handle))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, internal("get session", err)
	}
	if !s.cfg.Now().Before(sess.ExpiresAt) {
		return nil, nil
	}
	if u, err := s.cfg.Store.GetUser(ctx, sess.UserID); err != nil || u.Disabled {
		return nil, nil
	}
	return &sess, nil
}

// User returns a user by id.
func (s *Service) User(ctx context.Context, id string) (store.User, error) {
	return s.cfg.Store.GetUser(ctx, id)
}

// throttle counts failures per key in a sliding window. It is per node; a
// cluster multiplies the allowance by its node count (docs/operations.md).
type throttle struct {
	window time.Duration
	mu     sync.Mutex
	fails  map[string][]time.Time
}

func newThrottle(window time.Duration) *throttle {
	return &throttle{window: window, fails: map[string][]time.Time{}}
}

func (t *throttle) prune(key string, now time.Time) []time.Time {
	f := t.fails[key]
	i := 0
	for i < len(f) && now.Sub(f[i]) > t.window {
		i++
	}
	f = f[i:]
	if len(f) == 0 {
		delete(t.fails, key)
	} else {
		t.fails[key] = f
	}
	return f
}

func (t *throttle) blocked(key string, max int, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.prune(key, now)) >= max
}

func (t *throttle) fail(key string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.fails) > 100000 { // bound memory under a spray attack
		for k := range t.fails {
			t.prune(k, now)
		}
	}
	t.fails[key] = append(t.prune(key, now), now)
}

func (t *throttle) reset(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.fails, key)
}
