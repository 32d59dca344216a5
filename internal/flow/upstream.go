package flow

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/url"
	"time"

	"github.com/stepup-oidc/stepup/internal/authn"
	"github.com/stepup-oidc/stepup/internal/authn/upstream"
	"github.com/stepup-oidc/stepup/internal/store"
)

// Upstream describes an upstream OpenID provider offered as a method: what
// its authentications count for in the policy, and the client for it.
type Upstream struct {
	Name        string
	DisplayName string
	// Assurance labels its events (e.g. "high" for BankID High).
	Assurance string
	// Factors are the factor categories an authentication there proves.
	Factors []string
	// AMR are the amr values recorded for it.
	AMR []string
	// Method is the relying-party client for the upstream.
	Method *upstream.Method
}

// Errors of the upstream step.
var (
	ErrUpstreamDenied = errors.New("flow: the sign-in at the upstream provider was cancelled or refused")
	ErrUpstreamFailed = errors.New("flow: the sign-in at the upstream provider failed")
	ErrNotLinked      = errors.New("flow: no account is linked to that upstream identity")
)

func (u Upstream) event(now time.Time) authn.Event {
	f := u.Factors
	if len(f) == 0 {
		f = []string{authn.FactorKnowledge, authn.FactorPossession}
	}
	return authn.Event{Method: authn.MethodUpstream, AMR: u.AMR, Factors: f, Assurance: u.Assurance, Time: now}
}

func (s *Service) upstreamOptions(now time.Time) []Option {
	var out []Option
	for _, u := range s.cfg.Upstreams {
		out = append(out, Option{Choice: ChooseUpstream + u.Name, protos: []authn.Event{u.event(now)}})
	}
	return out
}

// UpstreamName returns the display name of an upstream choice.
func (s *Service) UpstreamName(name string) string {
	for _, u := range s.cfg.Upstreams {
		if u.Name == name && u.DisplayName != "" {
			return u.DisplayName
		}
	}
	return name
}

func (s *Service) upstream(name string) *Upstream {
	for i := range s.cfg.Upstreams {
		if s.cfg.Upstreams[i].Name == name {
			return &s.cfg.Upstreams[i]
		}
	}
	return nil
}

// resume is what travels (sealed by the upstream method) through the
// upstream and back: the transaction, bound to the browser that started it.
type resume struct {
	TX      string `json:"tx"`
	Browser string `json:"b"`
}

// BeginUpstream returns the upstream's authorization URL for the sealed
// transaction. browser binds the round trip to this browser (its CSRF
// token), so a callback URL cannot sign another browser in.
func (s *Service) BeginUpstream(ctx context.Context, name, sealedTx, browser string) (string, error) {
	u := s.upstream(name)
	if u == nil || u.Method == nil {
		return "", ErrMethodNotEnabled
	}
	b, err := json.Marshal(resume{TX: sealedTx, Browser: browser})
	if err != nil {
		return "", internal("resume", err)
	}
	to, err := u.Method.Begin(ctx, string(b), "")
	if err != nil {
		return "", internal("upstream begin", err)
	}
	return to, nil
}

// FinishUpstream handles the upstream's callback. It returns the sealed
// transaction to resume (empty when the state is bad or belongs to another
// browser), the result, and an error to show on the login page.
func (s *Service) FinishUpstream(ctx context.Context, query url.Values, browser string) (string, upstream.Result, error) {
	u := s.upstream(upstream.NameFromState(query.Get("state")))
	if u == nil || u.Method == nil {
		return "", upstream.Result{}, ErrBadTransaction
	}
	res, err := u.Method.Finish(ctx, query)
	var rs resume
	if res.Resume == "" || json.Unmarshal([]byte(res.Resume), &rs) != nil ||
		subtle.ConstantTimeCompare([]byte(rs.Browser), []byte(browser)) != 1 {
		return "", res, ErrBadTransaction
	}
	switch {
	case errors.Is(err, upstream.ErrUpstreamDenied):
		return rs.TX, res, ErrUpstreamDenied
	case err != nil:
		s.cfg.Logger.WarnContext(ctx, "upstream sign-in failed", "upstream", u.Name, "err", err)
		return rs.TX, res, ErrUpstreamFailed
	}
	return rs.TX, res, nil
}

// LinkUpstream finds the local user of an upstream result; mustBe, when
// set, is the only user allowed (a step-up of a signed-in user).
func (s *Service) LinkUpstream(ctx context.Context, res upstream.Result, name, mustBe string) (store.User, error) {
	u := s.upstream(name)
	if u == nil || u.Method == nil {
		return store.User{}, ErrMethodNotEnabled
	}
	user, err := u.Method.Link(ctx, s.cfg.Store, res, mustBe)
	switch {
	case errors.Is(err, upstream.ErrWrongUser):
		return user, ErrWrongUser
	case errors.Is(err, upstream.ErrNotLinked), errors.Is(err, upstream.ErrUserDisabled):
		return user, ErrNotLinked
	case err != nil:
		return user, internal("link upstream", err)
	}
	return user, nil
}
