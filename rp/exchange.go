package rp

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// Tokens are the result of a login, a step-up or a refresh.
type Tokens struct {
	AccessToken  string    `json:"access_token"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	IDToken      string    `json:"id_token,omitempty"`
	Expiry       time.Time `json:"expiry,omitzero"` // of the access token; zero if unknown
	// Claims are the verified claims of IDToken.
	Claims IDClaims `json:"claims"`
	// AuthorizationDetails are the granted RFC 9396 details from the
	// token response, byte for byte.
	AuthorizationDetails json.RawMessage `json:"authorization_details,omitempty"`
}

// tokenResponse is the token endpoint's success body (RFC 6749 §5.1).
type tokenResponse struct {
	AccessToken          string          `json:"access_token"`
	TokenType            string          `json:"token_type"`
	ExpiresIn            json.Number     `json:"expires_in"`
	RefreshToken         string          `json:"refresh_token"`
	IDToken              string          `json:"id_token"`
	AuthorizationDetails json.RawMessage `json:"authorization_details"`
}

// Exchange completes a login or step-up from the callback's query (or,
// with response_mode=form_post, its form). In order it checks the state
// (ErrStateMismatch), the RFC 9207 iss (ErrIssuerMismatch), and turns an
// error response into an *AuthError; then it redeems the code with the
// PKCE verifier, verifies the ID token (signature, iss, aud, azp, exp,
// iat, nonce) and what the State asked for: the same subject
// (ErrSubjectChanged), a fresh auth_time (ErrMaxAgeExceeded) and an
// essential acr (ErrACRNotMet).
func (c *Client) Exchange(ctx context.Context, st *State, query url.Values) (*Tokens, error) {
	if st == nil || st.State == "" || st.CodeVerifier == "" {
		return nil, errors.New("rp: Exchange: no State")
	}
	if st.Issuer != c.cfg.Issuer {
		return nil, fmt.Errorf("rp: Exchange: %w: the State was started at %q", ErrIssuerMismatch, st.Issuer)
	}
	if len(query["state"]) != 1 || subtle.ConstantTimeCompare([]byte(query.Get("state")), []byte(st.State)) != 1 {
		return nil, fmt.Errorf("rp: Exchange: %w", ErrStateMismatch)
	}
	switch iss, ok := query["iss"]; {
	case ok && (len(iss) != 1 || iss[0] != c.cfg.Issuer):
		return nil, fmt.Errorf("rp: Exchange: %w: iss %q", ErrIssuerMismatch, iss)
	case !ok && c.meta.AuthorizationResponseISS:
		return nil, fmt.Errorf("rp: Exchange: %w: iss is missing", ErrIssuerMismatch)
	}
	if code := query.Get("error"); code != "" {
		return nil, fmt.Errorf("rp: Exchange: %w", &AuthError{Code: ErrorCode(code), Description: query.Get("error_description")})
	}
	code := query.Get("code")
	if code == "" || len(query["code"]) != 1 {
		return nil, errors.New("rp: Exchange: the callback has neither a code nor an error")
	}
	tok, err := c.token(ctx, url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {c.cfg.RedirectURL},
		"code_verifier": {st.CodeVerifier},
	})
	if err != nil {
		return nil, fmt.Errorf("rp: Exchange: %w", err)
	}
	if tok.IDToken == "" {
		return nil, fmt.Errorf("rp: Exchange: %w: the token response has no id_token", ErrInvalidIDToken)
	}
	cl, err := c.verifyIDToken(ctx, tok.IDToken, st.Nonce)
	if err != nil {
		return nil, fmt.Errorf("rp: Exchange: %w", err)
	}
	if err := c.checkState(st, cl); err != nil {
		return nil, fmt.Errorf("rp: Exchange: %w", err)
	}
	tok.Claims = *cl
	return tok, nil
}

// Refresh redeems a refresh token. A provider that rotates refresh
// tokens (Stepup does) returns a new one in Tokens.RefreshToken: store it,
// the old one is spent. An ID token in the response is verified, and
// Claims then describe it; a refresh never raises acr, so step up again
// for a stronger level. Compare Claims.Subject with the user you hold.
func (c *Client) Refresh(ctx context.Context, refreshToken string) (*Tokens, error) {
	if refreshToken == "" {
		return nil, errors.New("rp: Refresh: no refresh token")
	}
	tok, err := c.token(ctx, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}})
	if err != nil {
		return nil, fmt.Errorf("rp: Refresh: %w", err)
	}
	if tok.RefreshToken == "" {
		tok.RefreshToken = refreshToken
	}
	if tok.IDToken != "" {
		cl, err := c.verifyIDToken(ctx, tok.IDToken, "")
		if err != nil {
			return nil, fmt.Errorf("rp: Refresh: %w", err)
		}
		tok.Claims = *cl
	}
	return tok, nil
}

// token calls the token endpoint. The response is decoded by hand rather
// than through x/oauth2 so that authorization_details keep their exact
// bytes, which permission_digest is computed over.
func (c *Client) token(ctx context.Context, form url.Values) (*Tokens, error) {
	var res tokenResponse
	if err := c.postForm(ctx, c.meta.TokenEndpoint, form, &res, http.StatusOK); err != nil {
		return nil, fmt.Errorf("token endpoint: %w", err)
	}
	if res.AccessToken == "" {
		return nil, errors.New("token endpoint: no access_token")
	}
	t := &Tokens{AccessToken: res.AccessToken, RefreshToken: res.RefreshToken, IDToken: res.IDToken}
	if len(res.AuthorizationDetails) > 0 && string(res.AuthorizationDetails) != "null" {
		t.AuthorizationDetails = res.AuthorizationDetails
	}
	if res.ExpiresIn != "" {
		secs, err := res.ExpiresIn.Int64()
		if err != nil || secs < 0 {
			return nil, fmt.Errorf("token endpoint: invalid expires_in %q", res.ExpiresIn)
		}
		if secs > 0 {
			t.Expiry = c.cfg.Now().Add(time.Duration(secs) * time.Second)
		}
	}
	return t, nil
}
