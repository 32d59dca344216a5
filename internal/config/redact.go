package config

import (
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Redacted replaces secrets, passwords and credentials in String, Format,
// GoString and LogValue output.
const Redacted = "[redacted]"

// String returns c as YAML with client secrets, user passwords and storage
// credentials replaced by Redacted.
func (c Config) String() string {
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(c.redacted()); err != nil {
		return "config: " + err.Error()
	}
	if err := enc.Close(); err != nil {
		return "config: " + err.Error()
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// GoString is String; it keeps %#v from printing secrets.
func (c Config) GoString() string { return c.String() }

// Format prints String for every verb, so no verb can reveal a secret.
func (c Config) Format(f fmt.State, verb rune) { format(f, verb, c.String()) }

// LogValue implements slog.LogValuer with a redacted summary: client ids
// and the number of users rather than their contents.
func (c Config) LogValue() slog.Value {
	ids := make([]string, len(c.Clients))
	for i, cl := range c.Clients {
		ids[i] = cl.ID
	}
	return slog.GroupValue(
		slog.String("issuer", c.Issuer),
		slog.String("listen", c.Listen),
		slog.String("storage", redactStorage(c.Storage)),
		slog.Any("clients", ids),
		slog.Int("users", len(c.Users)),
		slog.Group("tokens",
			slog.String("access_token_ttl", c.Tokens.AccessTokenTTL.String()),
			slog.String("id_token_ttl", c.Tokens.IDTokenTTL.String()),
			slog.String("refresh_token_ttl", c.Tokens.RefreshTokenTTL.String()),
			slog.String("code_ttl", c.Tokens.CodeTTL.String())),
		slog.Group("keys",
			slog.String("algorithm", c.Keys.Algorithm),
			slog.String("rotation_period", c.Keys.RotationPeriod.String()),
			slog.String("overlap", c.Keys.Overlap.String())),
		slog.Group("session",
			slog.String("ttl", c.Session.TTL.String()),
			slog.String("cookie_name", c.Session.CookieName)),
		slog.Group("login",
			slog.Int("max_failures_per_account", c.Login.MaxFailuresPerAccount),
			slog.Int("max_failures_per_ip", c.Login.MaxFailuresPerIP),
			slog.String("window", c.Login.Window.String())),
		slog.Group("password_hash",
			slog.Uint64("memory_kib", uint64(c.PasswordHash.MemoryKiB)),
			slog.Uint64("iterations", uint64(c.PasswordHash.Iterations)),
			slog.Uint64("parallelism", uint64(c.PasswordHash.Parallelism))),
		slog.Group("log",
			slog.String("level", c.Log.Level),
			slog.String("format", c.Log.Format)),
	)
}

// redacted returns a deep-enough copy of c with secrets replaced.
func (c Config) redacted() Config {
	c.Storage = redactStorage(c.Storage)
	clients := make([]Client, len(c.Clients))
	for i, cl := range c.Clients {
		clients[i] = cl.redacted()
	}
	users := make([]User, len(c.Users))
	for i, u := range c.Users {
		users[i] = u.redacted()
	}
	ups := make([]Upstream, len(c.Upstreams))
	for i, u := range c.Upstreams {
		if u.ClientSecret != "" {
			u.ClientSecret = Redacted
		}
		ups[i] = u
	}
	c.Clients, c.Users, c.Upstreams = clients, users, ups
	return c
}

// clientView and userView drop the methods, so fmt prints their fields.
type (
	clientView Client
	userView   User
)

func (c Client) redacted() Client {
	if c.Secret != "" {
		c.Secret = Redacted
	}
	return c
}

// String prints c's fields with the secret replaced by Redacted.
func (c Client) String() string { return fmt.Sprintf("%+v", clientView(c.redacted())) }

// GoString is like String in Go syntax.
func (c Client) GoString() string {
	return strings.Replace(fmt.Sprintf("%#v", clientView(c.redacted())), "clientView", "Client", 1)
}

// Format prints String (GoString for %#v) for every verb.
func (c Client) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		format(f, 's', c.GoString())
		return
	}
	format(f, verb, c.String())
}

// LogValue implements slog.LogValuer without the secret.
func (c Client) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", c.ID),
		slog.String("name", c.Name),
		slog.Bool("public", c.Public()),
		slog.Any("redirect_uris", c.RedirectURIs),
		slog.Any("grant_types", c.GrantTypes),
		slog.String("token_endpoint_auth_method", c.TokenEndpointAuthMethod),
		slog.String("id_token_signed_response_alg", c.IDTokenSignedResponseAlg),
	)
}

func (u User) redacted() User {
	if u.Password != "" {
		u.Password = Redacted
	}
	if u.TOTPSecret != "" {
		u.TOTPSecret = Redacted
	}
	if u.NNIN != "" {
		u.NNIN = Redacted // personal data
	}
	return u
}

// String prints u's fields with the password replaced by Redacted.
func (u User) String() string { return fmt.Sprintf("%+v", userView(u.redacted())) }

// GoString is like String in Go syntax.
func (u User) GoString() string {
	return strings.Replace(fmt.Sprintf("%#v", userView(u.redacted())), "userView", "User", 1)
}

// Format prints String (GoString for %#v) for every verb.
func (u User) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		format(f, 's', u.GoString())
		return
	}
	format(f, verb, u.String())
}

// LogValue implements slog.LogValuer with the username only.
func (u User) LogValue() slog.Value {
	return slog.GroupValue(slog.String("username", u.Username))
}

// format writes s, quoted for %q; every other verb prints it as is.
func format(f fmt.State, verb rune, s string) {
	if verb == 'q' {
		s = strconv.Quote(s)
	}
	_, _ = io.WriteString(f, s)
}

// redactStorage hides the password of a storage URL. sqlite: paths are
// shown as is; anything that does not parse is hidden entirely.
func redactStorage(s string) string {
	if strings.HasPrefix(s, "sqlite:") || s == "" {
		return s
	}
	u, err := url.Parse(s)
	if err != nil || u.Opaque != "" {
		return Redacted
	}
	return redactQuery(u)
}

// redactURL hides the password of a URL, if it has one.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	if _, ok := u.User.Password(); !ok && u.Query().Get("password") == "" {
		return s
	}
	return redactQuery(u)
}

// redactQuery returns u.Redacted() with any password query parameter (as
// postgres connection URLs allow) also replaced.
func redactQuery(u *url.URL) string {
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		v := *u
		v.RawQuery = q.Encode()
		u = &v
	}
	return u.Redacted()
}
