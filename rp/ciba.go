package rp

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Error codes of Client-Initiated Backchannel Authentication (OpenID CIBA
// Core 1.0 §11 and §13, RFC 8628 §3.5). Poll handles authorization_pending
// and slow_down itself; the others reach the caller in an *AuthError.
const (
	ErrAuthorizationPending  ErrorCode = "authorization_pending"
	ErrSlowDown              ErrorCode = "slow_down"
	ErrExpiredToken          ErrorCode = "expired_token"
	ErrUnknownUserID         ErrorCode = "unknown_user_id"
	ErrInvalidBindingMessage ErrorCode = "invalid_binding_message"
	ErrExpiredLoginHintToken ErrorCode = "expired_login_hint_token"
)

// GrantTypeCIBA is the token endpoint grant type of CIBA; the client's
// registration must include it.
const GrantTypeCIBA = "urn:openid:params:grant-type:ciba"

const (
	// cibaDefaultInterval is the polling interval when the provider names
	// none (CIBA Core §7.3).
	cibaDefaultInterval = 5 * time.Second
	// cibaSlowDown is what each slow_down adds to the interval (CIBA Core
	// §11, RFC 8628 §3.5).
	cibaSlowDown = 5 * time.Second
	// cibaMarker marks the parameters of a backchannel request while its
	// options apply, so that the CIBA-only options refuse other requests.
	cibaMarker = "\x00ciba"

	paramBindingMessage          = "binding_message"
	paramRequestedExpiry         = "requested_expiry"
	paramClientNotificationToken = "client_notification_token"
)

// CIBAOption sets a parameter of a backchannel authentication request.
// It is an AuthOption: Backchannel accepts LoginHint, IDTokenHint,
// ACRValues, AuthorizationDetails, BindingMessage, RequestedExpiry and
// ClientNotificationToken, and refuses the others (MaxAge, Prompt, PAR …)
// with an error rather than ignoring them.
type CIBAOption = AuthOption

// cibaParams are the parameters Backchannel sends; anything else an
// option sets is refused.
var cibaParams = []string{paramLoginHint, paramIDTokenHint, paramACRValues, paramAuthorizationDetails,
	paramBindingMessage, paramRequestedExpiry, paramClientNotificationToken}

// cibaOnly returns an option that sets key for Backchannel and fails any
// other request.
func cibaOnly(name, key, value string) AuthOption {
	return authOption(func(r *authRequest) {
		if !r.params.Has(cibaMarker) {
			r.fail(fmt.Errorf("rp: %s applies only to Backchannel", name))
			return
		}
		if value == "" {
			r.params.Del(key)
			return
		}
		r.params.Set(key, value)
	})
}

// BindingMessage sets binding_message: a short text (Stepup: 1–64
// printable characters) that the device shows and the user sees again on
// the authentication device, tying the two screens together. Without it
// Stepup generates one and returns it in BackchannelRequest.BindingMessage.
func BindingMessage(msg string) CIBAOption {
	return cibaOnly("BindingMessage", paramBindingMessage, msg)
}

// RequestedExpiry asks for the request to expire after d (whole seconds;
// Stepup allows at most 10 minutes).
func RequestedExpiry(d time.Duration) CIBAOption {
	if d < time.Second {
		return authOption(func(r *authRequest) {
			r.fail(fmt.Errorf("rp: RequestedExpiry: %v is less than a second", d))
		})
	}
	return cibaOnly("RequestedExpiry", paramRequestedExpiry, strconv.FormatInt(int64(d/time.Second), 10))
}

// ClientNotificationToken sets client_notification_token, the bearer
// token a provider in ping mode sends with its notifications (see
// PingHandler). Stepup polls only, and refuses it.
func ClientNotificationToken(token string) CIBAOption {
	return cibaOnly("ClientNotificationToken", paramClientNotificationToken, token)
}

// BackchannelRequest is a started backchannel authentication: keep it
// (it marshals to JSON) and Poll with it.
type BackchannelRequest struct {
	// AuthReqID identifies the request at the token endpoint. It is a
	// credential: do not log it or show it.
	AuthReqID string `json:"auth_req_id"`
	// ExpiresIn is the request's lifetime as the provider answered it.
	ExpiresIn time.Duration `json:"expires_in"`
	// Interval is the minimum time between two polls: the provider's
	// interval (5 s when it names none), raised by 5 s on every slow_down.
	Interval time.Duration `json:"interval"`
	// BindingMessage is the message to display on the device: the one
	// requested, or the one the provider generated.
	BindingMessage string `json:"binding_message,omitempty"`
	// Expiry is when the request expires, by Config.Now.
	Expiry time.Time `json:"expiry"`
}

// SupportsBackchannel reports whether the provider's discovery document
// names a backchannel_authentication_endpoint (CIBA).
func (c *Client) SupportsBackchannel() bool { return c.meta.BackchannelAuthenticationEndpoint != "" }

// Backchannel starts a Client-Initiated Backchannel Authentication
// (OpenID CIBA Core 1.0, poll mode): the provider asks the user, on their
// own device, to approve a sign-in to this client. Exactly one of
// LoginHint and IDTokenHint names the user. The request carries the
// configured Scopes and the client's authentication. Show the returned
// BindingMessage to the user, then call Poll.
//
// Provider errors come back as an *AuthError: ErrUnknownUserID,
// ErrInvalidBindingMessage, ErrInvalidScope, ErrInvalidRequest,
// ErrUnauthorizedClient (the registration lacks GrantTypeCIBA) …
func (c *Client) Backchannel(ctx context.Context, opts ...CIBAOption) (*BackchannelRequest, error) {
	if !c.SupportsBackchannel() {
		return nil, errors.New("rp: Backchannel: the provider has no backchannel_authentication_endpoint")
	}
	r := &authRequest{st: &State{}, params: url.Values{cibaMarker: {"1"}}}
	for _, o := range opts {
		if o != nil {
			o.applyAuth(r)
		}
	}
	if r.err != nil {
		return nil, fmt.Errorf("rp: Backchannel: %w", r.err)
	}
	r.params.Del(cibaMarker)
	if r.par {
		return nil, errors.New("rp: Backchannel: PAR does not apply")
	}
	for k := range r.params {
		if !slices.Contains(cibaParams, k) {
			return nil, fmt.Errorf("rp: Backchannel: %s does not apply to a backchannel request", k)
		}
	}
	if r.params.Has(paramLoginHint) == r.params.Has(paramIDTokenHint) {
		return nil, errors.New("rp: Backchannel: exactly one of LoginHint and IDTokenHint is required")
	}
	form := r.params
	form.Set("scope", strings.Join(c.cfg.Scopes, " "))
	var res struct {
		AuthReqID      string      `json:"auth_req_id"`
		ExpiresIn      json.Number `json:"expires_in"`
		Interval       json.Number `json:"interval"`
		BindingMessage string      `json:"binding_message"`
	}
	if err := c.postForm(ctx, c.meta.BackchannelAuthenticationEndpoint, form, &res, http.StatusOK); err != nil {
		return nil, fmt.Errorf("rp: Backchannel: %w", err)
	}
	if res.AuthReqID == "" {
		return nil, errors.New("rp: Backchannel: the response has no auth_req_id")
	}
	expiresIn, err := res.ExpiresIn.Int64()
	if err != nil || expiresIn <= 0 {
		return nil, fmt.Errorf("rp: Backchannel: invalid expires_in %q", res.ExpiresIn)
	}
	interval := cibaDefaultInterval
	if res.Interval != "" {
		secs, err := res.Interval.Int64()
		if err != nil || secs < 0 {
			return nil, fmt.Errorf("rp: Backchannel: invalid interval %q", res.Interval)
		}
		interval = max(time.Duration(secs)*time.Second, time.Second)
	}
	out := &BackchannelRequest{AuthReqID: res.AuthReqID, ExpiresIn: time.Duration(expiresIn) * time.Second,
		Interval: interval, BindingMessage: res.BindingMessage}
	if out.BindingMessage == "" {
		out.BindingMessage = form.Get(paramBindingMessage)
	}
	out.Expiry = c.cfg.Now().Add(out.ExpiresIn)
	return out, nil
}

// Poll waits for the user's answer to a backchannel request. It polls the
// token endpoint every req.Interval (the first poll too), adding 5 seconds
// to req.Interval on each slow_down, and returns:
//
//   - the verified Tokens once the user approves; the ID token is checked
//     as in Exchange (signature, iss, aud, azp, exp, iat; CIBA has no
//     nonce) and Claims carry acr, amr and auth_time, which the caller
//     compares with what it asked for;
//   - an *AuthError matching ErrAccessDenied when the user denies, or the
//     approval cannot reach the requested acr;
//   - an error matching ErrExpiredToken when the request expires (by the
//     provider's answer, or a minute after req.Expiry by Config.Now);
//   - ctx's error when ctx ends.
//
// Poll waits with Config.Sleep. It updates req.Interval: do not Poll the
// same request from two goroutines.
func (c *Client) Poll(ctx context.Context, req *BackchannelRequest) (*Tokens, error) {
	if req == nil || req.AuthReqID == "" {
		return nil, errors.New("rp: Poll: no BackchannelRequest")
	}
	if req.Interval <= 0 {
		req.Interval = cibaDefaultInterval
	}
	for {
		if err := c.cfg.Sleep(ctx, req.Interval); err != nil {
			return nil, fmt.Errorf("rp: Poll: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("rp: Poll: %w", err)
		}
		tok, err := c.PollOnce(ctx, req)
		switch {
		case err == nil:
			return tok, nil
		case errors.Is(err, ErrSlowDown):
			req.Interval += cibaSlowDown
		case errors.Is(err, ErrAuthorizationPending):
		default:
			return nil, err
		}
		if !req.Expiry.IsZero() && c.cfg.Now().After(req.Expiry.Add(clockSkew)) {
			return nil, fmt.Errorf("rp: Poll: %w: the request expired at %v", ErrExpiredToken, req.Expiry)
		}
	}
}

// PollOnce asks the token endpoint once, without waiting: for a caller
// that schedules polls itself, or that was told by a ping notification
// that the answer is ready. Besides Poll's results it returns an
// *AuthError matching ErrAuthorizationPending or ErrSlowDown; it does not
// change req. Never poll more often than req.Interval.
func (c *Client) PollOnce(ctx context.Context, req *BackchannelRequest) (*Tokens, error) {
	if req == nil || req.AuthReqID == "" {
		return nil, errors.New("rp: Poll: no BackchannelRequest")
	}
	tok, err := c.token(ctx, url.Values{"grant_type": {GrantTypeCIBA}, "auth_req_id": {req.AuthReqID}})
	if err != nil {
		return nil, fmt.Errorf("rp: Poll: %w", err)
	}
	if tok.IDToken == "" {
		return nil, fmt.Errorf("rp: Poll: %w: the token response has no id_token", ErrInvalidIDToken)
	}
	cl, err := c.verifyIDToken(ctx, tok.IDToken, "")
	if err != nil {
		return nil, fmt.Errorf("rp: Poll: %w", err)
	}
	tok.Claims = *cl
	return tok, nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// PingHandler receives CIBA ping notifications (CIBA Core §10.2): a
// provider in ping mode POSTs {"auth_req_id": "…"} with the
// client_notification_token the client sent (ClientNotificationToken) as
// a bearer token. The handler checks the token in constant time, answers
// 204 and calls fn, which should only signal the waiting code to call
// PollOnce. A wrong or missing token gets 401; anything else 400 or 405.
//
// Stepup polls only and sends no pings yet: this is for providers that do.
func PingHandler(token string, fn func(ctx context.Context, authReqID string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		auth := r.Header.Get("Authorization")
		got, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok || token == "" || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
			http.Error(w, "expected application/json", http.StatusBadRequest)
			return
		}
		var body struct {
			AuthReqID string `json:"auth_req_id"`
		}
		raw, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		if err != nil || json.Unmarshal(raw, &body) != nil || body.AuthReqID == "" {
			http.Error(w, "expected {\"auth_req_id\": …}", http.StatusBadRequest)
			return
		}
		fn(r.Context(), body.AuthReqID)
		w.WriteHeader(http.StatusNoContent)
	})
}
