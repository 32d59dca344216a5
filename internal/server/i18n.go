package server

import (
	"fmt"
	"net/http"
	"strings"
)

// Stepup's pages speak English and Norwegian (bokmål). Messages are keyed
// by their English text; a missing translation shows the English.

// norwegian is the bokmål catalogue.
func norwegian() map[string]string {
	return map[string]string{
		"Sign in":                           "Logg inn",
		"Confirm it's you":                  "Bekreft at det er deg",
		"Username":                          "Brukernavn",
		"Password":                          "Passord",
		"Cancel":                            "Avbryt",
		"Continue":                          "Fortsett",
		"Confirm with password":             "Bekreft med passord",
		"Or sign in with":                   "Eller logg inn med",
		"Or confirm with":                   "Eller bekreft med",
		"Signed in as":                      "Logget inn som",
		"Code from an authenticator app":    "Kode fra en autentiseringsapp",
		"Recovery code":                     "Gjenopprettingskode",
		"Passkey":                           "Passnøkkel",
		"Set up an authenticator app":       "Sett opp en autentiseringsapp",
		"Create a passkey":                  "Lag en passnøkkel",
		"Continue with %s":                  "Fortsett med %s",
		"Enter your code":                   "Skriv inn koden",
		"Use a recovery code instead":       "Bruk en gjenopprettingskode i stedet",
		"Use your passkey":                  "Bruk passnøkkelen din",
		"Use passkey":                       "Bruk passnøkkel",
		"Create passkey":                    "Lag passnøkkel",
		"Save your recovery codes":          "Ta vare på gjenopprettingskodene",
		"Something went wrong":              "Noe gikk galt",
		"Error code:":                       "Feilkode:",
		"Sign out":                          "Logg ut",
		"Stay signed in":                    "Forbli innlogget",
		"Your sessions":                     "Dine økter",
		"You are signed out.":               "Du er logget ut.",
		"You are still signed in.":          "Du er fortsatt logget inn.",
		"You are not signed in.":            "Du er ikke logget inn.",
		"Key:":                              "Nøkkel:",
		"The application":                   "Tjenesten",
		"Sign in to continue to %s.":        "Logg inn for å fortsette til %s.",
		"%s asks you to sign in again.":     "%s ber deg logge inn på nytt.",
		"%s asks you to confirm it is you.": "%s ber deg bekrefte at det er deg.",
		"%s asks you to confirm it is you with a stronger method (%s).":                    "%s ber deg bekrefte at det er deg med en sterkere metode (%s).",
		"Wrong username or password.":                                                      "Feil brukernavn eller passord.",
		"Enter your username and password.":                                                "Skriv inn brukernavn og passord.",
		"Too many failed attempts. Wait a few minutes and try again.":                      "For mange mislykkede forsøk. Vent noen minutter og prøv igjen.",
		"Sign in as the account shown.":                                                    "Logg inn som kontoen som vises.",
		"Choose one of the methods shown.":                                                 "Velg en av metodene som vises.",
		"This method is not available here.":                                               "Denne metoden er ikke tilgjengelig her.",
		"That code is wrong or was already used.":                                          "Koden er feil eller allerede brukt.",
		"That code is wrong. Check the app and try again.":                                 "Koden er feil. Sjekk appen og prøv igjen.",
		"The set-up expired. Start again.":                                                 "Oppsettet er utløpt. Start på nytt.",
		"That passkey belongs to another account.":                                         "Den passnøkkelen tilhører en annen konto.",
		"The passkey could not be verified. Try again or choose another method.":           "Passnøkkelen kunne ikke bekreftes. Prøv igjen eller velg en annen metode.",
		"The passkey could not be created. Try again or choose another method.":            "Passnøkkelen kunne ikke lages. Prøv igjen eller velg en annen metode.",
		"Before adding a new method, confirm it is you with the methods you already have.": "Før du legger til en ny metode, bekreft at det er deg med metodene du allerede har.",
		"The sign-in at %s was cancelled.":                                                 "Innloggingen hos %s ble avbrutt.",
		"The sign-in at %s failed. Try again or choose another method.":                    "Innloggingen hos %s mislyktes. Prøv igjen eller velg en annen metode.",
		"That identity belongs to another account.":                                        "Den identiteten tilhører en annen konto.",
		"No account here is linked to that identity.":                                      "Ingen konto her er knyttet til den identiteten.",
		"Go back to the application you came from and try again.":                          "Gå tilbake til tjenesten du kom fra og prøv igjen.",
		"Scan this code with your authenticator app, or type the key below.":               "Skann koden med autentiseringsappen din, eller skriv inn nøkkelen under.",
		"Code from your authenticator app":                                                 "Kode fra autentiseringsappen din",
		"Follow your browser's prompt to use your passkey.":                                "Følg nettleserens instruksjoner for å bruke passnøkkelen.",
		"Follow your browser's prompt to create a passkey.":                                "Følg nettleserens instruksjoner for å lage en passnøkkel.",
		"Passkeys need JavaScript. Choose another method or enable JavaScript.":            "Passnøkler krever JavaScript. Velg en annen metode eller slå på JavaScript.",
		"Your authenticator app is set up. Keep these recovery codes somewhere safe: each one signs you in once if you lose the app.": "Autentiseringsappen er satt opp. Ta vare på gjenopprettingskodene et trygt sted: hver av dem logger deg inn én gang hvis du mister appen.",
		"%s asks to sign you out of Stepup.": "%s ber om å logge deg ut av Stepup.",
		"Do you want to sign out of Stepup?": "Vil du logge ut av Stepup?",
		"Started":                            "Startet",
		"Methods":                            "Metoder",
		"Expires":                            "Utløper",
		"End":                                "Avslutt",
		"(this browser)":                     "(denne nettleseren)",
		"Required level:":                    "Påkrevd nivå:",
		"this form has expired; go back to the application and start again": "skjemaet er utløpt; gå tilbake til tjenesten og start på nytt",
	}
}

// lang picks the page language: the request's ui_locales first, then the
// browser's Accept-Language; English otherwise.
func lang(r *http.Request, uiLocales []string) string {
	for _, l := range uiLocales {
		if v := langOf(l); v != "" {
			return v
		}
	}
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		if v := langOf(tag); v != "" {
			return v
		}
	}
	return "en"
}

func langOf(tag string) string {
	base, _, _ := strings.Cut(strings.ToLower(tag), "-")
	switch base {
	case "nb", "no", "nn":
		return "nb"
	case "en":
		return "en"
	}
	return ""
}

// translator returns the message function for a language.
func (s *Server) translator(lang string) func(string, ...any) string {
	return func(key string, args ...any) string {
		msg := key
		if lang == "nb" {
			if t, ok := s.nb[key]; ok {
				msg = t
			}
		}
		if len(args) > 0 {
			return fmt.Sprintf(msg, args...)
		}
		return msg
	}
}
