package loadgen

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// scenario returns the setup and iteration of a scenario.
func (r *runner) scenario(name string) scenario {
	switch name {
	case Discovery:
		return scenario{iter: func(ctx context.Context, w *worker) error {
			var m metadata
			if err := w.getJSON(ctx, r.discoveryURL, &m); err != nil {
				return err
			}
			if m.Issuer != r.cfg.Issuer {
				return fmt.Errorf("discovery: issuer %q", m.Issuer)
			}
			return nil
		}}
	case JWKS:
		return scenario{iter: func(ctx context.Context, w *worker) error {
			var ks jose.JSONWebKeySet
			if err := w.getJSON(ctx, r.meta.JWKSURI, &ks); err != nil {
				return err
			}
			if len(ks.Keys) == 0 {
				return errors.New("jwks: no keys")
			}
			return nil
		}}
	case ClientCredentials:
		return scenario{iter: func(ctx context.Context, w *worker) error {
			_, err := w.clientCredentials(ctx)
			return err
		}}
	case Introspection:
		return scenario{
			setup: func(ctx context.Context, w *worker) (err error) {
				w.accessToken, err = w.clientCredentials(ctx)
				return err
			},
			iter: func(ctx context.Context, w *worker) error {
				var res struct {
					Active bool `json:"active"`
				}
				if err := w.postJSON(ctx, r.meta.IntrospectionEndpoint, url.Values{"token": {w.accessToken}}, &res); err != nil {
					return fmt.Errorf("introspect: %w", err)
				}
				if !res.Active {
					return errors.New("introspect: the token is not active")
				}
				return nil
			}}
	case CodeFlowSSO:
		return scenario{
			setup: func(ctx context.Context, w *worker) error {
				_, _, err := w.login(ctx, byPassword, nil)
				return err
			},
			iter: func(ctx context.Context, w *worker) error {
				ar, p, err := w.authorize(ctx, nil)
				if err != nil {
					return err
				}
				code, err := w.code(ar, p) // the session answers at once
				if err != nil {
					return err
				}
				_, _, err = w.redeem(ctx, ar, code)
				return err
			}}
	case CodeFlowPassword:
		return scenario{iter: func(ctx context.Context, w *worker) error {
			if err := w.resetCookies(); err != nil {
				return err
			}
			_, _, err := w.login(ctx, byPassword, nil)
			return err
		}}
	case CodeFlowPasskey:
		return scenario{iter: func(ctx context.Context, w *worker) error {
			if err := w.resetCookies(); err != nil {
				return err
			}
			_, c, err := w.login(ctx, byPasskey, nil)
			if err == nil && c.ACR == "" {
				err = errors.New("passkey login: no acr")
			}
			return err
		}}
	case StepUp:
		return scenario{iter: func(ctx context.Context, w *worker) error {
			if err := w.resetCookies(); err != nil {
				return err
			}
			ar, p, err := w.authorize(ctx, nil)
			if err != nil {
				return err
			}
			if p, err = w.drive(ctx, p, byPassword); err != nil {
				return err
			}
			if _, err := w.code(ar, p); err != nil {
				return fmt.Errorf("password session: %w", err)
			}
			_, c, err := w.login(ctx, byPasskey, url.Values{"acr_values": {"phr"}})
			if err != nil {
				return fmt.Errorf("step-up: %w", err)
			}
			if c.ACR != "phr" {
				return fmt.Errorf("step-up: acr %q, want phr", c.ACR)
			}
			return nil
		}}
	case Refresh:
		return scenario{
			setup: func(ctx context.Context, w *worker) error {
				t, c, err := w.login(ctx, byPassword, nil)
				if err != nil {
					return err
				}
				if t.RefreshToken == "" {
					return errors.New("the token response has no refresh_token")
				}
				w.refreshToken, w.nonce = t.RefreshToken, c.Nonce
				return nil
			},
			iter: func(ctx context.Context, w *worker) error {
				var t tokens
				if err := w.postJSON(ctx, r.meta.TokenEndpoint, url.Values{"grant_type": {"refresh_token"},
					"refresh_token": {w.refreshToken}}, &t); err != nil {
					return fmt.Errorf("refresh: %w", err)
				}
				if t.AccessToken == "" {
					return errors.New("refresh: no access_token")
				}
				if t.RefreshToken != "" {
					w.refreshToken = t.RefreshToken
				}
				if t.IDToken != "" {
					if _, err := r.verifyIDToken(ctx, t.IDToken, w.nonce, false); err != nil {
						return fmt.Errorf("refresh: %w", err)
					}
				}
				return nil
			}}
	case CIBA:
		return scenario{
			setup: func(ctx context.Context, w *worker) error { return w.appSignIn(ctx) },
			iter:  func(ctx context.Context, w *worker) error { return w.ciba(ctx) }}
	}
	return scenario{iter: func(context.Context, *worker) error { return fmt.Errorf("unknown scenario %q", name) }}
}

func (w *worker) clientCredentials(ctx context.Context) (string, error) {
	var t tokens
	if err := w.postJSON(ctx, w.r.meta.TokenEndpoint, url.Values{"grant_type": {"client_credentials"}}, &t); err != nil {
		return "", fmt.Errorf("client_credentials: %w", err)
	}
	if t.AccessToken == "" {
		return "", errors.New("client_credentials: no access_token")
	}
	return t.AccessToken, nil
}

// appURL is a path of Stepup's authenticator app.
func (w *worker) appURL(path string) string {
	return strings.TrimSuffix(w.r.cfg.Issuer, "/") + path
}

// appSignIn signs the worker in to the authenticator app with the password.
func (w *worker) appSignIn(ctx context.Context) error {
	p, err := w.do(ctx, http.MethodGet, w.appURL("/app/login"), nil, false)
	if err != nil {
		return err
	}
	if p, err = w.drive(ctx, p, byPassword); err != nil {
		return err
	}
	if p.location != nil || p.url.Path != "/app" || !strings.Contains(p.body, `id="requests"`) {
		return fmt.Errorf("after signing in to the app: %s (HTTP %d): %s", p.url.Path, p.status, p.snippet())
	}
	return nil
}

// ciba is a backchannel request approved in the app, then one poll.
func (w *worker) ciba(ctx context.Context) error {
	w.n++
	binding := fmt.Sprintf("LG-%d-%d", w.id, w.n)
	var ack struct {
		AuthReqID string `json:"auth_req_id"`
		Interval  int    `json:"interval"`
	}
	if err := w.postJSON(ctx, w.r.meta.BackchannelEndpoint, url.Values{"scope": {"openid"},
		"login_hint": {w.r.cfg.User}, "binding_message": {binding}}, &ack); err != nil {
		return fmt.Errorf("backchannel: %w", err)
	}
	app, err := w.do(ctx, http.MethodGet, w.appURL("/app"), nil, false)
	if err != nil {
		return err
	}
	var section string
	for _, m := range sectionRE.FindAllStringSubmatch(app.body, -1) {
		if strings.Contains(m[2], ">"+html.EscapeString(binding)+"<") {
			section = m[0]
		}
	}
	if section == "" {
		return fmt.Errorf("the app does not show request %s", binding)
	}
	p, err := w.submit(ctx, page{status: app.status, url: app.url, body: section},
		url.Values{"decision": {"approve"}, "password": {w.r.cfg.Password}})
	if err != nil {
		return err
	}
	if optionsRE.MatchString(p.body) { // the user has a passkey: approve with it
		resp, err := w.r.ceremony(p, false)
		if err != nil {
			return err
		}
		if p, err = w.submit(ctx, p, url.Values{"response": {string(resp)}}); err != nil {
			return err
		}
	}
	if p.url.Path != "/app" || p.url.Query().Get("m") != "approved" {
		return fmt.Errorf("approval in the app: %s?%s (HTTP %d)", p.url.Path, p.url.RawQuery, p.status)
	}
	for range 5 {
		var t tokens
		err := w.postJSON(ctx, w.r.meta.TokenEndpoint, url.Values{"grant_type": {"urn:openid:params:grant-type:ciba"},
			"auth_req_id": {ack.AuthReqID}}, &t)
		var oe *oauthError
		if errors.As(err, &oe) && (oe.Code == "authorization_pending" || oe.Code == "slow_down") {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(max(ack.Interval, 1)) * time.Second):
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("ciba poll: %w", err)
		}
		_, err = w.r.verifyIDToken(ctx, t.IDToken, "", false)
		return err
	}
	return errors.New("ciba: still pending after approval")
}
