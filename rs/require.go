package rs

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/stepup-oidc/stepup/challenge"
)

// Requirement is a condition a token must meet, made by ACR, MaxAge or
// Scope. A route's requirements must all be met.
type Requirement struct {
	acr    []string
	maxAge time.Duration
	hasAge bool
	scope  []string
}

// ACR requires one of values as the authentication context class, in order
// of preference. A token whose acr is stronger is accepted when the
// provider's stepup_acr_satisfies says it satisfies one of them. ACR with
// no values requires nothing.
func ACR(values ...string) Requirement {
	return Requirement{acr: slices.Clone(values)}
}

// MaxAge requires that the user actively authenticated at most d ago: the
// token's auth_time must be within d of now, give or take the clock skew.
// A token without auth_time fails it. Challenges carry d in whole seconds.
func MaxAge(d time.Duration) Requirement {
	return Requirement{maxAge: max(d, 0), hasAge: true}
}

// Scope requires the scope s; with several space-separated scopes, all of
// them.
func Scope(s string) Requirement {
	return Requirement{scope: strings.Fields(s)}
}

// Check reports whether c meets every requirement, and returns the
// challenge to send when it does not: 401 insufficient_user_authentication
// (with acr_values and max_age) when the authentication is too weak or too
// old, else 403 insufficient_scope. The result is nil when c meets them;
// being a *ChallengeError, keep it out of a variable of type error before
// testing it against nil.
func (v *Verifier) Check(c *Claims, reqs ...Requirement) *ChallengeError {
	if c == nil {
		return invalidToken(errors.New("rs: no claims"))
	}
	var (
		acrOK, ageOK = true, true
		acr          []string
		maxAge       = time.Duration(-1)
		missing      []string
		scopes       []string
	)
	have := strings.Fields(c.Scope)
	for _, r := range reqs {
		if len(r.acr) > 0 {
			ok := v.satisfiesAny(c.ACR, r.acr)
			if acr == nil || (acrOK && !ok) {
				acr = r.acr // the first unmet requirement names the values
			}
			acrOK = acrOK && ok
		}
		if r.hasAge {
			if maxAge < 0 || r.maxAge < maxAge {
				maxAge = r.maxAge
			}
		}
		for _, s := range r.scope {
			scopes = append(scopes, s)
			if !slices.Contains(have, s) {
				missing = append(missing, s)
			}
		}
	}
	if maxAge >= 0 {
		ageOK = !c.AuthTime.IsZero() && v.now().Sub(c.AuthTime) <= maxAge+v.skew
	}
	switch {
	case !acrOK:
		return StepUp(acr, maxAge, "A different authentication level is required")
	case !ageOK:
		return StepUp(acr, maxAge, "More recent authentication is required")
	case len(missing) > 0:
		return &ChallengeError{Status: http.StatusForbidden, Challenge: challenge.Challenge{Scheme: "Bearer",
			Error: challenge.ErrorInsufficientScope, ErrorDescription: "The access token lacks a required scope",
			Scope: strings.Join(scopes, " ")}}
	}
	return nil
}

// satisfiesAny reports whether a token's acr meets one of the wanted
// values: the same value, or one it satisfies per stepup_acr_satisfies.
func (v *Verifier) satisfiesAny(acr string, want []string) bool {
	if acr == "" {
		return false
	}
	for _, w := range want {
		if w == acr || slices.Contains(v.satisfies[acr], w) {
			return true
		}
	}
	return false
}

// Require returns middleware that serves a request only when it carries a
// valid bearer token, in the Authorization header, meeting every
// requirement; the verified claims are then in the request's context (see
// ClaimsFrom). Otherwise it answers with the matching challenge:
//
//   - no bearer token: 401, WWW-Authenticate: Bearer realm="…" (no error
//     code, RFC 6750 §3.1);
//   - a malformed Authorization header: 400 invalid_request;
//   - an invalid token: 401 invalid_token;
//   - the authentication too weak or too old: 401
//     insufficient_user_authentication with acr_values and max_age (RFC
//     9470), listing every acr and max_age requirement of the route so that
//     one new authentication meets them all;
//   - a missing scope: 403 insufficient_scope;
//   - an introspection endpoint that cannot be asked: 503.
//
// Descriptions never reveal why a token is invalid, beyond that it
// expired.
func (v *Verifier) Require(reqs ...Requirement) func(http.Handler) http.Handler {
	reqs = slices.Clone(reqs)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tok, ce := v.bearer(r)
			if ce != nil {
				ce.ServeHTTP(w, r)
				return
			}
			c, err := v.Verify(r.Context(), tok)
			if errors.Is(err, ErrIntrospection) {
				w.Header().Set("Cache-Control", "no-store")
				w.Header().Set("Retry-After", "5")
				http.Error(w, "the access token cannot be verified now", http.StatusServiceUnavailable)
				return
			}
			if err != nil {
				invalidToken(err).ServeHTTP(w, r)
				return
			}
			if ce := v.Check(c, reqs...); ce != nil {
				ce.ServeHTTP(w, r)
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), claimsKey{}, c)))
		})
	}
}

// bearer extracts the token of an "Authorization: Bearer" header (RFC
// 6750 §2.1).
func (v *Verifier) bearer(r *http.Request) (string, *ChallengeError) {
	h := r.Header.Values("Authorization")
	if len(h) == 0 {
		return "", v.noToken()
	}
	if len(h) > 1 {
		return "", invalidRequest("Send one Authorization header")
	}
	scheme, tok, _ := strings.Cut(strings.TrimSpace(h[0]), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", v.noToken()
	}
	if tok = strings.TrimLeft(tok, " "); tok == "" || strings.ContainsAny(tok, " \t") {
		return "", invalidRequest("The Authorization header is malformed")
	}
	return tok, nil
}

func (v *Verifier) noToken() *ChallengeError {
	return &ChallengeError{Status: http.StatusUnauthorized, Challenge: challenge.Challenge{Scheme: "Bearer", Realm: v.realm}}
}

func invalidRequest(desc string) *ChallengeError {
	return &ChallengeError{Status: http.StatusBadRequest, Challenge: challenge.Challenge{Scheme: "Bearer",
		Error: challenge.ErrorInvalidRequest, ErrorDescription: desc}}
}

func invalidToken(err error) *ChallengeError {
	desc := "The access token is invalid"
	if errors.Is(err, ErrExpired) {
		desc = "The access token expired"
	}
	return &ChallengeError{Status: http.StatusUnauthorized, Err: err, Challenge: challenge.Challenge{Scheme: "Bearer",
		Error: challenge.ErrorInvalidToken, ErrorDescription: desc}}
}

type claimsKey struct{}

// ClaimsFrom returns the claims Require verified for this request.
func ClaimsFrom(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(*Claims)
	return c, ok
}
