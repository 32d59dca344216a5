package rp_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/stepup-oidc/stepup/challenge"
	"github.com/stepup-oidc/stepup/rp"
)

func TestStepUpAgainstStepup(t *testing.T) {
	issuer := startStepup(t)
	c := newClient(t, issuer)
	b := newBrowser(t)

	u, st, err := c.AuthCodeURL(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	prev, err := c.Exchange(t.Context(), st, b.login(u))
	if err != nil {
		t.Fatal(err)
	}
	if prev.Claims.ACR != "urn:okta:loa:1fa:pwd" {
		t.Fatalf("first login acr = %q", prev.Claims.ACR)
	}

	// The resource server wants two factors, used within five minutes.
	cs, err := challenge.Parse(`Bearer error="insufficient_user_authentication", ` +
		`error_description="A different authentication level is required", acr_values="urn:okta:loa:2fa:any", max_age="300"`)
	if err != nil {
		t.Fatal(err)
	}
	u, st, err = c.StepUp(t.Context(), cs[0], prev, rp.ResumeWith("/transfers/42"))
	if err != nil {
		t.Fatal(err)
	}
	q := mustQuery(t, u)
	if q.Get("acr_values") != "urn:okta:loa:2fa:any" || q.Get("max_age") != "300" || q.Get("id_token_hint") != prev.IDToken {
		t.Fatalf("step-up request lost a parameter: acr_values=%q max_age=%q id_token_hint set=%v",
			q.Get("acr_values"), q.Get("max_age"), q.Get("id_token_hint") == prev.IDToken)
	}
	if st.ExpectSubject != prev.Claims.Subject || st.Resume != "/transfers/42" || st.MaxAge == nil || *st.MaxAge != 300 {
		t.Fatalf("State = %+v", st)
	}

	// Same browser, same session: only the missing factor is asked for.
	p := b.get(u)
	if p.Callback != nil || !strings.Contains(p.Body, `autocomplete="one-time-code"`) && !strings.Contains(p.Body, `value="totp"`) {
		t.Fatalf("step-up did not ask for the second factor: %s\n%s", p.URL, p.Body)
	}
	p = b.code(p)
	if p.Callback == nil {
		t.Fatalf("no callback after the code: %s\n%s", p.URL, p.Body)
	}
	up, err := c.Exchange(t.Context(), st, p.Callback)
	if err != nil {
		t.Fatal(err)
	}
	cl := up.Claims
	if cl.Subject != prev.Claims.Subject || cl.ACR != "urn:okta:loa:2fa:any" || !slices.Contains(cl.AMR, "otp") || !slices.Contains(cl.AMR, "pwd") {
		t.Fatalf("stepped-up claims = %+v", cl)
	}

	t.Run("another_subject_is_refused", func(t *testing.T) {
		u, st, err := c.StepUp(t.Context(), cs[0], up)
		if err != nil {
			t.Fatal(err)
		}
		p := b.get(u) // two factors within five minutes: no page at all
		if p.Callback == nil {
			t.Fatalf("no callback: %s\n%s", p.URL, p.Body)
		}
		st.ExpectSubject = "someone-else" // as if another person completed the step
		if _, err := c.Exchange(t.Context(), st, p.Callback); !errors.Is(err, rp.ErrSubjectChanged) {
			t.Fatalf("Exchange = %v, want ErrSubjectChanged", err)
		}
	})

	t.Run("max_age_alone_forces_a_new_authentication", func(t *testing.T) {
		cs, err := challenge.Parse(`Bearer error="insufficient_user_authentication", max_age="0"`)
		if err != nil {
			t.Fatal(err)
		}
		u, st, err := c.StepUp(t.Context(), cs[0], up)
		if err != nil {
			t.Fatal(err)
		}
		if q := mustQuery(t, u); q.Get("max_age") != "0" || q.Has("acr_values") {
			t.Fatalf("query = %v", q)
		}
		p := b.get(u)
		if p.Callback != nil {
			t.Fatal("max_age=0 was answered from the session without a new authentication")
		}
		if !strings.Contains(p.Body, `autocomplete="current-password"`) {
			t.Fatalf("max_age=0 did not ask for the password again: %s\n%s", p.URL, p.Body)
		}
		p = b.password(p)
		if p.Callback == nil {
			t.Fatalf("no callback after the password: %s\n%s", p.URL, p.Body)
		}
		// Exchange checks auth_time against max_age=0 itself.
		tok, err := c.Exchange(t.Context(), st, p.Callback)
		if err != nil {
			t.Fatal(err)
		}
		if tok.Claims.AuthTime.Before(up.Claims.AuthTime) || tok.Claims.Subject != up.Claims.Subject {
			t.Fatalf("auth_time %v is before %v", tok.Claims.AuthTime, up.Claims.AuthTime)
		}
	})
}

func TestStepUpRefuses(t *testing.T) {
	op := newFakeOP()
	t.Cleanup(op.Close)
	c := newFakeClient(t, op, nil)
	prev := &rp.Tokens{IDToken: "x.y.z", Claims: rp.IDClaims{Subject: "alice"}}
	maxAge := func(n int) *int { return &n }
	for _, tc := range []struct {
		name string
		ch   challenge.Challenge
		prev *rp.Tokens
		want string
	}{
		{"a_challenge_without_requirements", challenge.Challenge{Error: challenge.ErrorInsufficientUserAuthentication}, prev,
			"neither acr_values nor max_age"},
		{"an_invalid_token_challenge", challenge.Challenge{Error: challenge.ErrorInvalidToken, ACRValues: []string{"phr"}}, prev,
			`"invalid_token", not insufficient_user_authentication`},
		{"a_negative_max_age", challenge.Challenge{MaxAge: maxAge(-1)}, prev, "out of range"},
		{"no_previous_tokens", challenge.Challenge{ACRValues: []string{"phr"}}, nil, "no previous ID token"},
		{"previous_tokens_without_an_id_token", challenge.Challenge{ACRValues: []string{"phr"}}, &rp.Tokens{AccessToken: "a"},
			"no previous ID token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if u, st, err := c.StepUp(t.Context(), tc.ch, tc.prev); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("StepUp = %s, %+v, %v; want an error about %q", u, st, err, tc.want)
			}
		})
	}
}
