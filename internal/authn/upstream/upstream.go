// Package upstream is the federated authentication method: Stepup acts as an
// OpenID Connect relying party of an upstream provider (for example BankID
// High) and turns a successful login there into an authn.Event.
//
// It knows nothing of HTTP servers: the HTTP edge redirects the browser to
// the URL Begin returns and hands the callback's query to Finish. Outbound
// calls (discovery, JWKS, token endpoint) use Config.HTTPClient.
//
// # Flow
//
// Begin builds an authorization code request with PKCE (S256), a nonce and
// a state. Nothing is stored: the PKCE verifier, the nonce and the caller's
// opaque resume string travel sealed (Config.Sealer, purpose
// "upstream/"+Name, 10 minutes) inside the state parameter, which has the
// form "<name>.<sealed>" so that a shared callback can dispatch on
// NameFromState before calling the right Method's Finish.
//
// Finish opens the state, checks the authorization response's iss parameter
// (RFC 9207: a present iss must equal the issuer; an absent one is refused
// when the upstream advertises authorization_response_iss_parameter_supported),
// exchanges the code with the PKCE verifier, verifies the ID token (signature
// against the upstream's JWKS, issuer, audience, azp, expiry, nonce) and
// builds the Event.
//
// The state is not single-use by itself; the authorization code is, at the
// upstream. The caller must check that the resume string belongs to the
// browser presenting the callback (for instance, that it is the transaction
// bound to that browser's cookie), otherwise a callback URL could be used to
// log another browser in (login CSRF).
//
// # Assurance
//
// With a non-empty ACRMap, the event's Assurance is ACRMap[acr] for the acr
// the upstream returned, and empty for an acr not in the map. Without an
// ACRMap, the event gets Config.Assurance; but when ACRValues are configured,
// only if the returned acr is one of them (acr_values is a voluntary request
// an upstream may answer with a lower level, which must not be labelled as
// the requested one).
//
// # Linking
//
// Link maps the upstream subject to a local user through store.Links. On
// first use, a link can be created by matching one ID token claim with a
// local user: only LinkClaim "nnin" is supported (store.Users.GetUserByNNIN).
//
// # Secrets
//
// Nothing in this package logs. Errors never include codes, tokens, nonces,
// PKCE verifiers, claim values (Result.Claims holds personal data such as
// the nnin: do not log it), or the upstream's error_description.
package upstream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/stepup-oidc/stepup/internal/authn"
	"github.com/stepup-oidc/stepup/internal/seal"
)

// Sentinel errors, matched with errors.Is.
var (
	// ErrBadState means the callback cannot be accepted: the state is
	// missing, tampered, expired or for another upstream, the code is
	// missing, or the iss parameter does not match (mix-up, RFC 9207).
	ErrBadState = errors.New("upstream: invalid or expired state")
	// ErrUpstreamDenied means the upstream answered with an error response
	// (access_denied, login_required, ...). The error is an *DeniedError.
	ErrUpstreamDenied = errors.New("upstream: denied by the provider")
	// ErrTokenInvalid means the ID token is missing or does not verify
	// (signature, issuer, audience, azp, expiry, nonce, subject).
	ErrTokenInvalid = errors.New("upstream: invalid id token")
	// ErrProvider means a request to the upstream failed: discovery, or the
	// token request (unreachable, or an error answer such as invalid_grant
	// for a code already used).
	ErrProvider = errors.New("upstream: provider request failed")
	// ErrNotLinked means the upstream subject is linked to no local user
	// and no link could be created.
	ErrNotLinked = errors.New("upstream: account not linked")
	// ErrWrongUser means the upstream subject belongs to another local user
	// than the one who must authenticate.
	ErrWrongUser = errors.New("upstream: account belongs to another user")
	// ErrUserDisabled means the linked local user is disabled.
	ErrUserDisabled = errors.New("upstream: user disabled")
)

// DeniedError is the upstream's error response. Code is the error code
// reduced to letters, digits, '_', '-' and '.' (at most 64 of them), safe
// to log; the error_description is never kept.
type DeniedError struct {
	Code string
}

func (e *DeniedError) Error() string { return "upstream: denied by the provider: " + e.Code }

// Unwrap makes a DeniedError match ErrUpstreamDenied.
func (e *DeniedError) Unwrap() error { return ErrUpstreamDenied }

// ChoicePrefix prefixes an upstream's name in a login choice value.
const ChoicePrefix = "upstream:"

// LinkClaimNNIN links on the "nnin" claim (national identity number).
const LinkClaimNNIN = "nnin"

// stateTTL bounds the time spent at the upstream.
const stateTTL = 10 * time.Minute

// Config configures one upstream provider.
type Config struct {
	// Name identifies the upstream (letters, digits, '-' and '_'): it
	// prefixes the state, names the links, and makes the choice value
	// "upstream:<name>".
	Name        string
	DisplayName string
	// Issuer is the upstream issuer URL (https, or http on a loopback
	// host). Discovery is fetched from it on first use and cached; a failed
	// fetch is retried on the next call.
	Issuer       string
	ClientID     string
	ClientSecret string // empty for a public client
	// RedirectURI is Stepup's callback, e.g. <issuer>/upstream/callback.
	RedirectURI string
	// Scopes default to [openid]; openid is added when missing.
	Scopes []string
	// ACRValues are the acr_values sent; nothing else is ever sent (empty =
	// no acr_values parameter).
	ACRValues []string
	// Assurance labels the events (e.g. "high"); see the package comment.
	Assurance string
	// ACRMap maps an upstream acr to an assurance label; see the package
	// comment.
	ACRMap map[string]string
	// Factors an authentication there proves; default [knowledge, possession].
	Factors []string
	// AMR recorded in events; default the upstream's amr, else ["fed"].
	AMR []string
	// LinkClaim is the claim used to link a first-time upstream subject to
	// a local user: "" (existing links only) or "nnin".
	LinkClaim string
	// HTTPClient makes the outbound calls; default a client with a 10s
	// timeout.
	HTTPClient *http.Client
	// Sealer seals the state. Its Secret and Now must be set.
	Sealer seal.Sealer
	// Now is the clock for events and ID token expiry; default time.Now.
	Now func() time.Time
}

// Method is one configured upstream provider. It is safe for concurrent use.
type Method struct {
	cfg Config

	mu   sync.Mutex
	disc *discovery // nil until fetched successfully
}

// discovery is what the upstream's metadata gives us.
type discovery struct {
	oauth2   oauth2.Config
	verifier *oidc.IDTokenVerifier
	// issParam is authorization_response_iss_parameter_supported.
	issParam bool
}

// New checks cfg, fills in the defaults and returns the Method. It makes
// no network call.
func New(cfg Config) (*Method, error) {
	if !validName(cfg.Name) {
		return nil, fmt.Errorf("upstream: name %q: want 1-64 letters, digits, '-' or '_'", cfg.Name)
	}
	if err := checkURL(cfg.Issuer, false); err != nil {
		return nil, fmt.Errorf("upstream %s: issuer: %w", cfg.Name, err)
	}
	if err := checkURL(cfg.RedirectURI, true); err != nil {
		return nil, fmt.Errorf("upstream %s: redirect URI: %w", cfg.Name, err)
	}
	if cfg.ClientID == "" {
		return nil, fmt.Errorf("upstream %s: client ID is required", cfg.Name)
	}
	if cfg.Sealer.Secret == nil || cfg.Sealer.Now == nil {
		return nil, fmt.Errorf("upstream %s: sealer secret and clock are required", cfg.Name)
	}
	switch cfg.LinkClaim {
	case "", LinkClaimNNIN:
	default:
		return nil, fmt.Errorf("upstream %s: link claim %q: only %q is supported", cfg.Name, cfg.LinkClaim, LinkClaimNNIN)
	}
	cfg.Scopes = slices.Clone(cfg.Scopes)
	if !slices.Contains(cfg.Scopes, oidc.ScopeOpenID) {
		cfg.Scopes = append([]string{oidc.ScopeOpenID}, cfg.Scopes...)
	}
	cfg.ACRValues = slices.Clone(cfg.ACRValues)
	if len(cfg.ACRMap) > 0 {
		m := make(map[string]string, len(cfg.ACRMap))
		for k, v := range cfg.ACRMap {
			m[k] = v
		}
		cfg.ACRMap = m
	} else {
		cfg.ACRMap = nil
	}
	if len(cfg.Factors) == 0 {
		cfg.Factors = []string{authn.FactorKnowledge, authn.FactorPossession}
	} else {
		cfg.Factors = slices.Clone(cfg.Factors)
	}
	cfg.AMR = slices.Clone(cfg.AMR)
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.DisplayName == "" {
		cfg.DisplayName = cfg.Name
	}
	return &Method{cfg: cfg}, nil
}

// Name returns the upstream's name.
func (m *Method) Name() string { return m.cfg.Name }

// DisplayName returns the name shown to users.
func (m *Method) DisplayName() string { return m.cfg.DisplayName }

// Choice returns the login choice value, "upstream:<name>".
func (m *Method) Choice() string { return ChoicePrefix + m.cfg.Name }

// NameFromState returns the upstream name a state parameter was issued
// for, so that a shared callback can pick the Method; "" when the state
// has no name. The name is not authenticated until Finish opens the state.
func NameFromState(state string) string {
	name, _, ok := strings.Cut(state, ".")
	if !ok || !validName(name) {
		return ""
	}
	return name
}

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// checkURL wants an absolute https URL (http on loopback hosts) without a
// fragment; a query only when allowQuery.
func checkURL(s string, allowQuery bool) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q: %w", s, err)
	}
	if u.Host == "" || u.Fragment != "" || (!allowQuery && u.RawQuery != "") {
		return fmt.Errorf("%q: not an absolute URL", s)
	}
	switch u.Scheme {
	case "https":
	case "http":
		h := u.Hostname()
		if ip := net.ParseIP(h); h != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return fmt.Errorf("%q: http is only allowed on loopback hosts", s)
		}
	default:
		return fmt.Errorf("%q: scheme must be https", s)
	}
	return nil
}

// clientContext carries the HTTP client to go-oidc and oauth2.
func (m *Method) clientContext(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, m.cfg.HTTPClient)
}

// discover returns the cached discovery, fetching it when absent. A failure
// is not cached. Concurrent first calls may each fetch; one result wins.
func (m *Method) discover(ctx context.Context) (*discovery, error) {
	m.mu.Lock()
	d := m.disc
	m.mu.Unlock()
	if d != nil {
		return d, nil
	}
	p, err := oidc.NewProvider(m.clientContext(ctx), m.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: discovery: %w", ErrProvider, m.cfg.Name, err)
	}
	var meta struct {
		IssParam  bool     `json:"authorization_response_iss_parameter_supported"`
		TokenAuth []string `json:"token_endpoint_auth_methods_supported"`
	}
	if err := p.Claims(&meta); err != nil {
		return nil, fmt.Errorf("%w: %s: discovery: %w", ErrProvider, m.cfg.Name, err)
	}
	ep := p.Endpoint()
	if ep.AuthURL == "" || ep.TokenURL == "" {
		return nil, fmt.Errorf("%w: %s: discovery: missing authorization or token endpoint", ErrProvider, m.cfg.Name)
	}
	ep.AuthStyle = authStyle(m.cfg.ClientSecret, meta.TokenAuth)
	d = &discovery{
		oauth2: oauth2.Config{
			ClientID:     m.cfg.ClientID,
			ClientSecret: m.cfg.ClientSecret,
			Endpoint:     ep,
			RedirectURL:  m.cfg.RedirectURI,
			Scopes:       m.cfg.Scopes,
		},
		verifier: p.Verifier(&oidc.Config{ClientID: m.cfg.ClientID, Now: m.cfg.Now}),
		issParam: meta.IssParam,
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.disc == nil {
		m.disc = d
	}
	return m.disc, nil
}

// authStyle picks the client authentication: none for a public client,
// client_secret_basic when advertised (or nothing is advertised, its
// default), else client_secret_post.
func authStyle(secret string, advertised []string) oauth2.AuthStyle {
	if secret == "" {
		return oauth2.AuthStyleInParams
	}
	if len(advertised) == 0 || slices.Contains(advertised, "client_secret_basic") || !slices.Contains(advertised, "client_secret_post") {
		return oauth2.AuthStyleInHeader
	}
	return oauth2.AuthStyleInParams
}
