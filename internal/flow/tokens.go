package flow

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/stepup-oidc/stepup/internal/oauth"
	"github.com/stepup-oidc/stepup/internal/store"
	"github.com/stepup-oidc/stepup/internal/token"
)

// TokenResponse is the token endpoint's success body (RFC 6749 §5.1).
type TokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
	// AuthorizationDetails are the granted RFC 9396 details.
	AuthorizationDetails json.RawMessage `json:"authorization_details,omitempty"`
}

// Token performs a token request for an authenticated client.
func (s *Service) Token(ctx context.Context, c store.Client, r oauth.TokenRequest) (*TokenResponse, error) {
	if !slices.Contains(c.GrantTypes, r.GrantType) {
		return nil, oauth.Err(oauth.UnauthorizedClient, "client may not use grant_type %s", r.GrantType)
	}
	switch r.GrantType {
	case "authorization_code":
		return s.exchangeCode(ctx, c, r)
	case "refresh_token":
		return s.refresh(ctx, c, r)
	case "client_credentials":
		return s.clientCredentials(ctx, c, r)
	case oauth.GrantTypeCIBA:
		return s.pollCIBA(ctx, c, r)
	}
	return nil, oauth.Err(oauth.UnsupportedGrantType, "unsupported grant_type")
}

func (s *Service) exchangeCode(ctx context.Context, c store.Client, r oauth.TokenRequest) (*TokenResponse, error) {
	now := s.cfg.Now()
	grantID := token.ID()
	var (
		code    store.Code
		refusal *oauth.Error
		g       store.Grant
		refresh string
	)
	// One transaction: the code is consumed, and the grant and its refresh
	// token are created, in a single commit. A code whose checks fail stays
	// consumed (the transaction commits without a grant).
	err := s.cfg.Store.Tx(ctx, func(tx store.Store) error {
		var err error
		if code, err = tx.ConsumeCode(ctx, token.Hash(r.Code), grantID, now); err != nil {
			return err
		}
		if refusal = checkCode(code, c, r, now); refusal != nil {
			return nil
		}
		g = store.Grant{ID: grantID, ClientID: c.ID, UserID: code.UserID, SessionID: code.SessionID,
			Scope: code.Scope, ACR: code.ACR, AMR: code.AMR, AuthTime: code.AuthTime,
			AuthorizationDetails: code.AuthorizationDetails, CreatedAt: now, ExpiresAt: now.Add(max(s.refreshTTL(c), s.accessTTL(c)))}
		if err := tx.CreateGrant(ctx, g); err != nil {
			return err
		}
		if slices.Contains(c.GrantTypes, "refresh_token") {
			refresh = token.Random()
			return tx.CreateRefreshToken(ctx, store.RefreshToken{Hash: token.Hash(refresh), GrantID: g.ID,
				ClientID: c.ID, CreatedAt: now, ExpiresAt: now.Add(s.refreshTTL(c))})
		}
		return nil
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, oauth.Err(oauth.InvalidGrant, "invalid authorization code")
	case errors.Is(err, store.ErrAlreadyUsed):
		// A replayed code: revoke what the first redemption produced.
		if used, gerr := s.usedCode(ctx, r.Code); gerr == nil && used.GrantID != "" {
			if rerr := s.cfg.Store.RevokeGrant(ctx, used.GrantID, now); rerr != nil && !errors.Is(rerr, store.ErrNotFound) {
				return nil, internal("revoke replayed grant", rerr)
			}
		}
		s.cfg.Logger.WarnContext(ctx, "authorization code replayed; grant revoked", "client_id", c.ID)
		return nil, oauth.Err(oauth.InvalidGrant, "authorization code already used")
	case err != nil:
		return nil, internal("redeem code", err)
	case refusal != nil:
		return nil, refusal
	}
	return s.mint(ctx, c, g, code.Nonce, refresh)
}

// usedCode reads a consumed code (ConsumeCode answers ErrAlreadyUsed with
// the stored code, which the rolled-back transaction could not return).
func (s *Service) usedCode(ctx context.Context, raw string) (store.Code, error) {
	code, err := s.cfg.Store.ConsumeCode(ctx, token.Hash(raw), "", s.cfg.Now())
	if errors.Is(err, store.ErrAlreadyUsed) {
		return code, nil
	}
	return code, err
}

// checkCode applies the rules that bind a code to its client, redirect URI
// and PKCE challenge.
func checkCode(code store.Code, c store.Client, r oauth.TokenRequest, now time.Time) *oauth.Error {
	switch {
	case code.ClientID != c.ID:
		return oauth.Err(oauth.InvalidGrant, "authorization code was issued to another client")
	case !now.Before(code.ExpiresAt):
		return oauth.Err(oauth.InvalidGrant, "authorization code expired")
	case code.RedirectURI != r.RedirectURI:
		return oauth.Err(oauth.InvalidGrant, "redirect_uri does not match the authorization request")
	case code.CodeChallenge == "" && r.CodeVerifier != "":
		return oauth.Err(oauth.InvalidGrant, "code_verifier sent but the authorization request had no code_challenge")
	case code.CodeChallenge != "" && r.CodeVerifier == "":
		return oauth.Err(oauth.InvalidGrant, "missing code_verifier")
	case code.CodeChallenge != "" && subtle.ConstantTimeCompare([]byte(token.S256(r.CodeVerifier)), []byte(code.CodeChallenge)) != 1:
		return oauth.Err(oauth.InvalidGrant, "code_verifier does not match code_challenge")
	}
	return nil
}

func (s *Service) refresh(ctx context.Context, c store.Client, r oauth.TokenRequest) (*TokenResponse, error) {
	now := s.cfg.Now()
	var (
		old     store.RefreshToken
		g       store.Grant
		refusal *oauth.Error
		refresh = token.Random()
	)
	// One transaction: the old token is spent and its successor stored in
	// a single commit, so a crash between them cannot strand the user. A
	// token refused for its client, expiry or revocation stays spent; one
	// refused only for the requested scope is left usable (rolled back).
	err := s.cfg.Store.Tx(ctx, func(tx store.Store) error {
		var err error
		if old, err = tx.UseRefreshToken(ctx, token.Hash(r.RefreshToken), now); err != nil {
			return err
		}
		switch g, err = tx.GetGrant(ctx, old.GrantID); {
		case old.ClientID != c.ID:
			refusal = oauth.Err(oauth.InvalidGrant, "refresh token was issued to another client")
		case !now.Before(old.ExpiresAt):
			refusal = oauth.Err(oauth.InvalidGrant, "refresh token expired")
		case errors.Is(err, store.ErrNotFound) || (err == nil && !g.RevokedAt.IsZero()):
			refusal = oauth.Err(oauth.InvalidGrant, "refresh token revoked")
		case err != nil:
			return err
		}
		if refusal != nil {
			return nil
		}
		if r.Scope != "" {
			have := strings.Fields(g.Scope)
			for _, sc := range strings.Fields(r.Scope) {
				if !slices.Contains(have, sc) {
					return errScopeExceeded
				}
			}
			g.Scope = strings.Join(strings.Fields(r.Scope), " ")
		}
		return tx.CreateRefreshToken(ctx, store.RefreshToken{Hash: token.Hash(refresh), GrantID: g.ID,
			ClientID: c.ID, CreatedAt: now, ExpiresAt: old.ExpiresAt})
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, oauth.Err(oauth.InvalidGrant, "invalid refresh token")
	case errors.Is(err, store.ErrAlreadyUsed):
		if rerr := s.cfg.Store.RevokeGrant(ctx, old.GrantID, now); rerr != nil && !errors.Is(rerr, store.ErrNotFound) {
			return nil, internal("revoke reused family", rerr)
		}
		s.cfg.Logger.WarnContext(ctx, "refresh token reused; token family revoked", "client_id", c.ID)
		return nil, oauth.Err(oauth.InvalidGrant, "refresh token already used; the token family is revoked")
	case errors.Is(err, errScopeExceeded):
		return nil, oauth.Err(oauth.InvalidScope, "scope exceeds the original grant")
	case err != nil:
		return nil, internal("refresh", err)
	case refusal != nil:
		return nil, refusal
	}
	return s.mint(ctx, c, g, "", refresh)
}

var errScopeExceeded = errors.New("flow: scope exceeds the grant")

func (s *Service) clientCredentials(ctx context.Context, c store.Client, r oauth.TokenRequest) (*TokenResponse, error) {
	if c.SecretHash == "" {
		return nil, oauth.Err(oauth.UnauthorizedClient, "public clients may not use client_credentials")
	}
	scope := strings.Fields(r.Scope)
	if slices.Contains(scope, "openid") || slices.Contains(scope, "offline_access") {
		return nil, oauth.Err(oauth.InvalidScope, "openid and offline_access need a user")
	}
	now := s.cfg.Now()
	g := store.Grant{ID: ccGrantPrefix + token.ID(), ClientID: c.ID, Scope: strings.Join(scope, " "), CreatedAt: now}
	return s.mint(ctx, c, g, "", "")
}

// ccGrantPrefix marks client-credentials grants, which are not stored
// unless revoked.
const ccGrantPrefix = "cc_"

// mint signs the access token and, for grants with a user and the openid
// scope, the ID token.
func (s *Service) mint(ctx context.Context, c store.Client, g store.Grant, nonce, refresh string) (*TokenResponse, error) {
	now := s.cfg.Now()
	alg := s.alg(c)
	sub := g.UserID
	if sub == "" {
		sub = c.ID
	}
	at := token.AccessClaims{
		Issuer: s.cfg.Issuer, Subject: sub, Audience: s.cfg.Issuer, Expiry: now.Add(s.accessTTL(c)).Unix(),
		IssuedAt: now.Unix(), JTI: g.ID + "." + token.ID(), ClientID: c.ID, Scope: g.Scope,
		ACR: g.ACR, AMR: g.AMR, SID: g.SessionID,
	}
	if g.AuthorizationDetails != "" {
		at.AuthorizationDetails = json.RawMessage(g.AuthorizationDetails)
	}
	if !g.AuthTime.IsZero() {
		at.AuthTime = g.AuthTime.Unix()
	}
	access, err := token.SignAccess(ctx, s.cfg.Keys, alg, at)
	if err != nil {
		return nil, internal("sign access token", err)
	}
	res := &TokenResponse{AccessToken: access, TokenType: "Bearer", ExpiresIn: int64(s.accessTTL(c) / time.Second),
		RefreshToken: refresh, Scope: g.Scope, AuthorizationDetails: at.AuthorizationDetails}
	if g.UserID != "" && slices.Contains(strings.Fields(g.Scope), "openid") {
		u, err := s.cfg.Store.GetUser(ctx, g.UserID)
		if err != nil {
			return nil, internal("get user", err)
		}
		id := token.IDClaims{
			Issuer: s.cfg.Issuer, Subject: g.UserID, Audience: c.ID, Expiry: now.Add(s.idTTL(c)).Unix(),
			IssuedAt: now.Unix(), AuthTime: at.AuthTime, Nonce: nonce, ACR: g.ACR, AMR: g.AMR,
			AZP: c.ID, SID: g.SessionID,
		}
		if g.AuthorizationDetails != "" {
			id.PermissionDigest = oauth.DetailsDigest(g.AuthorizationDetails)
		}
		profileClaims(&id, u, strings.Fields(g.Scope))
		if c.AllowNNIN && slices.Contains(strings.Fields(g.Scope), "nnin") {
			id.NNIN = u.NNIN
		}
		if res.IDToken, err = token.SignID(ctx, s.cfg.Keys, alg, id); err != nil {
			return nil, internal("sign id token", err)
		}
	}
	return res, nil
}

func profileClaims(id *token.IDClaims, u store.User, scope []string) {
	if slices.Contains(scope, "email") && u.Email != "" {
		id.Email = u.Email
		f := false
		id.EmailVerified = &f
	}
	if slices.Contains(scope, "profile") {
		id.Name = u.Name
		id.Username = u.Username
	}
}
