package rp_test

import (
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/stepup-oidc/stepup/rp"
)

func TestLoginAgainstStepup(t *testing.T) {
	issuer := startStepup(t)
	c := newClient(t, issuer)
	b := newBrowser(t)

	u, st, err := c.AuthCodeURL(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	q := mustQuery(t, u)
	for k, want := range map[string]string{"client_id": clientID, "redirect_uri": redirectURI, "response_type": "code",
		"scope": "openid profile email offline_access", "state": st.State, "nonce": st.Nonce, "code_challenge_method": "S256"} {
		if got := q.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if q.Get("code_challenge") == "" || st.CodeVerifier == "" || st.Issuer != issuer {
		t.Fatalf("no PKCE or issuer in the request or State: %v %+v", q, st)
	}

	// The app keeps the State in a cookie or its session store: it must
	// survive a JSON round trip.
	saved, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var restored rp.State
	if err := json.Unmarshal(saved, &restored); err != nil {
		t.Fatal(err)
	}

	before := time.Now().Add(-time.Second)
	cb := b.login(u)
	if cb.Get("iss") != issuer {
		t.Fatalf("callback iss = %q, want %q", cb.Get("iss"), issuer)
	}
	tok, err := c.Exchange(t.Context(), &restored, cb)
	if err != nil {
		t.Fatal(err)
	}
	cl := tok.Claims
	switch {
	case tok.AccessToken == "" || tok.RefreshToken == "" || tok.IDToken == "":
		t.Fatalf("tokens missing: %+v", tok)
	case tok.Expiry.Before(time.Now()):
		t.Errorf("Expiry %v is in the past", tok.Expiry)
	case cl.Subject == "" || cl.SID == "":
		t.Errorf("no sub or sid: %+v", cl)
	case cl.ACR != "urn:okta:loa:1fa:pwd":
		t.Errorf("acr = %q, want urn:okta:loa:1fa:pwd", cl.ACR)
	case !slices.Equal(cl.AMR, []string{"pwd"}):
		t.Errorf("amr = %q, want [pwd]", cl.AMR)
	case cl.AuthTime.Before(before.Truncate(time.Second)) || cl.AuthTime.After(time.Now()):
		t.Errorf("auth_time %v is not the login just done (after %v)", cl.AuthTime, before)
	case cl.Nonce != st.Nonce:
		t.Errorf("nonce = %q, want %q", cl.Nonce, st.Nonce)
	case cl.Email != "alice@example.com" || cl.Name != "Alice Example":
		t.Errorf("profile claims = %q %q", cl.Email, cl.Name)
	}
	var raw struct {
		Username string `json:"preferred_username"`
	}
	if err := json.Unmarshal(cl.Raw, &raw); err != nil || raw.Username != "alice" {
		t.Errorf("Raw claims: %v %s", err, cl.Raw)
	}

	// A second verifier, coreos/go-oidc, agrees with ours.
	op, err := oidc.NewProvider(t.Context(), issuer)
	if err != nil {
		t.Fatal(err)
	}
	idt, err := op.Verifier(&oidc.Config{ClientID: clientID, SupportedSigningAlgs: []string{"ES256", "RS256", "EdDSA"}}).
		Verify(t.Context(), tok.IDToken)
	if err != nil || idt.Subject != cl.Subject {
		t.Fatalf("go-oidc: %v, sub %v", err, idt)
	}

	t.Run("code_is_single_use", func(t *testing.T) {
		_, err := c.Exchange(t.Context(), &restored, cb)
		if !errors.Is(err, rp.ErrInvalidGrant) {
			t.Fatalf("second Exchange = %v, want invalid_grant", err)
		}
	})

	t.Run("refresh_rotates_and_keeps_the_authentication", func(t *testing.T) {
		// The replayed code above revoked the first grant: start another.
		u, st, err := c.AuthCodeURL(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		tok, err := c.Exchange(t.Context(), st, b.login(u))
		if err != nil {
			t.Fatal(err)
		}
		ref, err := c.Refresh(t.Context(), tok.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		if ref.RefreshToken == tok.RefreshToken || ref.AccessToken == tok.AccessToken {
			t.Errorf("refresh did not rotate the tokens")
		}
		if ref.Claims.Subject != tok.Claims.Subject || ref.Claims.ACR != tok.Claims.ACR || !ref.Claims.AuthTime.Equal(tok.Claims.AuthTime) {
			t.Errorf("refreshed claims %+v differ from %+v", ref.Claims, tok.Claims)
		}
		if _, err := c.Refresh(t.Context(), tok.RefreshToken); !errors.Is(err, rp.ErrInvalidGrant) {
			t.Errorf("spent refresh token = %v, want invalid_grant", err)
		}
	})
}

func TestExchangeRefusesForgedCallbacks(t *testing.T) {
	issuer := startStepup(t)
	c := newClient(t, issuer)
	b := newBrowser(t)
	u, st, err := c.AuthCodeURL(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	cb := b.login(u)
	tamper := func(k, v string) url.Values {
		q := url.Values{}
		for key, vs := range cb {
			q[key] = slices.Clone(vs)
		}
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
		return q
	}

	for _, tc := range []struct {
		name  string
		query url.Values
		want  error
	}{
		{"another_state", tamper("state", st.State+"x"), rp.ErrStateMismatch},
		{"no_state", tamper("state", ""), rp.ErrStateMismatch},
		{"another_issuer", tamper("iss", "https://evil.example"), rp.ErrIssuerMismatch},
		{"no_issuer_although_advertised", tamper("iss", ""), rp.ErrIssuerMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := c.Exchange(t.Context(), st, tc.query); !errors.Is(err, tc.want) {
				t.Fatalf("Exchange = %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("a_state_from_another_login", func(t *testing.T) {
		_, other, err := c.AuthCodeURL(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Exchange(t.Context(), other, cb); !errors.Is(err, rp.ErrStateMismatch) {
			t.Fatalf("Exchange = %v, want ErrStateMismatch", err)
		}
	})
	t.Run("refused_callbacks_left_the_code_unspent", func(t *testing.T) {
		if _, err := c.Exchange(t.Context(), st, cb); err != nil {
			t.Fatalf("the genuine callback after the forged ones: %v", err)
		}
	})
}

func TestExchangeReturnsProviderErrors(t *testing.T) {
	issuer := startStepup(t)
	c := newClient(t, issuer)
	b := newBrowser(t)

	// phrh needs an attested, device-bound passkey: this provider has no
	// attestation roots, so an essential phrh cannot be met.
	u, st, err := c.AuthCodeURL(t.Context(), rp.ClaimsEssentialACR("phrh"))
	if err != nil {
		t.Fatal(err)
	}
	if got := mustQuery(t, u).Get("claims"); got != `{"id_token":{"acr":{"essential":true,"values":["phrh"]}}}` {
		t.Fatalf("claims = %s", got)
	}
	cb := b.login(u)
	_, err = c.Exchange(t.Context(), st, cb)
	if !errors.Is(err, rp.ErrUnmetAuthenticationRequirements) {
		t.Fatalf("Exchange = %v, want ErrUnmetAuthenticationRequirements", err)
	}
	if errors.Is(err, rp.ErrAccessDenied) || errors.Is(err, rp.ErrLoginRequired) {
		t.Errorf("%v matches other codes too", err)
	}
	var ae *rp.AuthError
	if !errors.As(err, &ae) || ae.Code != rp.ErrUnmetAuthenticationRequirements || ae.Description == "" {
		t.Fatalf("AuthError = %#v", ae)
	}

	t.Run("prompt_none_without_a_session_is_login_required", func(t *testing.T) {
		u, st, err := c.AuthCodeURL(t.Context(), rp.Prompt("none"))
		if err != nil {
			t.Fatal(err)
		}
		p := newBrowser(t).get(u)
		if _, err := c.Exchange(t.Context(), st, p.Callback); !errors.Is(err, rp.ErrLoginRequired) {
			t.Fatalf("Exchange = %v, want ErrLoginRequired", err)
		}
	})
	t.Run("cancel_is_access_denied", func(t *testing.T) {
		u, st, err := c.AuthCodeURL(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		b := newBrowser(t)
		p := b.submit(b.get(u), url.Values{"decision": {"cancel"}})
		if _, err := c.Exchange(t.Context(), st, p.Callback); !errors.Is(err, rp.ErrAccessDenied) {
			t.Fatalf("Exchange = %v, want ErrAccessDenied", err)
		}
	})
}

func mustQuery(t *testing.T, raw string) url.Values {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(u.Path, "/authorize") {
		t.Fatalf("not an authorization URL: %s", raw)
	}
	return u.Query()
}
