package policy

import (
	"fmt"
	"slices"

	"github.com/stepup-oidc/stepup/internal/authn"
)

// Preset returns a built-in vocabulary by name: "okta" (the default) or
// "eidas".
func Preset(name string) (*Policy, error) {
	switch name {
	case "", "okta":
		return New("okta", []Level{
			{ACR: "urn:okta:loa:1fa:any", Factors: 1},
			{ACR: "urn:okta:loa:1fa:pwd", Factors: 1, Methods: []string{authn.MethodPassword}},
			{ACR: "urn:okta:loa:2fa:any", Factors: 2, Implies: []string{"urn:okta:loa:1fa:any"}},
			{ACR: "phr", Factors: 2, PhishingResistant: true, Implies: []string{"urn:okta:loa:2fa:any"}},
			{ACR: "phrh", Factors: 2, PhishingResistant: true, DeviceBound: true, Attested: true, Implies: []string{"phr"}},
		})
	case "eidas":
		return New("eidas", []Level{
			{ACR: "http://eidas.europa.eu/LoA/low", Factors: 1},
			{ACR: "http://eidas.europa.eu/LoA/substantial", Factors: 2, Implies: []string{"http://eidas.europa.eu/LoA/low"}},
			{ACR: "http://eidas.europa.eu/LoA/high", Factors: 2, PhishingResistant: true, DeviceBound: true, Attested: true,
				Implies: []string{"http://eidas.europa.eu/LoA/substantial"}},
		})
	}
	return nil, fmt.Errorf("policy: unknown preset %q (have %v)", name, PresetNames())
}

// PresetNames lists the built-in presets.
func PresetNames() []string { return slices.Clone([]string{"okta", "eidas"}) }
