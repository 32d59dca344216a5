package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stepup-oidc/stepup/internal/config"
)

const cibaClient, cibaSecret = "tv", "tv-secret"

func startCIBA(t *testing.T) *provider {
	t.Helper()
	cfg := testConfig()
	cfg.Clients = append(cfg.Clients, config.Client{ID: cibaClient, Name: "Smart TV", Secret: cibaSecret,
		GrantTypes: []string{"urn:openid:params:grant-type:ciba", "refresh_token"}})
	return start(t, openSQLite(t), cfg)
}

func backchannel(t *testing.T, p *provider, form url.Values) (int, map[string]any) {
	t.Helper()
	res := clientPost(t, p, "/bc-authorize", form, cibaClient, cibaSecret)
	var body map[string]any
	json.NewDecoder(res.Body).Decode(&body)
	return res.StatusCode, body
}

func pollCIBA(t *testing.T, p *provider, id string) (int, map[string]any) {
	t.Helper()
	res := clientPost(t, p, "/token", url.Values{"grant_type": {"urn:openid:params:grant-type:ciba"}, "auth_req_id": {id}}, cibaClient, cibaSecret)
	var body map[string]any
	json.NewDecoder(res.Body).Decode(&body)
	return res.StatusCode, body
}

// appSignIn signs alice in to the authenticator app and returns its page.
func appSignIn(t *testing.T, p *provider, b *browser) page {
	t.Helper()
	pg := b.get(p.URL + "/app")
	if !strings.Contains(pg.Body, `href="/app/login"`) {
		t.Fatalf("the app does not offer to sign in:\n%s", pg.Body)
	}
	pg = b.login(b.get(p.URL+"/app/login"), "alice", "alice-password")
	if pg.URL.Path != "/app" {
		t.Fatalf("after signing in the browser is at %s:\n%s", pg.URL, pg.Body)
	}
	return pg
}

func TestCIBAPollApprovedInTheApp(t *testing.T) {
	p := startCIBA(t)
	status, ack := backchannel(t, p, url.Values{"scope": {"openid profile"}, "login_hint": {"alice"}, "binding_message": {"TV-4711"}})
	id, _ := ack["auth_req_id"].(string)
	if status != 200 || len(id) < 27 || ack["expires_in"] != float64(300) || ack["interval"] != float64(5) {
		t.Fatalf("backchannel: %d %v", status, ack)
	}
	if status, body := pollCIBA(t, p, id); status != 400 || body["error"] != "authorization_pending" {
		t.Fatalf("first poll: %d %v", status, body)
	}
	if status, body := pollCIBA(t, p, id); status != 400 || body["error"] != "slow_down" {
		t.Fatalf("a poll within the interval: %d %v", status, body)
	}

	b := newBrowser(t)
	pg := appSignIn(t, p, b)
	if !strings.Contains(pg.Body, "TV-4711") || !strings.Contains(pg.Body, "Smart TV") || !strings.Contains(pg.Body, `value="approve"`) {
		t.Fatalf("the app does not show the request:\n%s", pg.Body)
	}
	pg = b.submit(pg, url.Values{"decision": {"approve"}, "password": {"alice-password"}})
	if !strings.Contains(pg.Body, `id="app-message"`) || !strings.Contains(pg.Body, "Approved.") {
		t.Fatalf("approval: %d\n%s", pg.Status, pg.Body)
	}
	p.Clock.Advance(6 * time.Second)
	status, tok := pollCIBA(t, p, id)
	if status != 200 || tok["id_token"] == nil || tok["access_token"] == nil {
		t.Fatalf("poll after approval: %d %v", status, tok)
	}
	in := introspect(t, p, tok["access_token"].(string))
	if in["active"] != true || in["acr"] == nil || in["auth_time"] == nil {
		t.Fatalf("introspection: %v", in)
	}
	p.Clock.Advance(6 * time.Second)
	if status, body := pollCIBA(t, p, id); status != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("a used auth_req_id: %d %v", status, body)
	}
}

func TestCIBAOutcomes(t *testing.T) {
	p := startCIBA(t)
	b := newBrowser(t)
	appSignIn(t, p, b)
	t.Run("deny_gives_access_denied", func(t *testing.T) {
		_, ack := backchannel(t, p, url.Values{"scope": {"openid"}, "login_hint": {"alice"}})
		pg := b.get(p.URL + "/app")
		pg = b.submit(pg, url.Values{"decision": {"deny"}})
		if !strings.Contains(pg.Body, "Denied.") {
			t.Fatalf("deny: %s", pg.Body)
		}
		if status, body := pollCIBA(t, p, ack["auth_req_id"].(string)); status != 403 || body["error"] != "access_denied" {
			t.Fatalf("%d %v", status, body)
		}
	})
	t.Run("an_unreachable_acr_gives_access_denied", func(t *testing.T) {
		_, ack := backchannel(t, p, url.Values{"scope": {"openid"}, "login_hint": {"alice"}, "acr_values": {"phr"}})
		pg := b.submit(b.get(p.URL+"/app"), url.Values{"decision": {"approve"}, "password": {"alice-password"}})
		if !strings.Contains(pg.Body, "does not reach the level") {
			t.Fatalf("unmet approval: %s", pg.Body)
		}
		status, body := pollCIBA(t, p, ack["auth_req_id"].(string))
		if status != 403 || body["error"] != "access_denied" || !strings.Contains(body["error_description"].(string), "level") {
			t.Fatalf("%d %v", status, body)
		}
	})
	t.Run("expiry_gives_expired_token", func(t *testing.T) {
		_, ack := backchannel(t, p, url.Values{"scope": {"openid"}, "login_hint": {"alice"}, "requested_expiry": {"30"}})
		if ack["expires_in"] != float64(30) {
			t.Fatalf("requested_expiry not honoured: %v", ack)
		}
		p.Clock.Advance(31 * time.Second)
		if status, body := pollCIBA(t, p, ack["auth_req_id"].(string)); status != 400 || body["error"] != "expired_token" {
			t.Fatalf("%d %v", status, body)
		}
	})
	t.Run("a_generated_binding_message_is_returned", func(t *testing.T) {
		_, ack := backchannel(t, p, url.Values{"scope": {"openid"}, "login_hint": {"bob"}})
		if m, _ := ack["binding_message"].(string); len(m) != 7 || m[3] != '-' {
			t.Fatalf("binding_message %v", ack["binding_message"])
		}
	})
	for _, tc := range []struct {
		name  string
		form  url.Values
		code  string
		state int
	}{
		{"unknown_user", url.Values{"scope": {"openid"}, "login_hint": {"nobody"}}, "unknown_user_id", 400},
		{"two_hints", url.Values{"scope": {"openid"}, "login_hint": {"alice"}, "id_token_hint": {"x.y.z"}}, "invalid_request", 400},
		{"no_hint", url.Values{"scope": {"openid"}}, "invalid_request", 400},
		{"no_openid_scope", url.Values{"scope": {"profile"}, "login_hint": {"alice"}}, "invalid_scope", 400},
		{"bad_binding_message", url.Values{"scope": {"openid"}, "login_hint": {"alice"}, "binding_message": {"line\nbreak"}}, "invalid_binding_message", 400},
		{"ping_token_for_a_polling_client", url.Values{"scope": {"openid"}, "login_hint": {"alice"}, "client_notification_token": {"t"}}, "invalid_request", 400},
		{"malformed_authorization_details", url.Values{"scope": {"openid"}, "login_hint": {"alice"}, "authorization_details": {`[{"type":"x"}]`}}, "invalid_authorization_details", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if status, body := backchannel(t, p, tc.form); status != tc.state || body["error"] != tc.code {
				t.Fatalf("%d %v, want %d %s", status, body, tc.state, tc.code)
			}
		})
	}
	t.Run("a_client_without_the_grant_is_refused", func(t *testing.T) {
		res := clientPost(t, p, "/bc-authorize", url.Values{"scope": {"openid"}, "login_hint": {"alice"}}, confidentialID, confidentialSecret)
		var body map[string]any
		json.NewDecoder(res.Body).Decode(&body)
		if res.StatusCode != 400 || body["error"] != "unauthorized_client" {
			t.Fatalf("%d %v", res.StatusCode, body)
		}
	})
	t.Run("another_clients_auth_req_id_is_unknown", func(t *testing.T) {
		_, ack := backchannel(t, p, url.Values{"scope": {"openid"}, "login_hint": {"alice"}})
		res := clientPost(t, p, "/token", url.Values{"grant_type": {"urn:openid:params:grant-type:ciba"}, "auth_req_id": {ack["auth_req_id"].(string)}}, confidentialID, confidentialSecret)
		var body map[string]any
		json.NewDecoder(res.Body).Decode(&body)
		if res.StatusCode != 400 || (body["error"] != "unauthorized_client" && body["error"] != "invalid_grant") {
			t.Fatalf("%d %v", res.StatusCode, body)
		}
	})
}

func userExists(t *testing.T, p *provider, body, id, secret string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, p.URL+"/permissions/user-exists", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if id != "" {
		req.SetBasicAuth(id, secret)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

func TestUserExists(t *testing.T) {
	cfg := testConfig()
	cfg.Users[0].NNIN = "01019012345"
	cfg.Clients = append(cfg.Clients, config.Client{ID: cibaClient, Secret: cibaSecret,
		GrantTypes: []string{"urn:openid:params:grant-type:ciba"}})
	p := start(t, openSQLite(t), cfg)
	for _, tc := range []struct {
		name, body string
		status     int
		exists     any
	}{
		{"a_known_nnin_exists", `{"loginHint":[{"scheme":"nnin","value":"01019012345"}]}`, 200, true},
		{"an_unknown_nnin_does_not", `{"loginHint":[{"scheme":"nnin","value":"09099012345"}]}`, 200, false},
		{"a_username", `{"loginHint":[{"scheme":"username","value":"bob"}]}`, 200, true},
		{"two_hints_are_refused", `{"loginHint":[{"scheme":"username","value":"bob"},{"scheme":"username","value":"alice"}]}`, 400, nil},
		{"an_unknown_scheme_is_refused", `{"loginHint":[{"scheme":"phone","value":"+4712345678"}]}`, 400, nil},
		{"unknown_members_are_refused", `{"loginHint":[],"extra":1}`, 400, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, out := userExists(t, p, tc.body, cibaClient, cibaSecret)
			if status != tc.status || (tc.exists != nil && out["exists"] != tc.exists) {
				t.Fatalf("%d %v", status, out)
			}
		})
	}
	t.Run("clients_must_authenticate", func(t *testing.T) {
		if status, out := userExists(t, p, `{"loginHint":[{"scheme":"username","value":"bob"}]}`, "", ""); status != 401 || out["error"] != "invalid_client" {
			t.Fatalf("%d %v", status, out)
		}
	})
	t.Run("lookups_are_rate_limited_per_client", func(t *testing.T) {
		var status int
		for range 70 {
			if status, _ = userExists(t, p, `{"loginHint":[{"scheme":"username","value":"bob"}]}`, cibaClient, cibaSecret); status == 429 {
				break
			}
		}
		if status != 429 {
			t.Fatalf("no 429 after 70 lookups in a minute: %d", status)
		}
		// Another client is not affected.
		if status, _ := userExists(t, p, `{"loginHint":[{"scheme":"username","value":"bob"}]}`, confidentialID, confidentialSecret); status != 200 {
			t.Fatalf("another client got %d", status)
		}
	})
}
