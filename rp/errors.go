package rp

import (
	"errors"
	"fmt"
)

// ErrorCode is an OAuth 2.0 or OpenID Connect error code, exactly as the
// provider sends it in the error parameter. The constants below are also
// errors, so that a caller can write
//
//	errors.Is(err, rp.ErrUnmetAuthenticationRequirements)
//
// for any error that carries an [*AuthError] with that code.
type ErrorCode string

// Error codes an authorization response or the token endpoint may carry
// (RFC 6749 §4.1.2.1 and §5.2, OpenID Connect Core §3.1.2.6, RFC 9126,
// RFC 9396, OpenID Connect Unmet Authentication Requirements 1.0).
const (
	ErrInvalidRequest                  ErrorCode = "invalid_request"
	ErrUnauthorizedClient              ErrorCode = "unauthorized_client"
	ErrAccessDenied                    ErrorCode = "access_denied"
	ErrUnsupportedResponseType         ErrorCode = "unsupported_response_type"
	ErrInvalidScope                    ErrorCode = "invalid_scope"
	ErrServerError                     ErrorCode = "server_error"
	ErrTemporarilyUnavailable          ErrorCode = "temporarily_unavailable"
	ErrInteractionRequired             ErrorCode = "interaction_required"
	ErrLoginRequired                   ErrorCode = "login_required"
	ErrAccountSelectionRequired        ErrorCode = "account_selection_required"
	ErrConsentRequired                 ErrorCode = "consent_required"
	ErrInvalidRequestURI               ErrorCode = "invalid_request_uri"
	ErrUnmetAuthenticationRequirements ErrorCode = "unmet_authentication_requirements"
	ErrInvalidAuthorizationDetails     ErrorCode = "invalid_authorization_details"
	ErrInvalidClient                   ErrorCode = "invalid_client"
	ErrInvalidGrant                    ErrorCode = "invalid_grant"
	ErrUnsupportedGrantType            ErrorCode = "unsupported_grant_type"
)

// Error returns the code as on the wire, so that printing an
// AuthError's Code shows just the code.
func (c ErrorCode) Error() string { return string(c) }

// AuthError is an error the provider returned: in the authorization
// response (error and error_description on the redirect URI), from the
// pushed authorization request endpoint, or from the token endpoint.
// It matches its [ErrorCode] through errors.Is.
type AuthError struct {
	Code        ErrorCode // the error parameter, e.g. "access_denied"
	Description string    // error_description: for logs, not for end users
}

// Error returns the code and the description. The client's methods wrap
// it with what they were doing ("rp: Exchange: …").
func (e *AuthError) Error() string {
	if e.Description == "" {
		return string(e.Code)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Description)
}

// Is reports whether target is e's code, or an *AuthError with the same code.
func (e *AuthError) Is(target error) bool {
	switch t := target.(type) {
	case ErrorCode:
		return t == e.Code
	case *AuthError:
		return t != nil && t.Code == e.Code
	}
	return false
}

// Errors found by the client itself while checking a callback or a token.
// Exchange wraps them with the detail; test them with errors.Is.
var (
	// ErrStateMismatch: the callback's state is not the one this login
	// started with (a forged or crossed callback).
	ErrStateMismatch = errors.New("rp: state mismatch")
	// ErrIssuerMismatch: the callback's RFC 9207 iss is not the provider's
	// issuer, or is missing although the provider promises it (mix-up).
	ErrIssuerMismatch = errors.New("rp: issuer mismatch")
	// ErrInvalidIDToken: the ID token's signature, iss, aud, azp, exp, iat
	// or nonce is wrong, or it is malformed.
	ErrInvalidIDToken = errors.New("rp: invalid ID token")
	// ErrSubjectChanged: a step-up for user S ended with another user's
	// ID token. Treat it as an attack: do not resume the action.
	ErrSubjectChanged = errors.New("rp: subject changed during step-up")
	// ErrMaxAgeExceeded: max_age was requested and the ID token's
	// auth_time is missing or older than max_age.
	ErrMaxAgeExceeded = errors.New("rp: authentication older than max_age")
	// ErrACRNotMet: an essential acr was requested and the ID token's
	// acr is not one of the requested values.
	ErrACRNotMet = errors.New("rp: acr is not one of the essential values")
)
