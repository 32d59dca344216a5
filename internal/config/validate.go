package config

import (
	"github.com/stepup-oidc/stepup/internal/authn/totp"

	"github.com/stepup-oidc/stepup/internal/policy"

	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/stepup-oidc/stepup/internal/password"
)

// Validate checks c as it is (call Defaults first: zero values that have a
// default are otherwise reported as invalid). Errors carry key paths but no
// file positions; Load reports the same errors with positions.
func (c *Config) Validate() error {
	return c.validate(func(string) string { return "" })
}

// validator collects problems; where maps a key path to its source.
type validator struct {
	where func(path string) string
	errs  []error
}

func (v *validator) add(path, format string, args ...any) {
	v.errs = append(v.errs, &Error{Source: v.where(path), Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (c *Config) validate(where func(string) string) error {
	v := &validator{where: where}
	v.issuer(c.Issuer)
	v.listen(c.Listen)
	v.storage(c.Storage)
	v.oneOf("acr.preset", c.ACR.Preset, append(policy.PresetNames(), "custom")...)
	switch {
	case c.ACR.Preset == "custom" && len(c.ACR.Levels) == 0:
		v.add("acr.levels", "the custom preset needs at least one level")
	case c.ACR.Preset != "custom" && len(c.ACR.Levels) > 0:
		v.add("acr.levels", "levels are used only with preset: custom")
	case c.ACR.Preset == "custom":
		if _, err := c.ACR.Policy(); err != nil {
			v.add("acr.levels", "%v", err)
		}
	}
	v.positive("acr.enrollment_freshness", c.ACR.EnrollmentFreshness)
	for i, path := range c.Passkeys.AttestationRoots {
		if path == "" {
			v.add("passkeys.attestation_roots["+strconv.Itoa(i)+"]", "must be a file path")
		}
	}
	v.upstreams(c.Upstreams)
	v.clients(c)
	v.users(c.Users)

	v.positive("tokens.access_token_ttl", c.Tokens.AccessTokenTTL)
	v.positive("tokens.id_token_ttl", c.Tokens.IDTokenTTL)
	v.positive("tokens.refresh_token_ttl", c.Tokens.RefreshTokenTTL)
	v.positive("tokens.code_ttl", c.Tokens.CodeTTL)

	v.oneOf("keys.algorithm", c.Keys.Algorithm, AlgES256, AlgRS256, AlgEdDSA)
	v.positive("keys.rotation_period", c.Keys.RotationPeriod)
	v.positive("keys.overlap", c.Keys.Overlap)

	v.positive("session.ttl", c.Session.TTL)
	if !isCookieName(c.Session.CookieName) {
		v.add("session.cookie_name", "%q must be a non-empty cookie name (letters, digits and !#$%%&'*+-.^_`|~)", c.Session.CookieName)
	}

	if c.Login.MaxFailuresPerAccount <= 0 {
		v.add("login.max_failures_per_account", "%d must be at least 1", c.Login.MaxFailuresPerAccount)
	}
	if c.Login.MaxFailuresPerIP <= 0 {
		v.add("login.max_failures_per_ip", "%d must be at least 1", c.Login.MaxFailuresPerIP)
	}
	v.positive("login.window", c.Login.Window)

	v.passwordHash(c.PasswordHash)

	v.oneOf("log.level", c.Log.Level, LogLevelDebug, LogLevelInfo, LogLevelWarn, LogLevelError)
	v.oneOf("log.format", c.Log.Format, LogFormatText, LogFormatJSON)
	return joinErrors(v.errs)
}

func (v *validator) issuer(s string) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" ||
		u.User != nil || strings.ContainsAny(s, "?#") {
		v.add("issuer", "%q must be an absolute http(s) URL without user info, query or fragment", redactURL(s))
		return
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		v.add("issuer", "%q must use https unless its host is loopback (127.0.0.1, ::1, localhost)", s)
	}
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

func (v *validator) listen(s string) {
	_, port, err := net.SplitHostPort(s)
	if err == nil {
		_, err = strconv.ParseUint(port, 10, 16)
	}
	if err != nil {
		v.add("listen", "%q must be host:port with a numeric port, e.g. 127.0.0.1:8080 or :8080", s)
	}
}

func (v *validator) storage(s string) {
	switch {
	case strings.HasPrefix(s, "sqlite:"):
		if s == "sqlite:" {
			v.add("storage", `"sqlite:" needs a database path, e.g. sqlite:./stepup.db`)
		}
	case strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
		// The value is not echoed: it may hold a password.
		if _, err := url.Parse(s); err != nil {
			v.add("storage", "is not a valid postgres URL")
		}
	default:
		v.add("storage", "must start with sqlite:, postgres:// or postgresql:// (value not shown; it may hold credentials)")
	}
}

func (v *validator) clients(c *Config) {
	ids := map[string]int{}
	for i, cl := range c.Clients {
		p := "clients[" + strconv.Itoa(i) + "]"
		switch j, dup := ids[cl.ID]; {
		case cl.ID == "":
			v.add(p+".id", "must not be empty")
		case dup:
			v.add(p+".id", "%q is already the id of clients[%d]", cl.ID, j)
		default:
			ids[cl.ID] = i
		}
		for j, u := range cl.RedirectURIs {
			if !isAbsoluteURL(u) {
				v.add(p+".redirect_uris["+strconv.Itoa(j)+"]", "%q must be an absolute URL without fragment", redactURL(u))
			}
		}
		for j, u := range cl.PostLogoutRedirectURIs {
			if !isAbsoluteURL(u) {
				v.add(p+".post_logout_redirect_uris["+strconv.Itoa(j)+"]", "%q must be an absolute URL without fragment", redactURL(u))
			}
		}

		grants := map[string]bool{}
		for j, g := range cl.GrantTypes {
			gp := p + ".grant_types[" + strconv.Itoa(j) + "]"
			switch {
			case g != GrantAuthorizationCode && g != GrantRefreshToken && g != GrantClientCredentials && g != GrantCIBA:
				v.add(gp, "%q must be one of %s, %s, %s, %s", g, GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials, GrantCIBA)
			case grants[g]:
				v.add(gp, "%q is listed twice", g)
			}
			grants[g] = true
		}
		if grants[GrantAuthorizationCode] && len(cl.RedirectURIs) == 0 {
			v.add(p+".redirect_uris", "at least one redirect URI is required for the authorization_code grant")
		}
		if grants[GrantClientCredentials] && cl.Secret == "" {
			v.add(p+".grant_types", "client_credentials requires a client secret")
		}
		if grants[GrantCIBA] && cl.Secret == "" {
			v.add(p+".grant_types", "CIBA requires a client secret")
		}

		mp := p + ".token_endpoint_auth_method"
		switch m := cl.TokenEndpointAuthMethod; m {
		case AuthClientSecretBasic, AuthClientSecretPost:
			if cl.Secret == "" {
				v.add(mp, "%q requires a secret (a public client uses none)", m)
			}
		case AuthNone:
			if cl.Secret != "" {
				v.add(mp, `"none" cannot be used by a client with a secret; use client_secret_basic or client_secret_post`)
			}
		default:
			v.add(mp, "%q must be one of %s, %s, %s", m, AuthClientSecretBasic, AuthClientSecretPost, AuthNone)
		}
		v.oneOf(p+".id_token_signed_response_alg", cl.IDTokenSignedResponseAlg, AlgES256, AlgRS256, AlgEdDSA)
		if cl.ACRFallback != "" {
			v.oneOf(p+".acr_fallback", cl.ACRFallback, "error", "best")
		}
		if cl.MinACR != "" {
			if pol, err := c.ACR.Policy(); err == nil {
				if _, ok := pol.Lookup(cl.MinACR); !ok {
					v.add(p+".min_acr", "%q is not an acr value of the %s preset", cl.MinACR, c.ACR.Preset)
				}
			}
		}

		// Lifetimes inherited from tokens are reported there, once.
		if cl.AccessTokenTTL != c.Tokens.AccessTokenTTL {
			v.positive(p+".access_token_ttl", cl.AccessTokenTTL)
		}
		if cl.IDTokenTTL != c.Tokens.IDTokenTTL {
			v.positive(p+".id_token_ttl", cl.IDTokenTTL)
		}
		if cl.RefreshTokenTTL != c.Tokens.RefreshTokenTTL {
			v.positive(p+".refresh_token_ttl", cl.RefreshTokenTTL)
		}
	}
}

// isAbsoluteURL reports whether s has a scheme, no fragment, and a host if
// it is http(s). Custom schemes (com.example.app:/cb) are allowed.
func isAbsoluteURL(s string) bool {
	if strings.Contains(s, "#") {
		return false
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return false
	}
	if (u.Scheme == "http" || u.Scheme == "https") && u.Host == "" {
		return false
	}
	return true
}

func (v *validator) users(users []User) {
	names := map[string]int{}
	for i, u := range users {
		p := "users[" + strconv.Itoa(i) + "]"
		key := foldKey(u.Username)
		switch j, dup := names[key]; {
		case u.Username == "":
			v.add(p+".username", "must not be empty")
		case dup:
			v.add(p+".username", "%q is already the username of users[%d] (usernames are case-insensitive)", u.Username, j)
		default:
			names[key] = i
		}
		if u.Password == "" {
			v.add(p+".password", "must not be empty")
		}
		if u.NNIN != "" && (len(u.NNIN) != 11 || strings.Trim(u.NNIN, "0123456789") != "") {
			v.add(p+".nnin", "must be 11 digits")
		}
		if u.Phone != "" && !isPhone(u.Phone) {
			v.add(p+".phone", "must be an E.164 number such as +4712345678")
		}
		if u.Birthdate != "" {
			if _, err := time.Parse("2006-01-02", u.Birthdate); err != nil {
				v.add(p+".birthdate", "must be a date YYYY-MM-DD")
			}
		}
		if u.TOTPSecret != "" {
			if _, err := totp.SecretFromBase32(u.TOTPSecret); err != nil {
				v.add(p+".totp_secret", "must be a base32 secret of at least 16 characters (value not shown)")
			}
		}
		if u.Email != "" {
			if a, err := mail.ParseAddress(u.Email); err != nil || a.Name != "" || a.Address != u.Email {
				v.add(p+".email", "%q must be a plain email address such as alice@example.com", u.Email)
			}
		}
	}
}

func (v *validator) upstreams(ups []Upstream) {
	names := map[string]bool{}
	for i, u := range ups {
		p := "upstreams[" + strconv.Itoa(i) + "]"
		if u.Name == "" || strings.Trim(u.Name, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
			v.add(p+".name", "must be lower-case letters, digits and dashes")
		} else if names[u.Name] {
			v.add(p+".name", "%q is already the name of another upstream", u.Name)
		}
		names[u.Name] = true
		if pu, err := url.Parse(u.Issuer); err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" {
			v.add(p+".issuer", "must be an http(s) URL")
		}
		if u.ClientID == "" {
			v.add(p+".client_id", "must not be empty")
		}
		if u.LinkClaim != "" && u.LinkClaim != "nnin" {
			v.add(p+".link_claim", "%q is not supported (only nnin)", u.LinkClaim)
		}
		for _, f := range u.Factors {
			if f != "knowledge" && f != "possession" && f != "inherence" {
				v.add(p+".factors", "%q must be knowledge, possession or inherence", f)
			}
		}
	}
}

func isPhone(s string) bool {
	d := strings.TrimPrefix(s, "+")
	return len(d) >= 8 && len(d) <= 15 && strings.Trim(d, "0123456789") == ""
}

// foldKey maps s to a key equal for strings that are equal under Unicode
// simple case folding (as strings.EqualFold).
func foldKey(s string) string {
	return strings.Map(func(r rune) rune {
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		return m
	}, s)
}

func (v *validator) passwordHash(h PasswordHash) {
	if h.Parallelism < 1 {
		v.add("password_hash.parallelism", "%d must be at least 1", h.Parallelism)
	}
	if h.Iterations < 1 || h.Iterations > password.MaxIterations {
		v.add("password_hash.iterations", "%d must be between 1 and %d", h.Iterations, password.MaxIterations)
	}
	lo := uint32(password.MinMemoryKiBPerLane) * uint32(max(h.Parallelism, 1))
	if h.MemoryKiB < lo || h.MemoryKiB > password.MaxMemoryKiB {
		v.add("password_hash.memory_kib", "%d must be between %d (8 per lane of parallelism) and %d", h.MemoryKiB, lo, password.MaxMemoryKiB)
	}
}

func (v *validator) positive(path string, d Duration) {
	if d <= 0 {
		v.add(path, "%q must be a positive duration", d.String())
	}
}

func (v *validator) oneOf(path, s string, allowed ...string) {
	for _, a := range allowed {
		if s == a {
			return
		}
	}
	v.add(path, "%q must be one of %s", s, strings.Join(allowed, ", "))
}

// isCookieName reports whether s is an RFC 6265 cookie-name (an RFC 7230
// token).
func isCookieName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r > unicode.MaxASCII || r <= ' ' || r == 0x7f || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r) {
			return false
		}
	}
	return true
}
