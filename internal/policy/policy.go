// Package policy is where every acr decision is made (evaluate.go): it turns
// the authentication events of a session into the acr values they satisfy,
// and a client's request (acr_values, essential acr, max_age, the client's
// floor) into a decision: the acr to return, or the levels still missing.
//
// Levels are data. A vocabulary is a list of levels ordered from weakest to
// strongest; presets ship built in (presets.go) and operators may write
// their own in the configuration.
package policy

import (
	"fmt"
	"reflect"
	"slices"
	"time"
)

// Requirement is one combination of events that satisfies a level. All its
// conditions must hold over the session's (fresh) events.
type Requirement struct {
	// Factors is the number of distinct factor categories required
	// (knowledge, possession, inherence).
	Factors int `yaml:"factors"`
	// FactorsIfPossible lowers Factors to what the user has enrolled, but
	// never below one (Okta's 2fa:any:ifpossible).
	FactorsIfPossible bool `yaml:"factors_if_possible"`
	// Methods, when set, requires an event of one of these methods
	// (pwd, totp, passkey, upstream).
	Methods []string `yaml:"methods"`
	// PhishingResistant, DeviceBound and Attested require one event with
	// all of the set properties.
	PhishingResistant bool `yaml:"phishing_resistant"`
	DeviceBound       bool `yaml:"device_bound"`
	Attested          bool `yaml:"attested"`
	// Assurance, when set, requires an event carrying that assurance label
	// (set by an upstream provider's mapping, e.g. "high").
	Assurance string `yaml:"assurance"`
	// MaxAge, when set, is how recent the events must be.
	MaxAge time.Duration `yaml:"max_age"`
	// AMR, when set, replaces the events' amr values in tokens when this
	// requirement is what satisfied the level (BankID-style amr names).
	AMR []string `yaml:"amr"`
}

// Level defines one acr value.
type Level struct {
	// ACR is the value clients request and discovery lists.
	ACR string `yaml:"acr"`
	// Claim is the string returned in the acr claim; default ACR.
	Claim string `yaml:"claim"`
	// Aliases are other strings accepted in requests for this level.
	Aliases []string `yaml:"aliases"`
	// Requirement is the level's condition; AnyOf lists alternatives tried
	// first, in order (the first that holds decides the amr).
	Requirement `yaml:",inline"`
	AnyOf       []Requirement `yaml:"any_of"`
	// Implies lists weaker levels (by ACR) that this one satisfies.
	Implies []string `yaml:"implies"`
}

// ClaimValue is the string for the acr claim.
func (l *Level) ClaimValue() string {
	if l.Claim != "" {
		return l.Claim
	}
	return l.ACR
}

func (l *Level) requirements() []Requirement {
	if len(l.AnyOf) > 0 {
		return l.AnyOf
	}
	return []Requirement{l.Requirement}
}

// Policy is an ordered vocabulary, Levels[0] the weakest, with the rules
// that vary between vocabularies.
type Policy struct {
	Name   string
	Levels []Level
	// Default is the level pursued when a request names none ("" for none:
	// any authentication will do).
	Default string
	// FirstIsRequirement makes the first known requested value the
	// requirement, without trying the others (BankID's ordering rules).
	FirstIsRequirement bool
	// PasskeyFirst asks for a passkey before any other method when the user
	// has one (BankID: "the biometric prompt always comes first").
	PasskeyFirst bool
	// Enrollment allows enrolling a method during a step-up.
	Enrollment bool
}

// New validates p: unique values and aliases, known implications, sane
// factor counts.
func New(p Policy) (*Policy, error) {
	seen := map[string]bool{}
	for i, l := range p.Levels {
		if l.ACR == "" {
			return nil, fmt.Errorf("policy %s: level %d: empty acr", p.Name, i)
		}
		names := append([]string{l.ACR}, l.Aliases...)
		if l.Claim != "" && l.Claim != l.ACR {
			names = append(names, l.Claim)
		}
		for _, n := range names {
			if n == "" {
				return nil, fmt.Errorf("policy %s: acr %q: empty alias", p.Name, l.ACR)
			}
			if seen[n] {
				return nil, fmt.Errorf("policy %s: acr %q defined twice", p.Name, n)
			}
			seen[n] = true
		}
		if len(l.AnyOf) > 0 && !reflect.DeepEqual(l.Requirement, Requirement{}) {
			return nil, fmt.Errorf("policy %s: acr %q: set either the requirement or any_of, not both", p.Name, l.ACR)
		}
		for _, r := range l.requirements() {
			if r.Factors < 0 || r.Factors > 3 {
				return nil, fmt.Errorf("policy %s: acr %q: factors must be 0..3", p.Name, l.ACR)
			}
			if r.MaxAge < 0 {
				return nil, fmt.Errorf("policy %s: acr %q: max_age must not be negative", p.Name, l.ACR)
			}
		}
	}
	for _, l := range p.Levels {
		for _, imp := range l.Implies {
			if !seen[imp] {
				return nil, fmt.Errorf("policy %s: acr %q implies unknown %q", p.Name, l.ACR, imp)
			}
		}
	}
	if p.Default != "" && !seen[p.Default] {
		return nil, fmt.Errorf("policy %s: default %q is not a level", p.Name, p.Default)
	}
	q := p
	q.Levels = slices.Clone(p.Levels)
	return &q, nil
}

// Supported returns the acr values in order, weakest first.
func (p *Policy) Supported() []string {
	out := make([]string, len(p.Levels))
	for i, l := range p.Levels {
		out[i] = l.ACR
	}
	return out
}

// Lookup finds a level by its ACR, claim value or an alias.
func (p *Policy) Lookup(v string) (*Level, bool) {
	i := p.lookup(v)
	if i < 0 {
		return nil, false
	}
	return &p.Levels[i], true
}

// Satisfies returns, for each acr value, every value it satisfies (itself
// and what it implies, transitively), for publication in discovery so
// resource servers can accept a stronger value. A level whose claim
// differs from its request value (bankid: urn:bankid:bis;LOA=3) appears
// under both, and both forms are listed as satisfied.
func (p *Policy) Satisfies() map[string][]string {
	out := map[string][]string{}
	for i, l := range p.Levels {
		var sat []string
		for _, j := range p.closure(i) {
			sat = append(sat, p.Levels[j].names()...)
		}
		for _, k := range l.names() {
			out[k] = sat
		}
	}
	return out
}

// names are the level's request value and, when different, its claim.
func (l *Level) names() []string {
	if l.Claim != "" && l.Claim != l.ACR {
		return []string{l.ACR, l.Claim}
	}
	return []string{l.ACR}
}

// closure returns i and every level it implies, transitively.
func (p *Policy) closure(i int) []int {
	out := []int{i}
	for k := 0; k < len(out); k++ {
		for _, imp := range p.Levels[out[k]].Implies {
			if j := p.lookup(imp); j >= 0 && !slices.Contains(out, j) {
				out = append(out, j)
			}
		}
	}
	return out
}

// lookup finds a level by its ACR, claim or an alias; -1 if unknown.
func (p *Policy) lookup(v string) int {
	for i, l := range p.Levels {
		if v != "" && (l.ACR == v || l.Claim == v || slices.Contains(l.Aliases, v)) {
			return i
		}
	}
	return -1
}
