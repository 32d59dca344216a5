package policy

import (
	"fmt"

	"github.com/stepup-oidc/stepup/internal/authn"
)

// The OpenID EAP ACR values, available in every preset.
const (
	PHR  = "phr"
	PHRH = "phrh"
)

// passkeyUV is a WebAuthn assertion with user verification: origin-bound
// (phishing-resistant) and two factor categories.
func passkeyUV() Requirement {
	return Requirement{Factors: 2, Methods: []string{authn.MethodPasskey}, PhishingResistant: true}
}

func eap() []Level {
	hw := passkeyUV()
	hw.DeviceBound, hw.Attested = true, true
	return []Level{
		{ACR: PHR, Requirement: passkeyUV()},
		{ACR: PHRH, Requirement: hw, Implies: []string{PHR}},
	}
}

// Preset returns a built-in vocabulary by name: "okta" (the default),
// "bankid" or "eidas". Every call returns a fresh copy.
func Preset(name string) (*Policy, error) {
	e := eap()
	switch name {
	case "", "okta":
		phr, phrh := e[0], e[1]
		phr.Implies = []string{"urn:okta:loa:2fa:any"}
		return New(Policy{Name: "okta", Enrollment: true, Levels: []Level{
			{ACR: "urn:okta:loa:1fa:any", Requirement: Requirement{Factors: 1}},
			{ACR: "urn:okta:loa:1fa:pwd", Requirement: Requirement{Factors: 1, Methods: []string{authn.MethodPassword}},
				Implies: []string{"urn:okta:loa:1fa:any"}},
			{ACR: "urn:okta:loa:2fa:any:ifpossible", Requirement: Requirement{Factors: 2, FactorsIfPossible: true},
				Implies: []string{"urn:okta:loa:1fa:any"}},
			{ACR: "urn:okta:loa:2fa:any", Requirement: Requirement{Factors: 2},
				Implies: []string{"urn:okta:loa:2fa:any:ifpossible"}},
			phr, phrh,
		}})
	case "bankid":
		hwk := passkeyUV()
		hwk.DeviceBound, hwk.AMR = true, []string{"bis-mfa", "bis-hwk"}
		sw := passkeyUV()
		sw.AMR = []string{"bis-mfa"}
		return New(Policy{Name: "bankid", Default: "urn:bankid:bis", FirstIsRequirement: true, PasskeyFirst: true,
			Levels: []Level{
				e[0],
				{ACR: "urn:bankid:bis", Claim: "urn:bankid:bis;LOA=3", AnyOf: []Requirement{
					hwk, sw, {Factors: 1, Assurance: "high", AMR: []string{"bis-bid"}},
				}},
				e[1],
				{ACR: "urn:bankid:bih", Claim: "urn:bankid:bid;LOA=4", Aliases: []string{"urn:bankid:bid"},
					Requirement: Requirement{Factors: 1, Assurance: "high", AMR: []string{"bid"}},
					Implies:     []string{"urn:bankid:bis"}},
			}})
	case "eidas":
		phr, phrh := e[0], e[1]
		phr.Implies = []string{"http://eidas.europa.eu/LoA/substantial"}
		phrh.Implies = []string{PHR, "http://eidas.europa.eu/LoA/high"}
		hwHigh := passkeyUV()
		hwHigh.DeviceBound, hwHigh.Attested = true, true
		return New(Policy{Name: "eidas", Enrollment: true, Levels: []Level{
			{ACR: "http://eidas.europa.eu/LoA/low", Requirement: Requirement{Factors: 1}},
			{ACR: "http://eidas.europa.eu/LoA/substantial", Requirement: Requirement{Factors: 2},
				Implies: []string{"http://eidas.europa.eu/LoA/low"}},
			phr,
			{ACR: "http://eidas.europa.eu/LoA/high", AnyOf: []Requirement{hwHigh, {Factors: 1, Assurance: "high"}},
				Implies: []string{"http://eidas.europa.eu/LoA/substantial"}},
			phrh,
		}})
	}
	return nil, fmt.Errorf("policy: unknown preset %q (have %v)", name, PresetNames())
}

// PresetNames lists the built-in presets.
func PresetNames() []string { return []string{"okta", "bankid", "eidas"} }
