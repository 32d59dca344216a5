package challenge_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stepup-oidc/stepup/challenge"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name   string
		header string
		want   []challenge.Challenge
	}{
		{"rfc_9470_acr_values", `Bearer error="insufficient_user_authentication", error_description="A different authentication level is required", acr_values="myACR"`,
			[]challenge.Challenge{{Scheme: "Bearer", Error: "insufficient_user_authentication",
				ErrorDescription: "A different authentication level is required", ACRValues: []string{"myACR"}}}},
		{"rfc_9470_max_age", `Bearer error="insufficient_user_authentication", error_description="More recent authentication is required", max_age="5"`,
			[]challenge.Challenge{{Scheme: "Bearer", Error: "insufficient_user_authentication",
				ErrorDescription: "More recent authentication is required", MaxAge: new(5)}}},
		{"rfc_6750_invalid_token", `Bearer realm="example", error="invalid_token", error_description="The access token expired"`,
			[]challenge.Challenge{{Scheme: "Bearer", Realm: "example", Error: "invalid_token", ErrorDescription: "The access token expired"}}},
		{"bare_scheme", `Bearer`, []challenge.Challenge{{Scheme: "Bearer"}}},
		{"token_values_and_bws", `Bearer error = invalid_token ,max_age=0`,
			[]challenge.Challenge{{Scheme: "Bearer", Error: "invalid_token", MaxAge: new(0)}}},
		{"names_are_case_insensitive", `bearer ERROR="x", Max_Age="7", X-Extra="y"`,
			[]challenge.Challenge{{Scheme: "bearer", Error: "x", MaxAge: new(7), Params: map[string]string{"x-extra": "y"}}}},
		{"acr_values_split_on_spaces", `Bearer acr_values="  phr   phrh urn:okta:loa:2fa:any "`,
			[]challenge.Challenge{{Scheme: "Bearer", ACRValues: []string{"phr", "phrh", "urn:okta:loa:2fa:any"}}}},
		{"escapes", `Bearer error_description="a \"quoted\" \\ back\slash"`,
			[]challenge.Challenge{{Scheme: "Bearer", ErrorDescription: `a "quoted" \ backslash`}}},
		{"tab_in_quoted_string_becomes_space", "Bearer error_description=\"a\tb\"",
			[]challenge.Challenge{{Scheme: "Bearer", ErrorDescription: "a b"}}},
		{"several_challenges", `Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple", Bearer`,
			[]challenge.Challenge{
				{Scheme: "Newauth", Realm: "apps", Params: map[string]string{"type": "1", "title": `Login to "apps"`}},
				{Scheme: "Basic", Realm: "simple"},
				{Scheme: "Bearer"}}},
		{"token68", `Negotiate a87421000492aa874209af8bc028==, Bearer realm="x"`,
			[]challenge.Challenge{{Scheme: "Negotiate", Token68: "a87421000492aa874209af8bc028=="}, {Scheme: "Bearer", Realm: "x"}}},
		{"lone_token_is_token68", `Bearer abc`, []challenge.Challenge{{Scheme: "Bearer", Token68: "abc"}}},
		{"name_and_equals_is_token68", `Bearer realm=`, []challenge.Challenge{{Scheme: "Bearer", Token68: "realm="}}},
		{"empty_list_elements", ` , Bearer realm="a",, , error="b" ,, Basic ,`,
			[]challenge.Challenge{{Scheme: "Bearer", Realm: "a", Error: "b"}, {Scheme: "Basic"}}},
		{"comma_then_new_scheme", `Bearer , DPoP`, []challenge.Challenge{{Scheme: "Bearer"}, {Scheme: "DPoP"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := challenge.Parse(tc.header)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("Parse(%q) (-want +got):\n%s", tc.header, d)
			}
		})
	}
}

func TestParseRefusesMalformed(t *testing.T) {
	for _, tc := range []struct{ name, header string }{
		{"empty", ``},
		{"only_commas", ` , ,`},
		{"unterminated_quote", `Bearer realm="x`},
		{"trailing_backslash", `Bearer realm="x\`},
		{"cr_lf_in_quoted_string", "Bearer realm=\"a\r\nSet-Cookie: x\""},
		{"escaped_newline", "Bearer realm=\"a\\\nb\""},
		{"nul", "Bearer realm=\"a\x00\""},
		{"missing_value", `Bearer a=b, realm=`},
		{"missing_value_before_comma", `Bearer realm=, error="x"`},
		{"duplicate_parameter", `Bearer error="a", ERROR="b"`},
		{"garbage_after_value", `Bearer realm="a" error="b"`},
		{"two_tokens_without_comma", `Bearer foo bar`},
		{"max_age_not_a_number", `Bearer max_age="soon"`},
		{"max_age_signed", `Bearer max_age="+5"`},
		{"max_age_negative", `Bearer max_age="-1"`},
		{"max_age_overflow", `Bearer max_age="99999999999999999999999"`},
		{"no_space_after_scheme", `Bearer"x"`},
		{"not_a_token", `"Bearer"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := challenge.Parse(tc.header)
			if !errors.Is(err, challenge.ErrMalformed) {
				t.Fatalf("Parse(%q) = %+v, %v; want ErrMalformed", tc.header, got, err)
			}
		})
	}
}

func TestString(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    challenge.Challenge
		want string
	}{
		{"zero_value_is_bare_bearer", challenge.Challenge{}, `Bearer`},
		{"realm_only", challenge.Challenge{Realm: "api"}, `Bearer realm="api"`},
		{"rfc_9470_order", challenge.Challenge{Scheme: "Bearer", MaxAge: new(0), ACRValues: []string{"phr"},
			ErrorDescription: "d", Error: challenge.ErrorInsufficientUserAuthentication},
			`Bearer error="insufficient_user_authentication", error_description="d", acr_values="phr", max_age="0"`},
		{"insufficient_scope", challenge.Challenge{Error: challenge.ErrorInsufficientScope, Scope: "payments read"},
			`Bearer error="insufficient_scope", scope="payments read"`},
		{"negative_max_age_omitted", challenge.Challenge{MaxAge: new(-1)}, `Bearer`},
		{"params_sorted_lower_cased_and_never_override_fields", challenge.Challenge{Error: "e",
			Params: map[string]string{"zeta": "z", "Alpha": "a", "ERROR": "spoof", "bad name\r\n": "v", "": "x"}},
			`Bearer error="e", alpha="a", badname="v", zeta="z"`},
		{"escaping", challenge.Challenge{ErrorDescription: `say "hi" \ bye`}, `Bearer error_description="say \"hi\" \\ bye"`},
		{"controls_removed", challenge.Challenge{Error: "a\r\nb\x00c\x7fd\u0085e\tf"}, `Bearer error="abcde f"`},
		{"invalid_utf8_replaced", challenge.Challenge{Error: "a\xffb"}, "Bearer error=\"a\uFFFDb\""},
		{"scheme_sanitised", challenge.Challenge{Scheme: "DPoP\r\nX: y"}, `DPoPXy`},
		{"empty_acr_values_skipped", challenge.Challenge{ACRValues: []string{"", "\r\n", "phr"}}, `Bearer acr_values="phr"`},
		{"token68", challenge.Challenge{Scheme: "Negotiate", Token68: "abc==", Realm: "ignored"}, `Negotiate abc==`},
		{"invalid_token68_omitted", challenge.Challenge{Token68: "a b", Realm: "r"}, `Bearer realm="r"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.c.String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
		})
	}
}
