package oauth

import (
	"net/url"
)

// TokenRequest is a parsed token endpoint request (client authentication is
// parsed separately by ParseClientAuth).
type TokenRequest struct {
	GrantType    string
	Code         string
	RedirectURI  string
	CodeVerifier string
	RefreshToken string
	Scope        string
	AuthReqID    string
}

// ParseTokenRequest checks the syntax of a token request body.
func ParseTokenRequest(form url.Values) (TokenRequest, *Error) {
	for p, v := range form {
		if len(v) > 1 {
			return TokenRequest{}, Err(InvalidRequest, "duplicate %s parameter", p)
		}
	}
	r := TokenRequest{
		GrantType: form.Get("grant_type"), Code: form.Get("code"), RedirectURI: form.Get("redirect_uri"),
		CodeVerifier: form.Get("code_verifier"), RefreshToken: form.Get("refresh_token"), Scope: form.Get("scope"),
		AuthReqID: form.Get("auth_req_id"),
	}
	switch r.GrantType {
	case "":
		return r, Err(InvalidRequest, "missing grant_type parameter")
	case "authorization_code":
		if r.Code == "" {
			return r, Err(InvalidRequest, "missing code parameter")
		}
		if r.RedirectURI == "" {
			return r, Err(InvalidRequest, "missing redirect_uri parameter")
		}
		if r.CodeVerifier != "" && !validChallenge(r.CodeVerifier) {
			return r, Err(InvalidRequest, "code_verifier must be 43 to 128 unreserved characters")
		}
	case "refresh_token":
		if r.RefreshToken == "" {
			return r, Err(InvalidRequest, "missing refresh_token parameter")
		}
	case "client_credentials":
	case GrantTypeCIBA:
		if r.AuthReqID == "" {
			return r, Err(InvalidRequest, "missing auth_req_id parameter")
		}
	default:
		return r, Err(UnsupportedGrantType, "unsupported grant_type")
	}
	return r, nil
}

// ClientAuth is the client authentication presented with a request.
type ClientAuth struct {
	ClientID string
	Secret   string
	Method   string // client_secret_basic, client_secret_post or none
}

// ParseClientAuth reads client credentials from the Authorization header
// (basic, RFC 6749 §2.3.1 form-encoded) or the body. Using both is an error.
func ParseClientAuth(basicUser, basicPass string, hasBasic bool, form url.Values) (ClientAuth, *Error) {
	if len(form["client_id"]) > 1 || len(form["client_secret"]) > 1 {
		return ClientAuth{}, Err(InvalidRequest, "duplicate client credentials")
	}
	if hasBasic {
		if form.Has("client_secret") {
			return ClientAuth{}, Err(InvalidRequest, "client authenticated with more than one method")
		}
		id, err1 := url.QueryUnescape(basicUser)
		secret, err2 := url.QueryUnescape(basicPass)
		if err1 != nil || err2 != nil || id == "" {
			return ClientAuth{}, Err(InvalidClient, "malformed basic credentials")
		}
		if fid := form.Get("client_id"); fid != "" && fid != id {
			return ClientAuth{}, Err(InvalidRequest, "client_id does not match the authenticated client")
		}
		return ClientAuth{ClientID: id, Secret: secret, Method: "client_secret_basic"}, nil
	}
	id := form.Get("client_id")
	if id == "" {
		return ClientAuth{}, Err(InvalidClient, "client authentication required")
	}
	if form.Has("client_secret") {
		return ClientAuth{ClientID: id, Secret: form.Get("client_secret"), Method: "client_secret_post"}, nil
	}
	return ClientAuth{ClientID: id, Method: "none"}, nil
}
