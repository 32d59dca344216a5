package rp_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/stepup-oidc/stepup/rp"
)

func TestPARAgainstStepup(t *testing.T) {
	issuer := startStepup(t)
	c := newClient(t, issuer)

	u, st, err := c.AuthCodeURL(t.Context(), rp.PAR(), rp.ACRValues("urn:okta:loa:1fa:pwd"), rp.LoginHint("alice"))
	if err != nil {
		t.Fatal(err)
	}
	q := mustQuery(t, u)
	if keys := slices.Sorted(maps.Keys(q)); !slices.Equal(keys, []string{"client_id", "request_uri"}) || q.Get("client_id") != clientID ||
		!strings.HasPrefix(q.Get("request_uri"), "urn:ietf:params:oauth:request_uri:") {
		t.Fatalf("a pushed request's URL carries %v", q)
	}
	b := newBrowser(t)
	p := b.get(u)
	if !strings.Contains(p.Body, `value="alice"`) {
		t.Errorf("the pushed login_hint did not prefill the username")
	}
	p = b.password(p)
	tok, err := c.Exchange(t.Context(), st, p.Callback)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Claims.ACR != "urn:okta:loa:1fa:pwd" {
		t.Errorf("acr = %q", tok.Claims.ACR)
	}

	t.Run("push_errors_are_auth_errors", func(t *testing.T) {
		_, _, err := c.AuthCodeURL(t.Context(), rp.PAR(), rp.AuthorizationDetails(json.RawMessage(`[{"type":"nope.v1"}]`)))
		if !errors.Is(err, rp.ErrInvalidAuthorizationDetails) {
			t.Fatalf("AuthCodeURL = %v, want ErrInvalidAuthorizationDetails", err)
		}
	})
	t.Run("push_with_a_wrong_secret_is_invalid_client", func(t *testing.T) {
		bad, err := rp.New(t.Context(), rp.Config{Issuer: issuer, ClientID: clientID, ClientSecret: "nope", RedirectURL: redirectURI})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := bad.AuthCodeURL(t.Context(), rp.PAR()); !errors.Is(err, rp.ErrInvalidClient) {
			t.Fatalf("AuthCodeURL = %v, want ErrInvalidClient", err)
		}
	})
}

func TestAuthorizationDetailsAgainstStepup(t *testing.T) {
	issuer := startStepup(t)
	c := newClient(t, issuer)
	details := json.RawMessage(`[{"type": "text.v1", "text": "Move 100 NOK to savings"}]`)

	u, st, err := c.AuthCodeURL(t.Context(), rp.PAR(), rp.AuthorizationDetails(details))
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	p := b.password(b.get(u))
	if p.Callback != nil || !strings.Contains(p.Body, "Move 100 NOK to savings") || !strings.Contains(p.Body, `value="approve"`) {
		t.Fatalf("no approval page showing the statement: %s\n%s", p.URL, p.Body)
	}
	p = b.submit(p, url.Values{"decision": {"approve"}})
	if p.Callback == nil {
		t.Fatalf("no callback after approval: %s\n%s", p.URL, p.Body)
	}
	tok, err := c.Exchange(t.Context(), st, p.Callback)
	if err != nil {
		t.Fatal(err)
	}
	var got, want any
	if err := json.Unmarshal(tok.AuthorizationDetails, &got); err != nil {
		t.Fatalf("AuthorizationDetails %s: %v", tok.AuthorizationDetails, err)
	}
	json.Unmarshal(details, &want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("granted %s, asked %s", tok.AuthorizationDetails, details)
	}
	// permission_digest is base64url(SHA-256) of the granted details, byte
	// for byte: Tokens keeps the token response's bytes so this holds.
	sum := sha256.Sum256(tok.AuthorizationDetails)
	if d := base64.RawURLEncoding.EncodeToString(sum[:]); tok.Claims.PermissionDigest != d {
		t.Errorf("PermissionDigest = %q, want %q", tok.Claims.PermissionDigest, d)
	}

	t.Run("deny_is_access_denied", func(t *testing.T) {
		u, st, err := c.AuthCodeURL(t.Context(), rp.PAR(), rp.AuthorizationDetails(details))
		if err != nil {
			t.Fatal(err)
		}
		p := b.get(u) // signed in already: straight to the approval page
		if p.Callback == nil && !strings.Contains(p.Body, `value="approve"`) {
			p = b.password(p)
		}
		p = b.submit(p, url.Values{"decision": {"deny"}})
		if _, err := c.Exchange(t.Context(), st, p.Callback); !errors.Is(err, rp.ErrAccessDenied) {
			t.Fatalf("Exchange = %v, want ErrAccessDenied", err)
		}
	})
}

func TestEveryClientAuthenticationMethodAgainstStepup(t *testing.T) {
	issuer := startStepup(t)
	for _, tc := range []struct {
		name string
		cfg  rp.Config
	}{
		{"client_secret_basic", rp.Config{ClientID: clientID, ClientSecret: clientSecret}},
		{"client_secret_post", rp.Config{ClientID: "post-bank", ClientSecret: "post-secret", TokenEndpointAuthMethod: "client_secret_post"}},
		{"none_for_a_public_client", rp.Config{ClientID: "spa"}},
	} {
		for _, push := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/par=%v", tc.name, push), func(t *testing.T) {
				cfg := tc.cfg
				cfg.Issuer, cfg.RedirectURL = issuer, redirectURI
				c, err := rp.New(t.Context(), cfg)
				if err != nil {
					t.Fatal(err)
				}
				var opts []rp.AuthOption
				if push {
					opts = append(opts, rp.PAR())
				}
				u, st, err := c.AuthCodeURL(t.Context(), opts...)
				if err != nil {
					t.Fatal(err)
				}
				tok, err := c.Exchange(t.Context(), st, newBrowser(t).login(u))
				if err != nil || tok.Claims.Subject == "" {
					t.Fatalf("Exchange = %+v, %v", tok, err)
				}
			})
		}
	}
}
