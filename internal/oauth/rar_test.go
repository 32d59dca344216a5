package oauth

import (
	"errors"
	"strings"
	"testing"
)

func TestParseAuthorizationDetails(t *testing.T) {
	tests := []struct {
		name, in      string
		wantErr       bool
		wantCanonical string
	}{
		{name: "a payment is accepted and canonicalised",
			in:            `[ {"type":"payment.v1", "creditorName":"Acme AS", "instructedAmount":{"currency":"NOK","amount":"5000.00"}} ]`,
			wantCanonical: `[{"creditorName":"Acme AS","instructedAmount":{"amount":"5000.00","currency":"NOK"},"type":"payment.v1"}]`},
		{name: "a text to approve is accepted", in: `[{"type":"text.v1","text":"I accept the terms"}]`,
			wantCanonical: `[{"text":"I accept the terms","type":"text.v1"}]`},
		{name: "authentication with a merchant name is accepted", in: `[{"type":"authentication.v1","merchantName":"Demo Bank"}]`,
			wantCanonical: `[{"merchantName":"Demo Bank","type":"authentication.v1"}]`},
		{name: "html in a text is kept verbatim, not escaped", in: `[{"type":"text.v1","text":"<b>pay</b> & go"}]`,
			wantCanonical: `[{"text":"<b>pay</b> & go","type":"text.v1"}]`},
		{name: "an amount as a number is refused", in: `[{"type":"payment.v1","creditorName":"A","instructedAmount":{"amount":5000,"currency":"NOK"}}]`, wantErr: true},
		{name: "an amount with three decimals is refused", in: `[{"type":"payment.v1","creditorName":"A","instructedAmount":{"amount":"1.001","currency":"NOK"}}]`, wantErr: true},
		{name: "a negative amount is refused", in: `[{"type":"payment.v1","creditorName":"A","instructedAmount":{"amount":"-1","currency":"NOK"}}]`, wantErr: true},
		{name: "a lower-case currency is refused", in: `[{"type":"payment.v1","creditorName":"A","instructedAmount":{"amount":"1","currency":"nok"}}]`, wantErr: true},
		{name: "a payment without creditor is refused", in: `[{"type":"payment.v1","instructedAmount":{"amount":"1","currency":"NOK"}}]`, wantErr: true},
		{name: "an unknown type is refused", in: `[{"type":"transfer.v9"}]`, wantErr: true},
		{name: "a missing type is refused", in: `[{"text":"x"}]`, wantErr: true},
		{name: "an object instead of an array is refused", in: `{"type":"text.v1","text":"x"}`, wantErr: true},
		{name: "an empty array is refused", in: `[]`, wantErr: true},
		{name: "trailing data is refused", in: `[{"type":"text.v1","text":"x"}] []`, wantErr: true},
		{name: "control characters are refused", in: "[{\"type\":\"text.v1\",\"text\":\"a\\u0007b\"}]", wantErr: true},
		{name: "too many objects are refused", in: "[" + strings.Repeat(`{"type":"text.v1","text":"x"},`, 10) + `{"type":"text.v1","text":"x"}]`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, canonical, oe := ParseAuthorizationDetails(tt.in)
			if tt.wantErr {
				if oe == nil || !errors.Is(oe, Err(InvalidAuthorizationDetails, "")) {
					t.Fatalf("got %v, want invalid_authorization_details", oe)
				}
				return
			}
			if oe != nil || canonical != tt.wantCanonical {
				t.Fatalf("got %q, %v; want %q", canonical, oe, tt.wantCanonical)
			}
		})
	}
}

func TestDetailsDigestIsStableAcrossKeyOrder(t *testing.T) {
	_, a, _ := ParseAuthorizationDetails(`[{"type":"text.v1","text":"x"}]`)
	_, b, _ := ParseAuthorizationDetails(`[{"text":"x","type":"text.v1"}]`)
	if DetailsDigest(a) != DetailsDigest(b) || len(DetailsDigest(a)) != 43 {
		t.Fatalf("digests %q %q", DetailsDigest(a), DetailsDigest(b))
	}
}

func FuzzParseAuthorizationDetails(f *testing.F) {
	f.Add(`[{"type":"payment.v1","creditorName":"Acme AS","instructedAmount":{"amount":"5000.00","currency":"NOK"}}]`)
	f.Add(`[{"type":"text.v1","text":"hello"}]`)
	f.Add(`[{"type":"authentication.v1"}]`)
	f.Add(`{}`)
	f.Fuzz(func(t *testing.T, s string) {
		ds, canonical, oe := ParseAuthorizationDetails(s)
		if oe != nil {
			if oe.Code != InvalidAuthorizationDetails {
				t.Fatalf("code %q", oe.Code)
			}
			return
		}
		// The canonical form parses to the same canonical form.
		_, again, oe := ParseAuthorizationDetails(canonical)
		if oe != nil || again != canonical || len(ds) == 0 {
			t.Fatalf("canonical form is not stable: %q -> %q (%v)", canonical, again, oe)
		}
	})
}
