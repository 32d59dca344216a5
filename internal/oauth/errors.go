// Package oauth is the protocol vocabulary of Stepup: the OAuth and OpenID
// Connect error codes with their one status table, and the pure parsers that
// turn wire parameters into typed requests. It holds no HTTP handlers (see
// package server) and no business rules (see package flow).
package oauth

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
)

// Code is an OAuth 2.0 / OpenID Connect error code, exactly as on the wire.
type Code string

// Error codes (RFC 6749 §4.1.2.1 and §5.2, OIDC Core §3.1.2.6, RFC 7009,
// RFC 9126, OpenID Connect Unmet Authentication Requirements 1.0).
const (
	InvalidRequest                  Code = "invalid_request"
	InvalidClient                   Code = "invalid_client"
	InvalidGrant                    Code = "invalid_grant"
	UnauthorizedClient              Code = "unauthorized_client"
	UnsupportedGrantType            Code = "unsupported_grant_type"
	UnsupportedResponseType         Code = "unsupported_response_type"
	UnsupportedTokenType            Code = "unsupported_token_type"
	InvalidScope                    Code = "invalid_scope"
	AccessDenied                    Code = "access_denied"
	ServerError                     Code = "server_error"
	TemporarilyUnavailable          Code = "temporarily_unavailable"
	InteractionRequired             Code = "interaction_required"
	LoginRequired                   Code = "login_required"
	AccountSelectionRequired        Code = "account_selection_required"
	ConsentRequired                 Code = "consent_required"
	InvalidRequestURI               Code = "invalid_request_uri"
	InvalidRequestObject            Code = "invalid_request_object"
	RequestNotSupported             Code = "request_not_supported"
	RequestURINotSupported          Code = "request_uri_not_supported"
	UnmetAuthenticationRequirements Code = "unmet_authentication_requirements"
	InvalidToken                    Code = "invalid_token"
	InsufficientScope               Code = "insufficient_scope"
	SlowDown                        Code = "slow_down"
)

// statusOf is the one table from code to HTTP status for JSON errors.
var statusOf = map[Code]int{
	InvalidRequest:                  http.StatusBadRequest,
	InvalidClient:                   http.StatusUnauthorized,
	InvalidGrant:                    http.StatusBadRequest,
	UnauthorizedClient:              http.StatusBadRequest,
	UnsupportedGrantType:            http.StatusBadRequest,
	UnsupportedResponseType:         http.StatusBadRequest,
	UnsupportedTokenType:            http.StatusBadRequest,
	InvalidScope:                    http.StatusBadRequest,
	AccessDenied:                    http.StatusForbidden,
	ServerError:                     http.StatusInternalServerError,
	TemporarilyUnavailable:          http.StatusServiceUnavailable,
	InteractionRequired:             http.StatusBadRequest,
	LoginRequired:                   http.StatusBadRequest,
	AccountSelectionRequired:        http.StatusBadRequest,
	ConsentRequired:                 http.StatusBadRequest,
	InvalidRequestURI:               http.StatusBadRequest,
	InvalidRequestObject:            http.StatusBadRequest,
	RequestNotSupported:             http.StatusBadRequest,
	RequestURINotSupported:          http.StatusBadRequest,
	UnmetAuthenticationRequirements: http.StatusBadRequest,
	InvalidToken:                    http.StatusUnauthorized,
	InsufficientScope:               http.StatusForbidden,
	InvalidAuthorizationDetails:     http.StatusBadRequest,
	AuthorizationPending:            http.StatusBadRequest,
	ExpiredToken:                    http.StatusBadRequest,
	UnknownUserID:                   http.StatusBadRequest,
	ExpiredLoginHintToken:           http.StatusBadRequest,
	InvalidBindingMessage:           http.StatusBadRequest,
	MissingUserCode:                 http.StatusBadRequest,
	InvalidUserCode:                 http.StatusBadRequest,
	TransactionFailed:               http.StatusBadRequest,
	SlowDown:                        http.StatusBadRequest,
}

// Status returns the HTTP status for a JSON error response with code c.
func (c Code) Status() int {
	if s, ok := statusOf[c]; ok {
		return s
	}
	return http.StatusBadRequest
}

// Error is an OAuth error. Description is shown to the client and must never
// hold secrets or personal data; Err is the cause, logged and never sent.
type Error struct {
	Code        Code
	Description string
	Err         error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Description, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Description)
}

func (e *Error) Unwrap() error { return e.Err }

// Is matches any *Error with the same code, so errors.Is(err, oauth.Err(InvalidGrant)) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// LogValue prints code, description and cause.
func (e *Error) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("code", string(e.Code)), slog.String("description", e.Description)}
	if e.Err != nil {
		attrs = append(attrs, slog.String("cause", e.Err.Error()))
	}
	return slog.GroupValue(attrs...)
}

// Err returns a fresh error with code c and a description.
func Err(c Code, format string, a ...any) *Error {
	return &Error{Code: c, Description: fmt.Sprintf(format, a...)}
}

// Wrap returns a fresh error with code c, a description and a cause.
func Wrap(c Code, cause error, format string, a ...any) *Error {
	return &Error{Code: c, Description: fmt.Sprintf(format, a...), Err: cause}
}

// asOAuth turns any error into an *Error: OAuth errors pass through, anything
// else becomes server_error with a generic description.
func asOAuth(err error) *Error {
	var oe *Error
	if errors.As(err, &oe) {
		return oe
	}
	return &Error{Code: ServerError, Description: "internal error", Err: err}
}
