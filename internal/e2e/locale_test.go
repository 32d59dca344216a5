package e2e

import (
	"net/http"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

func TestPagesSpeakTheRequestedLanguage(t *testing.T) {
	p := startSQLite(t)
	r := newRP(t, p, confidentialID, confidentialSecret)
	tests := []struct {
		name, uiLocales, acceptLanguage string
		want                            []string
	}{
		{"ui_locales_nb_gives_norwegian", "nb", "", []string{`<html lang="nb">`, "Logg inn", "Brukernavn", "Passord", "Avbryt"}},
		{"ui_locales_prefers_the_first_supported", "de no en", "", []string{`<html lang="nb">`, "Logg inn"}},
		{"accept_language_is_used_without_ui_locales", "", "nb-NO,nb;q=0.9,en;q=0.5", []string{`<html lang="nb">`}},
		{"english_by_default", "", "", []string{`<html lang="en">`, "Sign in", "Username"}},
		{"unsupported_locales_fall_back_to_english", "fr", "de", []string{`<html lang="en">`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBrowser(t)
			var opts []oauth2.AuthCodeOption
			if tc.uiLocales != "" {
				opts = append(opts, oauth2.SetAuthURLParam("ui_locales", tc.uiLocales))
			}
			req, _ := http.NewRequest(http.MethodGet, r.oauth.AuthCodeURL("s", append(opts, oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))...), nil)
			if tc.acceptLanguage != "" {
				req.Header.Set("Accept-Language", tc.acceptLanguage)
			}
			pg := b.do(req)
			for _, w := range tc.want {
				if !strings.Contains(pg.Body, w) {
					t.Errorf("page lacks %q:\n%s", w, pg.Body)
				}
			}
		})
	}
	t.Run("errors_are_translated_too", func(t *testing.T) {
		b := newBrowser(t)
		pg := b.get(r.oauth.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("ui_locales", "nb")))
		pg = b.submit(pg, map[string][]string{"username": {"alice"}, "password": {"wrong"}, "method": {"password"}})
		if !strings.Contains(pg.Body, "Feil brukernavn eller passord.") {
			t.Fatalf("error not in Norwegian:\n%s", pg.Body)
		}
	})
}
