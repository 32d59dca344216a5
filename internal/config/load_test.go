package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// loadFixture loads testdata/<file> under the name "config.yaml", as an
// operator's file would be named.
func loadFixture(t *testing.T, file string, env []string) (*Config, error) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	return LoadBytes("config.yaml", data, env)
}

// errorLines splits a (possibly joined) error into its messages.
func errorLines(err error) []string {
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}

func TestLoad(t *testing.T) {
	for _, tc := range []struct {
		name    string
		file    string // fixture in testdata; "" for no file
		yaml    string // inline document, used when file is ""
		env     []string
		wantErr []string // each must be one line of the error, exactly
		check   func(t *testing.T, c *Config, err error)
	}{
		{
			name: "no_file_yields_defaults",
			check: func(t *testing.T, c *Config, err error) {
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(c, Default()) {
					t.Fatalf("got %#v, want Default()", c)
				}
			},
		},
		{
			name: "documented_example_loads",
			file: "example.yaml",
			check: func(t *testing.T, c *Config, err error) {
				if err != nil {
					t.Fatal(err)
				}
				want := Client{
					ID: "demo-bank", Name: "Demo Bank", Secret: "s3cret",
					RedirectURIs:             []string{"http://127.0.0.1:9000/callback"},
					PostLogoutRedirectURIs:   []string{"http://127.0.0.1:9000/"},
					GrantTypes:               []string{GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials},
					TokenEndpointAuthMethod:  AuthClientSecretBasic,
					IDTokenSignedResponseAlg: AlgES256,
					AccessTokenTTL:           Duration(10 * time.Minute),
					IDTokenTTL:               Duration(10 * time.Minute),
					RefreshTokenTTL:          Duration(720 * time.Hour),
				}
				if len(c.Clients) != 1 || !reflect.DeepEqual(c.Clients[0], want) {
					t.Fatalf("clients = %#v, want [%#v]", c.Clients, want)
				}
				wantUser := User{Username: "alice", Password: "alice-password", Email: "alice@example.com", Name: "Alice Example"}
				if len(c.Users) != 1 || c.Users[0] != wantUser {
					t.Fatalf("users = %#v, want [%#v]", c.Users, wantUser)
				}
				if c.Issuer != "http://127.0.0.1:8080" || c.Listen != "127.0.0.1:8080" || c.Storage != "sqlite:./stepup.db" {
					t.Fatalf("issuer/listen/storage = %q %q %q", c.Issuer, c.Listen, c.Storage)
				}
			},
		},
		{
			name: "every_section_is_read",
			file: "all_sections.yaml",
			check: func(t *testing.T, c *Config, err error) {
				if err != nil {
					t.Fatal(err)
				}
				want := Default()
				want.Issuer = "https://login.example.com/stepup"
				want.Listen = ":9443"
				want.Storage = "postgres://stepup:db-password@db.internal:5432/stepup?sslmode=verify-full"
				want.Tokens = Tokens{
					AccessTokenTTL: Duration(5 * time.Minute), IDTokenTTL: Duration(15 * time.Minute),
					RefreshTokenTTL: Duration(168 * time.Hour), CodeTTL: Duration(30 * time.Second),
				}
				want.Keys = Keys{Algorithm: AlgEdDSA, RotationPeriod: Duration(2160 * time.Hour), Overlap: Duration(48 * time.Hour)}
				want.Session = Session{TTL: Duration(8 * time.Hour), CookieName: "__Host-stepup"}
				want.Login = Login{MaxFailuresPerAccount: 3, MaxFailuresPerIP: 50, Window: Duration(time.Hour)}
				want.PasswordHash = PasswordHash{MemoryKiB: 47104, Iterations: 1, Parallelism: 2}
				want.Log = Log{Level: LogLevelDebug, Format: LogFormatJSON}
				want.Clients = []Client{
					{
						ID: "spa", RedirectURIs: []string{"https://app.example.com/callback"},
						GrantTypes:              []string{GrantAuthorizationCode, GrantRefreshToken},
						TokenEndpointAuthMethod: AuthNone, IDTokenSignedResponseAlg: AlgEdDSA,
						AccessTokenTTL: want.Tokens.AccessTokenTTL, IDTokenTTL: want.Tokens.IDTokenTTL,
						RefreshTokenTTL: want.Tokens.RefreshTokenTTL,
					},
					{
						ID: "backend", Secret: "backend-secret", GrantTypes: []string{GrantClientCredentials},
						TokenEndpointAuthMethod: AuthClientSecretPost, IDTokenSignedResponseAlg: AlgRS256,
						AccessTokenTTL: Duration(time.Minute), IDTokenTTL: want.Tokens.IDTokenTTL,
						RefreshTokenTTL: want.Tokens.RefreshTokenTTL,
					},
				}
				want.Users = []User{{Username: "bob", Password: "bob-password"}}
				if !reflect.DeepEqual(c, want) {
					t.Fatalf("got\n%#v\nwant\n%#v", *c, *want)
				}
			},
		},
		{
			name:    "unknown_key_names_key_and_line",
			file:    "unknown_key.yaml",
			wantErr: []string{`config.yaml:3: unknown key "lisen"`},
			check: func(t *testing.T, _ *Config, err error) {
				if !errors.Is(err, ErrUnknownKey) {
					t.Fatalf("error %v does not wrap ErrUnknownKey", err)
				}
			},
		},
		{
			name:    "unknown_nested_key_names_path_and_line",
			file:    "unknown_nested_key.yaml",
			wantErr: []string{`config.yaml:4: clients[0]: unknown key "redirect_uri"`},
		},
		{
			name:    "invalid_redirect_uri_names_path_and_line",
			file:    "redirect_fragment.yaml",
			wantErr: []string{`config.yaml:7: clients[0].redirect_uris[1]: "http://x/#frag" must be an absolute URL without fragment`},
		},
		{
			name: "every_invalid_value_is_reported_with_its_line",
			file: "many_errors.yaml",
			wantErr: []string{
				`config.yaml:1: issuer: "ftp://example.com" must be an absolute http(s) URL without user info, query or fragment`,
				`config.yaml:2: listen: "localhost" must be host:port with a numeric port, e.g. 127.0.0.1:8080 or :8080`,
				`config.yaml:9: clients[0].grant_types[0]: "implicit" must be one of authorization_code, refresh_token, client_credentials, urn:openid:params:grant-type:ciba`,
				`config.yaml:4: tokens.code_ttl: "-1s" must be a positive duration`,
				`config.yaml:6: log.level: "verbose" must be one of debug, info, warn, error`,
			},
		},
		{
			name: "anchors_aliases_and_merge_keys_are_expanded",
			file: "anchors.yaml",
			check: func(t *testing.T, c *Config, err error) {
				if err != nil {
					t.Fatal(err)
				}
				uris := []string{"http://127.0.0.1:9000/callback", "http://127.0.0.1:9001/callback"}
				for i, id := range []string{"first", "second", "third"} {
					cl := c.Clients[i]
					if cl.ID != id || !reflect.DeepEqual(cl.RedirectURIs, uris) {
						t.Errorf("clients[%d] = %+v, want id %q with shared redirect URIs", i, cl, id)
					}
				}
				if c.Clients[1].Secret != "shared-secret" || c.Clients[2].Secret != "" {
					t.Errorf("merge key: secrets = %q, %q", c.Clients[1].Secret, c.Clients[2].Secret)
				}
			},
		},
		{
			name: "merged_keys_are_overridden_by_explicit_keys",
			yaml: "tokens:\n  <<: {code_ttl: 30s, id_token_ttl: 1m}\n  code_ttl: 20s\n",
			check: func(t *testing.T, c *Config, err error) {
				if err != nil {
					t.Fatal(err)
				}
				if c.Tokens.CodeTTL != Duration(20*time.Second) || c.Tokens.IDTokenTTL != Duration(time.Minute) {
					t.Fatalf("tokens = %+v", c.Tokens)
				}
			},
		},
		{
			name:    "alias_expansion_is_bounded",
			yaml:    aliasBomb(),
			wantErr: []string{"config.yaml: document too large (too many nodes or alias expansions)"},
		},
		{
			name:    "duplicate_key_is_rejected",
			yaml:    "listen: 127.0.0.1:1\nlisten: 127.0.0.1:2\n",
			wantErr: []string{`config.yaml:2: duplicate key "listen"`},
		},
		{
			name:    "second_document_is_rejected",
			yaml:    "listen: 127.0.0.1:1\n---\nlisten: 127.0.0.1:2\n",
			wantErr: []string{"config.yaml:2: invalid YAML: only one YAML document is allowed"},
		},
		{
			name:    "syntax_error_names_line",
			yaml:    "issuer: http://127.0.0.1:8080\nclients: [\n",
			wantErr: []string{"config.yaml:2: invalid YAML: did not find expected node content"},
		},
		{
			name:    "top_level_must_be_a_mapping",
			yaml:    "- issuer\n",
			wantErr: []string{`config.yaml:1: the top level must be a mapping (key: value), got a list`},
		},
		{
			name:    "section_must_be_a_mapping",
			yaml:    "tokens: 10m\n",
			wantErr: []string{`config.yaml:1: tokens: must be a mapping (key: value), got "10m"`},
		},
		{
			name:    "list_must_be_a_list",
			yaml:    "clients:\n  - id: app\n    redirect_uris: http://127.0.0.1/cb\n",
			wantErr: []string{`config.yaml:3: clients[0].redirect_uris: must be a list, got "http://127.0.0.1/cb"`},
		},
		{
			name:    "scalar_must_not_be_a_list",
			yaml:    "issuer: [a, b]\n",
			wantErr: []string{`config.yaml:1: issuer: must be a string, got a list`},
		},
		{
			name:    "duration_without_unit_is_rejected",
			yaml:    "tokens:\n  code_ttl: 60\n",
			wantErr: []string{`config.yaml:2: tokens.code_ttl: "60" is not a valid duration; use Go syntax such as 60s, 10m or 720h`},
		},
		{
			name:    "out_of_range_integer_is_rejected",
			yaml:    "password_hash:\n  parallelism: 256\n",
			wantErr: []string{`config.yaml:2: password_hash.parallelism: "256" is not a whole number between 0 and 255`},
		},
		{
			name:    "integer_overflow_is_rejected",
			yaml:    "login:\n  max_failures_per_ip: 99999999999999999999\n",
			wantErr: []string{`config.yaml:2: login.max_failures_per_ip: "99999999999999999999" is out of range`},
		},
		{
			name: "numeric_environment_value_may_have_surrounding_space",
			env:  []string{"STEPUP_LOGIN_MAX_FAILURES_PER_IP= 9\n", "STEPUP_PASSWORD_HASH_ITERATIONS=3\n"},
			check: func(t *testing.T, c *Config, err error) {
				if err != nil || c.Login.MaxFailuresPerIP != 9 || c.PasswordHash.Iterations != 3 {
					t.Fatalf("got %v, %v", c, err)
				}
			},
		},
		{
			name:    "aliased_value_is_located_at_its_anchor",
			yaml:    "clients:\n  - &c {id: a, redirect_uris: [http://127.0.0.1/cb]}\n  - id: b\n    redirect_uris: [http://127.0.0.1/cb]\n  - *c\n",
			wantErr: []string{`config.yaml:2: clients[2].id: "a" is already the id of clients[0]`},
		},
		{
			name:    "fractional_integer_is_rejected",
			yaml:    "login:\n  max_failures_per_ip: 2.5\n",
			wantErr: []string{`config.yaml:2: login.max_failures_per_ip: "2.5" is not a whole number`},
		},
		{
			name: "empty_file_yields_defaults",
			yaml: "# nothing but a comment\n",
			check: func(t *testing.T, c *Config, err error) {
				if err != nil || !reflect.DeepEqual(c, Default()) {
					t.Fatalf("got %v, %v; want defaults", c, err)
				}
			},
		},
		{
			name: "null_or_zero_values_mean_default",
			yaml: "tokens:\nkeys: ~\nsession: {ttl: 0s, cookie_name: ''}\npassword_hash: {memory_kib: 0}\n",
			check: func(t *testing.T, c *Config, err error) {
				if err != nil || !reflect.DeepEqual(c, Default()) {
					t.Fatalf("got %v, %v; want defaults", c, err)
				}
			},
		},
		{
			name: "numeric_looking_strings_are_kept_verbatim",
			yaml: "users:\n  - username: 007\n    password: 0123\n",
			check: func(t *testing.T, c *Config, err error) {
				if err != nil {
					t.Fatal(err)
				}
				if u := c.Users[0]; u.Username != "007" || u.Password != "0123" {
					t.Fatalf("user = %#v", u)
				}
			},
		},
		{
			name: "public_client_defaults",
			yaml: "clients:\n  - id: spa\n    redirect_uris: [http://127.0.0.1:3000/cb]\nkeys: {algorithm: RS256}\ntokens: {refresh_token_ttl: 24h}\n",
			check: func(t *testing.T, c *Config, err error) {
				if err != nil {
					t.Fatal(err)
				}
				cl := c.Clients[0]
				if !cl.Public() || cl.TokenEndpointAuthMethod != AuthNone || cl.IDTokenSignedResponseAlg != AlgRS256 ||
					!reflect.DeepEqual(cl.GrantTypes, []string{GrantAuthorizationCode, GrantRefreshToken}) ||
					cl.RefreshTokenTTL != Duration(24*time.Hour) || cl.AccessTokenTTL != Duration(10*time.Minute) {
					t.Fatalf("client = %#v", cl)
				}
			},
		},
		{
			name: "confidential_client_defaults_to_basic_auth",
			yaml: "clients:\n  - id: web\n    secret: s\n    redirect_uris: [https://web.example/cb]\n",
			check: func(t *testing.T, c *Config, err error) {
				if err != nil {
					t.Fatal(err)
				}
				if cl := c.Clients[0]; cl.Public() || cl.TokenEndpointAuthMethod != AuthClientSecretBasic {
					t.Fatalf("client = %#v", cl)
				}
			},
		},

		// Environment.
		{
			name: "environment_overrides_file",
			file: "example.yaml",
			env: []string{
				"STEPUP_ISSUER=https://id.example.com",
				"STEPUP_LISTEN=:443",
				"STEPUP_TOKENS_ACCESS_TOKEN_TTL=2m",
				"STEPUP_KEYS_ALGORITHM=EdDSA",
				"STEPUP_LOG_LEVEL=warn",
				"STEPUP_PASSWORD_HASH_PARALLELISM=4",
				"STEPUP_LOGIN_MAX_FAILURES_PER_IP=7",
			},
			check: func(t *testing.T, c *Config, err error) {
				if err != nil {
					t.Fatal(err)
				}
				if c.Issuer != "https://id.example.com" || c.Listen != ":443" || c.Tokens.AccessTokenTTL != Duration(2*time.Minute) ||
					c.Keys.Algorithm != AlgEdDSA || c.Log.Level != LogLevelWarn || c.PasswordHash.Parallelism != 4 ||
					c.Login.MaxFailuresPerIP != 7 {
					t.Fatalf("environment not applied: %v", c)
				}
				// The file's explicit per-client values stay.
				if c.Clients[0].AccessTokenTTL != Duration(10*time.Minute) || c.Clients[0].IDTokenSignedResponseAlg != AlgES256 {
					t.Fatalf("client = %v", c.Clients[0])
				}
			},
		},
		{
			name: "environment_overrides_defaults_without_file",
			env:  []string{"STEPUP_STORAGE=postgresql://db/stepup", "STEPUP_SESSION_COOKIE_NAME=sid"},
			check: func(t *testing.T, c *Config, err error) {
				if err != nil {
					t.Fatal(err)
				}
				if c.Storage != "postgresql://db/stepup" || c.Session.CookieName != "sid" {
					t.Fatalf("environment not applied: %v", c)
				}
			},
		},
		{
			name: "environment_list_replaces_file_list",
			file: "example.yaml",
			env: []string{
				`STEPUP_CLIENTS=[{"id":"cli","redirect_uris":["http://127.0.0.1/cb"]}]`,
				`STEPUP_USERS=[{username: carol, password: carol-pw}, {username: dave, password: dave-pw}]`,
			},
			check: func(t *testing.T, c *Config, err error) {
				if err != nil {
					t.Fatal(err)
				}
				if len(c.Clients) != 1 || c.Clients[0].ID != "cli" || c.Clients[0].Secret != "" {
					t.Fatalf("clients = %v", c.Clients)
				}
				if len(c.Users) != 2 || c.Users[0].Username != "carol" || c.Users[1].Username != "dave" {
					t.Fatalf("users = %v", c.Users)
				}
			},
		},
		{
			name:    "environment_list_errors_name_the_variable",
			file:    "example.yaml",
			env:     []string{`STEPUP_CLIENTS=[{"id":"cli","grant_types":["client_credentials"]}]`},
			wantErr: []string{"STEPUP_CLIENTS: clients[0].grant_types: client_credentials requires a client secret"},
		},
		{
			name:    "environment_list_unknown_key_names_the_variable",
			env:     []string{`STEPUP_USERS=[{"user":"x"}]`},
			wantErr: []string{`STEPUP_USERS: users[0]: unknown key "user"`},
		},
		{
			name:    "environment_list_must_be_a_sequence",
			env:     []string{`STEPUP_CLIENTS={"id":"x"}`},
			wantErr: []string{`STEPUP_CLIENTS: clients: must be a YAML or JSON sequence, e.g. [{"id": "app", ...}]`},
		},
		{
			name:    "environment_list_syntax_error_names_the_variable",
			env:     []string{`STEPUP_CLIENTS=[{"id":`},
			wantErr: []string{`STEPUP_CLIENTS: clients: invalid YAML: line 1: did not find expected node content`},
		},
		{
			name:    "unknown_environment_variable_is_rejected_by_name",
			env:     []string{"STEPUP_LOG_LEVLE=debug"},
			wantErr: []string{"STEPUP_LOG_LEVLE: unknown environment variable"},
			check: func(t *testing.T, _ *Config, err error) {
				if !errors.Is(err, ErrUnknownKey) {
					t.Fatalf("error %v does not wrap ErrUnknownKey", err)
				}
			},
		},
		{
			name:    "section_name_alone_is_not_a_variable",
			env:     []string{"STEPUP_TOKENS=x"},
			wantErr: []string{"STEPUP_TOKENS: unknown environment variable"},
		},
		{
			name:    "invalid_environment_value_names_the_variable",
			env:     []string{"STEPUP_TOKENS_CODE_TTL=soon"},
			wantErr: []string{`STEPUP_TOKENS_CODE_TTL: tokens.code_ttl: "soon" is not a valid duration; use Go syntax such as 60s, 10m or 720h`},
		},
		{
			name:    "environment_validation_error_names_the_variable",
			file:    "example.yaml",
			env:     []string{"STEPUP_ISSUER=http://id.example.com"},
			wantErr: []string{`STEPUP_ISSUER: issuer: "http://id.example.com" must use https unless its host is loopback (127.0.0.1, ::1, localhost)`},
		},
		{
			name: "empty_environment_value_is_ignored",
			file: "all_sections.yaml",
			env:  []string{"STEPUP_ISSUER=", "STEPUP_CLIENTS="},
			check: func(t *testing.T, c *Config, err error) {
				if err != nil {
					t.Fatal(err)
				}
				if c.Issuer != "https://login.example.com/stepup" || len(c.Clients) != 2 {
					t.Fatalf("empty variables changed the config: %v", c)
				}
			},
		},
		{
			name: "empty_environment_list_clears_file_list",
			file: "example.yaml",
			env:  []string{"STEPUP_CLIENTS=[]"},
			check: func(t *testing.T, c *Config, err error) {
				if err != nil || len(c.Clients) != 0 {
					t.Fatalf("got %v, %v; want no clients", c, err)
				}
			},
		},
		{
			name: "unrelated_and_reserved_variables_are_ignored",
			env:  []string{"PATH=/bin", "stepup_issuer=x", "STEPUPISSUER=x", "STEPUP_CONFIG=/etc/stepup.yaml", "=C:=C:\\", "NOEQUALS"},
			check: func(t *testing.T, c *Config, err error) {
				if err != nil || !reflect.DeepEqual(c, Default()) {
					t.Fatalf("got %v, %v; want defaults", c, err)
				}
			},
		},
		{
			name: "later_duplicate_variable_wins",
			env:  []string{"STEPUP_LOG_FORMAT=text", "STEPUP_LOG_FORMAT=json"},
			check: func(t *testing.T, c *Config, err error) {
				if err != nil || c.Log.Format != LogFormatJSON {
					t.Fatalf("got %v, %v; want log.format json", c, err)
				}
			},
		},
		{
			name: "environment_value_is_not_parsed_as_yaml",
			env:  []string{"STEPUP_SESSION_COOKIE_NAME=null"},
			check: func(t *testing.T, c *Config, err error) {
				if err != nil || c.Session.CookieName != "null" {
					t.Fatalf("got %v, %v; want cookie name \"null\"", c, err)
				}
			},
		},
		{
			name: "problem_in_file_client_replaced_by_environment_is_not_reported",
			yaml: "clients:\n  - id: a\n  - id: a\n",
			env:  []string{`STEPUP_CLIENTS=[{id: b, secret: s, grant_types: [client_credentials]}]`},
			check: func(t *testing.T, c *Config, err error) {
				if err != nil || c.Clients[0].ID != "b" {
					t.Fatalf("got %v, %v", c, err)
				}
			},
		},
		{
			name:    "defaulted_field_error_points_at_enclosing_client",
			yaml:    "issuer: http://127.0.0.1:8080\nclients:\n  - id: web\n    secret: s\n",
			wantErr: []string{"config.yaml:3: clients[0].redirect_uris: at least one redirect URI is required for the authorization_code grant"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c *Config
			var err error
			switch {
			case tc.file != "":
				c, err = loadFixture(t, tc.file, tc.env)
			case tc.yaml != "":
				c, err = LoadBytes("config.yaml", []byte(tc.yaml), tc.env)
			default:
				c, err = Load("", tc.env)
			}
			if tc.wantErr != nil {
				if err == nil {
					t.Fatalf("Load succeeded, want errors %q", tc.wantErr)
				}
				if c != nil {
					t.Errorf("Load returned a config along with error %v", err)
				}
				got := errorLines(err)
				if !reflect.DeepEqual(got, tc.wantErr) {
					t.Errorf("errors:\n  got  %q\n  want %q", got, tc.wantErr)
				}
				var e *Error
				if !errors.As(err, &e) {
					t.Errorf("error %v is not an *Error", err)
				}
			}
			if tc.check != nil {
				tc.check(t, c, err)
			} else if tc.wantErr == nil && err != nil {
				t.Fatal(err)
			}
		})
	}
}

// aliasBomb makes 1100 clients each aliasing one client with 1100
// redirect URIs: about 1.2 million nodes once expanded, from a 10 KB file.
func aliasBomb() string {
	var b strings.Builder
	b.WriteString("clients:\n  - &c {id: x, redirect_uris: [")
	for i := range 1100 {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("u")
	}
	b.WriteString("]}\n")
	for range 1100 {
		b.WriteString("  - *c\n")
	}
	return b.String()
}

func TestLoadFromPath(t *testing.T) {
	t.Run("messages_use_the_path_as_given", func(t *testing.T) {
		path := filepath.Join("testdata", "unknown_key.yaml")
		_, err := Load(path, nil)
		want := path + `:3: unknown key "lisen"`
		if err == nil || err.Error() != want {
			t.Fatalf("Load error = %v, want %q", err, want)
		}
	})
	t.Run("missing_file_wraps_not_exist", func(t *testing.T) {
		_, err := Load(filepath.Join(t.TempDir(), "absent.yaml"), nil)
		if !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("Load error = %v, want fs.ErrNotExist", err)
		}
	})
	t.Run("file_then_environment", func(t *testing.T) {
		c, err := Load(filepath.Join("testdata", "example.yaml"), []string{"STEPUP_LISTEN=127.0.0.1:9999"})
		if err != nil {
			t.Fatal(err)
		}
		if c.Listen != "127.0.0.1:9999" || c.Clients[0].ID != "demo-bank" {
			t.Fatalf("got %v", c)
		}
	})
}

func TestEnvVars(t *testing.T) {
	t.Run("every_key_has_its_documented_variable", func(t *testing.T) {
		want := []string{
			"STEPUP_ACR_DEFAULT", "STEPUP_ACR_ENROLLMENT", "STEPUP_ACR_ENROLLMENT_FRESHNESS", "STEPUP_ACR_FIRST_IS_REQUIREMENT", "STEPUP_ACR_LEVELS", "STEPUP_ACR_PASSKEY_FIRST", "STEPUP_ACR_PRESET", "STEPUP_CLIENTS",
			"STEPUP_ISSUER",
			"STEPUP_KEYS_ALGORITHM",
			"STEPUP_KEYS_OVERLAP",
			"STEPUP_KEYS_ROTATION_PERIOD",
			"STEPUP_LISTEN",
			"STEPUP_LOGIN_MAX_FAILURES_PER_ACCOUNT",
			"STEPUP_LOGIN_MAX_FAILURES_PER_IP",
			"STEPUP_LOGIN_WINDOW",
			"STEPUP_LOG_FORMAT",
			"STEPUP_LOG_LEVEL", "STEPUP_PAR_REQUIRED", "STEPUP_PASSKEYS_ATTESTATION_ROOTS",
			"STEPUP_PASSWORD_HASH_ITERATIONS",
			"STEPUP_PASSWORD_HASH_MEMORY_KIB",
			"STEPUP_PASSWORD_HASH_PARALLELISM",
			"STEPUP_SESSION_COOKIE_NAME",
			"STEPUP_SESSION_TTL",
			"STEPUP_STORAGE",
			"STEPUP_TOKENS_ACCESS_TOKEN_TTL",
			"STEPUP_TOKENS_CODE_TTL",
			"STEPUP_TOKENS_ID_TOKEN_TTL",
			"STEPUP_TOKENS_REFRESH_TOKEN_TTL", "STEPUP_UPSTREAMS",
			"STEPUP_USERS",
		}
		if got := EnvVars(); !reflect.DeepEqual(got, want) {
			t.Fatalf("EnvVars() =\n%q\nwant\n%q", got, want)
		}
	})
	t.Run("docs_mention_every_variable_and_key", func(t *testing.T) {
		doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "configuration.md"))
		if err != nil {
			t.Fatal(err)
		}
		for name, v := range envVars() {
			if !strings.Contains(string(doc), "`"+name+"`") {
				t.Errorf("docs/configuration.md does not mention `%s`", name)
			}
			if !strings.Contains(string(doc), "`"+v.path+"`") {
				t.Errorf("docs/configuration.md does not mention `%s`", v.path)
			}
		}
	})
}
