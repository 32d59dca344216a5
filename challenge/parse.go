package challenge

import (
	"fmt"
	"strconv"
	"strings"
)

// parser walks a WWW-Authenticate value (RFC 9110 §11.6.1):
//
//	WWW-Authenticate = 1#challenge
//	challenge  = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
//	auth-param = token BWS "=" BWS ( token / quoted-string )
//	token68    = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
type parser struct {
	s string
	i int
}

func (p *parser) eof() bool { return p.i >= len(p.s) }

func (p *parser) errorf(format string, a ...any) error {
	return fmt.Errorf("%w: at offset %d: %s", ErrMalformed, p.i, fmt.Sprintf(format, a...))
}

func (p *parser) skipOWS() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// skipListSeparators skips whitespace and the empty list elements RFC 9110
// §5.6.1 asks recipients to accept.
func (p *parser) skipListSeparators() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == ',') {
		p.i++
	}
}

func (p *parser) token() string {
	start := p.i
	for p.i < len(p.s) && isTchar(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

// token68 consumes a token68 that ends the challenge (followed by optional
// whitespace and a comma or the end), and reports whether it found one.
func (p *parser) token68() (string, bool) {
	j := p.i
	for j < len(p.s) && isToken68Char(p.s[j]) {
		j++
	}
	if j == p.i {
		return "", false
	}
	for j < len(p.s) && p.s[j] == '=' {
		j++
	}
	end := j
	for j < len(p.s) && (p.s[j] == ' ' || p.s[j] == '\t') {
		j++
	}
	if j < len(p.s) && p.s[j] != ',' {
		return "", false
	}
	t := p.s[p.i:end]
	p.i = j
	return t, true
}

func (p *parser) quoted() (string, error) {
	p.i++ // the opening quote
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return b.String(), nil
		case c == '\\':
			p.i++
			if p.i >= len(p.s) {
				return "", p.errorf("unterminated quoted string")
			}
			c = p.s[p.i]
			if isCTL(c) {
				return "", p.errorf("control character in quoted string")
			}
		case isCTL(c):
			return "", p.errorf("control character in quoted string")
		}
		b.WriteByte(c)
		p.i++
	}
	return "", p.errorf("unterminated quoted string")
}

// isCTL reports the bytes a quoted string may not hold: controls but HTAB.
func isCTL(c byte) bool { return (c < 0x20 && c != '\t') || c == 0x7f }

func (p *parser) challenge() (Challenge, error) {
	c := Challenge{Scheme: p.token()}
	if c.Scheme == "" {
		return c, p.errorf("expected an auth-scheme")
	}
	if p.eof() || p.s[p.i] == ',' {
		return c, nil
	}
	if p.s[p.i] != ' ' && p.s[p.i] != '\t' {
		return c, p.errorf("expected a space after the auth-scheme")
	}
	p.skipOWS()
	if t, ok := p.token68(); ok {
		c.Token68 = t
		return c, nil
	}
	seen := map[string]bool{}
	for first := true; ; first = false {
		before := p.i
		p.skipListSeparators()
		if strings.Contains(p.s[before:p.i], ",") {
			first = false
		}
		if p.eof() {
			return c, nil
		}
		start := p.i
		name := strings.ToLower(p.token())
		if name == "" {
			return c, p.errorf("expected an auth-param")
		}
		p.skipOWS()
		if p.eof() || p.s[p.i] != '=' {
			if first {
				return c, p.errorf("expected = after %q", name)
			}
			p.i = start // the next challenge's auth-scheme
			return c, nil
		}
		p.i++
		p.skipOWS()
		var value string
		switch {
		case p.eof():
			return c, p.errorf("missing value of %q", name)
		case p.s[p.i] == '"':
			v, err := p.quoted()
			if err != nil {
				return c, err
			}
			value = clean(v)
		default:
			if value = p.token(); value == "" {
				return c, p.errorf("invalid value of %q", name)
			}
		}
		if seen[name] {
			return c, p.errorf("duplicate parameter %q", name)
		}
		seen[name] = true
		if err := c.set(name, value); err != nil {
			return c, fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		p.skipOWS()
		if !p.eof() && p.s[p.i] != ',' {
			return c, p.errorf("expected a comma after %q", name)
		}
	}
}

func (c *Challenge) set(name, value string) error {
	switch name {
	case paramRealm:
		c.Realm = value
	case paramError:
		c.Error = value
	case paramErrorDescription:
		c.ErrorDescription = value
	case paramErrorURI:
		c.ErrorURI = value
	case paramScope:
		c.Scope = value
	case paramACRValues:
		for v := range strings.SplitSeq(value, " ") {
			if v != "" {
				c.ACRValues = append(c.ACRValues, v)
			}
		}
	case paramMaxAge:
		if value == "" || strings.Trim(value, "0123456789") != "" {
			return fmt.Errorf("max_age %q is not a number of seconds", value)
		}
		n, err := strconv.Atoi(value)
		if err != nil {
			return fmt.Errorf("max_age: %w", err)
		}
		c.MaxAge = &n
	default:
		if c.Params == nil {
			c.Params = map[string]string{}
		}
		c.Params[name] = value
	}
	return nil
}
