package rp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Config describes a relying party registered at an OpenID provider.
type Config struct {
	// Issuer is the provider's issuer identifier, e.g.
	// "https://id.example.com". Discovery must return exactly this value.
	Issuer string
	// ClientID and ClientSecret are the client's credentials. Without a
	// secret the client is public: it sends only its client_id and relies
	// on PKCE, which every request carries anyway.
	ClientID     string
	ClientSecret string
	// TokenEndpointAuthMethod is how a confidential client authenticates
	// at the token and PAR endpoints: "client_secret_basic" (the default)
	// or "client_secret_post". It must match the client's registration.
	TokenEndpointAuthMethod string
	// RedirectURL is the registered redirect URI the provider sends the
	// browser back to.
	RedirectURL string
	// Scopes are the requested scopes; nil means just "openid". A
	// non-empty list must include "openid".
	Scopes []string
	// HTTPClient makes every back-channel request (discovery, JWKS, PAR,
	// token). Nil means a client with a 30-second timeout.
	HTTPClient *http.Client
	// AllowInsecureHTTP lets the issuer and its endpoints use plain http
	// on hosts other than loopback ones. Default false: https, except for
	// localhost, 127.0.0.0/8 and ::1.
	AllowInsecureHTTP bool
	// Now is the clock used to check token times; nil means time.Now.
	Now func() time.Time
	// Sleep waits between CIBA polls (Client.Poll): it returns after d,
	// or ctx's error if ctx ends first. Nil means a timer. Tests set it to
	// advance a fake clock instead of waiting.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Client is a relying party bound to one provider and one client
// registration. It is safe for concurrent use.
type Client struct {
	cfg  Config
	meta metadata
	keys *keySet
}

// metadata is the part of the provider's discovery document a relying
// party uses.
type metadata struct {
	Issuer                             string   `json:"issuer"`
	AuthorizationEndpoint              string   `json:"authorization_endpoint"`
	TokenEndpoint                      string   `json:"token_endpoint"`
	JWKSURI                            string   `json:"jwks_uri"`
	PushedAuthorizationRequestEndpoint string   `json:"pushed_authorization_request_endpoint"`
	RequirePushedAuthorizationRequests bool     `json:"require_pushed_authorization_requests"`
	AuthorizationResponseISS           bool     `json:"authorization_response_iss_parameter_supported"`
	IDTokenSigningAlgs                 []string `json:"id_token_signing_alg_values_supported"`
	BackchannelAuthenticationEndpoint  string   `json:"backchannel_authentication_endpoint"`
	BackchannelTokenDeliveryModes      []string `json:"backchannel_token_delivery_modes_supported"`
}

const (
	// clockSkew is the tolerance on exp, iat and auth_time.
	clockSkew = time.Minute
	// maxBody bounds every back-channel response read.
	maxBody = 1 << 20
)

// New fetches the provider's discovery document, checks that it names
// cfg.Issuer exactly, and returns a client. Signing keys are fetched on
// first use and cached.
func New(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.Issuer == "" || cfg.ClientID == "" || cfg.RedirectURL == "" {
		return nil, errors.New("rp: Issuer, ClientID and RedirectURL are required")
	}
	if cfg.Scopes == nil {
		cfg.Scopes = []string{"openid"}
	} else if !slices.Contains(cfg.Scopes, "openid") {
		return nil, errors.New(`rp: Scopes must include "openid"`)
	}
	cfg.Scopes = slices.Clone(cfg.Scopes)
	switch cfg.TokenEndpointAuthMethod {
	case "":
		if cfg.ClientSecret != "" {
			cfg.TokenEndpointAuthMethod = "client_secret_basic"
		} else {
			cfg.TokenEndpointAuthMethod = "none"
		}
	case "client_secret_basic", "client_secret_post":
		if cfg.ClientSecret == "" {
			return nil, fmt.Errorf("rp: TokenEndpointAuthMethod %s needs a ClientSecret", cfg.TokenEndpointAuthMethod)
		}
	default:
		return nil, fmt.Errorf("rp: unsupported TokenEndpointAuthMethod %q", cfg.TokenEndpointAuthMethod)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleep
	}
	if err := checkURL("Issuer", cfg.Issuer, cfg.AllowInsecureHTTP); err != nil {
		return nil, err
	}
	if _, err := url.Parse(cfg.RedirectURL); err != nil {
		return nil, fmt.Errorf("rp: RedirectURL: %w", err)
	}

	var m metadata
	wellKnown := strings.TrimSuffix(cfg.Issuer, "/") + "/.well-known/openid-configuration"
	if err := getJSON(ctx, cfg.HTTPClient, wellKnown, &m); err != nil {
		return nil, fmt.Errorf("rp: discovery: %w", err)
	}
	if m.Issuer != cfg.Issuer {
		return nil, fmt.Errorf("rp: discovery: %w: document names %q, want %q", ErrIssuerMismatch, m.Issuer, cfg.Issuer)
	}
	for _, e := range []struct{ name, u string }{
		{"authorization_endpoint", m.AuthorizationEndpoint},
		{"token_endpoint", m.TokenEndpoint},
		{"jwks_uri", m.JWKSURI},
	} {
		if e.u == "" {
			return nil, fmt.Errorf("rp: discovery: %s is missing", e.name)
		}
		if err := checkURL(e.name, e.u, cfg.AllowInsecureHTTP); err != nil {
			return nil, fmt.Errorf("rp: discovery: %w", err)
		}
	}
	for _, e := range []struct{ name, u string }{
		{"pushed_authorization_request_endpoint", m.PushedAuthorizationRequestEndpoint},
		{"backchannel_authentication_endpoint", m.BackchannelAuthenticationEndpoint},
	} {
		if e.u == "" {
			continue
		}
		if err := checkURL(e.name, e.u, cfg.AllowInsecureHTTP); err != nil {
			return nil, fmt.Errorf("rp: discovery: %w", err)
		}
	}
	algs := allowedAlgs(m.IDTokenSigningAlgs)
	if len(algs) == 0 {
		return nil, fmt.Errorf("rp: discovery: none of the ID token algorithms %v is supported (ES256, RS256, EdDSA)", m.IDTokenSigningAlgs)
	}
	return &Client{cfg: cfg, meta: m, keys: newKeySet(cfg.HTTPClient, m.JWKSURI, algs, cfg.Now)}, nil
}

// checkURL requires an absolute https URL, or http on a loopback host
// (or anywhere when insecure is set).
func checkURL(name, raw string, insecure bool) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("rp: %s: %w", name, err)
	}
	switch {
	case u.Host == "":
		return fmt.Errorf("rp: %s %q is not an absolute URL", name, raw)
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && (insecure || isLoopback(u.Hostname())):
		return nil
	}
	return fmt.Errorf("rp: %s %q must use https", name, raw)
}

func isLoopback(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// getJSON fetches u and decodes a JSON body answered with 200.
func getJSON(ctx context.Context, hc *http.Client, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	res, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxBody))
	if err != nil {
		return fmt.Errorf("read %s: %w", u, err)
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d", u, res.StatusCode)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("decode %s: %w", u, err)
	}
	return nil
}

// postForm sends form to u with the client's authentication and decodes
// the JSON answer into v when the status is one of ok. An OAuth error
// body becomes an *AuthError.
func (c *Client) postForm(ctx context.Context, u string, form url.Values, v any, ok ...int) error {
	form = cloneValues(form)
	basic := false
	switch c.cfg.TokenEndpointAuthMethod {
	case "client_secret_basic":
		basic = true
	case "client_secret_post":
		form.Set("client_id", c.cfg.ClientID)
		form.Set("client_secret", c.cfg.ClientSecret)
	default: // none: a public client names itself
		form.Set("client_id", c.cfg.ClientID)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	if basic {
		// RFC 6749 §2.3.1: both parts are form-encoded before Basic.
		req.SetBasicAuth(url.QueryEscape(c.cfg.ClientID), url.QueryEscape(c.cfg.ClientSecret))
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	res, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxBody))
	if err != nil {
		return fmt.Errorf("read response: %w", err)
	}
	if slices.Contains(ok, res.StatusCode) {
		if err := json.Unmarshal(raw, v); err != nil {
			return fmt.Errorf("decode response: %w", err)
		}
		return nil
	}
	var e struct {
		Code        string `json:"error"`
		Description string `json:"error_description"`
	}
	mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type"))
	if mt == "application/json" && json.Unmarshal(raw, &e) == nil && e.Code != "" {
		return &AuthError{Code: ErrorCode(e.Code), Description: e.Description}
	}
	return fmt.Errorf("HTTP %d", res.StatusCode)
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v)+2)
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}
