package loadgen

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/stepup-oidc/stepup/internal/authn/passkey/softauthn"
)

// metadata is the part of the discovery document the scenarios use.
type metadata struct {
	Issuer                string   `json:"issuer"`
	AuthorizationEndpoint string   `json:"authorization_endpoint"`
	TokenEndpoint         string   `json:"token_endpoint"`
	JWKSURI               string   `json:"jwks_uri"`
	IntrospectionEndpoint string   `json:"introspection_endpoint"`
	BackchannelEndpoint   string   `json:"backchannel_authentication_endpoint"`
	GrantTypesSupported   []string `json:"grant_types_supported"`
	ACRValuesSupported    []string `json:"acr_values_supported"`
}

// runner is the state shared by a run's workers.
type runner struct {
	cfg          Config
	origin       *url.URL
	discoveryURL string
	meta         metadata

	keysMu sync.Mutex
	keys   jose.JSONWebKeySet

	// passkey is the software authenticator shared by all workers; its
	// credential is enrolled once for cfg.User. It keeps no signature
	// counter, like a synced passkey, so concurrent assertions stay valid.
	passkey *softauthn.Authenticator

	probeMu sync.Mutex
	probes  map[string]string // probe name -> reason it failed ("" ok)
	// foreignPasskey is set when cfg.User has a passkey the run does not hold.
	foreignPasskey bool
}

func newRunner(ctx context.Context, cfg Config) (*runner, error) {
	iss, err := url.Parse(cfg.Issuer)
	if err != nil || (iss.Scheme != "https" && iss.Scheme != "http") || iss.Host == "" {
		return nil, fmt.Errorf("loadgen: issuer %q is not an http(s) URL", cfg.Issuer)
	}
	r := &runner{cfg: cfg, origin: &url.URL{Scheme: iss.Scheme, Host: iss.Host}, probes: map[string]string{},
		discoveryURL: strings.TrimSuffix(cfg.Issuer, "/") + "/.well-known/openid-configuration"}
	r.passkey = softauthn.New(iss.Hostname(), r.origin.String(),
		softauthn.Options{UserVerified: true, BackupEligible: true, BackupState: true, NoCounter: true})
	w, err := r.newWorker(-1)
	if err != nil {
		return nil, err
	}
	if err := w.getJSON(ctx, r.discoveryURL, &r.meta); err != nil {
		return nil, fmt.Errorf("loadgen: discovery: %w", err)
	}
	if r.meta.Issuer != cfg.Issuer {
		return nil, fmt.Errorf("loadgen: discovery document names issuer %q, not %q", r.meta.Issuer, cfg.Issuer)
	}
	for name, ep := range map[string]string{"jwks_uri": r.meta.JWKSURI, "token_endpoint": r.meta.TokenEndpoint,
		"authorization_endpoint": r.meta.AuthorizationEndpoint, "introspection_endpoint": r.meta.IntrospectionEndpoint,
		"backchannel_authentication_endpoint": r.meta.BackchannelEndpoint} {
		if ep == "" {
			continue
		}
		if u, err := url.Parse(ep); err != nil || !r.sameOrigin(u) {
			return nil, fmt.Errorf("loadgen: %s %q is outside the issuer's origin; refusing to load it", name, ep)
		}
	}
	if r.meta.JWKSURI == "" {
		return nil, errors.New("loadgen: the discovery document has no jwks_uri")
	}
	if err := r.refreshKeys(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *runner) refreshKeys(ctx context.Context) error {
	w, err := r.newWorker(-1)
	if err != nil {
		return err
	}
	var ks jose.JSONWebKeySet
	if err := w.getJSON(ctx, r.meta.JWKSURI, &ks); err != nil {
		return fmt.Errorf("loadgen: jwks: %w", err)
	}
	r.keysMu.Lock()
	r.keys = ks
	r.keysMu.Unlock()
	return nil
}

// idClaims are the ID token claims the scenarios check.
type idClaims struct {
	jwt.Claims
	Nonce string   `json:"nonce"`
	ACR   string   `json:"acr"`
	AMR   []string `json:"amr"`
}

var signingAlgs = []jose.SignatureAlgorithm{jose.ES256, jose.ES384, jose.ES512, jose.RS256, jose.RS384,
	jose.RS512, jose.PS256, jose.PS384, jose.PS512, jose.EdDSA}

// verifyIDToken checks raw's signature against the issuer's JWKS (fetched
// again once for an unknown key id), iss, aud, exp and the nonce. With
// required false, a missing nonce is accepted (refresh, CIBA).
func (r *runner) verifyIDToken(ctx context.Context, raw, nonce string, required bool) (idClaims, error) {
	var c idClaims
	if raw == "" {
		return c, errors.New("no id_token")
	}
	tok, err := jwt.ParseSigned(raw, signingAlgs)
	if err != nil {
		return c, fmt.Errorf("id_token: %w", err)
	}
	if len(tok.Headers) != 1 {
		return c, errors.New("id_token: not exactly one signature")
	}
	kid := tok.Headers[0].KeyID
	find := func() []jose.JSONWebKey {
		r.keysMu.Lock()
		defer r.keysMu.Unlock()
		if kid == "" {
			return slices.Clone(r.keys.Keys)
		}
		return r.keys.Key(kid)
	}
	cands := find()
	if len(cands) == 0 {
		if err := r.refreshKeys(ctx); err != nil {
			return c, err
		}
		if cands = find(); len(cands) == 0 {
			return c, fmt.Errorf("id_token: key %q is not in the JWKS", kid)
		}
	}
	err = errors.New("id_token: no key")
	for _, k := range cands {
		if err = tok.Claims(k, &c); err == nil {
			break
		}
	}
	if err != nil {
		return c, fmt.Errorf("id_token signature: %w", err)
	}
	if err := c.ValidateWithLeeway(jwt.Expected{Issuer: r.cfg.Issuer, AnyAudience: jwt.Audience{r.cfg.ClientID},
		Time: time.Now()}, time.Minute); err != nil {
		return c, fmt.Errorf("id_token: %w", err)
	}
	if c.Expiry == nil {
		return c, errors.New("id_token: no exp")
	}
	if (required || c.Nonce != "") && c.Nonce != nonce {
		return c, fmt.Errorf("id_token: nonce %q, want %q", c.Nonce, nonce)
	}
	return c, nil
}

// ceremony answers a WebAuthn page with the shared authenticator.
func (r *runner) ceremony(p page, create bool) ([]byte, error) {
	m := optionsRE.FindStringSubmatch(p.body)
	if m == nil {
		return nil, errors.New("no WebAuthn options on the page")
	}
	opts := []byte(html.UnescapeString(m[1]))
	var (
		resp []byte
		err  error
	)
	if create {
		resp, err = r.passkey.Create(opts)
	} else {
		resp, err = r.passkey.Get(opts)
	}
	if err != nil {
		return nil, fmt.Errorf("passkey: %w", err)
	}
	return resp, nil
}

// probe runs fn once per name and remembers why it failed.
func (r *runner) probe(name string, fn func() string) string {
	r.probeMu.Lock()
	defer r.probeMu.Unlock()
	if reason, ok := r.probes[name]; ok {
		return reason
	}
	reason := fn()
	r.probes[name] = reason
	return reason
}

func (r *runner) grant(g string) bool {
	return len(r.meta.GrantTypesSupported) == 0 || slices.Contains(r.meta.GrantTypesSupported, g)
}

// unsupported says why scenario name cannot run against this provider with
// this configuration ("" when it can).
func (r *runner) unsupported(ctx context.Context, name string) string {
	cfg := r.cfg
	client := func() string {
		if cfg.ClientID == "" || cfg.ClientSecret == "" {
			return "needs a confidential client (--client-id, --client-secret)"
		}
		return ""
	}
	pages := func() string {
		if s := client(); s != "" {
			return s
		}
		if cfg.RedirectURI == "" || cfg.User == "" || cfg.Password == "" {
			return "needs --redirect-uri, --user and --password"
		}
		if r.meta.AuthorizationEndpoint == "" || !r.grant("authorization_code") {
			return "the provider does not advertise the authorization code grant"
		}
		return r.probe("pages", func() string { return r.probePages(ctx) })
	}
	passkeys := func() string {
		if s := pages(); s != "" {
			return s
		}
		if !slices.Contains(r.meta.ACRValuesSupported, "phr") {
			return "the provider does not offer passkeys (acr phr); Stepup turns them on for https or localhost issuers"
		}
		return r.probe("passkey", func() string { return r.enrol(ctx) })
	}
	switch name {
	case Discovery, JWKS:
		return ""
	case ClientCredentials:
		if s := client(); s != "" {
			return s
		}
		if !r.grant("client_credentials") {
			return "the provider does not advertise the client_credentials grant"
		}
	case Introspection:
		if s := client(); s != "" {
			return s
		}
		if r.meta.IntrospectionEndpoint == "" {
			return "the provider has no introspection_endpoint"
		}
		if !r.grant("client_credentials") {
			return "needs the client_credentials grant (for a token to introspect)"
		}
	case CodeFlowSSO, CodeFlowPassword:
		return pages()
	case Refresh:
		if !r.grant("refresh_token") {
			return "the provider does not advertise the refresh_token grant"
		}
		return pages()
	case CodeFlowPasskey, StepUp:
		return passkeys()
	case CIBA:
		if r.meta.BackchannelEndpoint == "" || !r.grant("urn:openid:params:grant-type:ciba") {
			return "the provider does not offer CIBA"
		}
		if s := pages(); s != "" {
			return s
		}
		if slices.Contains(r.meta.ACRValuesSupported, "phr") {
			// A user with a passkey approves with it: enrol ours first.
			if s := passkeys(); r.foreignPasskey {
				return "approving in the app needs the user's passkey: " + s
			}
		}
		return r.probe("ciba", func() string { return r.probeCIBA(ctx) })
	}
	return ""
}

// probePages checks that the authorization endpoint leads to Stepup's
// login page.
func (r *runner) probePages(ctx context.Context) string {
	w, err := r.newWorker(-1)
	if err != nil {
		return err.Error()
	}
	_, p, err := w.authorize(ctx, nil)
	if err != nil {
		return "authorization request failed: " + err.Error()
	}
	if p.location != nil {
		return "the authorization request was redirected to " + p.location.Redacted() + " without a login page"
	}
	if p.status != 200 || !isStepupLogin(p) || !strings.Contains(p.body, `autocomplete="current-password"`) {
		return fmt.Sprintf("the login page at %s (HTTP %d) is not Stepup's (no form with tx, csrf and a password); this scenario drives Stepup's pages", p.url.Path, p.status)
	}
	return ""
}

// enrol registers the shared passkey for cfg.User through a phr step-up
// after a password login, and checks that the passkey reaches phr.
func (r *runner) enrol(ctx context.Context) string {
	w, err := r.newWorker(-1)
	if err != nil {
		return err.Error()
	}
	if _, _, err := w.login(ctx, byPassword, nil); err != nil {
		return "password login before enrolment failed: " + err.Error()
	}
	_, c, err := w.login(ctx, toEnroll, url.Values{"acr_values": {"phr"}})
	if errors.Is(err, errForeignPasskey) {
		r.foreignPasskey = true
		return fmt.Sprintf("user %s already has a passkey this run does not hold (each run enrols its own): use a user without passkeys", r.cfg.User)
	}
	if err != nil {
		return "passkey enrolment failed: " + err.Error()
	}
	if c.ACR != "phr" {
		return fmt.Sprintf("after enrolment the ID token has acr %q, not phr", c.ACR)
	}
	return ""
}

// probeCIBA checks that the client may use the backchannel endpoint.
func (r *runner) probeCIBA(ctx context.Context) string {
	w, err := r.newWorker(-1)
	if err != nil {
		return err.Error()
	}
	var ack struct{}
	err = w.postJSON(ctx, r.meta.BackchannelEndpoint, url.Values{"scope": {"openid"}}, &ack)
	var oe *oauthError
	if errors.As(err, &oe) && (oe.Code == "unauthorized_client" || oe.Code == "invalid_client") {
		return "the client may not use CIBA: " + oe.Error()
	}
	if err == nil || (errors.As(err, &oe) && oe.Code == "invalid_request") {
		if err := w.appSignIn(ctx); err != nil {
			return "cannot sign in to the authenticator app: " + err.Error()
		}
		return ""
	}
	return "backchannel request probe: " + err.Error()
}
