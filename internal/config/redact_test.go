package config

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestRedaction(t *testing.T) {
	const (
		clientSecret = "client-secret-CANARY"
		userPassword = "user-password-CANARY"
		dbPassword   = "db-password-CANARY"
		queryPasswd  = "query-password-CANARY"
	)
	c, err := LoadBytes("config.yaml", []byte(`
storage: postgres://stepup:`+dbPassword+`@db/stepup?password=`+queryPasswd+`
clients:
  - id: web
    secret: `+clientSecret+`
    redirect_uris: [https://web.example/cb]
users:
  - username: alice
    password: `+userPassword+`
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{clientSecret, userPassword, dbPassword, queryPasswd}

	var logJSON, logText bytes.Buffer
	slog.New(slog.NewJSONHandler(&logJSON, nil)).Info("m", "config", c, "cfg", *c, "client", c.Clients[0], "user", c.Users[0])
	slog.New(slog.NewTextHandler(&logText, nil)).Info("m", "config", c, "clients", c.Clients, "users", c.Users)

	outputs := map[string]string{
		"String":          c.String(),
		"%v_pointer":      fmt.Sprintf("%v", c),
		"%+v_value":       fmt.Sprintf("%+v", *c),
		"%#v_value":       fmt.Sprintf("%#v", *c),
		"%s_value":        fmt.Sprintf("%s", *c),
		"%d_value":        fmt.Sprintf("%d", *c),
		"%x_value":        fmt.Sprintf("%x", *c),
		"%q_value":        fmt.Sprintf("%q", *c),
		"client_%v":       fmt.Sprintf("%v", c.Clients[0]),
		"client_%+v":      fmt.Sprintf("%+v", c.Clients[0]),
		"client_%#v":      fmt.Sprintf("%#v", c.Clients[0]),
		"client_%d":       fmt.Sprintf("%d", c.Clients[0]),
		"clients_%+v":     fmt.Sprintf("%+v", c.Clients),
		"clients_%#v":     fmt.Sprintf("%#v", c.Clients),
		"user_%v":         fmt.Sprintf("%v", c.Users[0]),
		"user_%#v":        fmt.Sprintf("%#v", c.Users[0]),
		"users_%+v":       fmt.Sprintf("%+v", c.Users),
		"user_pointer_%v": fmt.Sprintf("%v", &c.Users[0]),
		"slog_json":       logJSON.String(),
		"slog_text":       logText.String(),
	}
	for name, out := range outputs {
		t.Run("no_secret_in_"+name, func(t *testing.T) {
			for _, s := range secrets {
				if strings.Contains(out, s) {
					t.Fatalf("output contains %q:\n%s", s, out)
				}
			}
		})
	}
	t.Run("string_keeps_non_secret_values", func(t *testing.T) {
		out := c.String()
		for _, want := range []string{"id: web", "username: alice", "secret: '[redacted]'", "password: '[redacted]'", "postgres://stepup:xxxxx@db/stepup", "code_ttl: 1m"} {
			if !strings.Contains(out, want) {
				t.Errorf("String() lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("redaction_does_not_modify_the_config", func(t *testing.T) {
		if c.Clients[0].Secret != clientSecret || c.Users[0].Password != userPassword || !strings.Contains(c.Storage, dbPassword) {
			t.Fatal("formatting changed the config")
		}
	})
	t.Run("unparseable_storage_is_hidden_entirely", func(t *testing.T) {
		if got := redactStorage("mysql:root:" + dbPassword + "@tcp(db)/x"); got != Redacted {
			t.Fatalf("redactStorage = %q", got)
		}
	})
}
