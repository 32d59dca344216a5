package policy

import (
	"slices"
	"time"

	"github.com/stepup-oidc/stepup/internal/authn"
)

// Request is what a client asked for.
type Request struct {
	// ACRValues are the voluntary acr_values, in order of preference.
	ACRValues []string
	// Essential are the values of an essential acr claim (claims parameter);
	// when set, ACRValues are ignored and an unmet request must fail.
	Essential []string
	// FreshSince discards events performed before it (from max_age, or the
	// start of the transaction for prompt=login). Zero keeps every event.
	FreshSince time.Time
}

// Decision is the outcome of Evaluate.
type Decision struct {
	// Met is true when the events satisfy the request; ACR, AMR and
	// AuthTime then describe what to put in the tokens.
	Met      bool
	ACR      string
	AMR      []string
	AuthTime time.Time
	// Missing is the level to reach when !Met (nil when no known level was
	// requested, or when no event counts at all and nothing was requested).
	Missing *Level
	// Essential is true when the request is essential: if Missing cannot be
	// reached the authorization must fail with unmet_authentication_requirements.
	Essential bool
}

// Evaluate decides what the events satisfy for the request. The rule for
// acr_values: walk them in order and return the first one the events
// satisfy; unknown values are ignored; when none is satisfied, the first
// known one is Missing. A voluntary request whose Missing cannot be reached
// may fall back to Best (the caller decides: see flow).
func (p *Policy) Evaluate(events []authn.Event, req Request, now time.Time) Decision {
	counted := fresh(events, req.FreshSince)
	sat := p.satisfied(counted, now)

	wanted := req.ACRValues
	d := Decision{Essential: len(req.Essential) > 0}
	if d.Essential {
		wanted = req.Essential
	}
	var known []int
	for _, v := range wanted {
		if i := p.lookup(v); i >= 0 && !slices.Contains(known, i) {
			known = append(known, i)
		}
	}
	if len(counted) == 0 {
		if len(known) > 0 {
			d.Missing = &p.Levels[known[0]]
		}
		return d
	}
	if len(known) == 0 {
		if d.Essential {
			return d // nothing we know can meet it
		}
		return p.best(counted, sat, now)
	}
	for _, i := range known {
		if sat[i] {
			return p.met(i, counted, now)
		}
	}
	d.Missing = &p.Levels[known[0]]
	return d
}

// Best returns the strongest level the events satisfy, ignoring any request.
// Met is false when no level is satisfied.
func (p *Policy) Best(events []authn.Event, freshSince, now time.Time) Decision {
	counted := fresh(events, freshSince)
	return p.best(counted, p.satisfied(counted, now), now)
}

func (p *Policy) best(counted []authn.Event, sat []bool, now time.Time) Decision {
	for i := len(p.Levels) - 1; i >= 0; i-- {
		if sat[i] {
			return p.met(i, counted, now)
		}
	}
	return Decision{}
}

func (p *Policy) met(i int, counted []authn.Event, now time.Time) Decision {
	l := p.Levels[i]
	evs := counted
	if l.MaxAge > 0 {
		evs = fresh(counted, now.Add(-l.MaxAge))
	}
	d := Decision{Met: true, ACR: l.ACR}
	factors := map[string]bool{}
	for _, e := range evs {
		if e.Time.After(d.AuthTime) {
			d.AuthTime = e.Time
		}
		for _, a := range e.AMR {
			if !slices.Contains(d.AMR, a) {
				d.AMR = append(d.AMR, a)
			}
		}
		for _, f := range e.Factors {
			factors[f] = true
		}
	}
	if len(factors) >= 2 && !slices.Contains(d.AMR, "mfa") {
		d.AMR = append(d.AMR, "mfa")
	}
	return d
}

// satisfied reports, per level, whether the events satisfy it, including
// levels implied by satisfied stronger ones.
func (p *Policy) satisfied(events []authn.Event, now time.Time) []bool {
	sat := make([]bool, len(p.Levels))
	for i, l := range p.Levels {
		evs := events
		if l.MaxAge > 0 {
			evs = fresh(events, now.Add(-l.MaxAge))
		}
		sat[i] = l.satisfiedBy(evs)
	}
	for changed := true; changed; {
		changed = false
		for i, l := range p.Levels {
			if !sat[i] {
				continue
			}
			for _, imp := range l.Implies {
				if j := p.lookup(imp); j >= 0 && !sat[j] {
					sat[j], changed = true, true
				}
			}
		}
	}
	return sat
}

func (l Level) satisfiedBy(events []authn.Event) bool {
	if len(events) == 0 {
		return false
	}
	factors := map[string]bool{}
	method := len(l.Methods) == 0
	property := !l.PhishingResistant && !l.DeviceBound && !l.Attested
	upstream := len(l.UpstreamACR) == 0
	for _, e := range events {
		for _, f := range e.Factors {
			factors[f] = true
		}
		if slices.Contains(l.Methods, e.Method) {
			method = true
		}
		if (!l.PhishingResistant || e.PhishingResistant) && (!l.DeviceBound || e.DeviceBound) && (!l.Attested || e.Attested) {
			property = true
		}
		if e.Method == authn.MethodUpstream && slices.Contains(l.UpstreamACR, e.UpstreamACR) {
			upstream = true
		}
	}
	return len(factors) >= l.Factors && method && property && upstream
}

func fresh(events []authn.Event, since time.Time) []authn.Event {
	if since.IsZero() {
		return events
	}
	out := make([]authn.Event, 0, len(events))
	for _, e := range events {
		if !e.Time.Before(since) {
			out = append(out, e)
		}
	}
	return out
}
