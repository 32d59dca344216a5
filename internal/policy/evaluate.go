package policy

import (
	"slices"
	"time"

	"github.com/stepup-oidc/stepup/internal/authn"
)

// Request is what a client asked for, and what the client's registration
// imposes.
type Request struct {
	// ACRValues are the voluntary acr_values, in order of preference.
	ACRValues []string
	// Essential are the values of an essential acr claim (claims parameter);
	// when set, ACRValues are ignored.
	Essential []string
	// Floor is the client's minimum acr: a request can never lower it.
	Floor string
	// FreshSince discards events performed before it (from max_age, or the
	// start of the transaction for prompt=login and max_age=0).
	FreshSince time.Time
	// EnrolledFactors is how many distinct factor categories the user has
	// enrolled (for FactorsIfPossible); 0 means unknown (no lowering).
	EnrolledFactors int
}

// Decision is the outcome of Evaluate.
type Decision struct {
	// Met is true when the events satisfy the request; Level, ACR, AMR and
	// AuthTime then describe what to put in the tokens.
	Met      bool
	Level    *Level
	ACR      string // the claim value
	AMR      []string
	AuthTime time.Time
	// Targets are the levels that would meet the request, in the order to
	// pursue them, when !Met. Empty when any authentication will do (no
	// level requested) or when nothing known was requested.
	Targets []*Level
	// Essential is true when an unmet request must fail rather than fall
	// back (an essential acr claim).
	Essential bool
}

// Missing is the first target, or nil.
func (d Decision) Missing() *Level {
	if len(d.Targets) == 0 {
		return nil
	}
	return d.Targets[0]
}

// Evaluate decides what the events satisfy for the request. The rules:
//   - acr_values are walked in order; the first value the events satisfy is
//     returned. Unknown values are ignored; an essential request naming no
//     known value cannot be met.
//   - With FirstIsRequirement (the bankid preset) only the first known value
//     counts.
//   - A request naming no level pursues the policy's Default, if any;
//     otherwise any authentication will do and the strongest level the
//     events satisfy is returned.
//   - The client's Floor removes requested values that do not satisfy it;
//     if none remain, the floor itself is the target.
//   - A stronger level satisfies every level it implies.
func (p *Policy) Evaluate(events []authn.Event, req Request, now time.Time) Decision {
	counted := fresh(events, req.FreshSince)
	sat, by := p.satisfied(counted, req, now)

	d := Decision{Essential: len(req.Essential) > 0}
	wanted := req.ACRValues
	if d.Essential {
		wanted = req.Essential
	}
	var known []int
	for _, v := range wanted {
		if i := p.lookup(v); i >= 0 && !slices.Contains(known, i) {
			known = append(known, i)
		}
	}
	if len(known) == 0 && d.Essential {
		return d // nothing we know can meet it
	}
	if p.FirstIsRequirement && len(known) > 1 {
		known = known[:1]
	}
	if len(known) == 0 && p.Default != "" {
		known = []int{p.lookup(p.Default)}
	}
	if f := p.lookup(req.Floor); f >= 0 {
		var kept []int
		for _, i := range known {
			if slices.Contains(p.closure(i), f) {
				kept = append(kept, i)
			}
		}
		if len(kept) == 0 {
			kept = []int{f}
		}
		known = kept
	}
	if len(known) == 0 {
		// Nothing requested: the strongest level proven, without lowering
		// "if possible" levels to what the user has enrolled (a single
		// factor is not reported as a two-factor level).
		return p.Best(events, req.FreshSince, now)
	}
	for _, i := range known {
		if sat[i] {
			return p.met(i, by[i], counted, now)
		}
	}
	for _, i := range known {
		d.Targets = append(d.Targets, &p.Levels[i])
	}
	return d
}

// Best returns the strongest level the events satisfy, ignoring any
// request. Met is false when no level is satisfied.
func (p *Policy) Best(events []authn.Event, freshSince, now time.Time) Decision {
	counted := fresh(events, freshSince)
	sat, by := p.satisfied(counted, Request{}, now)
	return p.best(counted, sat, by, now)
}

func (p *Policy) best(counted []authn.Event, sat []bool, by []*Requirement, now time.Time) Decision {
	for i := len(p.Levels) - 1; i >= 0; i-- {
		if sat[i] {
			return p.met(i, by[i], counted, now)
		}
	}
	return Decision{}
}

// met describes level i satisfied by requirement r: auth_time is the newest
// event r counted, amr the requirement's names or the events' methods.
func (p *Policy) met(i int, r *Requirement, counted []authn.Event, now time.Time) Decision {
	l := &p.Levels[i]
	evs := counted
	if r != nil && r.MaxAge > 0 {
		evs = fresh(counted, now.Add(-r.MaxAge))
	}
	d := Decision{Met: true, Level: l, ACR: l.ClaimValue()}
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
	if r != nil && len(r.AMR) > 0 {
		d.AMR = slices.Clone(r.AMR)
	}
	return d
}

// satisfied reports, per level, whether the events satisfy it (directly or
// through a stronger level that implies it) and which requirement did.
func (p *Policy) satisfied(events []authn.Event, req Request, now time.Time) ([]bool, []*Requirement) {
	sat := make([]bool, len(p.Levels))
	by := make([]*Requirement, len(p.Levels))
	for i := range p.Levels {
		reqs := p.Levels[i].requirements()
		for k := range reqs {
			if reqs[k].satisfiedBy(events, req.EnrolledFactors, now) {
				sat[i], by[i] = true, &reqs[k]
				break
			}
		}
	}
	for i := len(p.Levels) - 1; i >= 0; i-- { // stronger levels last: walk down
		if !sat[i] {
			continue
		}
		for _, j := range p.closure(i)[1:] {
			if !sat[j] {
				sat[j], by[j] = true, by[i]
			}
		}
	}
	return sat, by
}

func (r Requirement) satisfiedBy(events []authn.Event, enrolled int, now time.Time) bool {
	if r.MaxAge > 0 {
		events = fresh(events, now.Add(-r.MaxAge))
	}
	if len(events) == 0 {
		return false
	}
	need := r.Factors
	if r.FactorsIfPossible && enrolled > 0 && enrolled < need {
		need = max(enrolled, 1)
	}
	factors := map[string]bool{}
	method := len(r.Methods) == 0
	property := !r.PhishingResistant && !r.DeviceBound && !r.Attested && r.Assurance == ""
	for _, e := range events {
		for _, f := range e.Factors {
			factors[f] = true
		}
		if slices.Contains(r.Methods, e.Method) {
			method = true
		}
		if (!r.PhishingResistant || e.PhishingResistant) && (!r.DeviceBound || e.DeviceBound) &&
			(!r.Attested || e.Attested) && (r.Assurance == "" || e.Assurance == r.Assurance) {
			property = true
		}
	}
	return len(factors) >= need && method && property
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
