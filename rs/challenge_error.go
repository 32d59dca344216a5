package rs

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/stepup-oidc/stepup/challenge"
)

// ChallengeError is a refusal that writes its own response: an HTTP
// status, a WWW-Authenticate challenge and a JSON error body.
type ChallengeError struct {
	Status    int // 400, 401 or 403; zero means 401
	Challenge challenge.Challenge
	// Err is the cause, for logs; it is never written to the response.
	Err error
}

// StepUp returns the RFC 9470 challenge asking the client to obtain a
// token from an authentication that meets one of acr (in order of
// preference) and happened at most maxAge ago: 401 with error
// insufficient_user_authentication. A negative maxAge leaves max_age out;
// zero asks for a new authentication now. For handlers that decide in
// code, for example by the amount of a payment.
func StepUp(acr []string, maxAge time.Duration, description string) *ChallengeError {
	c := challenge.Challenge{Scheme: "Bearer", Error: challenge.ErrorInsufficientUserAuthentication,
		ErrorDescription: description, ACRValues: acr}
	if maxAge >= 0 {
		c.MaxAge = new(int(maxAge / time.Second))
	}
	return &ChallengeError{Status: http.StatusUnauthorized, Challenge: c}
}

// Error returns the error code and description.
func (e *ChallengeError) Error() string {
	if e.Challenge.Error == "" {
		return "rs: bearer token required"
	}
	s := "rs: " + e.Challenge.Error
	if e.Challenge.ErrorDescription != "" {
		s += ": " + e.Challenge.ErrorDescription
	}
	return s
}

// Unwrap returns the cause.
func (e *ChallengeError) Unwrap() error { return e.Err }

// ServeHTTP writes the response: the status (401 when Status is zero), the
// WWW-Authenticate header, Cache-Control: no-store and, when there is an
// error code, a JSON body with error and error_description.
func (e *ChallengeError) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	status := e.Status
	if status == 0 {
		status = http.StatusUnauthorized
	}
	h := w.Header()
	h.Set("WWW-Authenticate", e.Challenge.String())
	h.Set("Cache-Control", "no-store")
	if e.Challenge.Error == "" {
		w.WriteHeader(status)
		return
	}
	body, _ := json.Marshal(struct {
		Error       string `json:"error"`
		Description string `json:"error_description,omitempty"`
	}{e.Challenge.Error, e.Challenge.ErrorDescription})
	h.Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}
