// Package authn defines what an authentication method leaves behind: an
// Event. Events are the only input of the acr policy (package policy); a
// session is an append-only history of them.
package authn

import "time"

// Method names as recorded in events.
const (
	MethodPassword = "pwd"
	MethodTOTP     = "totp"
	MethodPasskey  = "passkey"
	MethodUpstream = "upstream"
)

// Factor categories.
const (
	FactorKnowledge  = "knowledge"
	FactorPossession = "possession"
	FactorInherence  = "inherence"
)

// Event is one completed authentication: what was done, when, and with which
// properties. Events are immutable once recorded.
type Event struct {
	Method string    `json:"method"`
	AMR    []string  `json:"amr"`
	Time   time.Time `json:"time"`
	// Factors are the factor categories the event proved: FactorKnowledge,
	// FactorPossession, FactorInherence.
	Factors []string `json:"factors"`

	PhishingResistant bool `json:"phr,omitempty"`
	DeviceBound       bool `json:"device_bound,omitempty"`
	UserVerified      bool `json:"uv,omitempty"`
	Attested          bool `json:"attested,omitempty"`

	// CredentialID names the credential used (passkey or TOTP id), if any.
	CredentialID string `json:"cred,omitempty"`
	// Assurance is a label an upstream provider's mapping gives the event
	// (e.g. "high" for BankID High); the policy may require it.
	Assurance string `json:"assurance,omitempty"`
	// UpstreamACR and UpstreamAMR record what an upstream provider asserted.
	UpstreamACR string   `json:"up_acr,omitempty"`
	UpstreamAMR []string `json:"up_amr,omitempty"`
}
