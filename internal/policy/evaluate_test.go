package policy_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/stepup-oidc/stepup/internal/authn"
	"github.com/stepup-oidc/stepup/internal/policy"
)

// The acr values of the presets.
const (
	okta1FA        = "urn:okta:loa:1fa:any"
	okta1FAPwd     = "urn:okta:loa:1fa:pwd"
	okta2FA        = "urn:okta:loa:2fa:any"
	okta2FAIfPossi = "urn:okta:loa:2fa:any:ifpossible"

	bankidBIS      = "urn:bankid:bis"
	bankidBIH      = "urn:bankid:bih"
	bankidBID      = "urn:bankid:bid" // an alias of bih
	bankidBISClaim = "urn:bankid:bis;LOA=3"
	bankidBIDClaim = "urn:bankid:bid;LOA=4"

	eidasLow   = "http://eidas.europa.eu/LoA/low"
	eidasSubst = "http://eidas.europa.eu/LoA/substantial"
	eidasHigh  = "http://eidas.europa.eu/LoA/high"

	phr  = policy.PHR
	phrh = policy.PHRH
)

// now is the fixed evaluation time of every case.
func now() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }

func ago(d time.Duration) time.Time { return now().Add(-d) }

func password(at time.Time) authn.Event {
	return authn.Event{Method: authn.MethodPassword, AMR: []string{"pwd"}, Time: at, Factors: []string{authn.FactorKnowledge}}
}

func totp(at time.Time) authn.Event {
	return authn.Event{Method: authn.MethodTOTP, AMR: []string{"otp"}, Time: at, Factors: []string{authn.FactorPossession}, CredentialID: "totp-1"}
}

// syncedPasskey is a user-verified passkey kept in a cloud keychain: phishing
// resistant but neither device-bound nor attested.
func syncedPasskey(at time.Time) authn.Event {
	return authn.Event{
		Method: authn.MethodPasskey, AMR: []string{"swk", "user", "mfa"}, Time: at,
		Factors:           []string{authn.FactorPossession, authn.FactorInherence},
		PhishingResistant: true, UserVerified: true, CredentialID: "pk-synced",
	}
}

// deviceBoundPasskey is a user-verified passkey that cannot leave its device
// but whose attestation was not verified (a platform authenticator).
func deviceBoundPasskey(at time.Time) authn.Event {
	return authn.Event{
		Method: authn.MethodPasskey, AMR: []string{"hwk", "user", "mfa"}, Time: at,
		Factors:           []string{authn.FactorPossession, authn.FactorInherence},
		PhishingResistant: true, DeviceBound: true, UserVerified: true, CredentialID: "pk-platform",
	}
}

// securityKey is a user-verified passkey on an attested hardware key.
func securityKey(at time.Time) authn.Event {
	e := deviceBoundPasskey(at)
	e.Attested, e.CredentialID = true, "pk-hw"
	return e
}

// upstream is a federated login whose provider mapping gave it the assurance
// label (BankID High maps to "high").
func upstream(at time.Time, assurance string) authn.Event {
	return authn.Event{
		Method: authn.MethodUpstream, AMR: []string{"fed"}, Time: at,
		Factors:   []string{authn.FactorKnowledge, authn.FactorPossession},
		Assurance: assurance, UpstreamACR: "urn:idp:" + assurance, UpstreamAMR: []string{"bid"},
	}
}

func bankIDHigh(at time.Time) authn.Event { return upstream(at, "high") }

func events(e ...authn.Event) []authn.Event { return e }

func acrValues(v ...string) policy.Request { return policy.Request{ACRValues: v} }

func essential(v ...string) policy.Request { return policy.Request{Essential: v} }

// outcome is the comparable view of a Decision: either what goes in the
// tokens, or the levels to pursue (by ACR), and whether an unmet request is
// essential.
type outcome struct {
	Met       bool
	ACR       string // the acr claim value
	AMR       []string
	AuthTime  time.Time
	Targets   []string
	Essential bool
}

func met(acr string, at time.Time, amr ...string) outcome {
	return outcome{Met: true, ACR: acr, AMR: amr, AuthTime: at}
}

func pursue(acr ...string) outcome { return outcome{Targets: acr} }

func essentialUnmet(acr ...string) outcome { return outcome{Targets: acr, Essential: true} }

func outcomeOf(d policy.Decision) outcome {
	o := outcome{Met: d.Met, ACR: d.ACR, AMR: d.AMR, AuthTime: d.AuthTime, Essential: d.Essential}
	for _, l := range d.Targets {
		o.Targets = append(o.Targets, l.ACR)
	}
	return o
}

// checkDecision verifies what every Decision must hold, whatever the case.
func checkDecision(t testing.TB, p *policy.Policy, d policy.Decision) {
	t.Helper()
	switch m := d.Missing(); {
	case len(d.Targets) == 0 && m != nil:
		t.Errorf("Missing() = %q with no targets, want nil", m.ACR)
	case len(d.Targets) > 0 && m != d.Targets[0]:
		t.Errorf("Missing() = %v, want the first target %q", m, d.Targets[0].ACR)
	}
	if !d.Met {
		if d.Level != nil || d.ACR != "" || len(d.AMR) > 0 || !d.AuthTime.IsZero() {
			t.Errorf("an unmet decision carries token values: %+v", d)
		}
		for _, l := range d.Targets {
			if !isLevelOf(p, l) {
				t.Errorf("target %q is not a level of %s", l.ACR, p.Name)
			}
		}
		return
	}
	if d.Level == nil || !isLevelOf(p, d.Level) {
		t.Fatalf("met decision's Level %v is not a level of %s", d.Level, p.Name)
	}
	if d.ACR != d.Level.ClaimValue() {
		t.Errorf("ACR = %q, want the level's claim value %q", d.ACR, d.Level.ClaimValue())
	}
	if len(d.Targets) > 0 || d.AuthTime.IsZero() {
		t.Errorf("met decision with targets %v or no auth_time %v", d.Targets, d.AuthTime)
	}
}

func isLevelOf(p *policy.Policy, l *policy.Level) bool {
	for i := range p.Levels {
		if &p.Levels[i] == l {
			return true
		}
	}
	return false
}

func preset(t testing.TB, name string) *policy.Policy {
	t.Helper()
	p, err := policy.Preset(name)
	if err != nil {
		t.Fatalf("Preset(%q): %v", name, err)
	}
	return p
}

// custom is a vocabulary exercising what the presets do not: aliases, a claim
// distinct from the acr, requirement MaxAge windows, AnyOf with amr names and
// a level reached only through an upstream provider's assurance label.
func custom(t testing.TB) *policy.Policy {
	t.Helper()
	p, err := policy.New(policy.Policy{Name: "custom", Levels: []policy.Level{
		{ACR: "1fa", Aliases: []string{"basic", "urn:example:loa:1"}, Requirement: policy.Requirement{Factors: 1}},
		{ACR: "fed-gold", Claim: "urn:example:fed:gold", Implies: []string{"basic"},
			Requirement: policy.Requirement{Factors: 1, Methods: []string{authn.MethodUpstream}, Assurance: "gold"}},
		{ACR: "2fa-recent", Implies: []string{"1fa"}, Requirement: policy.Requirement{Factors: 2, MaxAge: 5 * time.Minute}},
		{ACR: "step", Implies: []string{"1fa"}, AnyOf: []policy.Requirement{
			{Factors: 1, Methods: []string{authn.MethodPasskey}, MaxAge: 5 * time.Minute, AMR: []string{"recent-pk"}},
			{Factors: 2, MaxAge: time.Hour, AMR: []string{"mfa-hour"}},
		}},
	}})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

func vocabulary(t testing.TB, name string) *policy.Policy {
	t.Helper()
	if name == "custom" {
		return custom(t)
	}
	return preset(t, name)
}

func TestEvaluate(t *testing.T) {
	t1, t2 := ago(10*time.Minute), ago(time.Minute)
	tests := []struct {
		name   string
		preset string // a preset name, or "custom"
		events []authn.Event
		req    policy.Request
		want   outcome
	}{
		// okta: nothing requested, nothing known.
		{name: "okta: no events and no request is nothing met and nothing to pursue", preset: "okta"},
		{name: "okta: no events and only unknown values is nothing to pursue", preset: "okta",
			req: acrValues("urn:example:gold")},
		{name: "okta: no events: requested values are pursued in request order", preset: "okta",
			req: acrValues(phr, okta2FA), want: pursue(phr, okta2FA)},
		{name: "okta: no events: unknown values are skipped", preset: "okta",
			req: acrValues("urn:example:gold", okta2FA, phr), want: pursue(okta2FA, phr)},
		{name: "okta: no request with a password gives the strongest level, 1fa:pwd", preset: "okta",
			events: events(password(t1)), want: met(okta1FAPwd, t1, "pwd")},

		// okta: urn:okta:loa:1fa:any.
		{name: "okta: a password meets 1fa:any", preset: "okta", events: events(password(t1)),
			req: acrValues(okta1FA), want: met(okta1FA, t1, "pwd")},
		{name: "okta: a TOTP alone meets 1fa:any", preset: "okta", events: events(totp(t1)),
			req: acrValues(okta1FA), want: met(okta1FA, t1, "otp")},
		{name: "okta: no events leaves 1fa:any to pursue", preset: "okta",
			req: acrValues(okta1FA), want: pursue(okta1FA)},

		// okta: urn:okta:loa:1fa:pwd.
		{name: "okta: a password meets 1fa:pwd", preset: "okta", events: events(password(t1)),
			req: acrValues(okta1FAPwd), want: met(okta1FAPwd, t1, "pwd")},
		{name: "okta: a TOTP alone does not meet 1fa:pwd", preset: "okta", events: events(totp(t1)),
			req: acrValues(okta1FAPwd), want: pursue(okta1FAPwd)},
		{name: "okta: a security key does not meet 1fa:pwd, which needs a password", preset: "okta", events: events(securityKey(t1)),
			req: acrValues(okta1FAPwd), want: pursue(okta1FAPwd)},

		// okta: urn:okta:loa:2fa:any.
		{name: "okta: a password does not meet 2fa:any", preset: "okta", events: events(password(t1)),
			req: acrValues(okta2FA), want: pursue(okta2FA)},
		{name: "okta: a password and a TOTP meet 2fa:any with pwd, otp and mfa", preset: "okta", events: events(password(t1), totp(t2)),
			req: acrValues(okta2FA), want: met(okta2FA, t2, "pwd", "otp", "mfa")},
		{name: "okta: auth_time is the newest counted event whatever the order", preset: "okta", events: events(totp(t2), password(t1)),
			req: acrValues(okta2FA), want: met(okta2FA, t2, "otp", "pwd", "mfa")},
		{name: "okta: a user-verified passkey alone meets 2fa:any", preset: "okta", events: events(syncedPasskey(t1)),
			req: acrValues(okta2FA), want: met(okta2FA, t1, "swk", "user", "mfa")},
		{name: "okta: two possession events are one factor category and do not meet 2fa:any", preset: "okta",
			events: events(totp(t1), func() authn.Event { e := totp(t2); e.CredentialID = "totp-2"; return e }()),
			req:    acrValues(okta2FA), want: pursue(okta2FA)},

		// okta: urn:okta:loa:2fa:any:ifpossible.
		{name: "okta: ifpossible with one factor enrolled is met by a password", preset: "okta", events: events(password(t1)),
			req: policy.Request{ACRValues: []string{okta2FAIfPossi}, EnrolledFactors: 1}, want: met(okta2FAIfPossi, t1, "pwd")},
		{name: "okta: ifpossible with two factors enrolled needs two", preset: "okta", events: events(password(t1)),
			req: policy.Request{ACRValues: []string{okta2FAIfPossi}, EnrolledFactors: 2}, want: pursue(okta2FAIfPossi)},
		{name: "okta: ifpossible with enrolment unknown needs two", preset: "okta", events: events(password(t1)),
			req: acrValues(okta2FAIfPossi), want: pursue(okta2FAIfPossi)},
		{name: "okta: ifpossible with three factors enrolled is met by two", preset: "okta", events: events(password(t1), totp(t2)),
			req: policy.Request{ACRValues: []string{okta2FAIfPossi}, EnrolledFactors: 3}, want: met(okta2FAIfPossi, t2, "pwd", "otp", "mfa")},
		{name: "okta: ifpossible with one factor enrolled still needs an event", preset: "okta",
			req: policy.Request{ACRValues: []string{okta2FAIfPossi}, EnrolledFactors: 1}, want: pursue(okta2FAIfPossi)},
		{name: "okta: ifpossible is met by a passkey through 2fa:any", preset: "okta", events: events(syncedPasskey(t1)),
			req: acrValues(okta2FAIfPossi), want: met(okta2FAIfPossi, t1, "swk", "user", "mfa")},

		// okta: phr and phrh.
		{name: "okta: a synced passkey meets phr", preset: "okta", events: events(syncedPasskey(t1)),
			req: acrValues(phr), want: met(phr, t1, "swk", "user", "mfa")},
		{name: "okta: a password and a TOTP do not meet phr", preset: "okta", events: events(password(t1), totp(t2)),
			req: acrValues(phr), want: pursue(phr)},
		{name: "okta: a password then a passkey adds mfa once", preset: "okta", events: events(password(t1), syncedPasskey(t2)),
			req: acrValues(phr), want: met(phr, t2, "pwd", "swk", "user", "mfa")},
		{name: "okta: a synced passkey does not meet phrh", preset: "okta", events: events(syncedPasskey(t1)),
			req: acrValues(phrh), want: pursue(phrh)},
		{name: "okta: a device-bound passkey without attestation does not meet phrh", preset: "okta", events: events(deviceBoundPasskey(t1)),
			req: acrValues(phrh), want: pursue(phrh)},
		{name: "okta: an attested security key meets phrh", preset: "okta", events: events(securityKey(t1)),
			req: acrValues(phrh), want: met(phrh, t1, "hwk", "user", "mfa")},
		{name: "okta: a phrh session meets phr with the phr claim", preset: "okta", events: events(securityKey(t1)),
			req: acrValues(phr), want: met(phr, t1, "hwk", "user", "mfa")},
		{name: "okta: phrh meets 1fa:any through every implication", preset: "okta", events: events(securityKey(t1)),
			req: essential(okta1FA), want: met(okta1FA, t1, "hwk", "user", "mfa")},

		// okta: ordered preference.
		{name: "okta: ordered preference falls through phr to 2fa:any", preset: "okta", events: events(password(t1), totp(t2)),
			req: acrValues(phr, okta2FA), want: met(okta2FA, t2, "pwd", "otp", "mfa")},
		{name: "okta: ordered preference with nothing met pursues the values in request order", preset: "okta", events: events(password(t1)),
			req: acrValues(phr, okta2FA), want: pursue(phr, okta2FA)},
		{name: "okta: ordered preference returns the first satisfied value, not the strongest", preset: "okta", events: events(securityKey(t1)),
			req: acrValues(okta1FA, phrh), want: met(okta1FA, t1, "hwk", "user", "mfa")},
		{name: "okta: a repeated value is pursued once", preset: "okta", events: events(password(t1)),
			req: acrValues(phr, phr, okta2FA), want: pursue(phr, okta2FA)},

		// okta: unknown and essential values.
		{name: "okta: an unknown voluntary value with a password gives the strongest level met", preset: "okta", events: events(password(t1)),
			req: acrValues("unknown"), want: met(okta1FAPwd, t1, "pwd")},
		{name: "okta: an unknown voluntary value with one factor enrolled reports 1fa, not a two-factor level", preset: "okta", events: events(password(t1)),
			req: policy.Request{ACRValues: []string{"unknown"}, EnrolledFactors: 1}, want: met(okta1FAPwd, t1, "pwd")},
		{name: "okta: unknown voluntary values with a password and a TOTP give 2fa:any", preset: "okta", events: events(password(t1), totp(t2)),
			req: acrValues("urn:example:gold", "silver"), want: met(okta2FA, t2, "pwd", "otp", "mfa")},
		{name: "okta: unknown voluntary values with a security key give phrh", preset: "okta", events: events(securityKey(t1)),
			req: acrValues("urn:example:gold"), want: met(phrh, t1, "hwk", "user", "mfa")},
		{name: "okta: unknown values next to known ones are ignored", preset: "okta", events: events(password(t1)),
			req: acrValues("urn:example:gold", okta1FA), want: met(okta1FA, t1, "pwd")},
		{name: "okta: an essential unknown value is unmet with nothing to pursue", preset: "okta", events: events(securityKey(t1)),
			req: essential("urn:example:gold"), want: essentialUnmet()},
		{name: "okta: essential unknown values without events are unmet with nothing to pursue", preset: "okta",
			req: essential("urn:example:gold", "silver"), want: essentialUnmet()},
		{name: "okta: no events and an essential request pursues the level", preset: "okta",
			req: essential(phrh), want: essentialUnmet(phrh)},
		{name: "okta: an essential known value that is not met is pursued", preset: "okta", events: events(password(t1), totp(t2)),
			req: essential(phrh), want: essentialUnmet(phrh)},
		{name: "okta: an essential request overrides acr_values", preset: "okta", events: events(password(t1), totp(t2)),
			req: policy.Request{ACRValues: []string{okta2FA}, Essential: []string{phr}}, want: essentialUnmet(phr)},
		{name: "okta: an essential request that is met is met", preset: "okta", events: events(syncedPasskey(t1)),
			req: essential(phrh, phr), want: met(phr, t1, "swk", "user", "mfa")},

		// okta: client floors.
		{name: "okta: a request below the floor is raised to the floor", preset: "okta", events: events(password(t1)),
			req: policy.Request{ACRValues: []string{okta1FA}, Floor: okta2FA}, want: pursue(okta2FA)},
		{name: "okta: a request below a met floor answers with the floor", preset: "okta", events: events(password(t1), totp(t2)),
			req: policy.Request{ACRValues: []string{okta1FA}, Floor: okta2FA}, want: met(okta2FA, t2, "pwd", "otp", "mfa")},
		{name: "okta: a request at the floor is kept", preset: "okta", events: events(password(t1), totp(t2)),
			req: policy.Request{ACRValues: []string{okta2FA}, Floor: okta2FA}, want: met(okta2FA, t2, "pwd", "otp", "mfa")},
		{name: "okta: a met request above the floor is kept", preset: "okta", events: events(syncedPasskey(t1)),
			req: policy.Request{ACRValues: []string{phr}, Floor: okta2FA}, want: met(phr, t1, "swk", "user", "mfa")},
		{name: "okta: an unmet request above a met floor is still pursued", preset: "okta", events: events(password(t1), totp(t2)),
			req: policy.Request{ACRValues: []string{phr}, Floor: okta2FA}, want: pursue(phr)},
		{name: "okta: values below the floor are dropped from the preference", preset: "okta", events: events(password(t1)),
			req: policy.Request{ACRValues: []string{okta1FA, phr}, Floor: okta2FA}, want: pursue(phr)},
		{name: "okta: a floor with nothing requested is pursued", preset: "okta", events: events(password(t1)),
			req: policy.Request{Floor: okta2FA}, want: pursue(okta2FA)},
		{name: "okta: a floor with nothing requested is what a stronger session answers", preset: "okta", events: events(securityKey(t1)),
			req: policy.Request{Floor: okta2FA}, want: met(okta2FA, t1, "hwk", "user", "mfa")},
		{name: "okta: a floor with only unknown values requested is pursued", preset: "okta", events: events(password(t1)),
			req: policy.Request{ACRValues: []string{"urn:example:gold"}, Floor: okta2FA}, want: pursue(okta2FA)},
		{name: "okta: an essential request below the floor pursues the floor", preset: "okta", events: events(password(t1)),
			req: policy.Request{Essential: []string{okta1FA}, Floor: okta2FA}, want: essentialUnmet(okta2FA)},
		{name: "okta: a floor that is not a level is ignored", preset: "okta", events: events(password(t1)),
			req: policy.Request{ACRValues: []string{okta1FA}, Floor: "urn:example:gold"}, want: met(okta1FA, t1, "pwd")},

		// okta: freshness (max_age, prompt=login).
		{name: "okta: FreshSince discards an old password so 2fa:any is pursued", preset: "okta", events: events(password(ago(2*time.Hour)), totp(t2)),
			req: policy.Request{ACRValues: []string{okta2FA}, FreshSince: ago(30 * time.Minute)}, want: pursue(okta2FA)},
		{name: "okta: FreshSince keeps only fresh events in amr and auth_time", preset: "okta", events: events(securityKey(ago(2*time.Hour)), password(t1), totp(t2)),
			req: policy.Request{ACRValues: []string{okta2FA}, FreshSince: ago(30 * time.Minute)}, want: met(okta2FA, t2, "pwd", "otp", "mfa")},
		{name: "okta: FreshSince leaves a fresh TOTP alone to meet 1fa:any", preset: "okta", events: events(password(t1), totp(t2)),
			req: policy.Request{ACRValues: []string{okta1FA}, FreshSince: ago(5 * time.Minute)}, want: met(okta1FA, t2, "otp")},
		{name: "okta: an event exactly at FreshSince counts", preset: "okta", events: events(password(t1)),
			req: policy.Request{ACRValues: []string{okta1FA}, FreshSince: t1}, want: met(okta1FA, t1, "pwd")},
		{name: "okta: FreshSince now (max_age=0) with only old events is not met", preset: "okta", events: events(securityKey(t1)),
			req: policy.Request{ACRValues: []string{phr}, FreshSince: now()}, want: pursue(phr)},
		{name: "okta: FreshSince now (max_age=0) with only old events and no request is nothing", preset: "okta", events: events(securityKey(t1)),
			req: policy.Request{FreshSince: now()}},
		{name: "okta: FreshSince now (max_age=0) counts an event made now", preset: "okta", events: events(password(t1), syncedPasskey(now())),
			req: policy.Request{ACRValues: []string{phr}, FreshSince: now()}, want: met(phr, now(), "swk", "user", "mfa")},

		// bankid: urn:bankid:bis.
		{name: "bankid: a device-bound passkey meets bis with bis-mfa and bis-hwk", preset: "bankid", events: events(deviceBoundPasskey(t1)),
			req: acrValues(bankidBIS), want: met(bankidBISClaim, t1, "bis-mfa", "bis-hwk")},
		{name: "bankid: an attested security key meets bis with bis-mfa and bis-hwk", preset: "bankid", events: events(securityKey(t1)),
			req: acrValues(bankidBIS), want: met(bankidBISClaim, t1, "bis-mfa", "bis-hwk")},
		{name: "bankid: a synced passkey meets bis with bis-mfa only", preset: "bankid", events: events(syncedPasskey(t1)),
			req: acrValues(bankidBIS), want: met(bankidBISClaim, t1, "bis-mfa")},
		{name: "bankid: BankID High meets bis with bis-bid and the bis claim", preset: "bankid", events: events(bankIDHigh(t1)),
			req: acrValues(bankidBIS), want: met(bankidBISClaim, t1, "bis-bid")},
		{name: "bankid: a passkey is preferred to BankID High for the bis amr", preset: "bankid", events: events(bankIDHigh(t1), deviceBoundPasskey(t2)),
			req: acrValues(bankidBIS), want: met(bankidBISClaim, t2, "bis-mfa", "bis-hwk")},
		{name: "bankid: a password does not meet bis", preset: "bankid", events: events(password(t1)),
			req: acrValues(bankidBIS), want: pursue(bankidBIS)},
		{name: "bankid: a password and a TOTP do not meet bis", preset: "bankid", events: events(password(t1), totp(t2)),
			req: acrValues(bankidBIS), want: pursue(bankidBIS)},
		{name: "bankid: an upstream login of substantial assurance does not meet bis", preset: "bankid", events: events(upstream(t1, "substantial")),
			req: acrValues(bankidBIS), want: pursue(bankidBIS)},
		{name: "bankid: the bis claim value is accepted in a request", preset: "bankid", events: events(syncedPasskey(t1)),
			req: acrValues(bankidBISClaim), want: met(bankidBISClaim, t1, "bis-mfa")},

		// bankid: urn:bankid:bih and its alias urn:bankid:bid.
		{name: "bankid: BankID High meets bih with the bid claim and amr", preset: "bankid", events: events(bankIDHigh(t1)),
			req: acrValues(bankidBIH), want: met(bankidBIDClaim, t1, "bid")},
		{name: "bankid: BankID High meets the alias bid", preset: "bankid", events: events(bankIDHigh(t1)),
			req: acrValues(bankidBID), want: met(bankidBIDClaim, t1, "bid")},
		{name: "bankid: the bid claim value is accepted in a request", preset: "bankid", events: events(bankIDHigh(t1)),
			req: acrValues(bankidBIDClaim), want: met(bankidBIDClaim, t1, "bid")},
		{name: "bankid: a device-bound passkey does not meet bih", preset: "bankid", events: events(deviceBoundPasskey(t1)),
			req: acrValues(bankidBIH), want: pursue(bankidBIH)},
		{name: "bankid: an attested security key does not meet the alias bid", preset: "bankid", events: events(securityKey(t1)),
			req: acrValues(bankidBID), want: pursue(bankidBIH)},
		{name: "bankid: an upstream login of substantial assurance does not meet bih", preset: "bankid", events: events(upstream(t1, "substantial")),
			req: acrValues(bankidBIH), want: pursue(bankidBIH)},
		{name: "bankid: an alias and its acr are pursued once", preset: "bankid",
			req: acrValues(bankidBID, bankidBIH), want: pursue(bankidBIH)},

		// bankid: the four acr_values arrays, and the default.
		{name: "bankid: [bis] with nothing is pursued", preset: "bankid",
			req: acrValues(bankidBIS), want: pursue(bankidBIS)},
		{name: "bankid: [bih] with a passkey is not met and pursues bih only", preset: "bankid", events: events(deviceBoundPasskey(t1)),
			req: acrValues(bankidBIH), want: pursue(bankidBIH)},
		{name: "bankid: [bih, bis] with a passkey does not fall back to bis", preset: "bankid", events: events(deviceBoundPasskey(t1)),
			req: acrValues(bankidBIH, bankidBIS), want: pursue(bankidBIH)},
		{name: "bankid: [bih, bis] with BankID High meets bih", preset: "bankid", events: events(bankIDHigh(t1)),
			req: acrValues(bankidBIH, bankidBIS), want: met(bankidBIDClaim, t1, "bid")},
		{name: "bankid: [bis, bih] with a passkey meets bis", preset: "bankid", events: events(deviceBoundPasskey(t1)),
			req: acrValues(bankidBIS, bankidBIH), want: met(bankidBISClaim, t1, "bis-mfa", "bis-hwk")},
		{name: "bankid: [bis, bih] with BankID High answers bis as [bis] does", preset: "bankid", events: events(bankIDHigh(t1)),
			req: acrValues(bankidBIS, bankidBIH), want: met(bankidBISClaim, t1, "bis-bid")},
		{name: "bankid: [bis, bih] with a password pursues bis only", preset: "bankid", events: events(password(t1)),
			req: acrValues(bankidBIS, bankidBIH), want: pursue(bankidBIS)},
		{name: "bankid: an unknown first value leaves the first known one as the requirement", preset: "bankid", events: events(deviceBoundPasskey(t1)),
			req: acrValues("urn:example:gold", bankidBIH, bankidBIS), want: pursue(bankidBIH)},
		{name: "bankid: a request naming nothing pursues bis", preset: "bankid",
			want: pursue(bankidBIS)},
		{name: "bankid: a request naming nothing is answered with bis for a passkey", preset: "bankid", events: events(deviceBoundPasskey(t1)),
			want: met(bankidBISClaim, t1, "bis-mfa", "bis-hwk")},
		{name: "bankid: a request naming nothing is answered with bis for BankID High", preset: "bankid", events: events(bankIDHigh(t1)),
			want: met(bankidBISClaim, t1, "bis-bid")},
		{name: "bankid: only unknown values pursue the default bis", preset: "bankid", events: events(syncedPasskey(t1)),
			req: acrValues("urn:example:gold"), want: met(bankidBISClaim, t1, "bis-mfa")},
		{name: "bankid: an essential bih with a passkey is unmet and essential", preset: "bankid", events: events(deviceBoundPasskey(t1)),
			req: essential(bankidBIH), want: essentialUnmet(bankidBIH)},
		{name: "bankid: an essential unknown value does not pursue the default", preset: "bankid", events: events(deviceBoundPasskey(t1)),
			req: essential("urn:example:gold"), want: essentialUnmet()},
		{name: "bankid: FreshSince discards an old BankID High", preset: "bankid", events: events(bankIDHigh(ago(2 * time.Hour))),
			req: policy.Request{ACRValues: []string{bankidBIH}, FreshSince: ago(30 * time.Minute)}, want: pursue(bankidBIH)},
		{name: "bankid: FreshSince now with an old passkey and no request pursues bis", preset: "bankid", events: events(deviceBoundPasskey(t1)),
			req: policy.Request{FreshSince: now()}, want: pursue(bankidBIS)},
		{name: "bankid: a floor named by its alias raises bis to bih", preset: "bankid", events: events(deviceBoundPasskey(t1)),
			req: policy.Request{ACRValues: []string{bankidBIS}, Floor: bankidBID}, want: pursue(bankidBIH)},
		{name: "bankid: a bis floor keeps bih", preset: "bankid", events: events(bankIDHigh(t1)),
			req: policy.Request{ACRValues: []string{bankidBIH}, Floor: bankidBIS}, want: met(bankidBIDClaim, t1, "bid")},

		// bankid: phr and phrh.
		{name: "bankid: a synced passkey meets phr with the events' amr", preset: "bankid", events: events(syncedPasskey(t1)),
			req: acrValues(phr), want: met(phr, t1, "swk", "user", "mfa")},
		{name: "bankid: an attested security key meets phrh", preset: "bankid", events: events(securityKey(t1)),
			req: acrValues(phrh), want: met(phrh, t1, "hwk", "user", "mfa")},
		{name: "bankid: BankID High is not phishing-resistant", preset: "bankid", events: events(bankIDHigh(t1)),
			req: acrValues(phr), want: pursue(phr)},

		// eidas.
		{name: "eidas: a password meets low", preset: "eidas", events: events(password(t1)),
			req: acrValues(eidasLow), want: met(eidasLow, t1, "pwd")},
		{name: "eidas: a password does not meet substantial", preset: "eidas", events: events(password(t1)),
			req: acrValues(eidasSubst), want: pursue(eidasSubst)},
		{name: "eidas: a password and a TOTP meet substantial", preset: "eidas", events: events(password(t1), totp(t2)),
			req: acrValues(eidasSubst), want: met(eidasSubst, t2, "pwd", "otp", "mfa")},
		{name: "eidas: a synced passkey meets substantial through phr", preset: "eidas", events: events(syncedPasskey(t1)),
			req: acrValues(eidasSubst), want: met(eidasSubst, t1, "swk", "user", "mfa")},
		{name: "eidas: a synced passkey does not meet high", preset: "eidas", events: events(syncedPasskey(t1)),
			req: essential(eidasHigh), want: essentialUnmet(eidasHigh)},
		{name: "eidas: a device-bound passkey without attestation does not meet high", preset: "eidas", events: events(deviceBoundPasskey(t1)),
			req: acrValues(eidasHigh), want: pursue(eidasHigh)},
		{name: "eidas: an attested device-bound passkey meets high", preset: "eidas", events: events(securityKey(t1)),
			req: acrValues(eidasHigh), want: met(eidasHigh, t1, "hwk", "user", "mfa")},
		{name: "eidas: an upstream login of high assurance meets high", preset: "eidas", events: events(bankIDHigh(t1)),
			req: acrValues(eidasHigh), want: met(eidasHigh, t1, "fed", "mfa")},
		{name: "eidas: an upstream login of substantial assurance does not meet high", preset: "eidas", events: events(upstream(t1, "substantial")),
			req: acrValues(eidasHigh), want: pursue(eidasHigh)},
		{name: "eidas: high implies low", preset: "eidas", events: events(securityKey(t1)),
			req: acrValues(eidasLow), want: met(eidasLow, t1, "hwk", "user", "mfa")},
		{name: "eidas: a synced passkey with no request gives phr, the strongest met", preset: "eidas", events: events(syncedPasskey(t1)),
			want: met(phr, t1, "swk", "user", "mfa")},
		{name: "eidas: an attested security key meets phrh", preset: "eidas", events: events(securityKey(t1)),
			req: acrValues(phrh), want: met(phrh, t1, "hwk", "user", "mfa")},
		{name: "eidas: okta values are unknown and fall back to the strongest level met", preset: "eidas", events: events(password(t1)),
			req: acrValues(okta2FA), want: met(eidasLow, t1, "pwd")},

		// custom vocabulary: aliases, claims, MaxAge windows, AnyOf, assurance.
		{name: "custom: an alias is answered with the level's claim", preset: "custom", events: events(password(ago(time.Hour))),
			req: acrValues("urn:example:loa:1"), want: met("1fa", ago(time.Hour), "pwd")},
		{name: "custom: an alias names the pursued level", preset: "custom",
			req: essential("basic"), want: essentialUnmet("1fa")},
		{name: "custom: MaxAge: an old second factor does not count", preset: "custom", events: events(totp(ago(time.Hour)), password(ago(time.Minute))),
			req: acrValues("2fa-recent"), want: pursue("2fa-recent")},
		{name: "custom: MaxAge: recent factors meet the level", preset: "custom", events: events(password(ago(4*time.Minute)), totp(ago(time.Minute))),
			req: acrValues("2fa-recent"), want: met("2fa-recent", ago(time.Minute), "pwd", "otp", "mfa")},
		{name: "custom: MaxAge: amr and auth_time come from events within the window", preset: "custom",
			events: events(securityKey(ago(time.Hour)), password(ago(4*time.Minute)), totp(ago(2*time.Minute))),
			req:    acrValues("2fa-recent"), want: met("2fa-recent", ago(2*time.Minute), "pwd", "otp", "mfa")},
		{name: "custom: MaxAge: an event exactly max age old counts", preset: "custom", events: events(password(ago(5*time.Minute)), totp(ago(5*time.Minute))),
			req: acrValues("2fa-recent"), want: met("2fa-recent", ago(5*time.Minute), "pwd", "otp", "mfa")},
		{name: "custom: MaxAge does not limit weaker levels", preset: "custom", events: events(securityKey(ago(time.Hour))),
			req: acrValues("2fa-recent", "1fa"), want: met("1fa", ago(time.Hour), "hwk", "user", "mfa")},
		{name: "custom: FreshSince narrows a MaxAge window further", preset: "custom", events: events(password(ago(4*time.Minute)), totp(ago(2*time.Minute))),
			req: policy.Request{ACRValues: []string{"2fa-recent"}, FreshSince: ago(3 * time.Minute)}, want: pursue("2fa-recent")},
		{name: "custom: AnyOf: a recent passkey decides the amr", preset: "custom",
			events: events(password(ago(30*time.Minute)), totp(ago(20*time.Minute)), syncedPasskey(ago(time.Minute))),
			req:    acrValues("step"), want: met("step", ago(time.Minute), "recent-pk")},
		{name: "custom: AnyOf: without a recent passkey two factors within the hour do", preset: "custom",
			events: events(password(ago(2*time.Hour)), totp(ago(20*time.Minute)), syncedPasskey(ago(10*time.Minute))),
			req:    acrValues("step"), want: met("step", ago(10*time.Minute), "mfa-hour")},
		{name: "custom: AnyOf: nothing within the hour is pursued", preset: "custom",
			events: events(password(ago(2*time.Hour)), totp(ago(2*time.Hour))),
			req:    acrValues("step"), want: pursue("step")},
		{name: "custom: an upstream login of the listed assurance meets the level", preset: "custom", events: events(upstream(t2, "gold")),
			req: acrValues("fed-gold"), want: met("urn:example:fed:gold", t2, "fed", "mfa")},
		{name: "custom: a level is requested by its claim value", preset: "custom", events: events(upstream(t2, "gold")),
			req: acrValues("urn:example:fed:gold"), want: met("urn:example:fed:gold", t2, "fed", "mfa")},
		{name: "custom: an upstream login of another assurance does not meet the level", preset: "custom", events: events(upstream(t2, "bronze")),
			req: acrValues("fed-gold"), want: pursue("fed-gold")},
		{name: "custom: a local event with the assurance label is not an upstream login", preset: "custom",
			events: events(func() authn.Event { e := password(t2); e.Assurance = "gold"; return e }()),
			req:    acrValues("fed-gold"), want: pursue("fed-gold")},
		{name: "custom: a level implied through an alias is met", preset: "custom", events: events(upstream(t2, "gold")),
			req: acrValues("basic"), want: met("1fa", t2, "fed", "mfa")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := vocabulary(t, tt.preset)
			d := p.Evaluate(tt.events, tt.req, now())
			checkDecision(t, p, d)
			if diff := cmp.Diff(tt.want, outcomeOf(d), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Evaluate (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBest(t *testing.T) {
	tests := []struct {
		name       string
		preset     string
		events     []authn.Event
		freshSince time.Time
		want       outcome
	}{
		{name: "no events is not met", preset: "okta"},
		{name: "a password is 1fa:pwd", preset: "okta", events: events(password(ago(time.Hour))),
			want: met(okta1FAPwd, ago(time.Hour), "pwd")},
		{name: "a TOTP alone is 1fa:any", preset: "okta", events: events(totp(ago(time.Hour))),
			want: met(okta1FA, ago(time.Hour), "otp")},
		{name: "a password and a TOTP are 2fa:any", preset: "okta", events: events(password(ago(time.Hour)), totp(ago(time.Minute))),
			want: met(okta2FA, ago(time.Minute), "pwd", "otp", "mfa")},
		{name: "a security key is phrh", preset: "okta", events: events(password(ago(time.Hour)), securityKey(ago(time.Minute))),
			want: met(phrh, ago(time.Minute), "pwd", "hwk", "user", "mfa")},
		{name: "freshSince drops the security key", preset: "okta", events: events(securityKey(ago(time.Hour)), password(ago(time.Minute))),
			freshSince: ago(10 * time.Minute), want: met(okta1FAPwd, ago(time.Minute), "pwd")},
		{name: "bankid: BankID High is bih with the bid claim", preset: "bankid", events: events(bankIDHigh(ago(time.Minute))),
			want: met(bankidBIDClaim, ago(time.Minute), "bid")},
		{name: "bankid: a device-bound passkey without attestation is bis", preset: "bankid", events: events(deviceBoundPasskey(ago(time.Minute))),
			want: met(bankidBISClaim, ago(time.Minute), "bis-mfa", "bis-hwk")},
		{name: "eidas: BankID High is high", preset: "eidas", events: events(bankIDHigh(ago(time.Minute))),
			want: met(eidasHigh, ago(time.Minute), "fed", "mfa")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := preset(t, tt.preset)
			d := p.Best(tt.events, tt.freshSince, now())
			checkDecision(t, p, d)
			if diff := cmp.Diff(tt.want, outcomeOf(d), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Best (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEvaluateDoesNotShareSlices(t *testing.T) {
	t.Run("mutating the amr leaves the events unchanged", func(t *testing.T) {
		evs := events(password(ago(time.Hour)), totp(ago(time.Minute)))
		before := events(password(ago(time.Hour)), totp(ago(time.Minute)))
		d := preset(t, "okta").Evaluate(evs, policy.Request{ACRValues: []string{okta2FA}, FreshSince: ago(2 * time.Hour)}, now())
		if len(d.AMR) == 0 {
			t.Fatalf("Evaluate = %+v, want met with amr", d)
		}
		d.AMR[0] = "changed"
		if diff := cmp.Diff(before, evs); diff != "" {
			t.Errorf("events changed (-want +got):\n%s", diff)
		}
	})
	t.Run("mutating a requirement's amr names leaves the policy unchanged", func(t *testing.T) {
		p := preset(t, "bankid")
		evs := events(bankIDHigh(ago(time.Minute)))
		d := p.Evaluate(evs, acrValues(bankidBIH), now())
		if !cmp.Equal(d.AMR, []string{"bid"}) {
			t.Fatalf("Evaluate amr = %q (met %v), want [bid]", d.AMR, d.Met)
		}
		d.AMR[0] = "changed"
		if got := p.Evaluate(evs, acrValues(bankidBIH), now()).AMR; !cmp.Equal(got, []string{"bid"}) {
			t.Errorf("second Evaluate amr = %q, want [bid]", got)
		}
	})
}

func TestSatisfies(t *testing.T) {
	tests := []struct {
		name   string
		preset string
		want   map[string][]string
	}{
		{name: "okta: every level satisfies what it implies, transitively", preset: "okta", want: map[string][]string{
			okta1FA:        {okta1FA},
			okta1FAPwd:     {okta1FAPwd, okta1FA},
			okta2FAIfPossi: {okta2FAIfPossi, okta1FA},
			okta2FA:        {okta2FA, okta2FAIfPossi, okta1FA},
			phr:            {phr, okta2FA, okta2FAIfPossi, okta1FA},
			phrh:           {phrh, phr, okta2FA, okta2FAIfPossi, okta1FA},
		}},
		{name: "bankid: bih satisfies bis; phrh satisfies phr; claims are keys and values too", preset: "bankid", want: map[string][]string{
			phr:                    {phr},
			bankidBIS:              {bankidBIS, "urn:bankid:bis;LOA=3"},
			"urn:bankid:bis;LOA=3": {bankidBIS, "urn:bankid:bis;LOA=3"},
			phrh:                   {phrh, phr},
			bankidBIH:              {bankidBIH, "urn:bankid:bid;LOA=4", bankidBIS, "urn:bankid:bis;LOA=3"},
			"urn:bankid:bid;LOA=4": {bankidBIH, "urn:bankid:bid;LOA=4", bankidBIS, "urn:bankid:bis;LOA=3"},
		}},
		{name: "eidas: high and phr satisfy substantial and low", preset: "eidas", want: map[string][]string{
			eidasLow:   {eidasLow},
			eidasSubst: {eidasSubst, eidasLow},
			phr:        {phr, eidasSubst, eidasLow},
			eidasHigh:  {eidasHigh, eidasSubst, eidasLow},
			phrh:       {phrh, phr, eidasHigh, eidasSubst, eidasLow},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := preset(t, tt.preset).Satisfies()
			if diff := cmp.Diff(tt.want, got, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
				t.Errorf("Satisfies (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLookup(t *testing.T) {
	tests := []struct {
		name   string
		preset string
		value  string
		want   string // the level's ACR; "" for not found
	}{
		{name: "a level is found by its acr", preset: "bankid", value: bankidBIH, want: bankidBIH},
		{name: "a level is found by its alias", preset: "bankid", value: bankidBID, want: bankidBIH},
		{name: "a level is found by its claim value", preset: "bankid", value: bankidBIDClaim, want: bankidBIH},
		{name: "an unknown value is not found", preset: "bankid", value: "urn:bankid:gold"},
		{name: "the empty string is not a level in okta", preset: "okta", value: ""},
		{name: "the empty string is not a level in bankid", preset: "bankid", value: ""},
		{name: "an okta value is not an eidas level", preset: "eidas", value: okta1FA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, ok := preset(t, tt.preset).Lookup(tt.value)
			got := ""
			if ok {
				got = l.ACR
			}
			if got != tt.want {
				t.Errorf("Lookup(%q) = %q (found %v), want %q", tt.value, got, ok, tt.want)
			}
		})
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		policy  policy.Policy
		wantErr string // substring of the error; "" for success
	}{
		{name: "a valid vocabulary with aliases, claims, alternatives and implications", policy: policy.Policy{Name: "t", Default: "l", Levels: []policy.Level{
			{ACR: "low", Aliases: []string{"l"}, Requirement: policy.Requirement{Factors: 1}},
			{ACR: "high", Claim: "high;LOA=4", Implies: []string{"l"}, AnyOf: []policy.Requirement{{Factors: 2}, {Factors: 1, Assurance: "high"}}},
		}}},
		{name: "an empty vocabulary is valid", policy: policy.Policy{Name: "t"}},
		{name: "an empty acr is refused", policy: policy.Policy{Name: "t", Levels: []policy.Level{{ACR: "a"}, {ACR: ""}}},
			wantErr: "policy t: level 1: empty acr"},
		{name: "a duplicate acr is refused", policy: policy.Policy{Name: "t", Levels: []policy.Level{{ACR: "a"}, {ACR: "a"}}},
			wantErr: `acr "a" defined twice`},
		{name: "an alias equal to another level's acr is refused", policy: policy.Policy{Name: "t", Levels: []policy.Level{{ACR: "a"}, {ACR: "b", Aliases: []string{"a"}}}},
			wantErr: `acr "a" defined twice`},
		{name: "an acr equal to an earlier alias is refused", policy: policy.Policy{Name: "t", Levels: []policy.Level{{ACR: "a", Aliases: []string{"x"}}, {ACR: "x"}}},
			wantErr: `acr "x" defined twice`},
		{name: "two levels sharing an alias are refused", policy: policy.Policy{Name: "t", Levels: []policy.Level{{ACR: "a", Aliases: []string{"x"}}, {ACR: "b", Aliases: []string{"x"}}}},
			wantErr: `acr "x" defined twice`},
		{name: "an alias repeating its own acr is refused", policy: policy.Policy{Name: "t", Levels: []policy.Level{{ACR: "a", Aliases: []string{"a"}}}},
			wantErr: `acr "a" defined twice`},
		{name: "implying an unknown level is refused", policy: policy.Policy{Name: "t", Levels: []policy.Level{{ACR: "a", Implies: []string{"b"}}}},
			wantErr: `acr "a" implies unknown "b"`},
		{name: "implying a later level is allowed", policy: policy.Policy{Name: "t", Levels: []policy.Level{{ACR: "a", Implies: []string{"b"}}, {ACR: "b"}}}},
		{name: "a default that is not a level is refused", policy: policy.Policy{Name: "t", Default: "gold", Levels: []policy.Level{{ACR: "a"}}},
			wantErr: `policy t: default "gold" is not a level`},
		{name: "four factors are refused", policy: policy.Policy{Name: "t", Levels: []policy.Level{{ACR: "a", Requirement: policy.Requirement{Factors: 4}}}},
			wantErr: `acr "a": factors must be 0..3`},
		{name: "negative factors are refused", policy: policy.Policy{Name: "t", Levels: []policy.Level{{ACR: "a", Requirement: policy.Requirement{Factors: -1}}}},
			wantErr: `acr "a": factors must be 0..3`},
		{name: "factors out of range in an alternative are refused", policy: policy.Policy{Name: "t", Levels: []policy.Level{{ACR: "a", AnyOf: []policy.Requirement{{Factors: 1}, {Factors: 5}}}}},
			wantErr: `acr "a": factors must be 0..3`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := policy.New(tt.policy)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("New: %v, want success", err)
				}
				if diff := cmp.Diff(&tt.policy, p, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("New (-want +got):\n%s", diff)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New error = %v, want one containing %q", err, tt.wantErr)
			}
			if p != nil {
				t.Errorf("New returned a policy with an error")
			}
		})
	}
}

func TestNewCopiesLevels(t *testing.T) {
	levels := []policy.Level{{ACR: "a", Requirement: policy.Requirement{Factors: 1}}}
	p, err := policy.New(policy.Policy{Name: "t", Levels: levels})
	if err != nil {
		t.Fatal(err)
	}
	levels[0].ACR = "changed"
	if got := p.Supported(); !cmp.Equal(got, []string{"a"}) {
		t.Errorf("Supported() after caller edit = %q, want [a]", got)
	}
}

func TestPresets(t *testing.T) {
	tests := []struct {
		name    string
		preset  string
		want    []string // Supported()
		wantErr string
	}{
		{name: "the empty name is okta", preset: "",
			want: []string{okta1FA, okta1FAPwd, okta2FAIfPossi, okta2FA, phr, phrh}},
		{name: "okta lists its levels weakest first", preset: "okta",
			want: []string{okta1FA, okta1FAPwd, okta2FAIfPossi, okta2FA, phr, phrh}},
		{name: "bankid lists its levels weakest first", preset: "bankid",
			want: []string{phr, bankidBIS, phrh, bankidBIH}},
		{name: "eidas lists its levels weakest first", preset: "eidas",
			want: []string{eidasLow, eidasSubst, phr, eidasHigh, phrh}},
		{name: "an unknown preset names the known ones", preset: "nist",
			wantErr: `unknown preset "nist" (have [okta bankid eidas])`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := policy.Preset(tt.preset)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Preset error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, p.Supported()); diff != "" {
				t.Errorf("Supported (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPresetRules(t *testing.T) {
	type rules struct {
		Name               string
		Default            string
		FirstIsRequirement bool
		PasskeyFirst       bool
		Enrollment         bool
	}
	want := map[string]rules{
		"okta":   {Name: "okta", Enrollment: true},
		"bankid": {Name: "bankid", Default: bankidBIS, FirstIsRequirement: true, PasskeyFirst: true},
		"eidas":  {Name: "eidas", Enrollment: true},
	}
	for _, name := range policy.PresetNames() {
		t.Run(name, func(t *testing.T) {
			p := preset(t, name)
			got := rules{p.Name, p.Default, p.FirstIsRequirement, p.PasskeyFirst, p.Enrollment}
			if diff := cmp.Diff(want[name], got); diff != "" {
				t.Errorf("rules (-want +got):\n%s", diff)
			}
			for _, v := range []string{phr, phrh} {
				if l, ok := p.Lookup(v); !ok || l.ClaimValue() != v {
					t.Errorf("%s: Lookup(%q) = %v, %v; want the EAP level claimed as itself", name, v, l, ok)
				}
			}
		})
	}
	t.Run("PresetNames returns a fresh slice", func(t *testing.T) {
		names := policy.PresetNames()
		names[0] = "changed"
		if got := policy.PresetNames(); !cmp.Equal(got, []string{"okta", "bankid", "eidas"}) {
			t.Errorf("PresetNames() = %q, want [okta bankid eidas]", got)
		}
	})
	t.Run("Preset returns a fresh copy", func(t *testing.T) {
		a := preset(t, "bankid")
		l, _ := a.Lookup(bankidBIH)
		l.AMR[0], l.Implies[0] = "changed", "changed"
		a.Levels[0].ACR = "changed"
		b := preset(t, "bankid")
		if l, _ := b.Lookup(bankidBIH); l.AMR[0] != "bid" || l.Implies[0] != bankidBIS || b.Levels[0].ACR != phr {
			t.Errorf("editing one bankid preset changed another: %+v", b.Levels)
		}
	})
}

// fuzzEvents is one session holding every kind of event, at various ages.
func fuzzEvents() []authn.Event {
	return events(password(ago(2*time.Hour)), totp(ago(time.Hour)), syncedPasskey(ago(20*time.Minute)),
		deviceBoundPasskey(ago(10*time.Minute)), securityKey(ago(5*time.Minute)), bankIDHigh(ago(time.Minute)),
		upstream(ago(30*time.Second), "substantial"))
}

func FuzzEvaluate(f *testing.F) {
	for _, s := range [][3]string{
		{"", "", ""},
		{"phr", "", ""},
		{"urn:bankid:bih urn:bankid:bis", "", ""},
		{"urn:bankid:bis urn:bankid:bih", "", "urn:bankid:bid"},
		{"unknown", "", ""},
		{"", "unknown", ""},
		{"", "urn:bankid:bid;LOA=4 phrh", ""},
		{"urn:okta:loa:1fa:any urn:okta:loa:2fa:any:ifpossible", "", "urn:okta:loa:2fa:any"},
		{"http://eidas.europa.eu/LoA/high http://eidas.europa.eu/LoA/low", "", "phr"},
	} {
		f.Add(s[0], s[1], s[2], uint8(0), uint8(0x7f))
	}
	f.Add("phrh", "", "", uint8(1), uint8(0x01))
	f.Fuzz(func(t *testing.T, acr, ess, floor string, enrolled, mask uint8) {
		all := fuzzEvents()
		var evs []authn.Event
		for i, e := range all {
			if mask&(1<<i) != 0 {
				evs = append(evs, e)
			}
		}
		req := policy.Request{
			ACRValues: strings.Fields(acr), Essential: strings.Fields(ess), Floor: floor, EnrolledFactors: int(enrolled % 4),
		}
		if mask&0x80 != 0 {
			req.FreshSince = ago(15 * time.Minute)
		}
		for _, name := range policy.PresetNames() {
			p := preset(t, name)
			d := p.Evaluate(evs, req, now())
			checkDecision(t, p, d)
			if d.Met && !slices.ContainsFunc(p.Levels, func(l policy.Level) bool { return l.ClaimValue() == d.ACR }) {
				t.Errorf("%s: met with acr %q, not the claim of a level", name, d.ACR)
			}
			if d.Essential != (len(req.Essential) > 0 && !d.Met) {
				t.Errorf("%s: Essential = %v for essential %q, met %v", name, d.Essential, req.Essential, d.Met)
			}
			if again := p.Evaluate(evs, req, now()); !cmp.Equal(outcomeOf(d), outcomeOf(again)) {
				t.Errorf("%s: Evaluate is not deterministic: %+v then %+v", name, outcomeOf(d), outcomeOf(again))
			}
		}
	})
}

func BenchmarkEvaluate(b *testing.B) {
	p := preset(b, "okta")
	evs := events(password(ago(time.Hour)), syncedPasskey(ago(time.Minute)))
	req := policy.Request{ACRValues: []string{"urn:example:gold", phrh, phr, okta2FA}, FreshSince: ago(2 * time.Hour), EnrolledFactors: 3}
	b.ReportAllocs()
	for b.Loop() {
		if d := p.Evaluate(evs, req, now()); !d.Met {
			b.Fatal("not met")
		}
	}
}

func BenchmarkEvaluateBankID(b *testing.B) {
	p := preset(b, "bankid")
	evs := events(bankIDHigh(ago(3*time.Hour)), deviceBoundPasskey(ago(time.Minute)))
	req := policy.Request{ACRValues: []string{bankidBIS, bankidBIH}, FreshSince: ago(time.Hour)}
	b.ReportAllocs()
	for b.Loop() {
		if d := p.Evaluate(evs, req, now()); !d.Met {
			b.Fatal("not met")
		}
	}
}
