package e2e

import (
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/stepup-oidc/stepup/internal/config"
)

// brokered runs two providers: "bankid" (a Stepup playing BankID High, on
// 127.0.0.1) and the provider under test (bankid preset, on localhost so
// the two keep their cookies apart), which offers the first as an upstream
// with assurance "high" and links accounts by national identity number.
func brokered(t *testing.T) (down, up *provider) {
	t.Helper()
	upLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	downLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, downPort, _ := net.SplitHostPort(downLn.Addr().String())
	downIssuer := "http://localhost:" + downPort

	ucfg := testConfig()
	ucfg.Session.CookieName = "bankid_session"
	ucfg.Clients = []config.Client{{ID: "broker", Secret: "broker-secret", AllowNNIN: true,
		RedirectURIs: []string{downIssuer + "/upstream/callback"}}}
	ucfg.Users = []config.User{{Username: "alice-bankid", Password: "alice-password", NNIN: "01019012345"}}
	up = startOn(t, upLn, "http://"+upLn.Addr().String(), openSQLite(t), ucfg)

	dcfg := testConfig()
	dcfg.ACR.Preset = "bankid"
	dcfg.Users[0].NNIN = "01019012345" // alice
	dcfg.Upstreams = []config.Upstream{{Name: "bankid-high", DisplayName: "BankID", Issuer: up.URL,
		ClientID: "broker", ClientSecret: "broker-secret", Scopes: []string{"openid", "nnin"},
		Assurance: "high", LinkClaim: "nnin"}}
	down = startOn(t, downLn, downIssuer, openSQLite(t), dcfg)
	return down, up
}

func TestUpstreamProviderAsHighMethod(t *testing.T) {
	down, up := brokered(t)
	r := newRP(t, down, confidentialID, confidentialSecret)

	// upstreamLogin answers the upstream's login page and comes back.
	upstreamLogin := func(t *testing.T, b *browser, pg page) page {
		t.Helper()
		if !strings.HasPrefix(pg.URL.String(), up.URL) {
			t.Fatalf("not at the upstream: %s\n%s", pg.URL, pg.Body)
		}
		return b.submit(pg, url.Values{"username": {"alice-bankid"}, "password": {"alice-password"}, "method": {"password"}})
	}

	t.Run("bih_is_reached_through_the_upstream_and_links_by_nnin", func(t *testing.T) {
		b := newBrowser(t)
		v := oauth2.GenerateVerifier()
		pg := b.get(r.oauth.AuthCodeURL("s", oauth2.S256ChallengeOption(v), oauth2.SetAuthURLParam("acr_values", "urn:bankid:bih")))
		if !strings.Contains(pg.Body, `value="upstream:bankid-high"`) {
			t.Fatalf("no upstream offered:\n%s", pg.Body)
		}
		pg = upstreamLogin(t, b, b.submit(pg, url.Values{"method": {"upstream:bankid-high"}}))
		if pg.Location == nil {
			t.Fatalf("no redirect to the client after the upstream: %s\n%s", pg.URL, pg.Body)
		}
		tok, err := r.oauth.Exchange(t.Context(), pg.Location.Query().Get("code"), oauth2.VerifierOption(v))
		if err != nil {
			t.Fatalf("%v (callback %v)", err, pg.Location.Query())
		}
		c := claimsOf(t, r, tok)
		if c.ACR != "urn:bankid:bid;LOA=4" || strings.Join(c.AMR, " ") != "bid" {
			t.Fatalf("acr %q amr %v", c.ACR, c.AMR)
		}
	})
	t.Run("bis_falls_back_to_the_upstream_for_a_user_without_passkey", func(t *testing.T) {
		b := newBrowser(t)
		v := oauth2.GenerateVerifier()
		pg := b.get(r.oauth.AuthCodeURL("s", oauth2.S256ChallengeOption(v), oauth2.SetAuthURLParam("acr_values", "urn:bankid:bis")))
		pg = b.submit(pg, url.Values{"username": {"alice"}, "password": {"alice-password"}, "method": {"password"}})
		if strings.Contains(pg.Body, `autocomplete="current-password"`) || !strings.Contains(pg.Body, `value="upstream:bankid-high"`) {
			t.Fatalf("after the password the step should offer only the upstream:\n%s", pg.Body)
		}
		pg = upstreamLogin(t, b, b.submit(pg, url.Values{"method": {"upstream:bankid-high"}}))
		tok, err := r.oauth.Exchange(t.Context(), pg.Location.Query().Get("code"), oauth2.VerifierOption(v))
		if err != nil {
			t.Fatal(err)
		}
		if c := claimsOf(t, r, tok); c.ACR != "urn:bankid:bis;LOA=3" || strings.Join(c.AMR, " ") != "bis-bid" {
			t.Fatalf("acr %q amr %v", c.ACR, c.AMR)
		}
	})
	t.Run("a_callback_in_another_browser_signs_nobody_in", func(t *testing.T) {
		b, thief := newBrowser(t), newBrowser(t)
		pg := b.get(r.oauth.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()),
			oauth2.SetAuthURLParam("acr_values", "urn:bankid:bih")))
		pg = b.submit(pg, url.Values{"method": {"upstream:bankid-high"}})
		// Stop at the upstream's redirect back and replay it elsewhere.
		b.client.CheckRedirect = func(req *http.Request, via []*http.Request) error { return http.ErrUseLastResponse }
		pg = b.submit(pg, url.Values{"username": {"alice-bankid"}, "password": {"alice-password"}, "method": {"password"}})
		if pg.Location == nil || !strings.Contains(pg.Location.Path, "/upstream/callback") {
			t.Fatalf("expected the upstream's redirect back, got %d %v", pg.Status, pg.Location)
		}
		stolen := thief.get(pg.Location.String())
		if stolen.Location != nil || stolen.Status != 400 {
			t.Fatalf("a callback replayed in another browser was accepted: %d %v", stolen.Status, stolen.Location)
		}
	})
	t.Run("a_wrong_user_at_the_upstream_is_refused_during_step_up", func(t *testing.T) {
		b := newBrowser(t)
		pg := b.get(r.oauth.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()),
			oauth2.SetAuthURLParam("acr_values", "urn:bankid:bis")))
		pg = b.submit(pg, url.Values{"username": {"bob"}, "password": {"bob-password"}, "method": {"password"}})
		pg = upstreamLogin(t, b, b.submit(pg, url.Values{"method": {"upstream:bankid-high"}}))
		if pg.Location != nil || !strings.Contains(pg.Body, "another account") {
			t.Fatalf("alice's BankID completed bob's step-up: %d %v\n%s", pg.Status, pg.Location, pg.Body)
		}
	})
}
