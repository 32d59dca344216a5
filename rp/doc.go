// Package rp is an OpenID Connect relying party for step-up
// authentication: it logs users in with the authorization code flow and,
// when a resource server answers with an RFC 9470 challenge, steps them
// up to a stronger or more recent authentication without losing who they
// are.
//
// Create one Client per provider and client registration:
//
//	c, err := rp.New(ctx, rp.Config{
//		Issuer:       "https://id.example.com",
//		ClientID:     "bank",
//		ClientSecret: os.Getenv("CLIENT_SECRET"),
//		RedirectURL:  "https://bank.example.com/callback",
//		Scopes:       []string{"openid", "profile"},
//	})
//
// Logging in is two calls. AuthCodeURL returns the URL to redirect the
// browser to and a State to keep in the user's session (it marshals to
// JSON); Exchange takes the State and the callback's query and returns
// verified Tokens:
//
//	u, st, err := c.AuthCodeURL(ctx, rp.ACRValues("phr"), rp.MaxAge(5*time.Minute))
//	// … store st, redirect to u; then, at the redirect URI:
//	tok, err := c.Exchange(ctx, st, r.URL.Query())
//
// Every request carries a fresh state, a nonce and a PKCE (S256)
// challenge. Exchange checks the state in constant time, the RFC 9207
// iss parameter (required when the provider advertises it), turns error
// responses into an *AuthError that matches its code through errors.Is
// (ErrUnmetAuthenticationRequirements, ErrAccessDenied, ErrLoginRequired
// …), redeems the code, and verifies the ID token: the signature with the
// provider's JWKS (ES256, RS256 or EdDSA; keys are cached and fetched
// again, at most every 30 seconds, when a token names an unknown kid),
// iss, aud, azp, exp and iat with a minute of clock skew, and the nonce.
// It also checks what the request asked for: auth_time within max_age,
// an acr among the essential values, and, for a step-up, the same
// subject as before.
//
// StepUp turns a parsed challenge (package challenge) into a new
// authorization request with both acr_values and max_age, an
// id_token_hint, and a State that expects the same subject back. PAR
// pushes any request to the provider first (RFC 9126), and
// AuthorizationDetails asks the user to approve a statement (RFC 9396).
//
// Backchannel starts a Client-Initiated Backchannel Authentication (CIBA,
// poll mode) for a device without a browser: the user approves on their
// phone, and Poll returns verified Tokens, honouring the provider's
// interval and slow_down. PingHandler receives ping notifications from
// providers that send them. docs/sdk-relying-party.md walks through
// logging in, stepping up, approving with PAR and CIBA.
package rp
