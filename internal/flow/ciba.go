package flow

import (
	"context"
	"crypto/rand"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/stepup-oidc/stepup/internal/authn"
	"github.com/stepup-oidc/stepup/internal/oauth"
	"github.com/stepup-oidc/stepup/internal/policy"
	"github.com/stepup-oidc/stepup/internal/store"
	"github.com/stepup-oidc/stepup/internal/token"
)

// CIBA defaults.
const (
	CIBADefaultExpiry = 5 * time.Minute
	CIBAMaxExpiry     = 10 * time.Minute
	CIBAInterval      = 5 // seconds
)

// BackchannelResponse is the acknowledgement of a backchannel request
// (CIBA Core §7.3). BindingMessage is set when Stepup generated it, so the
// client can show it.
type BackchannelResponse struct {
	AuthReqID      string `json:"auth_req_id"`
	ExpiresIn      int    `json:"expires_in"`
	Interval       int    `json:"interval"`
	BindingMessage string `json:"binding_message,omitempty"`
}

func (s *Service) ciba() store.CIBA { return s.cfg.Store }

// Backchannel starts a CIBA request for an authenticated client (poll mode).
func (s *Service) Backchannel(ctx context.Context, c store.Client, r oauth.BackchannelRequest) (*BackchannelResponse, error) {
	cb := s.ciba()
	if cb == nil {
		return nil, oauth.Err(oauth.UnauthorizedClient, "CIBA is not available")
	}
	if !slices.Contains(c.GrantTypes, oauth.GrantTypeCIBA) || c.SecretHash == "" {
		return nil, oauth.Err(oauth.UnauthorizedClient, "client may not use CIBA")
	}
	if r.NotificationToken != "" {
		return nil, oauth.Err(oauth.InvalidRequest, "client_notification_token is for ping and push; this client polls")
	}
	if r.LoginHintToken != "" {
		return nil, oauth.Err(oauth.InvalidRequest, "login_hint_token is not supported; use login_hint or id_token_hint")
	}
	userID, oe := s.cibaUser(ctx, r)
	if oe != nil {
		return nil, oe
	}
	for _, v := range r.ACRValues {
		if _, ok := s.cfg.Policy.Lookup(v); !ok {
			return nil, oauth.Err(oauth.InvalidRequest, "unsupported acr value")
		}
	}
	expiry := CIBADefaultExpiry
	if r.RequestedExpiry > 0 {
		expiry = min(time.Duration(r.RequestedExpiry)*time.Second, CIBAMaxExpiry)
	}
	res := &BackchannelResponse{AuthReqID: token.Random(), ExpiresIn: int(expiry / time.Second), Interval: CIBAInterval}
	msg := r.BindingMessage
	if msg == "" {
		msg = bindingCode()
		res.BindingMessage = msg
	}
	now := s.cfg.Now()
	err := cb.CreateCIBARequest(ctx, store.CIBARequest{ID: token.Hash(res.AuthReqID), ClientID: c.ID, UserID: userID,
		Scope: strings.Join(r.Scope, " "), ACRValues: r.ACRValues, BindingMessage: msg,
		AuthorizationDetails: r.AuthorizationDetails, Mode: "poll", Status: store.CIBAPending,
		IntervalSeconds: CIBAInterval, CreatedAt: now, ExpiresAt: now.Add(expiry)})
	if err != nil {
		return nil, internal("create ciba request", err)
	}
	s.cfg.Logger.InfoContext(ctx, "audit: ciba request", "client_id", c.ID, "user", userID)
	s.wake(userID)
	return res, nil
}

// cibaUser resolves the hint: a username, an e-mail-free username, a
// national identity number (BankID grammar), or an id_token_hint.
func (s *Service) cibaUser(ctx context.Context, r oauth.BackchannelRequest) (string, *oauth.Error) {
	if r.IDTokenHint != "" {
		c, err := token.VerifyID(ctx, s.cfg.Keys, s.cfg.Issuer, r.IDTokenHint)
		if err != nil {
			return "", oauth.Err(oauth.InvalidRequest, "id_token_hint is not a valid ID token from this issuer")
		}
		if _, err := s.cfg.Store.GetUser(ctx, c.Subject); err != nil {
			return "", oauth.Err(oauth.UnknownUserID, "the user is not known")
		}
		return c.Subject, nil
	}
	h, oe := oauth.ParseLoginHint(r.LoginHint, nil)
	if oe != nil {
		return "", oe
	}
	var u store.User
	var err error
	switch {
	case h.ID != "":
		u, err = s.cfg.Store.GetUserByNNIN(ctx, h.ID)
	case h.Username != "":
		u, err = s.cfg.Store.GetUserByUsername(ctx, h.Username)
	default:
		return "", oauth.Err(oauth.UnknownUserID, "the hint names no user")
	}
	if err != nil || u.Disabled {
		return "", oauth.Err(oauth.UnknownUserID, "the user is not known")
	}
	return u.ID, nil
}

// bindingCode is a short code for both screens, such as "KX7-42Q".
func bindingCode() string {
	const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 6)
	rand.Read(b)
	out := make([]byte, 0, 7)
	for i, c := range b {
		if i == 3 {
			out = append(out, '-')
		}
		out = append(out, alphabet[int(c)%len(alphabet)])
	}
	return string(out)
}

// pollCIBA is the CIBA grant at the token endpoint (poll mode).
func (s *Service) pollCIBA(ctx context.Context, c store.Client, r oauth.TokenRequest) (*TokenResponse, error) {
	cb := s.ciba()
	if cb == nil {
		return nil, oauth.Err(oauth.UnsupportedGrantType, "CIBA is not available")
	}
	id := token.Hash(r.AuthReqID)
	req, err := cb.GetCIBARequest(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && req.ClientID != c.ID) {
		return nil, oauth.Err(oauth.InvalidGrant, "unknown auth_req_id")
	}
	if err != nil {
		return nil, internal("get ciba request", err)
	}
	now := s.cfg.Now()
	if !req.RedeemedAt.IsZero() {
		return nil, oauth.Err(oauth.InvalidGrant, "auth_req_id already used")
	}
	if !now.Before(req.ExpiresAt) {
		return nil, oauth.Err(oauth.ExpiredToken, "the authentication request has expired")
	}
	prev, err := cb.TouchCIBARequest(ctx, id, now)
	if err != nil {
		return nil, internal("touch ciba request", err)
	}
	switch req.Status {
	case store.CIBAPending:
		if !prev.IsZero() && now.Sub(prev) < time.Duration(req.IntervalSeconds)*time.Second {
			return nil, oauth.Err(oauth.SlowDown, "polling faster than every %d seconds", req.IntervalSeconds)
		}
		return nil, oauth.Err(oauth.AuthorizationPending, "the user has not answered yet")
	case store.CIBADenied:
		if req.ACR == "unmet" {
			return nil, oauth.Err(oauth.AccessDenied, "the requested authentication level could not be met")
		}
		return nil, oauth.Err(oauth.AccessDenied, "the user denied the request")
	}
	grantID := token.ID()
	req, err = cb.RedeemCIBARequest(ctx, id, grantID, now)
	if errors.Is(err, store.ErrAlreadyUsed) {
		return nil, oauth.Err(oauth.InvalidGrant, "auth_req_id already used")
	}
	if err != nil {
		return nil, internal("redeem ciba request", err)
	}
	g := store.Grant{ID: grantID, ClientID: c.ID, UserID: req.UserID, Scope: req.Scope, ACR: req.ACR, AMR: req.AMR,
		AuthTime: req.AuthTime, AuthorizationDetails: req.AuthorizationDetails, CreatedAt: now,
		ExpiresAt: now.Add(max(s.refreshTTL(c), s.accessTTL(c)))}
	var refresh string
	err = s.cfg.Store.Tx(ctx, func(tx store.Store) error {
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
	if err != nil {
		return nil, internal("create grant", err)
	}
	return s.mint(ctx, c, g, "", refresh)
}

// PendingCIBA lists the user's pending requests, with the client names.
func (s *Service) PendingCIBA(ctx context.Context, userID string) ([]PendingRequest, error) {
	cb := s.ciba()
	if cb == nil {
		return nil, nil
	}
	reqs, err := cb.ListPendingCIBARequests(ctx, userID, s.cfg.Now())
	if err != nil {
		return nil, internal("list ciba requests", err)
	}
	out := make([]PendingRequest, 0, len(reqs))
	for _, r := range reqs {
		p := PendingRequest{ID: r.ID, ClientID: r.ClientID, ClientName: r.ClientID, BindingMessage: r.BindingMessage,
			ExpiresAt: r.ExpiresAt, ACRValues: r.ACRValues}
		if c, err := s.cfg.Store.GetClient(ctx, r.ClientID); err == nil && c.Name != "" {
			p.ClientName = c.Name
		}
		if r.AuthorizationDetails != "" {
			p.Details, _, _ = oauth.ParseAuthorizationDetails(r.AuthorizationDetails)
			p.Digest = oauth.DetailsDigest(r.AuthorizationDetails)
		}
		out = append(out, p)
	}
	return out, nil
}

// PendingRequest is a CIBA request as the authenticator app shows it.
type PendingRequest struct {
	ID, ClientID, ClientName, BindingMessage, Digest string
	ACRValues                                        []string
	Details                                          []oauth.Detail
	ExpiresAt                                        time.Time
}

// DecideCIBA records the user's answer. An approval counts the session's
// events (plus ev, a fresh authentication such as a passkey assertion,
// when given): if they do not meet the requested acr, the request is
// denied as unmet.
func (s *Service) DecideCIBA(ctx context.Context, sess *store.Session, id string, approve bool, ev *authn.Event) error {
	cb := s.ciba()
	req, err := cb.GetCIBARequest(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && req.UserID != sess.UserID) {
		return ErrBadTransaction
	}
	if err != nil {
		return internal("get ciba request", err)
	}
	now := s.cfg.Now()
	status, acr, amr, authTime := store.CIBADenied, "", []string(nil), time.Time{}
	if approve {
		events := sess.Events
		if ev != nil {
			events = append(slices.Clone(events), *ev)
		}
		d := s.cfg.Policy.Evaluate(events, policy.Request{ACRValues: req.ACRValues, FreshSince: req.CreatedAt}, now)
		if !d.Met && len(req.ACRValues) == 0 {
			d = s.cfg.Policy.Best(events, req.CreatedAt, now)
		}
		if d.Met {
			status, acr, amr, authTime = store.CIBAApproved, d.ACR, d.AMR, d.AuthTime
		} else {
			acr = "unmet"
		}
	}
	err = cb.DecideCIBARequest(ctx, id, status, acr, amr, authTime, now)
	if errors.Is(err, store.ErrConflict) {
		return ErrBadTransaction
	}
	if err != nil {
		return internal("decide ciba request", err)
	}
	s.wake(sess.UserID)
	s.cfg.Observer.CIBADecided(status)
	s.cfg.Logger.InfoContext(ctx, "audit: ciba decision", "client_id", req.ClientID, "user", sess.UserID,
		"status", status, "acr", acr)
	if acr == "unmet" {
		return ErrUnmet
	}
	return nil
}

// AppTransaction is the login transaction of the authenticator app itself:
// it signs the user in at Stepup and comes back to {issuer}/app.
func (s *Service) AppTransaction() *Transaction {
	return &Transaction{ClientID: AppClientID, ClientName: "Stepup", RedirectURI: s.cfg.Issuer + "/app",
		ResponseMode: "query", MaxAge: -1, Start: s.cfg.Now().Truncate(time.Microsecond)}
}

// AppClientID names the authenticator app's own transactions.
const AppClientID = "stepup-app"

// HasPasskey reports whether passkeys are on and the user has one.
func (s *Service) HasPasskey(ctx context.Context, userID string) bool {
	if s.cfg.Passkeys == nil {
		return false
	}
	creds, err := s.cfg.Store.ListCredentials(ctx, userID)
	if err != nil {
		return false
	}
	return slices.ContainsFunc(creds, func(c store.Credential) bool { return c.Type == store.CredentialPasskey })
}

// ErrUnmet is returned when an approval could not reach the requested acr.
var ErrUnmet = errors.New("flow: the approval does not reach the requested level")

// CIBADigest is what a passkey approval of a CIBA request commits to: the
// binding message and the details.
func CIBADigest(p PendingRequest) string {
	return oauth.DetailsDigest(p.BindingMessage + "\n" + p.Digest)
}

// wakers notifies the authenticator app's open connections (in-process; a
// cluster would carry it over PostgreSQL LISTEN/NOTIFY).
type wakers struct {
	mu sync.Mutex
	ch map[string][]chan struct{}
}

// PendingVersion names the set of the user's pending requests (a digest of
// their ids, read from the store, so every node computes the same), so a
// page can tell whether it is stale.
func (s *Service) PendingVersion(ctx context.Context, userID string) string {
	reqs, err := s.ciba().ListPendingCIBARequests(ctx, userID, s.cfg.Now())
	if err != nil {
		return ""
	}
	var ids []string
	for _, r := range reqs {
		ids = append(ids, r.ID)
	}
	slices.Sort(ids)
	return oauth.DetailsDigest(strings.Join(ids, ","))[:16]
}

// Wait returns a channel closed at the next change for the user, and a
// function to call when no longer waiting.
func (s *Service) Wait(userID string) (<-chan struct{}, func()) {
	s.wakers.mu.Lock()
	defer s.wakers.mu.Unlock()
	if s.wakers.ch == nil {
		s.wakers.ch = map[string][]chan struct{}{}
	}
	c := make(chan struct{})
	s.wakers.ch[userID] = append(s.wakers.ch[userID], c)
	return c, func() {
		s.wakers.mu.Lock()
		defer s.wakers.mu.Unlock()
		l := s.wakers.ch[userID]
		for i, x := range l {
			if x == c {
				s.wakers.ch[userID] = append(l[:i], l[i+1:]...)
				break
			}
		}
		if len(s.wakers.ch[userID]) == 0 {
			delete(s.wakers.ch, userID)
		}
	}
}

func (s *Service) wake(userID string) {
	s.wakers.mu.Lock()
	defer s.wakers.mu.Unlock()
	for _, c := range s.wakers.ch[userID] {
		close(c)
	}
	delete(s.wakers.ch, userID)
}
