// Package policy is where every acr decision is made (evaluate.go): it turns
// the authentication events of a session into the acr values they satisfy,
// and a client's request (acr_values, essential acr, max_age) into a
// decision: the acr to return, or what is missing.
//
// Levels are data. A vocabulary is a list of levels ordered from weakest to
// strongest; presets ship built in and operators may write their own.
package policy

import (
	"fmt"
	"slices"
	"time"
)

// Level defines one acr value.
type Level struct {
	// ACR is the string returned in the acr claim.
	ACR string `yaml:"acr"`
	// Aliases are other strings accepted in requests for this level.
	Aliases []string `yaml:"aliases"`
	// Factors is the number of distinct factor categories required.
	Factors int `yaml:"factors"`
	// Methods, when set, requires an event of one of these methods.
	Methods []string `yaml:"methods"`
	// PhishingResistant, DeviceBound and Attested require one event with
	// that property (all three on the same event).
	PhishingResistant bool `yaml:"phishing_resistant"`
	DeviceBound       bool `yaml:"device_bound"`
	Attested          bool `yaml:"attested"`
	// UpstreamACR, when set, requires an upstream event asserting one of these.
	UpstreamACR []string `yaml:"upstream_acr"`
	// MaxAge, when set, is how recent the contributing events must be.
	MaxAge time.Duration `yaml:"max_age"`
	// Implies lists weaker levels (by ACR) that this one satisfies.
	Implies []string `yaml:"implies"`
}

// Policy is an ordered vocabulary: Levels[0] is the weakest.
type Policy struct {
	Name   string
	Levels []Level
}

// New validates levels and returns a Policy.
func New(name string, levels []Level) (*Policy, error) {
	seen := map[string]bool{}
	for i, l := range levels {
		if l.ACR == "" {
			return nil, fmt.Errorf("policy %s: level %d: empty acr", name, i)
		}
		for _, n := range append([]string{l.ACR}, l.Aliases...) {
			if seen[n] {
				return nil, fmt.Errorf("policy %s: acr %q defined twice", name, n)
			}
			seen[n] = true
		}
		if l.Factors < 0 || l.Factors > 3 {
			return nil, fmt.Errorf("policy %s: acr %q: factors must be 0..3", name, l.ACR)
		}
	}
	for _, l := range levels {
		for _, imp := range l.Implies {
			if !seen[imp] {
				return nil, fmt.Errorf("policy %s: acr %q implies unknown %q", name, l.ACR, imp)
			}
		}
	}
	return &Policy{Name: name, Levels: slices.Clone(levels)}, nil
}

// Supported returns the acr values in order, weakest first, for discovery.
func (p *Policy) Supported() []string {
	out := make([]string, len(p.Levels))
	for i, l := range p.Levels {
		out[i] = l.ACR
	}
	return out
}

// lookup finds a level by its ACR or an alias; -1 if unknown.
func (p *Policy) lookup(v string) int {
	for i, l := range p.Levels {
		if l.ACR == v || slices.Contains(l.Aliases, v) {
			return i
		}
	}
	return -1
}
