package rs_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stepup-oidc/stepup/rs"
)

func TestRequire(t *testing.T) {
	op := startOP(t)
	clk := newClock()
	now := clk.Now()
	op.introspect = func(string) (int, map[string]any) { return http.StatusBadGateway, nil }
	v := newVerifier(t, op, clk, rs.WithIntrospection("", "api", "api-secret", 0))
	pwd := op.mint(now, nil) // acr urn:okta:loa:1fa:pwd, authenticated a minute ago
	withACR := func(acr string) string {
		return op.mint(now, func(c map[string]any) { c["acr"] = acr })
	}
	machine := op.mint(now, func(c map[string]any) { delete(c, "acr"); delete(c, "auth_time"); delete(c, "amr") })
	expired := op.mint(now.Add(-time.Hour), nil)
	const (
		stepUpACR = `Bearer error="insufficient_user_authentication", error_description="A different authentication level is required"`
		stepUpAge = `Bearer error="insufficient_user_authentication", error_description="More recent authentication is required"`
	)
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, found := rs.ClaimsFrom(r.Context())
		if !found {
			t.Error("no claims in the request context")
			return
		}
		fmt.Fprintf(w, "hello %s at %s", c.Subject, c.ACR)
	})

	for _, tc := range []struct {
		name       string
		reqs       []rs.Requirement
		auth       []string // Authorization header lines
		wantStatus int
		wantHeader string // WWW-Authenticate
		wantBody   string
	}{
		{"no_token_gets_a_bare_challenge", nil, nil,
			401, `Bearer realm="` + op.URL() + `"`, ""},
		{"other_scheme_counts_as_no_token", nil, []string{"Basic YWxpY2U6cHc="},
			401, `Bearer realm="` + op.URL() + `"`, ""},
		{"empty_bearer_is_invalid_request", nil, []string{"Bearer "},
			400, `Bearer error="invalid_request", error_description="The Authorization header is malformed"`,
			`{"error":"invalid_request","error_description":"The Authorization header is malformed"}` + "\n"},
		{"two_authorization_headers_are_invalid_request", nil, []string{"Bearer " + pwd, "Bearer " + pwd},
			400, `Bearer error="invalid_request", error_description="Send one Authorization header"`,
			`{"error":"invalid_request","error_description":"Send one Authorization header"}` + "\n"},
		{"garbage_token_is_invalid_token", nil, []string{"Bearer not.a.jwt"},
			401, `Bearer error="invalid_token", error_description="The access token is invalid"`,
			`{"error":"invalid_token","error_description":"The access token is invalid"}` + "\n"},
		{"expired_token_says_so", nil, []string{"Bearer " + expired},
			401, `Bearer error="invalid_token", error_description="The access token expired"`,
			`{"error":"invalid_token","error_description":"The access token expired"}` + "\n"},
		{"valid_token_without_requirements_passes", nil, []string{"Bearer " + pwd},
			200, "", "hello alice at urn:okta:loa:1fa:pwd"},
		{"scheme_is_case_insensitive", nil, []string{"bearer " + pwd},
			200, "", "hello alice at urn:okta:loa:1fa:pwd"},
		{"acr_too_weak_asks_for_acr_values", []rs.Requirement{rs.ACR("phr")}, []string{"Bearer " + pwd},
			401, stepUpACR + `, acr_values="phr"`,
			`{"error":"insufficient_user_authentication","error_description":"A different authentication level is required"}` + "\n"},
		{"acr_and_max_age_both_in_the_challenge", []rs.Requirement{rs.ACR("phr", "phrh"), rs.MaxAge(5 * time.Minute)}, []string{"Bearer " + pwd},
			401, stepUpACR + `, acr_values="phr phrh", max_age="300"`,
			`{"error":"insufficient_user_authentication","error_description":"A different authentication level is required"}` + "\n"},
		{"exact_acr_passes", []rs.Requirement{rs.ACR("phr")}, []string{"Bearer " + withACR("phr")},
			200, "", "hello alice at phr"},
		{"stronger_acr_satisfies_weaker", []rs.Requirement{rs.ACR("urn:okta:loa:2fa:any")}, []string{"Bearer " + withACR("phr")},
			200, "", "hello alice at phr"},
		{"any_listed_acr_passes", []rs.Requirement{rs.ACR("phr", "urn:okta:loa:1fa:any")}, []string{"Bearer " + pwd},
			200, "", "hello alice at urn:okta:loa:1fa:pwd"},
		{"weaker_acr_does_not_satisfy_stronger", []rs.Requirement{rs.ACR("phr")}, []string{"Bearer " + withACR("urn:okta:loa:2fa:any")},
			401, stepUpACR + `, acr_values="phr"`,
			`{"error":"insufficient_user_authentication","error_description":"A different authentication level is required"}` + "\n"},
		{"unknown_acr_only_matches_itself", []rs.Requirement{rs.ACR("urn:okta:loa:1fa:any")}, []string{"Bearer " + withACR("custom")},
			401, stepUpACR + `, acr_values="urn:okta:loa:1fa:any"`,
			`{"error":"insufficient_user_authentication","error_description":"A different authentication level is required"}` + "\n"},
		{"fresh_enough_passes", []rs.Requirement{rs.MaxAge(time.Minute)}, []string{"Bearer " + pwd},
			200, "", "hello alice at urn:okta:loa:1fa:pwd"},
		{"too_old_asks_for_max_age", []rs.Requirement{rs.MaxAge(20 * time.Second)}, []string{"Bearer " + pwd},
			401, stepUpAge + `, max_age="20"`,
			`{"error":"insufficient_user_authentication","error_description":"More recent authentication is required"}` + "\n"},
		{"too_old_with_acr_met_still_names_the_acr", []rs.Requirement{rs.ACR("urn:okta:loa:1fa:any"), rs.MaxAge(20 * time.Second)}, []string{"Bearer " + pwd},
			401, stepUpAge + `, acr_values="urn:okta:loa:1fa:any", max_age="20"`,
			`{"error":"insufficient_user_authentication","error_description":"More recent authentication is required"}` + "\n"},
		{"the_smallest_max_age_wins", []rs.Requirement{rs.MaxAge(time.Hour), rs.MaxAge(10 * time.Second)}, []string{"Bearer " + pwd},
			401, stepUpAge + `, max_age="10"`,
			`{"error":"insufficient_user_authentication","error_description":"More recent authentication is required"}` + "\n"},
		{"no_auth_time_fails_max_age", []rs.Requirement{rs.MaxAge(time.Hour)}, []string{"Bearer " + machine},
			401, stepUpAge + `, max_age="3600"`,
			`{"error":"insufficient_user_authentication","error_description":"More recent authentication is required"}` + "\n"},
		{"no_acr_fails_acr", []rs.Requirement{rs.ACR("urn:okta:loa:1fa:any")}, []string{"Bearer " + machine},
			401, stepUpACR + `, acr_values="urn:okta:loa:1fa:any"`,
			`{"error":"insufficient_user_authentication","error_description":"A different authentication level is required"}` + "\n"},
		{"scope_present_passes", []rs.Requirement{rs.Scope("accounts")}, []string{"Bearer " + pwd},
			200, "", "hello alice at urn:okta:loa:1fa:pwd"},
		{"missing_scope_is_403", []rs.Requirement{rs.Scope("accounts payments")}, []string{"Bearer " + pwd},
			403, `Bearer error="insufficient_scope", error_description="The access token lacks a required scope", scope="accounts payments"`,
			`{"error":"insufficient_scope","error_description":"The access token lacks a required scope"}` + "\n"},
		{"step_up_comes_before_scope", []rs.Requirement{rs.Scope("payments"), rs.ACR("phr")}, []string{"Bearer " + pwd},
			401, stepUpACR + `, acr_values="phr"`,
			`{"error":"insufficient_user_authentication","error_description":"A different authentication level is required"}` + "\n"},
		{"introspection_down_is_503", nil, []string{"Bearer opaque"},
			503, "", "the access token cannot be verified now\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/transfer", nil)
			for _, a := range tc.auth {
				req.Header.Add("Authorization", a)
			}
			rec := httptest.NewRecorder()
			v.Require(tc.reqs...)(ok).ServeHTTP(rec, req)
			res := rec.Result()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tc.wantStatus {
				t.Errorf("status = %d, want %d", res.StatusCode, tc.wantStatus)
			}
			if got := res.Header.Values("WWW-Authenticate"); (tc.wantHeader == "" && len(got) != 0) ||
				(tc.wantHeader != "" && (len(got) != 1 || got[0] != tc.wantHeader)) {
				t.Errorf("WWW-Authenticate = %q\nwant               %q", got, tc.wantHeader)
			}
			if string(body) != tc.wantBody {
				t.Errorf("body = %q, want %q", body, tc.wantBody)
			}
			if tc.wantStatus != 200 && res.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", res.Header.Get("Cache-Control"))
			}
		})
	}
}

func TestRequireRealm(t *testing.T) {
	op := startOP(t)
	v := newVerifier(t, op, newClock(), rs.WithRealm("payments-api"))
	rec := httptest.NewRecorder()
	v.Require()(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if got := rec.Header().Get("WWW-Authenticate"); rec.Code != 401 || got != `Bearer realm="payments-api"` {
		t.Fatalf("%d %q", rec.Code, got)
	}
}

func TestCheck(t *testing.T) {
	op := startOP(t)
	clk := newClock()
	v := newVerifier(t, op, clk)
	c, err := v.Verify(t.Context(), op.mint(clk.Now(), nil))
	if err != nil {
		t.Fatal(err)
	}
	if ce := v.Check(c, rs.ACR("urn:okta:loa:1fa:any"), rs.Scope("accounts"), rs.MaxAge(time.Hour)); ce != nil {
		t.Fatalf("Check = %v, want nil", ce)
	}
	ce := v.Check(c, rs.ACR("phr"))
	if ce == nil || ce.Status != 401 || ce.Error() != "rs: insufficient_user_authentication: A different authentication level is required" {
		t.Fatalf("Check = %#v", ce)
	}
	if ce := v.Check(nil); ce == nil || ce.Status != 401 || ce.Challenge.Error != "invalid_token" {
		t.Fatalf("Check(nil) = %#v", ce)
	}
}

func TestChallengeErrorUnwrapsTheCause(t *testing.T) {
	op := startOP(t)
	v := newVerifier(t, op, newClock())
	_, err := v.Verify(t.Context(), "x.y.z")
	ce := &rs.ChallengeError{Status: 401, Err: err}
	if !errors.Is(ce, rs.ErrMalformed) {
		t.Fatalf("errors.Is(%v, ErrMalformed) = false", ce)
	}
	if ce.Error() != "rs: bearer token required" {
		t.Fatalf("Error() = %q", ce.Error())
	}
}
