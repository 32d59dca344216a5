package flow

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"

	"github.com/stepup-oidc/stepup/internal/authn"
	"github.com/stepup-oidc/stepup/internal/oauth"
	"github.com/stepup-oidc/stepup/internal/store"
)

// ErrNotBound is returned when a passkey approval was not made for the
// statement shown.
var ErrNotBound = errors.New("flow: the approval was not made for this statement")

// approval returns what the user must approve, or nil: requests without
// authorization details, with only authentication.v1, or already approved
// need nothing.
func (s *Service) approval(ctx context.Context, t *Transaction, sess *store.Session) *ApprovalNeed {
	if t.Details == "" || t.Approved || sess == nil {
		return nil
	}
	ds, _, oe := oauth.ParseAuthorizationDetails(t.Details)
	if oe != nil {
		return nil
	}
	needs := false
	for _, d := range ds {
		if d.Type() != oauth.DetailAuthentication {
			needs = true
		}
	}
	if !needs {
		return nil
	}
	need := &ApprovalNeed{Details: ds, Digest: oauth.DetailsDigest(t.Details), UserID: sess.UserID}
	if s.cfg.Passkeys != nil {
		creds, err := s.cfg.Store.ListCredentials(ctx, sess.UserID)
		if err == nil {
			for _, c := range creds {
				if c.Type == store.CredentialPasskey {
					need.Passkey = true
				}
			}
		}
	}
	return need
}

// BeginApproval starts a passkey assertion whose challenge commits to the
// statement's digest, so the signature binds the user to what they saw.
func (s *Service) BeginApproval(ctx context.Context, u store.User, digest string) ([]byte, string, error) {
	if s.cfg.Passkeys == nil {
		return nil, "", ErrMethodNotEnabled
	}
	d, err := base64.RawURLEncoding.DecodeString(digest)
	if err != nil {
		return nil, "", internal("digest", err)
	}
	creds, err := s.cfg.Store.ListCredentials(ctx, u.ID)
	if err != nil {
		return nil, "", internal("list credentials", err)
	}
	pu := passkeyUser(u)
	return s.cfg.Passkeys.BeginLogin(ctx, &pu, creds, d)
}

// FinishApproval verifies a passkey approval bound to digest and returns the
// event it leaves (a fresh passkey authentication).
func (s *Service) FinishApproval(ctx context.Context, state string, response []byte, userID, digest string) (store.User, authn.Event, error) {
	bound, ok, err := s.cfg.Passkeys.LoginBinding(state)
	want, derr := base64.RawURLEncoding.DecodeString(digest)
	if err != nil || derr != nil || !ok || subtle.ConstantTimeCompare(bound, want) != 1 {
		return store.User{}, authn.Event{}, ErrNotBound
	}
	u, ev, err := s.FinishPasskey(ctx, state, response, userID)
	if err != nil {
		return u, ev, err
	}
	s.cfg.Logger.InfoContext(ctx, "audit: authorization details approved", "user", u.ID, "digest", digest, "method", "passkey")
	return u, ev, nil
}
