package challenge_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stepup-oidc/stepup/challenge"
)

// FuzzParse checks that Parse never panics, that String of every parsed
// challenge parses back to the same challenge, and that String never holds
// a control character.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`Bearer error="insufficient_user_authentication", error_description="A different authentication level is required", acr_values="myACR"`,
		`Bearer error="insufficient_user_authentication", max_age="5"`,
		`Bearer realm="example", error="invalid_token", error_description="The access token expired"`,
		`Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple"`,
		`Negotiate abc==, Bearer`,
		"Bearer error_description=\"a\tb \xff \\\" \xc2\x85\"",
		`Bearer , DPoP algs="ES256 EdDSA"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		cs, err := challenge.Parse(header)
		if err != nil {
			return
		}
		for _, c := range cs {
			s := c.String()
			if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				t.Fatalf("String() = %q holds a control character", s)
			}
			again, err := challenge.Parse(s)
			if err != nil {
				t.Fatalf("Parse(%q) of String() of %+v: %v", s, c, err)
			}
			if d := cmp.Diff([]challenge.Challenge{c}, again); d != "" {
				t.Fatalf("round trip through %q (-parsed +reparsed):\n%s", s, d)
			}
		}
	})
}

// FuzzString checks that any challenge, whatever its fields hold, builds a
// header value without control characters that parses as one challenge.
func FuzzString(f *testing.F) {
	f.Add("Bearer", "", "realm", "invalid_token", "desc\r\nX: y", "phr phrh", 300, "k", "v")
	f.Add("", "abc==", "", "", "", "", -1, "", "")
	f.Fuzz(func(t *testing.T, scheme, token68, realm, code, desc, acr string, maxAge int, k, v string) {
		c := challenge.Challenge{Scheme: scheme, Token68: token68, Realm: realm, Error: code, ErrorDescription: desc,
			ACRValues: strings.Split(acr, " "), MaxAge: &maxAge, Params: map[string]string{k: v}}
		s := c.String()
		if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			t.Fatalf("String() = %q holds a control character", s)
		}
		cs, err := challenge.Parse(s)
		if err != nil || len(cs) != 1 {
			t.Fatalf("Parse(%q) = %d challenges, %v", s, len(cs), err)
		}
	})
}
