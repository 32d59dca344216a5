package upstream

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/stepup-oidc/stepup/internal/authn"
)

// state is what travels sealed in the state parameter.
type state struct {
	Verifier string `json:"v"` // PKCE code verifier
	Nonce    string `json:"n"`
	Resume   string `json:"r"` // the caller's opaque resume string
}

// Result is a verified upstream login.
type Result struct {
	// Resume is the string given to Begin. Finish sets it whenever the state
	// opened, also when it returns an error, so the caller can go back to
	// its transaction.
	Resume string
	// Subject is the upstream's sub.
	Subject string
	// Claims are all the ID token's claims. They hold personal data (such
	// as the nnin): never log them.
	Claims map[string]any
	Event  authn.Event
}

func (m *Method) purpose() string { return "upstream/" + m.cfg.Name }

// Begin returns the upstream authorization URL to redirect the browser to:
// an authorization code request with PKCE S256, a nonce and a sealed state
// carrying resume; login_hint when loginHint is not empty; acr_values when
// Config.ACRValues is not empty. It stores nothing.
func (m *Method) Begin(ctx context.Context, resume, loginHint string) (string, error) {
	d, err := m.discover(ctx)
	if err != nil {
		return "", err
	}
	st := state{Verifier: oauth2.GenerateVerifier(), Nonce: rand.Text(), Resume: resume}
	sealed, err := m.cfg.Sealer.Seal(m.purpose(), st, stateTTL)
	if err != nil {
		return "", fmt.Errorf("upstream %s: seal state: %w", m.cfg.Name, err)
	}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(st.Verifier), oidc.Nonce(st.Nonce)}
	if loginHint != "" {
		opts = append(opts, oauth2.SetAuthURLParam("login_hint", loginHint))
	}
	if len(m.cfg.ACRValues) > 0 {
		opts = append(opts, oauth2.SetAuthURLParam("acr_values", strings.Join(m.cfg.ACRValues, " ")))
	}
	return d.oauth2.AuthCodeURL(m.cfg.Name+"."+sealed, opts...), nil
}

// Finish completes the login from the callback's query parameters (code,
// state, iss, or error). See the package comment for the checks. Errors
// match ErrBadState, ErrUpstreamDenied (a *DeniedError), ErrProvider or
// ErrTokenInvalid.
func (m *Method) Finish(ctx context.Context, query url.Values) (Result, error) {
	st, err := m.openState(query.Get("state"))
	if err != nil {
		return Result{}, err
	}
	res := Result{Resume: st.Resume}
	d, err := m.discover(ctx)
	if err != nil {
		return res, err
	}
	// RFC 9207: error responses carry iss too, so check it first.
	if iss, ok := query["iss"]; ok {
		if len(iss) != 1 || iss[0] != m.cfg.Issuer {
			return res, fmt.Errorf("%w: %s: iss parameter does not name the issuer", ErrBadState, m.cfg.Name)
		}
	} else if d.issParam {
		return res, fmt.Errorf("%w: %s: iss parameter missing", ErrBadState, m.cfg.Name)
	}
	if query.Has("error") {
		return res, &DeniedError{Code: cleanCode(query.Get("error"))}
	}
	code := query.Get("code")
	if code == "" {
		return res, fmt.Errorf("%w: %s: no code", ErrBadState, m.cfg.Name)
	}

	cctx := m.clientContext(ctx)
	tok, err := d.oauth2.Exchange(cctx, code, oauth2.VerifierOption(st.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			status := 0
			if re.Response != nil {
				status = re.Response.StatusCode
			}
			// Not wrapped: RetrieveError's text holds the response body.
			return res, fmt.Errorf("%w: %s: token endpoint answered %d %s", ErrProvider, m.cfg.Name, status, cleanCode(re.ErrorCode))
		}
		return res, fmt.Errorf("%w: %s: token request: %w", ErrProvider, m.cfg.Name, err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return res, fmt.Errorf("%w: %s: no id_token in the token response", ErrTokenInvalid, m.cfg.Name)
	}
	idt, err := d.verifier.Verify(cctx, raw)
	if err != nil {
		return res, fmt.Errorf("%w: %s: %w", ErrTokenInvalid, m.cfg.Name, err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(st.Nonce)) != 1 {
		return res, fmt.Errorf("%w: %s: nonce mismatch", ErrTokenInvalid, m.cfg.Name)
	}
	if idt.Subject == "" {
		return res, fmt.Errorf("%w: %s: no sub", ErrTokenInvalid, m.cfg.Name)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return res, fmt.Errorf("%w: %s: claims: %w", ErrTokenInvalid, m.cfg.Name, err)
	}
	// OIDC Core 3.1.3.7: azp, when present, must be us; it must be present
	// when there are several audiences.
	if azp, ok := claims["azp"]; ok {
		if s, _ := azp.(string); s != m.cfg.ClientID {
			return res, fmt.Errorf("%w: %s: azp is another client", ErrTokenInvalid, m.cfg.Name)
		}
	} else if len(idt.Audience) > 1 {
		return res, fmt.Errorf("%w: %s: several audiences and no azp", ErrTokenInvalid, m.cfg.Name)
	}

	acr, _ := claims["acr"].(string)
	upAMR := stringList(claims["amr"])
	ev := authn.Event{
		Method:      authn.MethodUpstream,
		AMR:         m.amr(upAMR),
		Time:        m.cfg.Now(),
		Factors:     append([]string(nil), m.cfg.Factors...),
		Assurance:   m.assurance(acr),
		UpstreamACR: acr,
		UpstreamAMR: upAMR,
	}
	res.Subject = idt.Subject
	res.Claims = claims
	res.Event = ev
	return res, nil
}

// openState checks the "<name>." prefix and opens the sealed part.
func (m *Method) openState(s string) (state, error) {
	var st state
	sealed, ok := strings.CutPrefix(s, m.cfg.Name+".")
	if !ok || sealed == "" {
		return st, fmt.Errorf("%w: %s: state is for another upstream or missing", ErrBadState, m.cfg.Name)
	}
	if err := m.cfg.Sealer.Open(m.purpose(), sealed, &st); err != nil {
		return st, fmt.Errorf("%w: %s: %w", ErrBadState, m.cfg.Name, err)
	}
	if st.Verifier == "" || st.Nonce == "" {
		return state{}, fmt.Errorf("%w: %s: incomplete state", ErrBadState, m.cfg.Name)
	}
	return st, nil
}

// assurance labels an event from the acr the upstream returned.
func (m *Method) assurance(acr string) string {
	if m.cfg.ACRMap != nil {
		return m.cfg.ACRMap[acr] // "" when unmapped
	}
	if len(m.cfg.ACRValues) > 0 && !slices.Contains(m.cfg.ACRValues, acr) {
		return ""
	}
	return m.cfg.Assurance
}

// amr is the amr recorded locally.
func (m *Method) amr(upstream []string) []string {
	switch {
	case len(m.cfg.AMR) > 0:
		return append([]string(nil), m.cfg.AMR...)
	case len(upstream) > 0:
		return append([]string(nil), upstream...)
	default:
		return []string{"fed"}
	}
}

// stringList reads a JSON array of strings (non-strings are skipped) or a
// single string.
func stringList(v any) []string {
	switch v := v.(type) {
	case string:
		if v != "" {
			return []string{v}
		}
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok && s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// cleanCode keeps an OAuth error code printable and short.
func cleanCode(s string) string {
	var b strings.Builder
	for _, c := range s {
		if b.Len() >= 64 {
			break
		}
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' {
			b.WriteRune(c)
		}
	}
	return b.String()
}
