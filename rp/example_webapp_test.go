package rp_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/stepup-oidc/stepup/challenge"
	"github.com/stepup-oidc/stepup/rp"
)

// A web application logs the user in, calls an API that wants a stronger
// authentication, steps the user up when the API answers with an RFC 9470
// challenge, and resumes where the user was.
func Example_webApp() {
	c, op := exampleClient()
	defer op.Close()

	// session stands in for the user's server-side session.
	session := map[string][]byte{}
	// statementsAPI stands in for a resource server that wants acr "phr",
	// used within five minutes, before it shows account statements.
	statementsAPI := func(tok *rp.Tokens) (status int, wwwAuthenticate string) {
		if tok.Claims.ACR != "phr" {
			return http.StatusUnauthorized, `Bearer error="insufficient_user_authentication", acr_values="phr", max_age="300"`
		}
		return http.StatusOK, ""
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		u, st, err := c.AuthCodeURL(r.Context(), rp.ResumeWith("/"))
		if err != nil {
			http.Error(w, "sign-in is unavailable", http.StatusBadGateway)
			return
		}
		session["login"], _ = json.Marshal(st)
		http.Redirect(w, r, u, http.StatusFound)
	})
	mux.HandleFunc("GET /callback", func(w http.ResponseWriter, r *http.Request) {
		var st rp.State
		if err := json.Unmarshal(session["login"], &st); err != nil {
			http.Error(w, "no sign-in in progress", http.StatusBadRequest)
			return
		}
		delete(session, "login") // a State serves one callback
		tok, err := c.Exchange(r.Context(), &st, r.URL.Query())
		if err != nil {
			http.Error(w, "sign-in failed", http.StatusForbidden) // and log err
			return
		}
		session["tokens"], _ = json.Marshal(tok)
		http.Redirect(w, r, st.Resume, http.StatusFound)
	})
	mux.HandleFunc("GET /statements", func(w http.ResponseWriter, r *http.Request) {
		var tok rp.Tokens
		if err := json.Unmarshal(session["tokens"], &tok); err != nil {
			http.Redirect(w, r, "/login", http.StatusFound)
			return
		}
		status, wwwAuthenticate := statementsAPI(&tok)
		if status == http.StatusUnauthorized {
			cs, err := challenge.Parse(wwwAuthenticate)
			if err != nil {
				http.Error(w, "the API refused", http.StatusBadGateway)
				return
			}
			u, st, err := c.StepUp(r.Context(), cs[0], &tok, rp.ResumeWith("/statements"))
			if err != nil {
				http.Error(w, "the API refused", http.StatusBadGateway)
				return
			}
			session["login"], _ = json.Marshal(st)
			http.Redirect(w, r, u, http.StatusFound)
			return
		}
		fmt.Fprintf(w, "statements for %s (acr %s)\n", tok.Claims.Name, tok.Claims.ACR)
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		var tok rp.Tokens
		json.Unmarshal(session["tokens"], &tok)
		fmt.Fprintf(w, "hello %s (acr %s)\n", tok.Claims.Name, tok.Claims.ACR)
	})

	// visit plays the browser: it follows the app's redirects, and sends
	// the provider's callback back to the app.
	visit := func(path string) {
		for range 10 {
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
			loc := rec.Header().Get("Location")
			switch {
			case loc == "":
				body, _ := io.ReadAll(rec.Body)
				fmt.Print(string(body))
				return
			case strings.HasPrefix(loc, op.URL):
				path = "/callback?" + op.Authorize(loc).Encode()
			default:
				path = loc
			}
		}
	}
	visit("/login")
	visit("/statements")
	// Output:
	// hello Alice Example (acr urn:okta:loa:1fa:pwd)
	// statements for Alice Example (acr phr)
}
