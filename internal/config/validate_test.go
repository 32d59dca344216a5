package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// base is a valid configuration that cases extend; its lines are 1-3.
const base = "issuer: http://127.0.0.1:8080\nlisten: 127.0.0.1:8080\nstorage: sqlite:./stepup.db\n"

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		yaml    string // appended to base
		wantErr string // exact error; "" means valid
	}{
		// issuer
		{"issuer_https_on_public_host_is_valid", "issuer: https://id.example.com/tenant", ""},
		{"issuer_http_on_localhost_is_valid", "issuer: http://localhost:8080", ""},
		{"issuer_http_on_ipv6_loopback_is_valid", "issuer: http://[::1]:8080", ""},
		{"issuer_http_on_public_host_is_rejected", "issuer: http://id.example.com",
			`config.yaml:4: issuer: "http://id.example.com" must use https unless its host is loopback (127.0.0.1, ::1, localhost)`},
		{"issuer_with_query_is_rejected", "issuer: https://id.example.com/?x=1",
			`config.yaml:4: issuer: "https://id.example.com/?x=1" must be an absolute http(s) URL without user info, query or fragment`},
		{"issuer_with_empty_fragment_is_rejected", "issuer: https://id.example.com/#",
			`config.yaml:4: issuer: "https://id.example.com/#" must be an absolute http(s) URL without user info, query or fragment`},
		{"relative_issuer_is_rejected", "issuer: /stepup",
			`config.yaml:4: issuer: "/stepup" must be an absolute http(s) URL without user info, query or fragment`},
		{"issuer_with_credentials_is_rejected_without_echoing_them", "issuer: https://u:pw@id.example.com",
			`config.yaml:4: issuer: "https://u:xxxxx@id.example.com" must be an absolute http(s) URL without user info, query or fragment`},

		// listen
		{"listen_on_all_interfaces_is_valid", "listen: :8080", ""},
		{"listen_without_port_is_rejected", "listen: 127.0.0.1",
			`config.yaml:4: listen: "127.0.0.1" must be host:port with a numeric port, e.g. 127.0.0.1:8080 or :8080`},
		{"listen_with_named_port_is_rejected", "listen: localhost:http",
			`config.yaml:4: listen: "localhost:http" must be host:port with a numeric port, e.g. 127.0.0.1:8080 or :8080`},
		{"listen_port_out_of_range_is_rejected", "listen: :65536",
			`config.yaml:4: listen: ":65536" must be host:port with a numeric port, e.g. 127.0.0.1:8080 or :8080`},

		// storage
		{"postgres_storage_is_valid", "storage: postgres://u:p@db:5432/stepup?sslmode=require", ""},
		{"postgresql_storage_is_valid", "storage: postgresql:///stepup?host=/run/postgresql", ""},
		{"sqlite_memory_storage_is_valid", "storage: 'sqlite::memory:'", ""},
		{"sqlite_without_path_is_rejected", "storage: 'sqlite:'",
			`config.yaml:4: storage: "sqlite:" needs a database path, e.g. sqlite:./stepup.db`},
		{"unknown_storage_is_rejected_without_echoing_it", "storage: mysql://root:hunter2@db/stepup",
			`config.yaml:4: storage: must start with sqlite:, postgres:// or postgresql:// (value not shown; it may hold credentials)`},
		{"invalid_postgres_url_is_rejected_without_echoing_it", "storage: 'postgres://u:p%zz@db/x'",
			`config.yaml:4: storage: is not a valid postgres URL`},

		// clients
		{"custom_scheme_redirect_uri_is_valid",
			"clients:\n  - id: app\n    redirect_uris: ['com.example.app:/oauth2redirect']", ""},
		{"client_id_is_required", "clients:\n  - name: App\n    redirect_uris: [http://127.0.0.1/cb]",
			`config.yaml:5: clients[0].id: must not be empty`},
		{"client_ids_are_unique",
			"clients:\n  - id: app\n    redirect_uris: [http://127.0.0.1/cb]\n  - id: app\n    redirect_uris: [http://127.0.0.1/cb]",
			`config.yaml:7: clients[1].id: "app" is already the id of clients[0]`},
		{"relative_redirect_uri_is_rejected", "clients:\n  - id: app\n    redirect_uris: [/cb]",
			`config.yaml:6: clients[0].redirect_uris[0]: "/cb" must be an absolute URL without fragment`},
		{"http_redirect_uri_without_host_is_rejected", "clients:\n  - id: app\n    redirect_uris: ['http:/cb']",
			`config.yaml:6: clients[0].redirect_uris[0]: "http:/cb" must be an absolute URL without fragment`},
		{"post_logout_uri_with_fragment_is_rejected",
			"clients:\n  - id: app\n    redirect_uris: [http://127.0.0.1/cb]\n    post_logout_redirect_uris:\n      - http://127.0.0.1/#bye",
			`config.yaml:8: clients[0].post_logout_redirect_uris[0]: "http://127.0.0.1/#bye" must be an absolute URL without fragment`},
		{"authorization_code_requires_a_redirect_uri",
			"clients:\n  - id: app\n    grant_types: [authorization_code]",
			`config.yaml:5: clients[0].redirect_uris: at least one redirect URI is required for the authorization_code grant`},
		{"client_credentials_only_needs_no_redirect_uri",
			"clients:\n  - id: svc\n    secret: s\n    grant_types: [client_credentials]", ""},
		{"unknown_grant_type_is_rejected",
			"clients:\n  - id: app\n    redirect_uris: [http://127.0.0.1/cb]\n    grant_types: [authorization_code, password]",
			`config.yaml:7: clients[0].grant_types[1]: "password" must be one of authorization_code, refresh_token, client_credentials, urn:openid:params:grant-type:ciba`},
		{"repeated_grant_type_is_rejected",
			"clients:\n  - id: app\n    redirect_uris: [http://127.0.0.1/cb]\n    grant_types: [authorization_code, authorization_code]",
			`config.yaml:7: clients[0].grant_types[1]: "authorization_code" is listed twice`},
		{"client_credentials_requires_a_secret",
			"clients:\n  - id: svc\n    grant_types: [client_credentials]",
			`config.yaml:6: clients[0].grant_types: client_credentials requires a client secret`},
		{"auth_method_none_with_secret_is_rejected",
			"clients:\n  - id: app\n    secret: s\n    redirect_uris: [http://127.0.0.1/cb]\n    token_endpoint_auth_method: none",
			`config.yaml:8: clients[0].token_endpoint_auth_method: "none" cannot be used by a client with a secret; use client_secret_basic or client_secret_post`},
		{"auth_method_basic_without_secret_is_rejected",
			"clients:\n  - id: app\n    redirect_uris: [http://127.0.0.1/cb]\n    token_endpoint_auth_method: client_secret_basic",
			`config.yaml:7: clients[0].token_endpoint_auth_method: "client_secret_basic" requires a secret (a public client uses none)`},
		{"auth_method_post_without_secret_is_rejected",
			"clients:\n  - id: app\n    redirect_uris: [http://127.0.0.1/cb]\n    token_endpoint_auth_method: client_secret_post",
			`config.yaml:7: clients[0].token_endpoint_auth_method: "client_secret_post" requires a secret (a public client uses none)`},
		{"unknown_auth_method_is_rejected",
			"clients:\n  - id: app\n    secret: s\n    redirect_uris: [http://127.0.0.1/cb]\n    token_endpoint_auth_method: private_key_jwt",
			`config.yaml:8: clients[0].token_endpoint_auth_method: "private_key_jwt" must be one of client_secret_basic, client_secret_post, none`},
		{"unknown_id_token_alg_is_rejected",
			"clients:\n  - id: app\n    redirect_uris: [http://127.0.0.1/cb]\n    id_token_signed_response_alg: HS256",
			`config.yaml:7: clients[0].id_token_signed_response_alg: "HS256" must be one of ES256, RS256, EdDSA`},
		{"negative_client_ttl_is_rejected",
			"clients:\n  - id: app\n    redirect_uris: [http://127.0.0.1/cb]\n    refresh_token_ttl: -1h",
			`config.yaml:7: clients[0].refresh_token_ttl: "-1h" must be a positive duration`},

		// users
		{"username_is_required", "users:\n  - password: pw",
			`config.yaml:5: users[0].username: must not be empty`},
		{"password_is_required", "users:\n  - username: alice",
			`config.yaml:5: users[0].password: must not be empty`},
		{"usernames_are_unique_case_insensitively",
			"users:\n  - username: alice\n    password: a\n  - username: ALICE\n    password: b",
			`config.yaml:7: users[1].username: "ALICE" is already the username of users[0] (usernames are case-insensitive)`},
		{"usernames_fold_like_equal_fold",
			"users:\n  - username: ſam\n    password: a\n  - username: Sam\n    password: b",
			`config.yaml:7: users[1].username: "Sam" is already the username of users[0] (usernames are case-insensitive)`},
		{"email_must_be_an_address",
			"users:\n  - username: alice\n    password: pw\n    email: Alice <alice@example.com>",
			`config.yaml:7: users[0].email: "Alice <alice@example.com>" must be a plain email address such as alice@example.com`},

		// sections
		{"negative_token_ttl_is_rejected", "tokens:\n  access_token_ttl: -10m",
			`config.yaml:5: tokens.access_token_ttl: "-10m" must be a positive duration`},
		{"unknown_key_algorithm_is_rejected", "keys:\n  algorithm: HS256",
			`config.yaml:5: keys.algorithm: "HS256" must be one of ES256, RS256, EdDSA`},
		{"negative_rotation_period_is_rejected", "keys:\n  rotation_period: -1h",
			`config.yaml:5: keys.rotation_period: "-1h" must be a positive duration`},
		{"negative_session_ttl_is_rejected", "session:\n  ttl: -1s",
			`config.yaml:5: session.ttl: "-1s" must be a positive duration`},
		{"cookie_name_with_separator_is_rejected", "session:\n  cookie_name: 'a;b'",
			"config.yaml:5: session.cookie_name: \"a;b\" must be a non-empty cookie name (letters, digits and !#$%&'*+-.^_`|~)"},
		{"negative_failure_limit_is_rejected", "login:\n  max_failures_per_account: -1",
			`config.yaml:5: login.max_failures_per_account: -1 must be at least 1`},
		{"negative_login_window_is_rejected", "login:\n  window: -15m",
			`config.yaml:5: login.window: "-15m" must be a positive duration`},
		{"too_little_memory_per_lane_is_rejected", "password_hash:\n  memory_kib: 16\n  parallelism: 4",
			`config.yaml:5: password_hash.memory_kib: 16 must be between 32 (8 per lane of parallelism) and 4194304`},
		{"too_many_iterations_are_rejected", "password_hash:\n  iterations: 100000",
			`config.yaml:5: password_hash.iterations: 100000 must be between 1 and 1000`},
		{"unknown_log_level_is_rejected", "log:\n  level: trace",
			`config.yaml:5: log.level: "trace" must be one of debug, info, warn, error`},
		{"unknown_log_format_is_rejected", "log:\n  format: xml",
			`config.yaml:5: log.format: "xml" must be one of text, json`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := base
			// A key given again replaces base's line rather than duplicating it.
			for _, key := range []string{"issuer:", "listen:", "storage:"} {
				if strings.HasPrefix(tc.yaml, key) {
					doc = strings.Replace(doc, key, "#"+key[:len(key)-1]+"-from-base:", 1)
				}
			}
			c, err := LoadBytes("config.yaml", []byte(doc+tc.yaml+"\n"), nil)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Load error = %v, want none", err)
				}
				if err := c.Validate(); err != nil {
					t.Fatalf("Validate of a loaded config = %v", err)
				}
				return
			}
			if err == nil || err.Error() != tc.wantErr {
				t.Fatalf("Load error =\n  %v\nwant\n  %s", err, tc.wantErr)
			}
		})
	}
}

func TestValidateWithoutLoad(t *testing.T) {
	t.Run("errors_carry_paths_but_no_positions", func(t *testing.T) {
		c := Default()
		c.Log.Level = "loud"
		c.Clients = []Client{{ID: "x", RedirectURIs: []string{"http://127.0.0.1/cb"}}}
		c.Defaults()
		err := c.Validate()
		want := `log.level: "loud" must be one of debug, info, warn, error`
		if err == nil || err.Error() != want {
			t.Fatalf("Validate() = %v, want %q", err, want)
		}
		var e *Error
		if !errors.As(err, &e) || e.Source != "" || e.Path != "log.level" {
			t.Fatalf("error = %#v", e)
		}
	})
	t.Run("zero_config_is_invalid_until_defaults", func(t *testing.T) {
		var c Config
		if c.Validate() == nil {
			t.Fatal("zero Config validated")
		}
		c.Defaults()
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
	})
}

func TestDefault(t *testing.T) {
	t.Run("defaults_are_valid", func(t *testing.T) {
		if err := Default().Validate(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("each_call_returns_a_fresh_config", func(t *testing.T) {
		a := Default()
		a.Issuer = "changed"
		if Default().Issuer == "changed" {
			t.Fatal("Default shares state between calls")
		}
	})
	t.Run("defaults_fill_a_zero_config_like_default", func(t *testing.T) {
		var c Config
		c.Defaults()
		if !reflect.DeepEqual(&c, Default()) {
			t.Fatalf("got %#v, want Default()", c)
		}
	})
	t.Run("defaults_are_idempotent_and_keep_set_values", func(t *testing.T) {
		c := Config{Log: Log{Level: LogLevelDebug}, Clients: []Client{{ID: "a", Secret: "s"}}}
		c.Defaults()
		once := c
		once.Clients = append([]Client(nil), c.Clients...)
		c.Defaults()
		if !reflect.DeepEqual(c, once) || c.Log.Level != LogLevelDebug {
			t.Fatalf("second Defaults changed the config or lost a value: %v", c)
		}
	})
	t.Run("password_hash_defaults_are_owasp_minimum", func(t *testing.T) {
		p := Default().PasswordHash.Params()
		if p.MemoryKiB != 19456 || p.Iterations != 2 || p.Parallelism != 1 {
			t.Fatalf("params = %+v", p)
		}
	})
}

func TestDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
	}{
		{"10m", "10m"},
		{"60s", "1m"},
		{"720h", "720h"},
		{"1h30m", "1h30m"},
		{"90s", "1m30s"},
		{"1.5s", "1.5s"},
		{"0s", "0s"},
	} {
		t.Run("formats_"+tc.in+"_compactly", func(t *testing.T) {
			var d Duration
			if err := d.UnmarshalText([]byte(tc.in)); err != nil {
				t.Fatal(err)
			}
			if d.String() != tc.want {
				t.Fatalf("String() = %q, want %q", d.String(), tc.want)
			}
			var back Duration
			text, _ := d.MarshalText()
			if err := back.UnmarshalText(text); err != nil || back != d {
				t.Fatalf("round trip %q -> %v, %v", text, back, err)
			}
		})
	}
	t.Run("rejects_missing_unit", func(t *testing.T) {
		var d Duration
		if err := d.UnmarshalText([]byte("60")); err == nil {
			t.Fatal("UnmarshalText(60) succeeded")
		}
	})
}
