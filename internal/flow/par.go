package flow

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/stepup-oidc/stepup/internal/oauth"
	"github.com/stepup-oidc/stepup/internal/store"
	"github.com/stepup-oidc/stepup/internal/token"
)

// RequestURIPrefix starts every request_uri Stepup issues (RFC 9126 §2.2).
const RequestURIPrefix = "urn:ietf:params:oauth:request_uri:"

// PARTTL is how long a pushed request may wait for its authorization.
const PARTTL = 60 * time.Second

// PushResponse is the PAR endpoint's success body.
type PushResponse struct {
	RequestURI string `json:"request_uri"`
	ExpiresIn  int    `json:"expires_in"`
}

// Push validates an authorization request pushed by an authenticated client
// and stores it for one use (RFC 9126).
func (s *Service) Push(ctx context.Context, c store.Client, v url.Values) (*PushResponse, error) {
	if v.Has(oauth.ParamRequestURI) {
		return nil, oauth.Err(oauth.InvalidRequest, "request_uri must not be pushed")
	}
	if id := v.Get(oauth.ParamClientID); id != "" && id != c.ID {
		return nil, oauth.Err(oauth.InvalidRequest, "client_id does not match the authenticated client")
	}
	v = cloneValues(v)
	v.Set(oauth.ParamClientID, c.ID)
	for _, k := range []string{"client_secret", "client_assertion", "client_assertion_type"} {
		v.Del(k)
	}
	r, err := oauth.ParseAuthorize(v)
	if err != nil {
		return nil, err
	}
	if _, err := s.CheckClient(ctx, &r); err != nil {
		var oe *oauth.Error
		if errors.As(err, &oe) {
			return nil, oe
		}
		return nil, err
	}
	if oe := r.Validate(); oe != nil {
		return nil, oe
	}
	t, oe := s.Begin(ctx, c, &r)
	if oe != nil {
		return nil, oe
	}
	payload, err := json.Marshal(t)
	if err != nil {
		return nil, internal("marshal pushed request", err)
	}
	id := token.Random()
	now := s.cfg.Now()
	err = s.cfg.Store.CreatePushedRequest(ctx, store.PushedRequest{Hash: token.Hash(id), ClientID: c.ID,
		Payload: payload, CreatedAt: now, ExpiresAt: now.Add(PARTTL)})
	if err != nil {
		return nil, internal("store pushed request", err)
	}
	return &PushResponse{RequestURI: RequestURIPrefix + id, ExpiresIn: int(PARTTL / time.Second)}, nil
}

// Pull consumes a pushed request at the authorization endpoint. Its errors
// are shown on an error page: the redirect URI is inside the request.
func (s *Service) Pull(ctx context.Context, clientID, requestURI string) (*Transaction, error) {
	id, ok := strings.CutPrefix(requestURI, RequestURIPrefix)
	if !ok || clientID == "" {
		return nil, oauth.Err(oauth.InvalidRequestURI, "request_uri is not one this provider issued, or client_id is missing")
	}
	p, err := s.cfg.Store.ConsumePushedRequest(ctx, token.Hash(id))
	if errors.Is(err, store.ErrNotFound) {
		return nil, oauth.Err(oauth.InvalidRequestURI, "request_uri is unknown, expired or already used")
	}
	if err != nil {
		return nil, internal("consume pushed request", err)
	}
	if p.ClientID != clientID {
		return nil, oauth.Err(oauth.InvalidRequestURI, "request_uri was pushed by another client")
	}
	if !s.cfg.Now().Before(p.ExpiresAt) {
		return nil, oauth.Err(oauth.InvalidRequestURI, "request_uri has expired")
	}
	var t Transaction
	if err := json.Unmarshal(p.Payload, &t); err != nil {
		return nil, internal("decode pushed request", err)
	}
	t.Start = s.cfg.Now().Truncate(time.Microsecond) // freshness counts from the authorization
	t.Pushed = true
	return &t, nil
}

// RequirePAR reports whether authorization requests must be pushed.
func (s *Service) RequirePAR() bool { return s.cfg.RequirePAR }

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}
