package flow

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/stepup-oidc/stepup/internal/authn"
	"github.com/stepup-oidc/stepup/internal/policy"
	"github.com/stepup-oidc/stepup/internal/store"
)

// Choices: the values of the method buttons on the login pages
// (name="method").
const (
	ChoosePassword      = "password"
	ChooseTOTP          = "totp"
	ChooseRecovery      = "recovery"
	ChooseWebAuthn      = "webauthn"
	ChooseUpstream      = "upstream:" // + upstream name
	ChooseEnrollTOTP    = "enroll:totp"
	ChooseEnrollPasskey = "enroll:webauthn"
)

// Option is a method the user may use next.
type Option struct {
	Choice string
	// Enroll is true for enrolling a new method (allowed by the preset,
	// after a fresh authentication with every method the user has).
	Enroll bool
	// protos are the events the method would leave (one per credential).
	protos []authn.Event
}

// options lists the methods available to u (nil: a user not yet known,
// who can identify with a password, a discoverable passkey or an upstream).
func (s *Service) options(ctx context.Context, u *store.User, now time.Time) ([]Option, error) {
	var out []Option
	if u == nil {
		out = append(out, Option{Choice: ChoosePassword, protos: []authn.Event{PasswordEvent(now)}})
		if s.cfg.Passkeys != nil {
			out = append(out, Option{Choice: ChooseWebAuthn, protos: []authn.Event{PasskeyEvent(now, store.Credential{BackupEligible: true})}})
		}
		return append(out, s.upstreamOptions(now)...), nil
	}
	creds, err := s.cfg.Store.ListCredentials(ctx, u.ID)
	if err != nil {
		return nil, internal("list credentials", err)
	}
	if u.PasswordHash != "" {
		out = append(out, Option{Choice: ChoosePassword, protos: []authn.Event{PasswordEvent(now)}})
	}
	var passkeys, hasTOTP, hasRecovery = []authn.Event(nil), false, false
	for _, c := range creds {
		switch c.Type {
		case store.CredentialPasskey:
			passkeys = append(passkeys, PasskeyEvent(now, c))
		case store.CredentialTOTP:
			hasTOTP = true
		case store.CredentialRecovery:
			hasRecovery = true
		}
	}
	if len(passkeys) > 0 && s.cfg.Passkeys != nil {
		out = append(out, Option{Choice: ChooseWebAuthn, protos: passkeys})
	}
	if hasTOTP && s.cfg.TOTP != nil {
		out = append(out, Option{Choice: ChooseTOTP, protos: []authn.Event{TOTPEvent(now)}})
		if hasRecovery {
			out = append(out, Option{Choice: ChooseRecovery, protos: []authn.Event{TOTPEvent(now)}})
		}
	}
	out = append(out, s.upstreamOptions(now)...)
	if s.cfg.Policy.Enrollment {
		if !hasTOTP && s.cfg.TOTP != nil {
			out = append(out, Option{Choice: ChooseEnrollTOTP, Enroll: true, protos: []authn.Event{TOTPEvent(now)}})
		}
		if s.cfg.Passkeys != nil {
			// A new passkey may be synced and unattested: assume the weakest.
			out = append(out, Option{Choice: ChooseEnrollPasskey, Enroll: true,
				protos: []authn.Event{PasskeyEvent(now, store.Credential{BackupEligible: true})}})
		}
	}
	return out, nil
}

// enrolledFactors counts the factor categories u's methods cover.
func enrolledFactors(opts []Option) int {
	f := map[string]bool{}
	for _, o := range opts {
		if o.Enroll || strings.HasPrefix(o.Choice, ChooseUpstream) {
			continue
		}
		for _, p := range o.protos {
			for _, c := range p.Factors {
				f[c] = true
			}
		}
	}
	return len(f)
}

// helpful returns, in the order to offer them, the options that bring the
// request closer to being met: an option counts when the target is met
// with it (alone, or with one other option) and not without it.
func (s *Service) helpful(events []authn.Event, req policy.Request, opts []Option, now time.Time) []Option {
	met := func(extra ...authn.Event) bool {
		return s.cfg.Policy.Evaluate(append(slices.Clone(events), extra...), req, now).Met
	}
	var out []Option
	for i, o := range opts {
		ok := false
		for _, p := range o.protos {
			if met(p) {
				ok = true
				break
			}
			for j, other := range opts {
				if j == i || ok {
					continue
				}
				for _, q := range other.protos {
					if met(p, q) && !met(q) {
						ok = true
						break
					}
				}
			}
		}
		if ok {
			out = append(out, o)
		}
	}
	slices.SortStableFunc(out, func(a, b Option) int { return s.rank(a) - s.rank(b) })
	return out
}

// rank orders options: passkeys first (always first in the bankid preset),
// then second factors, upstreams, passwords, and enrollment last.
func (s *Service) rank(o Option) int {
	switch {
	case o.Enroll:
		return 9
	case o.Choice == ChooseWebAuthn:
		return 0
	case o.Choice == ChooseTOTP:
		return 1
	case strings.HasPrefix(o.Choice, ChooseUpstream):
		return 2
	case o.Choice == ChooseRecovery:
		return 4
	}
	return 3
}

// PasswordEvent is the event a password login leaves.
func PasswordEvent(now time.Time) authn.Event {
	return authn.Event{Method: authn.MethodPassword, AMR: []string{"pwd"}, Time: now,
		Factors: []string{authn.FactorKnowledge}}
}

// TOTPEvent is the event a one-time code leaves.
func TOTPEvent(now time.Time) authn.Event {
	return authn.Event{Method: authn.MethodTOTP, AMR: []string{"otp"}, Time: now,
		Factors: []string{authn.FactorPossession}}
}

// PasskeyEvent is the event a user-verified assertion with c would leave.
func PasskeyEvent(now time.Time, c store.Credential) authn.Event {
	e := authn.Event{Method: authn.MethodPasskey, Time: now, CredentialID: c.ID,
		Factors:           []string{authn.FactorPossession, authn.FactorInherence},
		PhishingResistant: true, UserVerified: true, DeviceBound: !c.BackupEligible, Attested: c.Attested}
	if e.DeviceBound && e.Attested {
		e.AMR = []string{"hwk", "user", "mfa"}
	} else {
		e.AMR = []string{"swk", "user", "mfa"}
	}
	return e
}
