package flow

import (
	"context"
	"errors"
	"net/url"
	"slices"

	"github.com/stepup-oidc/stepup/internal/oauth"
	"github.com/stepup-oidc/stepup/internal/store"
	"github.com/stepup-oidc/stepup/internal/token"
)

// LogoutRequest is an RP-initiated logout request (OpenID Connect RP-Initiated
// Logout 1.0).
type LogoutRequest struct {
	IDTokenHint           string
	ClientID              string
	PostLogoutRedirectURI string
	State                 string
}

// LogoutPlan says how to end a session.
type LogoutPlan struct {
	// Redirect is the validated post-logout redirect, with state; empty to
	// show Stepup's own signed-out page.
	Redirect string
	// Confirm is true when the user must confirm (the request does not
	// prove it comes from an application the current user signed in to).
	Confirm bool
	// ClientName names the application asking, for the confirmation page.
	ClientName string
}

// PlanLogout validates a logout request against the browser's session.
// Errors must be shown on an error page: no redirect was validated.
func (s *Service) PlanLogout(ctx context.Context, r LogoutRequest, sess *store.Session) (LogoutPlan, error) {
	var p LogoutPlan
	var hintSub string
	clientID := r.ClientID
	if r.IDTokenHint != "" {
		claims, err := token.VerifyID(ctx, s.cfg.Keys, s.cfg.Issuer, r.IDTokenHint)
		if err != nil {
			return p, oauth.Err(oauth.InvalidRequest, "id_token_hint is not a valid ID token from this issuer")
		}
		if clientID != "" && clientID != claims.Audience {
			return p, oauth.Err(oauth.InvalidRequest, "client_id does not match the id_token_hint audience")
		}
		clientID, hintSub = claims.Audience, claims.Subject
	}
	if clientID != "" {
		c, err := s.cfg.Store.GetClient(ctx, clientID)
		if errors.Is(err, store.ErrNotFound) {
			return p, oauth.Err(oauth.InvalidRequest, "unknown client")
		}
		if err != nil {
			return p, internal("get client", err)
		}
		p.ClientName = c.Name
		if r.PostLogoutRedirectURI != "" {
			if !slices.Contains(c.PostLogoutRedirectURIs, r.PostLogoutRedirectURI) {
				return p, oauth.Err(oauth.InvalidRequest, "post_logout_redirect_uri is not registered for this client")
			}
			u, err := url.Parse(r.PostLogoutRedirectURI)
			if err != nil {
				return p, oauth.Err(oauth.InvalidRequest, "invalid post_logout_redirect_uri")
			}
			if r.State != "" {
				q := u.Query()
				q.Set("state", r.State)
				u.RawQuery = q.Encode()
			}
			p.Redirect = u.String()
		}
	} else if r.PostLogoutRedirectURI != "" {
		return p, oauth.Err(oauth.InvalidRequest, "post_logout_redirect_uri needs client_id or id_token_hint")
	}
	p.Confirm = sess != nil && (hintSub == "" || hintSub != sess.UserID)
	return p, nil
}

// EndSession deletes the browser session.
func (s *Service) EndSession(ctx context.Context, sess *store.Session) error {
	if sess == nil {
		return nil
	}
	if err := s.cfg.Store.DeleteSession(ctx, sess.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return internal("delete session", err)
	}
	return nil
}

// UserSessions lists the sessions of the signed-in user, newest first.
func (s *Service) UserSessions(ctx context.Context, sess *store.Session) ([]store.Session, error) {
	all, err := s.cfg.Store.ListUserSessions(ctx, sess.UserID)
	if err != nil {
		return nil, internal("list sessions", err)
	}
	now := s.cfg.Now()
	var live []store.Session
	for _, x := range all {
		if now.Before(x.ExpiresAt) {
			live = append(live, x)
		}
	}
	return live, nil
}

// EndUserSession ends one of the signed-in user's sessions by id; another
// user's session is never touched.
func (s *Service) EndUserSession(ctx context.Context, sess *store.Session, id string) error {
	x, err := s.cfg.Store.GetSession(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && x.UserID != sess.UserID) {
		return nil
	}
	if err != nil {
		return internal("get session", err)
	}
	return s.EndSession(ctx, &x)
}
