package oauth

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"regexp"
	"strings"
	"unicode/utf8"
)

// InvalidAuthorizationDetails is RFC 9396's error code.
const InvalidAuthorizationDetails Code = "invalid_authorization_details"

// Built-in authorization details types.
const (
	DetailAuthentication = "authentication.v1"
	DetailText           = "text.v1"
	DetailPayment        = "payment.v1"
)

// DetailTypes lists the supported authorization_details types.
func DetailTypes() []string { return []string{DetailAuthentication, DetailText, DetailPayment} }

// Detail is one authorization details object.
type Detail map[string]any

// Type returns the object's type.
func (d Detail) Type() string { s, _ := d["type"].(string); return s }

// Str returns a string member.
func (d Detail) Str(k string) string { s, _ := d[k].(string); return s }

// Amount returns a payment's amount and currency.
func (d Detail) Amount() (amount, currency string) {
	ia, _ := d["instructedAmount"].(map[string]any)
	amount, _ = ia["amount"].(string)
	currency, _ = ia["currency"].(string)
	return amount, currency
}

var (
	amountRE   = regexp.MustCompile(`^(0|[1-9][0-9]{0,14})(\.[0-9]{1,2})?$`)
	currencyRE = regexp.MustCompile(`^[A-Z]{3}$`)
)

// maxDetailsBytes bounds the parameter.
const maxDetailsBytes = 32 << 10

// ParseAuthorizationDetails checks an authorization_details parameter (a
// JSON array of typed objects) and returns the objects and their canonical
// JSON (keys sorted, no insignificant space), which is what tokens carry
// and what digests are computed over.
func ParseAuthorizationDetails(s string) ([]Detail, string, *Error) {
	bad := func(format string, a ...any) ([]Detail, string, *Error) {
		return nil, "", Err(InvalidAuthorizationDetails, format, a...)
	}
	if len(s) > maxDetailsBytes {
		return bad("authorization_details is too large")
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var ds []Detail
	if err := dec.Decode(&ds); err != nil || dec.More() {
		return bad("authorization_details must be a JSON array of objects")
	}
	if len(ds) == 0 || len(ds) > 10 {
		return bad("authorization_details must hold 1 to 10 objects")
	}
	for i, d := range ds {
		if d == nil {
			return bad("authorization_details[%d] is not an object", i)
		}
		switch d.Type() {
		case DetailAuthentication:
			if m, ok := d["merchantName"]; ok && !isText(m, 140) {
				return bad("authorization_details[%d].merchantName must be 1 to 140 characters", i)
			}
		case DetailText:
			if !isText(d["text"], 2000) {
				return bad("authorization_details[%d].text must be 1 to 2000 characters", i)
			}
		case DetailPayment:
			amount, currency := d.Amount()
			if !amountRE.MatchString(amount) {
				return bad("authorization_details[%d].instructedAmount.amount must be a decimal string such as \"5000.00\"", i)
			}
			if !currencyRE.MatchString(currency) {
				return bad("authorization_details[%d].instructedAmount.currency must be an ISO 4217 code such as \"NOK\"", i)
			}
			if !isText(d["creditorName"], 140) {
				return bad("authorization_details[%d].creditorName must be 1 to 140 characters", i)
			}
			if r, ok := d["remittanceInformation"]; ok && !isText(r, 140) {
				return bad("authorization_details[%d].remittanceInformation must be 1 to 140 characters", i)
			}
		case "":
			return bad("authorization_details[%d] has no type", i)
		default:
			return bad("authorization_details[%d] has an unsupported type", i)
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(ds); err != nil {
		return bad("authorization_details cannot be encoded")
	}
	return ds, strings.TrimSuffix(buf.String(), "\n"), nil
}

func isText(v any, max int) bool {
	s, ok := v.(string)
	if !ok || strings.TrimSpace(s) == "" || !utf8.ValidString(s) || utf8.RuneCountInString(s) > max {
		return false
	}
	for _, r := range s {
		if r < 0x20 && r != '\n' {
			return false
		}
	}
	return true
}

// DetailsDigest is base64url(SHA-256(canonical authorization details)): the
// statement digest carried in the ID token and bound into a passkey
// approval.
func DetailsDigest(canonical string) string {
	h := sha256.Sum256([]byte(canonical))
	return base64.RawURLEncoding.EncodeToString(h[:])
}
