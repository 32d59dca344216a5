package flow

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/stepup-oidc/stepup/internal/authn"
	"github.com/stepup-oidc/stepup/internal/authn/passkey"
	"github.com/stepup-oidc/stepup/internal/authn/totp"
	"github.com/stepup-oidc/stepup/internal/store"
)

// Errors of the second-factor and passkey steps, shown on the pages.
var (
	ErrBadCode          = errors.New("flow: wrong or already used code")
	ErrPasskeyFailed    = errors.New("flow: the passkey could not be verified")
	ErrEnrollmentNeeds  = errors.New("flow: confirm with the methods you already have before adding a new one")
	ErrMethodNotEnabled = errors.New("flow: method not available")
)

// CheckTOTP verifies a one-time code (or, with recovery, a recovery code)
// of user u.
func (s *Service) CheckTOTP(ctx context.Context, u store.User, code string, recovery bool) (authn.Event, error) {
	if s.cfg.TOTP == nil {
		return authn.Event{}, ErrMethodNotEnabled
	}
	creds, err := s.cfg.Store.ListCredentials(ctx, u.ID)
	if err != nil {
		return authn.Event{}, internal("list credentials", err)
	}
	var ev authn.Event
	if recovery {
		ev, err = s.cfg.TOTP.VerifyRecovery(ctx, u.ID, creds, code)
	} else {
		ev, err = s.cfg.TOTP.Verify(ctx, u.ID, creds, code)
	}
	switch {
	case errors.Is(err, totp.ErrInvalidCode), errors.Is(err, totp.ErrReplayedCode), errors.Is(err, totp.ErrNoCredential):
		return ev, ErrBadCode
	case err != nil:
		return ev, internal("verify code", err)
	}
	return ev, nil
}

func passkeyUser(u store.User) passkey.User {
	name := u.Name
	if name == "" {
		name = u.Username
	}
	return passkey.User{ID: u.ID, Username: u.Username, DisplayName: name}
}

// BeginPasskey starts an assertion: for user u, or username-less when u is
// nil (a discoverable credential identifies the user).
func (s *Service) BeginPasskey(ctx context.Context, u *store.User) (options []byte, state string, err error) {
	if s.cfg.Passkeys == nil {
		return nil, "", ErrMethodNotEnabled
	}
	if u == nil {
		return s.cfg.Passkeys.BeginLogin(ctx, nil, nil, nil)
	}
	creds, err := s.cfg.Store.ListCredentials(ctx, u.ID)
	if err != nil {
		return nil, "", internal("list credentials", err)
	}
	pu := passkeyUser(*u)
	return s.cfg.Passkeys.BeginLogin(ctx, &pu, creds, nil)
}

// FinishPasskey verifies an assertion and returns the user and the event.
// mustBe, when set, is the only user allowed.
func (s *Service) FinishPasskey(ctx context.Context, state string, response []byte, mustBe string) (store.User, authn.Event, error) {
	if s.cfg.Passkeys == nil {
		return store.User{}, authn.Event{}, ErrMethodNotEnabled
	}
	lookup := func(ctx context.Context, handle []byte) (passkey.User, []store.Credential, error) {
		u, err := s.cfg.Store.GetUser(ctx, string(handle))
		if err != nil {
			return passkey.User{}, nil, err
		}
		if u.Disabled {
			return passkey.User{}, nil, store.ErrNotFound
		}
		creds, err := s.cfg.Store.ListCredentials(ctx, u.ID)
		return passkeyUser(u), creds, err
	}
	if !s.ceremonies.first(state, s.cfg.Now()) {
		return store.User{}, authn.Event{}, ErrPasskeyFailed // a ceremony completes once
	}
	userID, ev, err := s.cfg.Passkeys.FinishLogin(ctx, state, response, lookup)
	if err != nil {
		s.cfg.Logger.InfoContext(ctx, "passkey assertion refused", "err", err)
		return store.User{}, ev, ErrPasskeyFailed
	}
	if mustBe != "" && userID != mustBe {
		return store.User{}, ev, ErrWrongUser
	}
	u, err := s.cfg.Store.GetUser(ctx, userID)
	if err != nil {
		return u, ev, internal("get user", err)
	}
	return u, ev, nil
}

// CanEnroll reports whether the session is fresh enough to enrol a new
// method: every method the user already has must have been used within
// EnrollmentFreshness, so a weak or stale session cannot add an attacker's
// authenticator and then claim a higher level.
func (s *Service) CanEnroll(ctx context.Context, sess *store.Session) (missing []Option, err error) {
	if sess == nil {
		return nil, ErrEnrollmentNeeds
	}
	u, err := s.cfg.Store.GetUser(ctx, sess.UserID)
	if err != nil {
		return nil, internal("get user", err)
	}
	now := s.cfg.Now()
	opts, err := s.options(ctx, &u, now)
	if err != nil {
		return nil, err
	}
	recent := fresh(sess.Events, now.Add(-s.cfg.EnrollmentFreshness))
	for _, o := range opts {
		if o.Enroll || o.Choice == ChooseRecovery || len(o.protos) == 0 {
			continue
		}
		method := o.protos[0].Method
		done := false
		for _, e := range recent {
			if e.Method == method {
				done = true
			}
		}
		if !done {
			missing = append(missing, o)
		}
	}
	return missing, nil
}

// TOTPEnrollment is a TOTP enrolment in progress.
type TOTPEnrollment struct {
	totp.Enrollment
	// Sealed carries the secret to the finishing step without storing it.
	Sealed string
}

const purposeTOTPEnroll = "enroll-totp"

// BeginTOTPEnrollment creates a secret for u to add to an authenticator app.
func (s *Service) BeginTOTPEnrollment(ctx context.Context, u store.User) (TOTPEnrollment, error) {
	if s.cfg.TOTP == nil {
		return TOTPEnrollment{}, ErrMethodNotEnabled
	}
	e, err := s.cfg.TOTP.BeginEnrollment(u.Username)
	if err != nil {
		return TOTPEnrollment{}, internal("totp enrollment", err)
	}
	sealed, err := s.cfg.Sealer.Seal(purposeTOTPEnroll, []string{u.ID, e.Secret}, 15*time.Minute)
	if err != nil {
		return TOTPEnrollment{}, internal("seal", err)
	}
	return TOTPEnrollment{Enrollment: e, Sealed: sealed}, nil
}

// FinishTOTPEnrollment stores the TOTP credential once a code from the app
// checks out, and returns the recovery codes and the event (the code just
// proved possession).
func (s *Service) FinishTOTPEnrollment(ctx context.Context, sess *store.Session, sealed, code string) ([]string, authn.Event, error) {
	var v []string
	if err := s.cfg.Sealer.Open(purposeTOTPEnroll, sealed, &v); err != nil || len(v) != 2 || sess == nil || v[0] != sess.UserID {
		return nil, authn.Event{}, ErrBadTransaction
	}
	if missing, err := s.CanEnroll(ctx, sess); err != nil || len(missing) > 0 {
		return nil, authn.Event{}, ErrEnrollmentNeeds
	}
	cred, codes, err := s.cfg.TOTP.FinishEnrollment(ctx, sess.UserID, v[1], code, "Authenticator app")
	if errors.Is(err, totp.ErrInvalidCode) {
		return nil, authn.Event{}, ErrBadCode
	}
	if err != nil {
		return nil, authn.Event{}, internal("finish totp enrollment", err)
	}
	s.cfg.Logger.InfoContext(ctx, "audit: method enrolled", "method", "totp", "user", sess.UserID, "credential", cred.ID)
	ev := TOTPEvent(s.cfg.Now())
	ev.CredentialID = cred.ID
	return codes, ev, nil
}

// BeginPasskeyEnrollment starts registering a passkey for the session's user.
func (s *Service) BeginPasskeyEnrollment(ctx context.Context, sess *store.Session) ([]byte, string, error) {
	if s.cfg.Passkeys == nil {
		return nil, "", ErrMethodNotEnabled
	}
	if missing, err := s.CanEnroll(ctx, sess); err != nil || len(missing) > 0 {
		return nil, "", ErrEnrollmentNeeds
	}
	u, err := s.cfg.Store.GetUser(ctx, sess.UserID)
	if err != nil {
		return nil, "", internal("get user", err)
	}
	creds, err := s.cfg.Store.ListCredentials(ctx, u.ID)
	if err != nil {
		return nil, "", internal("list credentials", err)
	}
	return s.cfg.Passkeys.BeginRegistration(ctx, passkeyUser(u), creds)
}

// FinishPasskeyEnrollment verifies the registration and stores the passkey.
// It leaves no event: the user then signs in with the new passkey, so the
// level it reaches is proven by an assertion.
func (s *Service) FinishPasskeyEnrollment(ctx context.Context, sess *store.Session, state string, response []byte) error {
	if missing, err := s.CanEnroll(ctx, sess); err != nil || len(missing) > 0 {
		return ErrEnrollmentNeeds
	}
	u, err := s.cfg.Store.GetUser(ctx, sess.UserID)
	if err != nil {
		return internal("get user", err)
	}
	cred, err := s.cfg.Passkeys.FinishRegistration(ctx, passkeyUser(u), state, response)
	if err != nil {
		s.cfg.Logger.InfoContext(ctx, "passkey registration refused", "err", err)
		return fmt.Errorf("%w: %w", ErrPasskeyFailed, err)
	}
	s.cfg.Logger.InfoContext(ctx, "audit: method enrolled", "method", "passkey", "user", u.ID, "credential", cred.ID,
		"backup_eligible", cred.BackupEligible, "attested", cred.Attested)
	return nil
}

// ceremonies remembers finished WebAuthn ceremony states until they expire,
// so an assertion cannot be replayed with its state (passkeys without a
// signature counter would otherwise allow it). It is per node: a cluster
// relies on the counter and the states' 5-minute lifetime.
type ceremonies struct {
	mu   sync.Mutex
	seen map[[32]byte]time.Time
}

// first reports whether state is seen for the first time, recording it.
func (c *ceremonies) first(state string, now time.Time) bool {
	h := sha256.Sum256([]byte(state))
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = map[[32]byte]time.Time{}
	}
	if len(c.seen) > 10000 {
		for k, exp := range c.seen {
			if now.After(exp) {
				delete(c.seen, k)
			}
		}
	}
	if exp, ok := c.seen[h]; ok && now.Before(exp) {
		return false
	}
	c.seen[h] = now.Add(10 * time.Minute)
	return true
}
