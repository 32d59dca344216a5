package oauth

import (
	"log/slog"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Login hint kinds (LoginHint.Kind).
const (
	// HintKindFreeText: a username or e-mail address (LoginHint.Username).
	HintKindFreeText = ""
	// HintKindMethod: only a BankID method, "BIS", "BID" or "BIM".
	HintKindMethod = "method"
	// HintKindACR: the hint is an acr value (LoginHint.ACR).
	HintKindACR = "acr"
	// HintKindSubject: the hint identifies the person: a national identity
	// number (ID, with or without a method) or, for BIM, a phone number and
	// birth date.
	HintKindSubject = "subject"
)

// BankID methods in login hints.
const (
	HintMethodBIS = "BIS" // BankID on the web ("BankID")
	HintMethodBID = "BID" // BankID with a code device
	HintMethodBIM = "BIM" // BankID on mobile
)

// MaxLoginHintLength bounds a login_hint in bytes.
const MaxLoginHintLength = 256

// LoginHint is a parsed login_hint. Kind says which fields are set:
//
//	""        Username (free text, trimmed; may be empty when no hint)
//	"method"  Method
//	"acr"     ACR
//	"subject" ID, with Method "BIS" or "BID" or none (":<nnin>");
//	          or Method "BIM" with Phone and Birthdate
//
// ID, Phone, Birthdate and Username are personal data: LogValue redacts
// them, and errors never echo the hint.
type LoginHint struct {
	Kind      string
	Method    string // "BIS", "BID", "BIM" (upper case) when given
	ID        string // national identity number, 11 digits
	Phone     string // BIM phone: 8 to 15 digits, optionally with a leading '+'
	Birthdate string // BIM birth date, DDMMYY
	Username  string // free text hint, when Kind == ""
	ACR       string // when Kind == "acr"
}

// Descriptions of malformed hints. They are constants and never include the
// hint, which is personal data.
const (
	descHintTooLong   = "login_hint is too long"
	descHintEncoding  = "login_hint must be UTF-8 without control characters"
	descHintNNIN      = "malformed login_hint: the national identity number must be 11 digits"
	descHintBIM       = "malformed login_hint: expected BIM:<phone>:<DDMMYY>"
	descHintPhone     = "malformed login_hint: the phone number must be 8 to 15 digits, optionally after '+'"
	descHintBirthdate = "malformed login_hint: the birth date must be a valid DDMMYY date"
)

// ParseLoginHint parses a login_hint following the BankID OIDC grammar, in
// this order:
//
//   - an acr value, when isACR(s) (e.g. "urn:bankid:bis"); isACR may be nil;
//   - "BIS", "BID", "BIM" (case-insensitive): Kind "method";
//   - "BIS:<nnin>", "BID:<nnin>", ":<nnin>": Kind "subject" with ID;
//   - "BIM:<phone>:<DDMMYY>": Kind "subject" with Phone and Birthdate;
//   - anything else: a free-text username or e-mail.
//
// Surrounding white space is trimmed first. A hint that starts like a structured one ("BIS:", "BID:", "BIM:" or ":")
// but is malformed is an invalid_request, as is any hint over
// MaxLoginHintLength bytes, not valid UTF-8, or with control characters.
// Descriptions never echo the hint.
//
// The national identity number is checked for exactly 11 ASCII digits only:
// the mod-11 check digits are not validated, because BankID's test
// environments use synthetic numbers that need not satisfy them, and the
// number is only a hint — the user is identified by authentication, not by
// it. DDMMYY is checked to be a real date; the century is unknown, so
// 29 February is accepted in years divisible by four (including 00).
func ParseLoginHint(s string, isACR func(string) bool) (LoginHint, *Error) {
	if len(s) > MaxLoginHintLength {
		return LoginHint{}, Err(InvalidRequest, descHintTooLong)
	}
	if !utf8.ValidString(s) || strings.ContainsFunc(s, unicode.IsControl) {
		return LoginHint{}, Err(InvalidRequest, descHintEncoding)
	}
	s = strings.TrimSpace(s)
	if s != "" && isACR != nil && isACR(s) {
		return LoginHint{Kind: HintKindACR, ACR: s}, nil
	}

	head, rest, structured := strings.Cut(s, ":")
	method := hintMethodOf(head)
	switch {
	case !structured && method != "":
		return LoginHint{Kind: HintKindMethod, Method: method}, nil
	case !structured:
		return LoginHint{Kind: HintKindFreeText, Username: s}, nil
	case head == "":
		if !hintIsNNIN(rest) {
			return LoginHint{}, Err(InvalidRequest, descHintNNIN)
		}
		return LoginHint{Kind: HintKindSubject, ID: rest}, nil
	case method == HintMethodBIS || method == HintMethodBID:
		if !hintIsNNIN(rest) {
			return LoginHint{}, Err(InvalidRequest, descHintNNIN)
		}
		return LoginHint{Kind: HintKindSubject, Method: method, ID: rest}, nil
	case method == HintMethodBIM:
		phone, date, ok := strings.Cut(rest, ":")
		if !ok {
			return LoginHint{}, Err(InvalidRequest, descHintBIM)
		}
		if !hintIsPhone(phone) {
			return LoginHint{}, Err(InvalidRequest, descHintPhone)
		}
		if !hintIsDDMMYY(date) {
			return LoginHint{}, Err(InvalidRequest, descHintBirthdate)
		}
		return LoginHint{Kind: HintKindSubject, Method: method, Phone: phone, Birthdate: date}, nil
	default:
		// A colon in a username or e-mail ("a:b@example.com") is free text.
		return LoginHint{Kind: HintKindFreeText, Username: s}, nil
	}
}

// LogValue shows the kind, method and acr of the hint and redacts the
// personal data (ID, Phone, Birthdate, Username): only whether each is set.
func (h LoginHint) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("kind", h.Kind)}
	if h.Method != "" {
		attrs = append(attrs, slog.String("method", h.Method))
	}
	if h.ACR != "" {
		attrs = append(attrs, slog.String("acr", h.ACR))
	}
	for _, f := range []struct{ key, val string }{
		{"id", h.ID}, {"phone", h.Phone}, {"birthdate", h.Birthdate}, {"username", h.Username},
	} {
		if f.val != "" {
			attrs = append(attrs, slog.String(f.key, "REDACTED"))
		}
	}
	return slog.GroupValue(attrs...)
}

// hintMethodOf returns the upper-case BankID method named by s (ASCII
// case-insensitively), or "".
func hintMethodOf(s string) string {
	if len(s) != 3 {
		return ""
	}
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - ('a' - 'A')
		}
	}
	switch m := string(b); m {
	case HintMethodBIS, HintMethodBID, HintMethodBIM:
		return m
	}
	return ""
}

// hintAllDigits reports whether s is non-empty and all ASCII digits.
func hintAllDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// hintIsNNIN reports whether s is 11 ASCII digits (no check-digit validation).
func hintIsNNIN(s string) bool { return len(s) == 11 && hintAllDigits(s) }

// hintIsPhone reports whether s is 8 to 15 ASCII digits after an optional '+'.
func hintIsPhone(s string) bool {
	d := strings.TrimPrefix(s, "+")
	return len(d) >= 8 && len(d) <= 15 && hintAllDigits(d)
}

// hintIsDDMMYY reports whether s is a valid DDMMYY date.
func hintIsDDMMYY(s string) bool {
	if len(s) != 6 || !hintAllDigits(s) {
		return false
	}
	day := int(s[0]-'0')*10 + int(s[1]-'0')
	month := int(s[2]-'0')*10 + int(s[3]-'0')
	year := 2000 + int(s[4]-'0')*10 + int(s[5]-'0') // leap years as 19YY, except 00
	if month < 1 || month > 12 || day < 1 {
		return false
	}
	t := time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC)
	return t.Day() == day && t.Month() == time.Month(month)
}
