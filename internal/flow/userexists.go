package flow

import (
	"context"
	"errors"

	"github.com/stepup-oidc/stepup/internal/oauth"
	"github.com/stepup-oidc/stepup/internal/store"
)

// LoginHintEntry is one entry of a BankID-style loginHint array.
type LoginHintEntry struct {
	Scheme string `json:"scheme"`
	Value  string `json:"value"`
}

// UserExists answers whether the person the hints name can receive a CIBA
// request right now: the account exists, is enabled, and can approve in
// the authenticator app (it has a passkey; where passkeys are off, any
// account can approve with its password). It reveals nothing else, and
// answers each client at most MaxUserExistsPerMinute times a minute.
func (s *Service) UserExists(ctx context.Context, c store.Client, hints []LoginHintEntry) (bool, error) {
	now := s.cfg.Now()
	if s.lookups.blocked(c.ID, MaxUserExistsPerMinute, now) {
		return false, ErrTooManyLookups
	}
	s.lookups.fail(c.ID, now)
	if len(hints) != 1 {
		return false, oauth.Err(oauth.InvalidRequest, "loginHint must hold exactly one entry")
	}
	var u store.User
	var err error
	switch h := hints[0]; h.Scheme {
	case "nnin":
		if len(h.Value) != 11 {
			return false, oauth.Err(oauth.InvalidRequest, "an nnin is 11 digits")
		}
		u, err = s.cfg.Store.GetUserByNNIN(ctx, h.Value)
	case "username":
		u, err = s.cfg.Store.GetUserByUsername(ctx, h.Value)
	default:
		return false, oauth.Err(oauth.InvalidRequest, "loginHint scheme must be nnin or username")
	}
	exists := false
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return false, internal("user exists", err)
	case u.Disabled:
	case s.cfg.Passkeys == nil:
		exists = true
	default:
		exists = s.HasPasskey(ctx, u.ID)
	}
	s.cfg.Logger.InfoContext(ctx, "audit: user-exists", "client_id", c.ID, "scheme", hints[0].Scheme, "exists", exists)
	return exists, nil
}

// ErrTooManyLookups is returned past MaxUserExistsPerMinute.
var ErrTooManyLookups = errors.New("flow: too many user-exists lookups; try again in a minute")

// MaxUserExistsPerMinute bounds user-exists lookups per client.
const MaxUserExistsPerMinute = 60
