package flow

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/stepup-oidc/stepup/internal/oauth"
	"github.com/stepup-oidc/stepup/internal/store"
	"github.com/stepup-oidc/stepup/internal/token"
)

// Introspection is an RFC 7662 response. Inactive tokens carry only Active.
type Introspection struct {
	Active    bool     `json:"active"`
	Scope     string   `json:"scope,omitempty"`
	ClientID  string   `json:"client_id,omitempty"`
	Subject   string   `json:"sub,omitempty"`
	Audience  string   `json:"aud,omitempty"`
	Issuer    string   `json:"iss,omitempty"`
	Expiry    int64    `json:"exp,omitempty"`
	IssuedAt  int64    `json:"iat,omitempty"`
	JTI       string   `json:"jti,omitempty"`
	TokenType string   `json:"token_type,omitempty"`
	AuthTime  int64    `json:"auth_time,omitempty"`
	ACR       string   `json:"acr,omitempty"`
	AMR       []string `json:"amr,omitempty"`
	SID       string   `json:"sid,omitempty"`
	Username  string   `json:"username,omitempty"`
	// AuthorizationDetails are the granted RFC 9396 details.
	AuthorizationDetails json.RawMessage `json:"authorization_details,omitempty"`
}

// Introspect describes token for an authenticated client: an access token
// (JWT) or a refresh token. Refresh tokens are described only to the client
// they were issued to.
func (s *Service) Introspect(ctx context.Context, c store.Client, tok, hint string) (Introspection, error) {
	if hint != "refresh_token" {
		if at, ok, err := s.activeAccess(ctx, tok); err != nil || ok {
			return introspectAccess(at), err
		}
	}
	rt, g, ok, err := s.activeRefresh(ctx, tok)
	if err != nil || !ok || rt.ClientID != c.ID {
		return Introspection{}, err
	}
	return Introspection{Active: true, Scope: g.Scope, ClientID: rt.ClientID, Subject: g.UserID,
		Issuer: s.cfg.Issuer, Expiry: rt.ExpiresAt.Unix(), IssuedAt: rt.CreatedAt.Unix(),
		TokenType: "refresh_token", AuthTime: unix(g.AuthTime), ACR: g.ACR, AMR: g.AMR, SID: g.SessionID,
		AuthorizationDetails: rawDetails(g.AuthorizationDetails)}, nil
}

func introspectAccess(at token.AccessClaims) Introspection {
	return Introspection{Active: true, Scope: at.Scope, ClientID: at.ClientID, Subject: at.Subject,
		Audience: at.Audience, Issuer: at.Issuer, Expiry: at.Expiry, IssuedAt: at.IssuedAt, JTI: at.JTI,
		TokenType: "Bearer", AuthTime: at.AuthTime, ACR: at.ACR, AMR: at.AMR, SID: at.SID,
		AuthorizationDetails: at.AuthorizationDetails}
}

func rawDetails(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}

func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// activeAccess verifies an access token and checks that its grant is live.
func (s *Service) activeAccess(ctx context.Context, tok string) (token.AccessClaims, bool, error) {
	if strings.Count(tok, ".") != 2 {
		return token.AccessClaims{}, false, nil
	}
	at, err := token.VerifyAccess(ctx, s.cfg.Keys, s.cfg.Issuer, tok, s.cfg.Now())
	if err != nil {
		return at, false, nil
	}
	gid, _, _ := strings.Cut(at.JTI, ".")
	g, err := s.cfg.Store.GetGrant(ctx, gid)
	switch {
	case errors.Is(err, store.ErrNotFound):
		// Client-credentials grants are stored only once revoked.
		return at, strings.HasPrefix(gid, ccGrantPrefix), nil
	case err != nil:
		return at, false, internal("get grant", err)
	}
	return at, g.RevokedAt.IsZero(), nil
}

func (s *Service) activeRefresh(ctx context.Context, tok string) (store.RefreshToken, store.Grant, bool, error) {
	rt, err := s.cfg.Store.GetRefreshToken(ctx, token.Hash(tok))
	if errors.Is(err, store.ErrNotFound) {
		return rt, store.Grant{}, false, nil
	}
	if err != nil {
		return rt, store.Grant{}, false, internal("get refresh token", err)
	}
	if !rt.UsedAt.IsZero() || !s.cfg.Now().Before(rt.ExpiresAt) {
		return rt, store.Grant{}, false, nil
	}
	g, err := s.cfg.Store.GetGrant(ctx, rt.GrantID)
	if errors.Is(err, store.ErrNotFound) {
		return rt, g, false, nil
	}
	if err != nil {
		return rt, g, false, internal("get grant", err)
	}
	return rt, g, g.RevokedAt.IsZero(), nil
}

// Revoke implements RFC 7009: revoking either token of a grant revokes the
// grant, and with it every access and refresh token minted from it. Unknown
// tokens, and tokens of other clients, are silently ignored.
func (s *Service) Revoke(ctx context.Context, c store.Client, tok, hint string) error {
	now := s.cfg.Now()
	if hint != "refresh_token" && strings.Count(tok, ".") == 2 {
		at, err := token.VerifyAccess(ctx, s.cfg.Keys, s.cfg.Issuer, tok, now)
		if err != nil || at.ClientID != c.ID {
			return nil
		}
		gid, _, _ := strings.Cut(at.JTI, ".")
		if strings.HasPrefix(gid, ccGrantPrefix) {
			err := s.cfg.Store.CreateGrant(ctx, store.Grant{ID: gid, ClientID: c.ID, CreatedAt: now,
				ExpiresAt: time.Unix(at.Expiry, 0), RevokedAt: now})
			if err != nil && !errors.Is(err, store.ErrConflict) {
				return internal("revoke", err)
			}
			return nil
		}
		return s.revokeGrant(ctx, gid, now)
	}
	rt, err := s.cfg.Store.GetRefreshToken(ctx, token.Hash(tok))
	if errors.Is(err, store.ErrNotFound) || (err == nil && rt.ClientID != c.ID) {
		return nil
	}
	if err != nil {
		return internal("get refresh token", err)
	}
	return s.revokeGrant(ctx, rt.GrantID, now)
}

func (s *Service) revokeGrant(ctx context.Context, id string, now time.Time) error {
	if err := s.cfg.Store.RevokeGrant(ctx, id, now); err != nil && !errors.Is(err, store.ErrNotFound) {
		return internal("revoke grant", err)
	}
	return nil
}

// UserInfo returns the claims about the user an access token was issued for.
func (s *Service) UserInfo(ctx context.Context, tok string) (map[string]any, error) {
	at, ok, err := s.activeAccess(ctx, tok)
	if err != nil {
		return nil, err
	}
	if !ok || strings.HasPrefix(at.JTI, ccGrantPrefix) {
		return nil, oauth.Err(oauth.InvalidToken, "the access token is invalid, expired or revoked")
	}
	scope := strings.Fields(at.Scope)
	if !slices.Contains(scope, "openid") {
		return nil, oauth.Err(oauth.InsufficientScope, "the access token lacks the openid scope")
	}
	u, err := s.cfg.Store.GetUser(ctx, at.Subject)
	if errors.Is(err, store.ErrNotFound) {
		return nil, oauth.Err(oauth.InvalidToken, "the user no longer exists")
	}
	if err != nil {
		return nil, internal("get user", err)
	}
	var id token.IDClaims
	profileClaims(&id, u, scope)
	out := map[string]any{"sub": u.ID}
	if id.Email != "" {
		out["email"], out["email_verified"] = id.Email, false
	}
	if id.Name != "" || id.Username != "" {
		out["name"], out["preferred_username"] = id.Name, id.Username
	}
	return out, nil
}
