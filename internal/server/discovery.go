package server

import (
	"encoding/json"
	"net/http"

	"github.com/stepup-oidc/stepup/internal/keys"
	"github.com/stepup-oidc/stepup/internal/oauth"
)

// Discovery is the OpenID Provider Metadata document (and RFC 8414).
type Discovery struct {
	Issuer                                     string   `json:"issuer"`
	AuthorizationEndpoint                      string   `json:"authorization_endpoint"`
	TokenEndpoint                              string   `json:"token_endpoint"`
	UserinfoEndpoint                           string   `json:"userinfo_endpoint"`
	JWKSURI                                    string   `json:"jwks_uri"`
	RevocationEndpoint                         string   `json:"revocation_endpoint"`
	IntrospectionEndpoint                      string   `json:"introspection_endpoint"`
	EndSessionEndpoint                         string   `json:"end_session_endpoint"`
	ScopesSupported                            []string `json:"scopes_supported"`
	ResponseTypesSupported                     []string `json:"response_types_supported"`
	ResponseModesSupported                     []string `json:"response_modes_supported"`
	GrantTypesSupported                        []string `json:"grant_types_supported"`
	SubjectTypesSupported                      []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported           []string `json:"id_token_signing_alg_values_supported"`
	TokenEndpointAuthMethodsSupported          []string `json:"token_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethodsSupported     []string `json:"revocation_endpoint_auth_methods_supported"`
	IntrospectionEndpointAuthMethodsSupported  []string `json:"introspection_endpoint_auth_methods_supported"`
	CodeChallengeMethodsSupported              []string `json:"code_challenge_methods_supported"`
	ClaimsSupported                            []string `json:"claims_supported"`
	ClaimsParameterSupported                   bool     `json:"claims_parameter_supported"`
	RequestParameterSupported                  bool     `json:"request_parameter_supported"`
	RequestURIParameterSupported               bool     `json:"request_uri_parameter_supported"`
	ACRValuesSupported                         []string `json:"acr_values_supported"`
	PromptValuesSupported                      []string `json:"prompt_values_supported"`
	AuthorizationResponseISSParameterSupported bool     `json:"authorization_response_iss_parameter_supported"`
	PushedAuthorizationRequestEndpoint         string   `json:"pushed_authorization_request_endpoint"`
	BackchannelAuthenticationEndpoint          string   `json:"backchannel_authentication_endpoint,omitempty"`
	BackchannelTokenDeliveryModesSupported     []string `json:"backchannel_token_delivery_modes_supported,omitempty"`
	BackchannelUserCodeParameterSupported      bool     `json:"backchannel_user_code_parameter_supported"`
	RequirePushedAuthorizationRequests         bool     `json:"require_pushed_authorization_requests"`
	AuthorizationDetailsTypesSupported         []string `json:"authorization_details_types_supported"`
	// ACRSatisfies is Stepup's discovery extension: for each supported acr
	// value, every acr value it satisfies (itself and the weaker values it
	// implies). A resource server needing acr X accepts a token whose acr A
	// has X in ACRSatisfies[A]. See docs/assurance.md.
	ACRSatisfies map[string][]string `json:"stepup_acr_satisfies"`
}

// Metadata returns the discovery document.
func (s *Server) Metadata() Discovery {
	iss := s.cfg.Issuer
	secretMethods := []string{"client_secret_basic", "client_secret_post"}
	return Discovery{
		Issuer:                                    iss,
		AuthorizationEndpoint:                     iss + pathAuthorize,
		TokenEndpoint:                             iss + pathToken,
		UserinfoEndpoint:                          iss + pathUserinfo,
		JWKSURI:                                   iss + pathJWKS,
		RevocationEndpoint:                        iss + pathRevoke,
		IntrospectionEndpoint:                     iss + pathIntrospect,
		EndSessionEndpoint:                        iss + pathLogout,
		ScopesSupported:                           []string{"openid", "profile", "email", "offline_access"},
		ResponseTypesSupported:                    []string{"code"},
		ResponseModesSupported:                    []string{"query", "form_post"},
		GrantTypesSupported:                       []string{"authorization_code", "refresh_token", "client_credentials", oauth.GrantTypeCIBA},
		SubjectTypesSupported:                     []string{"public"},
		IDTokenSigningAlgValuesSupported:          keys.Algorithms(),
		TokenEndpointAuthMethodsSupported:         append(secretMethods, "none"),
		RevocationEndpointAuthMethodsSupported:    append(secretMethods, "none"),
		IntrospectionEndpointAuthMethodsSupported: secretMethods,
		CodeChallengeMethodsSupported:             []string{"S256"},
		ClaimsSupported: []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "sid",
			"email", "email_verified", "name", "preferred_username"},
		ClaimsParameterSupported:                   true,
		ACRValuesSupported:                         s.cfg.Flow.SupportedACR(),
		ACRSatisfies:                               s.cfg.Flow.ACRSatisfies(),
		PushedAuthorizationRequestEndpoint:         iss + pathPAR,
		BackchannelAuthenticationEndpoint:          iss + pathBackchannel,
		BackchannelTokenDeliveryModesSupported:     []string{"poll"},
		RequirePushedAuthorizationRequests:         s.cfg.Flow.RequirePAR(),
		AuthorizationDetailsTypesSupported:         oauth.DetailTypes(),
		PromptValuesSupported:                      []string{"none", "login", "select_account"},
		AuthorizationResponseISSParameterSupported: true,
	}
}

func (s *Server) discovery(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	b, _ := json.Marshal(s.Metadata())
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Write(b)
}

func (s *Server) jwks(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Write(s.cfg.Keys.JWKS(r.Context()))
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	w.Write([]byte("ok\n"))
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	select {
	case <-s.closing: // shutting down: let the load balancer drain this node
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("shutting down\n"))
		return
	default:
	}
	if _, err := s.cfg.Store.ListKeys(r.Context()); err != nil {
		s.cfg.Logger.ErrorContext(r.Context(), "readiness check failed", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("store unavailable\n"))
		return
	}
	w.Write([]byte("ready\n"))
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/" {
		s.render(w, r, http.StatusOK, "message.html", map[string]any{"Title": "Stepup",
			"Message": "This is a Stepup OpenID provider. Applications send you here to sign in."})
		return
	}
	http.NotFound(w, r)
}
