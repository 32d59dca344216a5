package oauth_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stepup-oidc/stepup/internal/oauth"
)

// hintACRs is the isACR of the tests: the BankID acr values.
func hintACRs(s string) bool {
	switch s {
	case "urn:bankid:bis", "urn:bankid:bid", "urn:bankid:bim":
		return true
	}
	return false
}

const testNNIN = "01019012345"

func TestParseLoginHint(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want oauth.LoginHint
	}{
		{"empty hint", "", oauth.LoginHint{}},
		{"only white space", "   ", oauth.LoginHint{}},
		{"username", "alice", oauth.LoginHint{Username: "alice"}},
		{"e-mail", "alice@example.com", oauth.LoginHint{Username: "alice@example.com"}},
		{"free text is trimmed", "  alice  ", oauth.LoginHint{Username: "alice"}},
		{"free text keeps its case", "Alice", oauth.LoginHint{Username: "Alice"}},
		{"free text with a colon", "alice:smith@example.com", oauth.LoginHint{Username: "alice:smith@example.com"}},
		{"free text with a trailing colon", "alice:", oauth.LoginHint{Username: "alice:"}},
		{"free text starting like a method", "bisque", oauth.LoginHint{Username: "bisque"}},
		{"free text non-ASCII", "ærlig@eksempel.no", oauth.LoginHint{Username: "ærlig@eksempel.no"}},
		{"free text digits only", testNNIN, oauth.LoginHint{Username: testNNIN}},
		{"free text at the length limit", strings.Repeat("a", 256), oauth.LoginHint{Username: strings.Repeat("a", 256)}},
		{"Unicode look-alike of a method is free text", "bıs", oauth.LoginHint{Username: "bıs"}},

		{"BIS", "BIS", oauth.LoginHint{Kind: "method", Method: "BIS"}},
		{"BID", "BID", oauth.LoginHint{Kind: "method", Method: "BID"}},
		{"BIM", "BIM", oauth.LoginHint{Kind: "method", Method: "BIM"}},
		{"method lower case", "bis", oauth.LoginHint{Kind: "method", Method: "BIS"}},
		{"method mixed case", "bIm", oauth.LoginHint{Kind: "method", Method: "BIM"}},
		{"method with surrounding spaces", " BID ", oauth.LoginHint{Kind: "method", Method: "BID"}},

		{"BIS with id", "BIS:" + testNNIN, oauth.LoginHint{Kind: "subject", Method: "BIS", ID: testNNIN}},
		{"BID with id", "BID:" + testNNIN, oauth.LoginHint{Kind: "subject", Method: "BID", ID: testNNIN}},
		{"method with id lower case", "bid:" + testNNIN, oauth.LoginHint{Kind: "subject", Method: "BID", ID: testNNIN}},
		{"id only", ":" + testNNIN, oauth.LoginHint{Kind: "subject", ID: testNNIN}},
		{"id with invalid check digits is accepted", ":12345678901", oauth.LoginHint{Kind: "subject", ID: "12345678901"}},

		{"BIM with phone and birth date", "BIM:91234567:010190", oauth.LoginHint{Kind: "subject", Method: "BIM", Phone: "91234567", Birthdate: "010190"}},
		{"BIM with international phone", "bim:+4791234567:311299", oauth.LoginHint{Kind: "subject", Method: "BIM", Phone: "+4791234567", Birthdate: "311299"}},
		{"BIM with 15-digit phone", "BIM:123456789012345:290200", oauth.LoginHint{Kind: "subject", Method: "BIM", Phone: "123456789012345", Birthdate: "290200"}},
		{"BIM on 29 February of a leap year", "BIM:91234567:290296", oauth.LoginHint{Kind: "subject", Method: "BIM", Phone: "91234567", Birthdate: "290296"}},

		{"acr value", "urn:bankid:bis", oauth.LoginHint{Kind: "acr", ACR: "urn:bankid:bis"}},
		{"acr value trimmed", " urn:bankid:bim ", oauth.LoginHint{Kind: "acr", ACR: "urn:bankid:bim"}},
		{"unknown urn is free text", "urn:bankid:other", oauth.LoginHint{Username: "urn:bankid:other"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := oauth.ParseLoginHint(tt.in, hintACRs)
			if err != nil {
				t.Fatalf("ParseLoginHint = %v", err)
			}
			if got != tt.want {
				t.Fatalf("ParseLoginHint = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseLoginHintWithoutACRFunc(t *testing.T) {
	got, err := oauth.ParseLoginHint("urn:bankid:bis", nil)
	if err != nil || got != (oauth.LoginHint{Username: "urn:bankid:bis"}) {
		t.Fatalf("ParseLoginHint = %+v, %v; want free text", got, err)
	}
}

func TestParseLoginHintRefusesMalformed(t *testing.T) {
	tests := []struct {
		name, in string
	}{
		{"BIS with short id", "BIS:123"},
		{"BIS with empty id", "BIS:"},
		{"BID with empty id", "BID:"},
		{"BID with 12-digit id", "BID:010190123456"},
		{"BIS with letters in id", "BIS:0101901234x"},
		{"BIS with id and more", "BIS:" + testNNIN + ":x"},
		{"id with spaces", "BIS: " + testNNIN},
		{"id with full-width digits", "BIS:０１０１９０１２３４５"},
		{"bare colon", ":"},
		{"colon and short id", ":123"},
		{"colon and text", ":alice"},
		{"BIM without birth date", "BIM:91234567"},
		{"BIM with empty parts", "BIM::"},
		{"BIM alone with colon", "BIM:"},
		{"BIM with letters in phone", "BIM:abc:010190"},
		{"BIM with short phone", "BIM:1234567:010190"},
		{"BIM with 16-digit phone", "BIM:1234567890123456:010190"},
		{"BIM with plus only", "BIM:+:010190"},
		{"BIM with double plus", "BIM:++4791234567:010190"},
		{"BIM with short date", "BIM:91234567:01019"},
		{"BIM with month 13", "BIM:91234567:011390"},
		{"BIM with day 0", "BIM:91234567:000190"},
		{"BIM with 31 April", "BIM:91234567:310490"},
		{"BIM with 29 February of a common year", "BIM:91234567:290290"},
		{"BIM with trailing part", "BIM:91234567:010190:x"},
		{"too long", strings.Repeat("a", 257)},
		{"control character", "alice\x00"},
		{"newline", "alice\nbob"},
		{"tab", "BIS\t"},
		{"DEL", "alice\x7f"},
		{"C1 control", "alice\u0085"},
		{"invalid UTF-8", "alice\xff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := oauth.ParseLoginHint(tt.in, hintACRs)
			if err == nil {
				t.Fatalf("ParseLoginHint = %+v, want invalid_request", got)
			}
			if err.Code != oauth.InvalidRequest || err.Err != nil {
				t.Fatalf("ParseLoginHint error = %v, want invalid_request without cause", err)
			}
			if got != (oauth.LoginHint{}) {
				t.Fatalf("ParseLoginHint returned %+v with an error", got)
			}
			hintNoEcho(t, tt.in, err)
		})
	}
}

// hintNoEcho fails when err repeats the hint or the personal data in it.
func hintNoEcho(t *testing.T, in string, err *oauth.Error) {
	t.Helper()
	msg := err.Error()
	if strings.Contains(msg, in) && len(strings.TrimSpace(in)) > len("BIM:") {
		t.Fatalf("error %q echoes the hint", msg)
	}
	for _, part := range strings.Split(in, ":") {
		if len(part) >= 3 && strings.Contains(msg, part) && hintHasDigit(part) {
			t.Fatalf("error %q echoes %q", msg, part)
		}
	}
}

func hintHasDigit(s string) bool { return strings.ContainsAny(s, "0123456789") }

func TestLoginHintLogValueRedactsPersonalData(t *testing.T) {
	tests := []struct {
		name     string
		hint     oauth.LoginHint
		shown    []string
		redacted []string
	}{
		{"national identity number", oauth.LoginHint{Kind: "subject", Method: "BIS", ID: testNNIN},
			[]string{"kind=subject", "method=BIS", "id=REDACTED"}, []string{testNNIN}},
		{"phone and birth date", oauth.LoginHint{Kind: "subject", Method: "BIM", Phone: "+4791234567", Birthdate: "010190"},
			[]string{"phone=REDACTED", "birthdate=REDACTED"}, []string{"4791234567", "010190"}},
		{"username", oauth.LoginHint{Username: "alice@example.com"},
			[]string{"kind=", "username=REDACTED"}, []string{"alice"}},
		{"acr is not personal", oauth.LoginHint{Kind: "acr", ACR: "urn:bankid:bis"},
			[]string{"kind=acr", "acr=urn:bankid:bis"}, nil},
		{"method only", oauth.LoginHint{Kind: "method", Method: "BIM"},
			[]string{"kind=method", "method=BIM"}, []string{"REDACTED"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			slog.New(slog.NewTextHandler(&buf, nil)).Info("hint", "login_hint", tt.hint)
			out := buf.String()
			for _, s := range tt.shown {
				if !strings.Contains(out, s) {
					t.Errorf("log %q lacks %q", out, s)
				}
			}
			for _, s := range tt.redacted {
				if strings.Contains(out, s) {
					t.Errorf("log %q contains %q", out, s)
				}
			}
		})
	}
}

func FuzzParseLoginHint(f *testing.F) {
	for _, s := range []string{
		"", "alice", "alice@example.com", "BIS", "bid", "BIM", "BIS:" + testNNIN, "BID:" + testNNIN,
		":" + testNNIN, "BIM:+4791234567:010190", "BIM:91234567:290200", "urn:bankid:bis",
		"BIS:123", "BIM:abc:010190", "BID:", ":", "BIM::", "a:b", "\x00", "\xff", " BIS ",
		"bıs", "BIS:０１０１９０１２３４５",
	} {
		f.Add(s)
	}
	descriptions := map[string]bool{}
	for _, s := range []string{strings.Repeat("a", 300), "\x00", "BIS:1", "BIM:1", "BIM:x:1", "BIM:12345678:1"} {
		_, err := oauth.ParseLoginHint(s, nil)
		if err == nil {
			f.Fatalf("seed %q accepted", s)
		}
		descriptions[err.Description] = true
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := oauth.ParseLoginHint(s, hintACRs)
		if err != nil {
			if err.Code != oauth.InvalidRequest || h != (oauth.LoginHint{}) {
				t.Fatalf("ParseLoginHint(%q) = %+v, %v", s, h, err)
			}
			// Descriptions come from a fixed set, so they cannot echo s.
			if !descriptions[err.Description] {
				t.Fatalf("ParseLoginHint(%q): unexpected description %q", s, err.Description)
			}
			return
		}
		if h.ID != "" && (len(h.ID) != 11 || strings.Trim(h.ID, "0123456789") != "") {
			t.Fatalf("ParseLoginHint(%q): ID %q is not 11 digits", s, h.ID)
		}
		if h.Method != "" && h.Method != "BIS" && h.Method != "BID" && h.Method != "BIM" {
			t.Fatalf("ParseLoginHint(%q): method %q", s, h.Method)
		}
		switch h.Kind {
		case "":
			if h.Method != "" || h.ID != "" || h.Phone != "" || h.Birthdate != "" || h.ACR != "" {
				t.Fatalf("ParseLoginHint(%q): free text with structured fields: %+v", s, h)
			}
			if len(h.Username) > oauth.MaxLoginHintLength || !utf8.ValidString(h.Username) ||
				strings.ContainsFunc(h.Username, unicode.IsControl) || h.Username != strings.TrimSpace(h.Username) {
				t.Fatalf("ParseLoginHint(%q): bad username %q", s, h.Username)
			}
		case "method":
			if h.Method == "" || h != (oauth.LoginHint{Kind: "method", Method: h.Method}) {
				t.Fatalf("ParseLoginHint(%q): method hint %+v", s, h)
			}
		case "acr":
			if !hintACRs(h.ACR) || h != (oauth.LoginHint{Kind: "acr", ACR: h.ACR}) {
				t.Fatalf("ParseLoginHint(%q): acr hint %+v", s, h)
			}
		case "subject":
			byID := h.ID != "" && h.Method != "BIM" && h.Phone == "" && h.Birthdate == ""
			byPhone := h.ID == "" && h.Method == "BIM" && h.Phone != "" && len(h.Birthdate) == 6
			if !(byID || byPhone) || h.Username != "" || h.ACR != "" {
				t.Fatalf("ParseLoginHint(%q): subject hint %+v", s, h)
			}
			if byPhone {
				d := strings.TrimPrefix(h.Phone, "+")
				if len(d) < 8 || len(d) > 15 || strings.Trim(d, "0123456789") != "" {
					t.Fatalf("ParseLoginHint(%q): phone %q", s, h.Phone)
				}
			}
		default:
			t.Fatalf("ParseLoginHint(%q): kind %q", s, h.Kind)
		}
	})
}
