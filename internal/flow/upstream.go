package flow

import (
	"time"

	"github.com/stepup-oidc/stepup/internal/authn"
)

// Upstream describes an upstream OpenID provider offered as a method: what
// its authentications count for in the policy.
type Upstream struct {
	Name        string
	DisplayName string
	// Assurance labels its events (e.g. "high" for BankID High).
	Assurance string
	// Factors are the factor categories an authentication there proves.
	Factors []string
	// AMR are the amr values recorded for it.
	AMR []string
}

func (u Upstream) event(now time.Time) authn.Event {
	return authn.Event{Method: authn.MethodUpstream, AMR: u.AMR, Factors: u.Factors, Assurance: u.Assurance, Time: now}
}

func (s *Service) upstreamOptions(now time.Time) []Option {
	var out []Option
	for _, u := range s.cfg.Upstreams {
		out = append(out, Option{Choice: ChooseUpstream + u.Name, protos: []authn.Event{u.event(now)}})
	}
	return out
}
