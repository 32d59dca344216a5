// Package challenge parses and builds the WWW-Authenticate challenges of
// OAuth 2.0 bearer tokens: RFC 6750 (invalid_token, insufficient_scope) and
// RFC 9470 step-up (insufficient_user_authentication with acr_values and
// max_age).
//
// A resource server builds a challenge and writes its String form:
//
//	w.Header().Set("WWW-Authenticate", challenge.Challenge{
//		Scheme:    "Bearer",
//		Error:     challenge.ErrorInsufficientUserAuthentication,
//		ACRValues: []string{"phr"},
//	}.String())
//
// A client parses what it received and starts a new authorization request
// with the challenge's ACRValues and MaxAge:
//
//	cs, err := challenge.Parse(strings.Join(res.Header.Values("WWW-Authenticate"), ", "))
//
// String never emits CR, LF or any other control character, whatever the
// values hold, so a challenge built from untrusted text cannot inject a
// header. Parse follows the auth-param grammar of RFC 9110 §11 and is fuzzed.
package challenge

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Error codes of RFC 6750 §3.1 and RFC 9470 §3.
const (
	// ErrorInvalidRequest: the request is malformed (HTTP 400).
	ErrorInvalidRequest = "invalid_request"
	// ErrorInvalidToken: the access token is expired, revoked, malformed or
	// otherwise invalid (HTTP 401).
	ErrorInvalidToken = "invalid_token"
	// ErrorInsufficientScope: the token lacks a scope the resource needs
	// (HTTP 403).
	ErrorInsufficientScope = "insufficient_scope"
	// ErrorInsufficientUserAuthentication: the authentication behind the
	// token does not meet the resource's acr or max_age requirement
	// (HTTP 401, RFC 9470).
	ErrorInsufficientUserAuthentication = "insufficient_user_authentication"
)

// Wire names of the parameters that have fields in Challenge.
const (
	paramRealm            = "realm"
	paramError            = "error"
	paramErrorDescription = "error_description"
	paramErrorURI         = "error_uri"
	paramScope            = "scope"
	paramACRValues        = "acr_values"
	paramMaxAge           = "max_age"
)

// ErrMalformed is returned, wrapped, by Parse for a header that does not
// follow the challenge grammar.
var ErrMalformed = errors.New("challenge: malformed")

// Challenge is one challenge of a WWW-Authenticate header.
//
// Empty fields are absent from the header: String omits them, and Parse
// leaves a parameter sent with an empty value as the empty string.
type Challenge struct {
	// Scheme is the authentication scheme as written, such as "Bearer" or
	// "DPoP". Schemes are case-insensitive: compare with strings.EqualFold.
	// String writes "Bearer" when it is empty.
	Scheme string
	// Token68 is the token68 form of a challenge (RFC 9110 §11.2), as
	// other schemes use: "Negotiate abc==". A challenge has either a
	// Token68 or parameters; String writes only Token68 when it is set.
	Token68 string

	Realm            string
	Error            string // one of the Error… constants, or another code
	ErrorDescription string // human-readable; not for display to end users
	ErrorURI         string
	Scope            string // space-separated scopes (RFC 6750 §3)

	// ACRValues are the acceptable acr values, in order of preference
	// (RFC 9470 §3): the token must carry one of them.
	ACRValues []string
	// MaxAge is the greatest allowed time, in seconds, since the user last
	// actively authenticated (RFC 9470 §3); nil when absent. Zero asks for
	// a new authentication now. String omits a negative MaxAge.
	MaxAge *int

	// Params holds every other auth-param, keyed by its lower-case name.
	// String ignores entries whose names match a field above.
	Params map[string]string
}

// Parse parses the value of a WWW-Authenticate header: one or more
// challenges separated by commas. To parse every field line of a response,
// join them first: strings.Join(h.Values("WWW-Authenticate"), ", ").
//
// Parameter names are case-insensitive and may appear once per challenge.
// Values may be tokens or quoted strings with backslash escapes. A tab in a
// quoted value becomes a space and other control characters are refused,
// so that String of a parsed challenge parses back to the same challenge.
// acr_values is split on spaces; max_age must be a decimal number of
// seconds.
func Parse(header string) ([]Challenge, error) {
	p := parser{s: header}
	var out []Challenge
	for {
		p.skipListSeparators()
		if p.eof() {
			break
		}
		c, err := p.challenge()
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no challenge", ErrMalformed)
	}
	return out, nil
}

// String returns the challenge as a WWW-Authenticate header value:
//
//	Bearer error="insufficient_user_authentication", error_description="…", acr_values="phr", max_age="300"
//
// Every parameter value is a quoted string with `\` and `"` escaped. Tabs
// become spaces; CR, LF and every other control character are removed, as
// are characters of the scheme and of parameter names outside the token
// grammar. Parameters appear in the order realm, error, error_description,
// error_uri, scope, acr_values, max_age, then Params sorted by name.
func (c Challenge) String() string {
	var b strings.Builder
	scheme := tokenOnly(c.Scheme)
	if scheme == "" {
		scheme = "Bearer"
	}
	b.WriteString(scheme)
	if c.Token68 != "" && isToken68(c.Token68) {
		b.WriteByte(' ')
		b.WriteString(c.Token68)
		return b.String()
	}
	first := true
	write := func(name, value string) {
		if first {
			b.WriteByte(' ')
			first = false
		} else {
			b.WriteString(", ")
		}
		b.WriteString(name)
		b.WriteString(`="`)
		for _, r := range clean(value) {
			if r == '\\' || r == '"' {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		}
		b.WriteByte('"')
	}
	for _, p := range []struct{ name, value string }{
		{paramRealm, c.Realm},
		{paramError, c.Error},
		{paramErrorDescription, c.ErrorDescription},
		{paramErrorURI, c.ErrorURI},
		{paramScope, c.Scope},
	} {
		if p.value != "" {
			write(p.name, p.value)
		}
	}
	var acr []string
	for _, v := range c.ACRValues {
		if v = clean(v); v != "" {
			acr = append(acr, v)
		}
	}
	if len(acr) > 0 {
		write(paramACRValues, strings.Join(acr, " "))
	}
	if c.MaxAge != nil && *c.MaxAge >= 0 {
		write(paramMaxAge, strconv.Itoa(*c.MaxAge))
	}
	seen := map[string]bool{}
	for _, k := range slices.Sorted(maps.Keys(c.Params)) {
		name := strings.ToLower(tokenOnly(k))
		if name == "" || seen[name] || reserved(name) {
			continue
		}
		seen[name] = true
		write(name, c.Params[k])
	}
	return b.String()
}

func reserved(name string) bool {
	switch name {
	case paramRealm, paramError, paramErrorDescription, paramErrorURI, paramScope, paramACRValues, paramMaxAge:
		return true
	}
	return false
}

// clean makes s safe for a quoted-string: invalid UTF-8 becomes U+FFFD,
// a tab becomes a space and every other control character is dropped.
// clean(clean(s)) == clean(s).
func clean(s string) string {
	ok := utf8.ValidString(s)
	if ok {
		for _, r := range s {
			if unicode.IsControl(r) {
				ok = false
				break
			}
		}
	}
	if ok {
		return s
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t':
			return ' '
		case unicode.IsControl(r):
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}

// tokenOnly drops the characters of s that are not tchar (RFC 9110 §5.6.2).
func tokenOnly(s string) string {
	for i := 0; i < len(s); i++ {
		if !isTchar(s[i]) {
			return strings.Map(func(r rune) rune {
				if r < utf8.RuneSelf && isTchar(byte(r)) {
					return r
				}
				return -1
			}, s)
		}
	}
	return s
}

func isTchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func isToken68Char(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~+/", c) >= 0
}

// isToken68 reports whether s is 1*( ALPHA / DIGIT / "-" / "." / "_" /
// "~" / "+" / "/" ) *"=".
func isToken68(s string) bool {
	i := 0
	for i < len(s) && isToken68Char(s[i]) {
		i++
	}
	if i == 0 {
		return false
	}
	for i < len(s) && s[i] == '=' {
		i++
	}
	return i == len(s)
}
