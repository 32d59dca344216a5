package e2e

import (
	"net/url"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

func TestUserSeesAndEndsSessions(t *testing.T) {
	p := startSQLite(t)
	r := newRP(t, p, confidentialID, confidentialSecret)
	laptop, phone := newBrowser(t), newBrowser(t)
	exchange(t, r, laptop)
	exchange(t, r, phone)

	pg := laptop.get(p.URL + "/sessions")
	ends := regexp.MustCompile(`name="end" value="([^"]+)"`).FindAllStringSubmatch(pg.Body, -1)
	if pg.Status != 200 || len(ends) != 2 || strings.Count(pg.Body, "(this browser)") != 1 {
		t.Fatalf("sessions page: status %d, %d sessions:\n%s", pg.Status, len(ends), pg.Body)
	}
	// End the phone's session (the one not marked as this browser).
	var other string
	for _, row := range strings.Split(pg.Body, "<tr") {
		if m := regexp.MustCompile(`name="end" value="([^"]+)"`).FindStringSubmatch(row); m != nil && !strings.Contains(row, "(this browser)") {
			other = m[1]
		}
	}
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(pg.Body)[1]
	laptop.post(p.URL+"/sessions", url.Values{"csrf": {csrf}, "end": {other}})

	if cb, _ := r.authorize(t, phone, "", oauth2.SetAuthURLParam("prompt", "none")); cb.Get("error") != "login_required" {
		t.Fatalf("ended session still works: %v", cb)
	}
	if cb, _ := r.authorize(t, laptop, "", oauth2.SetAuthURLParam("prompt", "none")); cb.Get("code") == "" {
		t.Fatalf("the laptop's session ended too: %v", cb)
	}
	// Without a valid CSRF token nothing happens.
	if pg := phone.post(p.URL+"/sessions", url.Values{"end": {other}}); pg.Status == 200 && strings.Contains(pg.Body, "signed out") {
		t.Fatal("a session ended without a CSRF token")
	}
}
