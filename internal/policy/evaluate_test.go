package policy_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/stepup-oidc/stepup/internal/authn"
	"github.com/stepup-oidc/stepup/internal/policy"
)

const (
	okta1FA    = "urn:okta:loa:1fa:any"
	okta1FAPwd = "urn:okta:loa:1fa:pwd"
	okta2FA    = "urn:okta:loa:2fa:any"
	eidasLow   = "http://eidas.europa.eu/LoA/low"
	eidasSubst = "http://eidas.europa.eu/LoA/substantial"
	eidasHigh  = "http://eidas.europa.eu/LoA/high"
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

// securityKey is a user-verified passkey on an attested hardware key.
func securityKey(at time.Time) authn.Event {
	return authn.Event{
		Method: authn.MethodPasskey, AMR: []string{"hwk", "user", "mfa"}, Time: at,
		Factors:           []string{authn.FactorPossession, authn.FactorInherence},
		PhishingResistant: true, DeviceBound: true, Attested: true, UserVerified: true, CredentialID: "pk-hw",
	}
}

// deviceBoundUnattested is a device-bound passkey whose attestation was not
// verified.
func deviceBoundUnattested(at time.Time) authn.Event {
	e := securityKey(at)
	e.Attested = false
	return e
}

func upstream(at time.Time, acr string) authn.Event {
	return authn.Event{Method: authn.MethodUpstream, AMR: []string{"fed"}, Time: at, Factors: []string{authn.FactorKnowledge}, UpstreamACR: acr}
}

// outcome is the comparable view of a Decision.
type outcome struct {
	Met       bool
	ACR       string
	AMR       []string
	AuthTime  time.Time
	Missing   string // ACR of Decision.Missing, "" for nil
	Essential bool
}

func outcomeOf(d policy.Decision) outcome {
	o := outcome{Met: d.Met, ACR: d.ACR, AMR: d.AMR, AuthTime: d.AuthTime, Essential: d.Essential}
	if d.Missing != nil {
		o.Missing = d.Missing.ACR
	}
	return o
}

func preset(t testing.TB, name string) *policy.Policy {
	t.Helper()
	p, err := policy.Preset(name)
	if err != nil {
		t.Fatalf("Preset(%q): %v", name, err)
	}
	return p
}

func TestEvaluatePresets(t *testing.T) {
	t1, t2 := ago(10*time.Minute), ago(time.Minute)
	tests := []struct {
		name   string
		preset string
		events []authn.Event
		req    policy.Request
		want   outcome
	}{
		// No events.
		{name: "no events and no request is nothing", preset: "okta"},
		{name: "no events: the first requested level is missing", preset: "okta",
			req:  policy.Request{ACRValues: []string{"phr", okta2FA}},
			want: outcome{Missing: "phr"}},
		{name: "no events: unknown values are skipped to find the first known one", preset: "okta",
			req:  policy.Request{ACRValues: []string{"urn:example:gold", okta2FA, "phr"}},
			want: outcome{Missing: okta2FA}},
		{name: "no events and only unknown values: nothing is missing", preset: "okta",
			req: policy.Request{ACRValues: []string{"urn:example:gold"}}},
		{name: "no events and an essential request: essential with the level missing", preset: "okta",
			req:  policy.Request{Essential: []string{"phrh"}},
			want: outcome{Missing: "phrh", Essential: true}},

		// Password.
		{name: "password meets 1fa:pwd", preset: "okta", events: []authn.Event{password(t1)},
			req:  policy.Request{ACRValues: []string{okta1FAPwd}},
			want: outcome{Met: true, ACR: okta1FAPwd, AMR: []string{"pwd"}, AuthTime: t1}},
		{name: "password meets 1fa:any", preset: "okta", events: []authn.Event{password(t1)},
			req:  policy.Request{ACRValues: []string{okta1FA}},
			want: outcome{Met: true, ACR: okta1FA, AMR: []string{"pwd"}, AuthTime: t1}},
		{name: "password does not meet 2fa:any", preset: "okta", events: []authn.Event{password(t1)},
			req:  policy.Request{ACRValues: []string{okta2FA}},
			want: outcome{Missing: okta2FA}},
		{name: "password without a request gives the best level, 1fa:pwd", preset: "okta", events: []authn.Event{password(t1)},
			want: outcome{Met: true, ACR: okta1FAPwd, AMR: []string{"pwd"}, AuthTime: t1}},
		{name: "TOTP alone does not meet 1fa:pwd", preset: "okta", events: []authn.Event{totp(t1)},
			req:  policy.Request{ACRValues: []string{okta1FAPwd}},
			want: outcome{Missing: okta1FAPwd}},

		// Password and TOTP.
		{name: "password and TOTP meet 2fa:any with pwd, otp and mfa", preset: "okta", events: []authn.Event{password(t1), totp(t2)},
			req:  policy.Request{ACRValues: []string{okta2FA}},
			want: outcome{Met: true, ACR: okta2FA, AMR: []string{"pwd", "otp", "mfa"}, AuthTime: t2}},
		{name: "password and TOTP do not meet phr", preset: "okta", events: []authn.Event{password(t1), totp(t2)},
			req:  policy.Request{ACRValues: []string{"phr"}},
			want: outcome{Missing: "phr"}},
		{name: "ordered preference falls through phr to 2fa:any", preset: "okta", events: []authn.Event{password(t1), totp(t2)},
			req:  policy.Request{ACRValues: []string{"phr", okta2FA}},
			want: outcome{Met: true, ACR: okta2FA, AMR: []string{"pwd", "otp", "mfa"}, AuthTime: t2}},
		{name: "ordered preference returns the first satisfied value, not the strongest", preset: "okta", events: []authn.Event{securityKey(t1)},
			req:  policy.Request{ACRValues: []string{okta1FA, "phrh"}},
			want: outcome{Met: true, ACR: okta1FA, AMR: []string{"hwk", "user", "mfa"}, AuthTime: t1}},
		{name: "a repeated value is considered once", preset: "okta", events: []authn.Event{password(t1)},
			req:  policy.Request{ACRValues: []string{"phr", "phr", okta2FA}},
			want: outcome{Missing: "phr"}},

		// Passkeys.
		{name: "a synced passkey meets phr", preset: "okta", events: []authn.Event{syncedPasskey(t1)},
			req:  policy.Request{ACRValues: []string{"phr"}},
			want: outcome{Met: true, ACR: "phr", AMR: []string{"swk", "user", "mfa"}, AuthTime: t1}},
		{name: "a synced passkey does not meet phrh", preset: "okta", events: []authn.Event{syncedPasskey(t1)},
			req:  policy.Request{ACRValues: []string{"phrh"}},
			want: outcome{Missing: "phrh"}},
		{name: "a device-bound passkey without attestation does not meet phrh", preset: "okta", events: []authn.Event{deviceBoundUnattested(t1)},
			req:  policy.Request{ACRValues: []string{"phrh"}},
			want: outcome{Missing: "phrh"}},
		{name: "an attested device-bound passkey meets phrh", preset: "okta", events: []authn.Event{securityKey(t1)},
			req:  policy.Request{ACRValues: []string{"phrh"}},
			want: outcome{Met: true, ACR: "phrh", AMR: []string{"hwk", "user", "mfa"}, AuthTime: t1}},
		{name: "phrh implies phr", preset: "okta", events: []authn.Event{securityKey(t1)},
			req:  policy.Request{ACRValues: []string{"phr"}},
			want: outcome{Met: true, ACR: "phr", AMR: []string{"hwk", "user", "mfa"}, AuthTime: t1}},
		{name: "phrh implies 2fa:any through phr", preset: "okta", events: []authn.Event{securityKey(t1)},
			req:  policy.Request{ACRValues: []string{okta2FA}},
			want: outcome{Met: true, ACR: okta2FA, AMR: []string{"hwk", "user", "mfa"}, AuthTime: t1}},
		{name: "phrh implies 1fa:any through three steps", preset: "okta", events: []authn.Event{securityKey(t1)},
			req:  policy.Request{Essential: []string{okta1FA}},
			want: outcome{Met: true, ACR: okta1FA, AMR: []string{"hwk", "user", "mfa"}, AuthTime: t1}},
		{name: "a passkey does not meet 1fa:pwd, which needs a password", preset: "okta", events: []authn.Event{securityKey(t1)},
			req:  policy.Request{ACRValues: []string{okta1FAPwd}},
			want: outcome{Missing: okta1FAPwd}},
		{name: "password then passkey adds mfa once", preset: "okta", events: []authn.Event{password(t1), syncedPasskey(t2)},
			req:  policy.Request{ACRValues: []string{"phr"}},
			want: outcome{Met: true, ACR: "phr", AMR: []string{"pwd", "swk", "user", "mfa"}, AuthTime: t2}},

		// Unknown and essential values.
		{name: "unknown voluntary values fall back to the best level", preset: "okta", events: []authn.Event{password(t1), totp(t2)},
			req:  policy.Request{ACRValues: []string{"urn:example:gold", "silver"}},
			want: outcome{Met: true, ACR: okta2FA, AMR: []string{"pwd", "otp", "mfa"}, AuthTime: t2}},
		{name: "unknown voluntary values with a security key give phrh", preset: "okta", events: []authn.Event{securityKey(t1)},
			req:  policy.Request{ACRValues: []string{"urn:example:gold"}},
			want: outcome{Met: true, ACR: "phrh", AMR: []string{"hwk", "user", "mfa"}, AuthTime: t1}},
		{name: "unknown values next to known ones are ignored", preset: "okta", events: []authn.Event{password(t1)},
			req:  policy.Request{ACRValues: []string{"urn:example:gold", okta1FA}},
			want: outcome{Met: true, ACR: okta1FA, AMR: []string{"pwd"}, AuthTime: t1}},
		{name: "an essential unknown value is unmet with nothing to reach", preset: "okta", events: []authn.Event{securityKey(t1)},
			req:  policy.Request{Essential: []string{"urn:example:gold"}},
			want: outcome{Essential: true}},
		{name: "an essential known value that is not met is missing", preset: "okta", events: []authn.Event{password(t1), totp(t2)},
			req:  policy.Request{Essential: []string{"phrh"}},
			want: outcome{Missing: "phrh", Essential: true}},
		{name: "an essential request overrides acr_values", preset: "okta", events: []authn.Event{password(t1), totp(t2)},
			req:  policy.Request{ACRValues: []string{okta2FA}, Essential: []string{"phr"}},
			want: outcome{Missing: "phr", Essential: true}},
		{name: "an essential request that is met is met", preset: "okta", events: []authn.Event{syncedPasskey(t1)},
			req:  policy.Request{Essential: []string{"phrh", "phr"}},
			want: outcome{Met: true, ACR: "phr", AMR: []string{"swk", "user", "mfa"}, AuthTime: t1}},

		// Freshness (max_age, prompt=login).
		{name: "FreshSince discards an old password so 2fa:any is missing", preset: "okta", events: []authn.Event{password(ago(2 * time.Hour)), totp(t2)},
			req:  policy.Request{ACRValues: []string{okta2FA}, FreshSince: ago(30 * time.Minute)},
			want: outcome{Missing: okta2FA}},
		{name: "FreshSince keeps only fresh events in amr and auth_time", preset: "okta", events: []authn.Event{securityKey(ago(2 * time.Hour)), password(t1), totp(t2)},
			req:  policy.Request{ACRValues: []string{okta2FA}, FreshSince: ago(30 * time.Minute)},
			want: outcome{Met: true, ACR: okta2FA, AMR: []string{"pwd", "otp", "mfa"}, AuthTime: t2}},
		{name: "auth_time is the newest counted event whatever the order", preset: "okta", events: []authn.Event{totp(t2), password(t1)},
			req:  policy.Request{ACRValues: []string{okta2FA}},
			want: outcome{Met: true, ACR: okta2FA, AMR: []string{"otp", "pwd", "mfa"}, AuthTime: t2}},
		{name: "an event exactly at FreshSince counts", preset: "okta", events: []authn.Event{password(t1)},
			req:  policy.Request{ACRValues: []string{okta1FA}, FreshSince: t1},
			want: outcome{Met: true, ACR: okta1FA, AMR: []string{"pwd"}, AuthTime: t1}},
		{name: "FreshSince after every event is like no events", preset: "okta", events: []authn.Event{securityKey(t1)},
			req:  policy.Request{ACRValues: []string{"phr"}, FreshSince: t2},
			want: outcome{Missing: "phr"}},
		{name: "FreshSince after every event without a request is nothing", preset: "okta", events: []authn.Event{securityKey(t1)},
			req: policy.Request{FreshSince: t2}},

		// eIDAS.
		{name: "eidas: password meets low", preset: "eidas", events: []authn.Event{password(t1)},
			req:  policy.Request{ACRValues: []string{eidasLow}},
			want: outcome{Met: true, ACR: eidasLow, AMR: []string{"pwd"}, AuthTime: t1}},
		{name: "eidas: password does not meet substantial", preset: "eidas", events: []authn.Event{password(t1)},
			req:  policy.Request{ACRValues: []string{eidasSubst}},
			want: outcome{Missing: eidasSubst}},
		{name: "eidas: password and TOTP meet substantial", preset: "eidas", events: []authn.Event{password(t1), totp(t2)},
			req:  policy.Request{ACRValues: []string{eidasSubst}},
			want: outcome{Met: true, ACR: eidasSubst, AMR: []string{"pwd", "otp", "mfa"}, AuthTime: t2}},
		{name: "eidas: a synced passkey does not meet high", preset: "eidas", events: []authn.Event{syncedPasskey(t1)},
			req:  policy.Request{Essential: []string{eidasHigh}},
			want: outcome{Missing: eidasHigh, Essential: true}},
		{name: "eidas: a synced passkey is substantial at best", preset: "eidas", events: []authn.Event{syncedPasskey(t1)},
			want: outcome{Met: true, ACR: eidasSubst, AMR: []string{"swk", "user", "mfa"}, AuthTime: t1}},
		{name: "eidas: an attested security key meets high", preset: "eidas", events: []authn.Event{securityKey(t1)},
			req:  policy.Request{ACRValues: []string{eidasHigh}},
			want: outcome{Met: true, ACR: eidasHigh, AMR: []string{"hwk", "user", "mfa"}, AuthTime: t1}},
		{name: "eidas: high implies low", preset: "eidas", events: []authn.Event{securityKey(t1)},
			req:  policy.Request{ACRValues: []string{eidasLow}},
			want: outcome{Met: true, ACR: eidasLow, AMR: []string{"hwk", "user", "mfa"}, AuthTime: t1}},
		{name: "eidas: okta values are unknown and fall back to the best level", preset: "eidas", events: []authn.Event{password(t1)},
			req:  policy.Request{ACRValues: []string{"phr"}},
			want: outcome{Met: true, ACR: eidasLow, AMR: []string{"pwd"}, AuthTime: t1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := preset(t, tt.preset)
			got := outcomeOf(p.Evaluate(tt.events, tt.req, now()))
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Evaluate (-want +got):\n%s", diff)
			}
		})
	}
}

// custom is a vocabulary exercising what the presets do not: aliases, a
// level MaxAge and upstream acr values.
func custom(t testing.TB) *policy.Policy {
	t.Helper()
	p, err := policy.New("custom", []policy.Level{
		{ACR: "1fa", Aliases: []string{"basic", "urn:example:loa:1"}, Factors: 1},
		{ACR: "fed-gold", Factors: 1, UpstreamACR: []string{"urn:idp:gold"}, Implies: []string{"basic"}},
		{ACR: "2fa-recent", Factors: 2, MaxAge: 5 * time.Minute, Implies: []string{"1fa"}},
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

func TestEvaluateCustomLevels(t *testing.T) {
	tests := []struct {
		name   string
		events []authn.Event
		req    policy.Request
		want   outcome
	}{
		{name: "an alias is answered with the level's acr", events: []authn.Event{password(ago(time.Hour))},
			req:  policy.Request{ACRValues: []string{"urn:example:loa:1"}},
			want: outcome{Met: true, ACR: "1fa", AMR: []string{"pwd"}, AuthTime: ago(time.Hour)}},
		{name: "an alias names the missing level", req: policy.Request{Essential: []string{"basic"}},
			want: outcome{Missing: "1fa", Essential: true}},
		{name: "Level.MaxAge: an old second factor does not count", events: []authn.Event{totp(ago(time.Hour)), password(ago(time.Minute))},
			req:  policy.Request{ACRValues: []string{"2fa-recent"}},
			want: outcome{Missing: "2fa-recent"}},
		{name: "Level.MaxAge: recent factors meet the level", events: []authn.Event{password(ago(4 * time.Minute)), totp(ago(time.Minute))},
			req:  policy.Request{ACRValues: []string{"2fa-recent"}},
			want: outcome{Met: true, ACR: "2fa-recent", AMR: []string{"pwd", "otp", "mfa"}, AuthTime: ago(time.Minute)}},
		{name: "Level.MaxAge: amr and auth_time come from events within the level's max age", events: []authn.Event{securityKey(ago(time.Hour)), password(ago(4 * time.Minute)), totp(ago(2 * time.Minute))},
			req:  policy.Request{ACRValues: []string{"2fa-recent"}},
			want: outcome{Met: true, ACR: "2fa-recent", AMR: []string{"pwd", "otp", "mfa"}, AuthTime: ago(2 * time.Minute)}},
		{name: "Level.MaxAge: an event exactly max age old counts", events: []authn.Event{password(ago(5 * time.Minute)), totp(ago(5 * time.Minute))},
			req:  policy.Request{ACRValues: []string{"2fa-recent"}},
			want: outcome{Met: true, ACR: "2fa-recent", AMR: []string{"pwd", "otp", "mfa"}, AuthTime: ago(5 * time.Minute)}},
		{name: "Level.MaxAge does not limit weaker levels", events: []authn.Event{securityKey(ago(time.Hour))},
			req:  policy.Request{ACRValues: []string{"2fa-recent", "1fa"}},
			want: outcome{Met: true, ACR: "1fa", AMR: []string{"hwk", "user", "mfa"}, AuthTime: ago(time.Hour)}},
		{name: "an upstream event asserting the listed acr meets the level", events: []authn.Event{upstream(ago(time.Minute), "urn:idp:gold")},
			req:  policy.Request{ACRValues: []string{"fed-gold"}},
			want: outcome{Met: true, ACR: "fed-gold", AMR: []string{"fed"}, AuthTime: ago(time.Minute)}},
		{name: "an upstream event asserting another acr does not", events: []authn.Event{upstream(ago(time.Minute), "urn:idp:bronze")},
			req:  policy.Request{ACRValues: []string{"fed-gold"}},
			want: outcome{Missing: "fed-gold"}},
		{name: "a local event claiming an upstream acr does not", events: []authn.Event{func() authn.Event { e := password(ago(time.Minute)); e.UpstreamACR = "urn:idp:gold"; return e }()},
			req:  policy.Request{ACRValues: []string{"fed-gold"}},
			want: outcome{Missing: "fed-gold"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := outcomeOf(custom(t).Evaluate(tt.events, tt.req, now()))
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Evaluate (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBest(t *testing.T) {
	tests := []struct {
		name       string
		events     []authn.Event
		freshSince time.Time
		want       outcome
	}{
		{name: "no events is not met"},
		{name: "a password is 1fa:pwd", events: []authn.Event{password(ago(time.Hour))},
			want: outcome{Met: true, ACR: okta1FAPwd, AMR: []string{"pwd"}, AuthTime: ago(time.Hour)}},
		{name: "a TOTP alone is 1fa:any", events: []authn.Event{totp(ago(time.Hour))},
			want: outcome{Met: true, ACR: okta1FA, AMR: []string{"otp"}, AuthTime: ago(time.Hour)}},
		{name: "a security key is phrh", events: []authn.Event{password(ago(time.Hour)), securityKey(ago(time.Minute))},
			want: outcome{Met: true, ACR: "phrh", AMR: []string{"pwd", "hwk", "user", "mfa"}, AuthTime: ago(time.Minute)}},
		{name: "freshSince drops the security key", events: []authn.Event{securityKey(ago(time.Hour)), password(ago(time.Minute))},
			freshSince: ago(10 * time.Minute),
			want:       outcome{Met: true, ACR: okta1FAPwd, AMR: []string{"pwd"}, AuthTime: ago(time.Minute)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := outcomeOf(preset(t, "okta").Best(tt.events, tt.freshSince, now()))
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Best (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEvaluateDoesNotModifyEvents(t *testing.T) {
	events := []authn.Event{password(ago(time.Hour)), totp(ago(time.Minute))}
	before := []authn.Event{password(ago(time.Hour)), totp(ago(time.Minute))}
	d := preset(t, "okta").Evaluate(events, policy.Request{ACRValues: []string{okta2FA}, FreshSince: ago(2 * time.Hour)}, now())
	d.AMR[0] = "changed"
	if diff := cmp.Diff(before, events); diff != "" {
		t.Errorf("events changed (-want +got):\n%s", diff)
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		levels  []policy.Level
		wantErr string // substring of the error; "" for success
	}{
		{name: "a valid vocabulary with aliases and implications", levels: []policy.Level{
			{ACR: "low", Aliases: []string{"l"}, Factors: 1},
			{ACR: "high", Factors: 2, Implies: []string{"l"}},
		}},
		{name: "an empty vocabulary is valid"},
		{name: "an empty acr is refused", levels: []policy.Level{{ACR: "a"}, {ACR: ""}},
			wantErr: "policy t: level 1: empty acr"},
		{name: "a duplicate acr is refused", levels: []policy.Level{{ACR: "a"}, {ACR: "a"}},
			wantErr: `acr "a" defined twice`},
		{name: "an alias equal to another level's acr is refused", levels: []policy.Level{{ACR: "a"}, {ACR: "b", Aliases: []string{"a"}}},
			wantErr: `acr "a" defined twice`},
		{name: "an acr equal to an earlier alias is refused", levels: []policy.Level{{ACR: "a", Aliases: []string{"x"}}, {ACR: "x"}},
			wantErr: `acr "x" defined twice`},
		{name: "two levels sharing an alias are refused", levels: []policy.Level{{ACR: "a", Aliases: []string{"x"}}, {ACR: "b", Aliases: []string{"x"}}},
			wantErr: `acr "x" defined twice`},
		{name: "an alias repeating its own acr is refused", levels: []policy.Level{{ACR: "a", Aliases: []string{"a"}}},
			wantErr: `acr "a" defined twice`},
		{name: "implying an unknown level is refused", levels: []policy.Level{{ACR: "a", Implies: []string{"b"}}},
			wantErr: `acr "a" implies unknown "b"`},
		{name: "implying a later level is allowed", levels: []policy.Level{{ACR: "a", Implies: []string{"b"}}, {ACR: "b"}}},
		{name: "four factors are refused", levels: []policy.Level{{ACR: "a", Factors: 4}},
			wantErr: `acr "a": factors must be 0..3`},
		{name: "negative factors are refused", levels: []policy.Level{{ACR: "a", Factors: -1}},
			wantErr: `acr "a": factors must be 0..3`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := policy.New("t", tt.levels)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("New: %v, want success", err)
				}
				if p.Name != "t" || len(p.Levels) != len(tt.levels) {
					t.Errorf("New = %q with %d levels, want t with %d", p.Name, len(p.Levels), len(tt.levels))
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
	levels := []policy.Level{{ACR: "a", Factors: 1}}
	p, err := policy.New("t", levels)
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
		want    []string
		wantErr string
	}{
		{name: "the empty name is okta", preset: "", want: []string{okta1FA, okta1FAPwd, okta2FA, "phr", "phrh"}},
		{name: "okta lists its levels weakest first", preset: "okta", want: []string{okta1FA, okta1FAPwd, okta2FA, "phr", "phrh"}},
		{name: "eidas lists its levels weakest first", preset: "eidas", want: []string{eidasLow, eidasSubst, eidasHigh}},
		{name: "an unknown preset names the known ones", preset: "nist", wantErr: `unknown preset "nist" (have [okta eidas])`},
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
	names := policy.PresetNames()
	names[0] = "changed"
	if got := policy.PresetNames(); !cmp.Equal(got, []string{"okta", "eidas"}) {
		t.Errorf("PresetNames() = %q, want [okta eidas] (a fresh slice each call)", got)
	}
}

func BenchmarkEvaluate(b *testing.B) {
	p := preset(b, "okta")
	events := []authn.Event{password(ago(time.Hour)), totp(ago(30 * time.Minute)), securityKey(ago(time.Minute))}
	req := policy.Request{ACRValues: []string{"urn:example:gold", "phrh", "phr", okta2FA}, FreshSince: ago(2 * time.Hour)}
	b.ReportAllocs()
	for b.Loop() {
		if d := p.Evaluate(events, req, now()); !d.Met {
			b.Fatal("not met")
		}
	}
}
