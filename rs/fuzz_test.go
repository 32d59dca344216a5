package rs_test

import (
	"strings"
	"testing"

	"github.com/stepup-oidc/stepup/rs"
)

// FuzzVerify checks that Verify never panics on any input, and that
// whatever it accepts carries the claims the provider signed: a changed
// token either fails or decodes to the same claims.
func FuzzVerify(f *testing.F) {
	op := newFakeOP()
	defer op.Close()
	clk := newClock()
	v, err := rs.NewVerifier(f.Context(), op.URL(), rs.WithNow(clk.Now), rs.WithMinRefreshInterval(1<<62))
	if err != nil {
		f.Fatal(err)
	}
	valid := op.mint(clk.Now(), nil)
	want, err := v.Verify(f.Context(), valid)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add(sign(op.key(0), "JWT", op.claims(clk.Now())))
	f.Add(strings.Join(strings.Split(valid, ".")[:2], ".") + ".")
	f.Add("e30.e30.e30")
	f.Fuzz(func(t *testing.T, token string) {
		c, err := v.Verify(t.Context(), token)
		if err != nil {
			if c != nil {
				t.Fatalf("claims returned with error %v", err)
			}
			return
		}
		if c.Subject != want.Subject || c.ACR != want.ACR || c.JTI != want.JTI || !c.Expiry.Equal(want.Expiry) ||
			!c.AuthTime.Equal(want.AuthTime) || c.Scope != want.Scope {
			t.Fatalf("accepted %q with claims %+v, want %+v", token, c, want)
		}
	})
}
