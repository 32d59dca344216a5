package oauth

import (
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// CIBA (OpenID Connect Client-Initiated Backchannel Authentication Core 1.0).
const (
	GrantTypeCIBA = "urn:openid:params:grant-type:ciba"

	AuthorizationPending   Code = "authorization_pending"
	ExpiredToken           Code = "expired_token"
	UnknownUserID          Code = "unknown_user_id"
	ExpiredLoginHintToken  Code = "expired_login_hint_token"
	InvalidBindingMessage  Code = "invalid_binding_message"
	MissingUserCode        Code = "missing_user_code"
	InvalidUserCode        Code = "invalid_user_code"
	TransactionFailed      Code = "transaction_failed"
	MaxBindingMessageRunes      = 64
)

// BackchannelRequest is a parsed backchannel authentication request.
type BackchannelRequest struct {
	Scope                []string
	ACRValues            []string
	LoginHint            string
	IDTokenHint          string
	LoginHintToken       string
	BindingMessage       string
	RequestedExpiry      int // seconds; 0 when absent
	AuthorizationDetails string
	NotificationToken    string
}

// ParseBackchannel checks the syntax of a backchannel authentication
// request body (CIBA Core §7.1).
func ParseBackchannel(form url.Values) (BackchannelRequest, *Error) {
	for p, v := range form {
		if len(v) > 1 {
			return BackchannelRequest{}, Err(InvalidRequest, "duplicate %s parameter", p)
		}
	}
	r := BackchannelRequest{
		Scope: strings.Fields(form.Get("scope")), ACRValues: strings.Fields(form.Get("acr_values")),
		LoginHint: form.Get("login_hint"), IDTokenHint: form.Get("id_token_hint"), LoginHintToken: form.Get("login_hint_token"),
		BindingMessage: form.Get("binding_message"), NotificationToken: form.Get("client_notification_token"),
	}
	if !contains(r.Scope, "openid") {
		return r, Err(InvalidScope, "scope must include openid")
	}
	hints := 0
	for _, h := range []string{r.LoginHint, r.IDTokenHint, r.LoginHintToken} {
		if h != "" {
			hints++
		}
	}
	if hints != 1 {
		return r, Err(InvalidRequest, "exactly one of login_hint, id_token_hint and login_hint_token is required")
	}
	if s := form.Get("requested_expiry"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 || strings.TrimLeft(s, "0123456789") != "" {
			return r, Err(InvalidRequest, "requested_expiry must be a positive number of seconds")
		}
		r.RequestedExpiry = n
	}
	if r.BindingMessage != "" && !ValidBindingMessage(r.BindingMessage) {
		return r, Err(InvalidBindingMessage, "binding_message must be 1 to 64 printable characters")
	}
	if s := form.Get("authorization_details"); s != "" {
		_, canonical, oe := ParseAuthorizationDetails(s)
		if oe != nil {
			return r, oe
		}
		r.AuthorizationDetails = canonical
	}
	return r, nil
}

// ValidBindingMessage reports whether m is short, printable text that a
// user can compare at a glance on two screens.
func ValidBindingMessage(m string) bool {
	if !utf8.ValidString(m) || strings.TrimSpace(m) == "" || utf8.RuneCountInString(m) > MaxBindingMessageRunes {
		return false
	}
	for _, r := range m {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

func contains(l []string, v string) bool {
	for _, x := range l {
		if x == v {
			return true
		}
	}
	return false
}
