package oauth_test

import (
	"testing"

	"github.com/stepup-oidc/stepup/internal/oauth"
	"github.com/stepup-oidc/stepup/rp"
)

// TestSDKErrorCodesMatchTheProvider keeps the relying-party SDK's error
// codes and the provider's in step: a typo on either side fails here.
func TestSDKErrorCodesMatchTheProvider(t *testing.T) {
	pairs := []struct {
		sdk      rp.ErrorCode
		provider oauth.Code
	}{
		{rp.ErrInvalidRequest, oauth.InvalidRequest},
		{rp.ErrUnauthorizedClient, oauth.UnauthorizedClient},
		{rp.ErrAccessDenied, oauth.AccessDenied},
		{rp.ErrUnsupportedResponseType, oauth.UnsupportedResponseType},
		{rp.ErrInvalidScope, oauth.InvalidScope},
		{rp.ErrServerError, oauth.ServerError},
		{rp.ErrTemporarilyUnavailable, oauth.TemporarilyUnavailable},
		{rp.ErrInteractionRequired, oauth.InteractionRequired},
		{rp.ErrLoginRequired, oauth.LoginRequired},
		{rp.ErrAccountSelectionRequired, oauth.AccountSelectionRequired},
		{rp.ErrConsentRequired, oauth.ConsentRequired},
		{rp.ErrInvalidRequestURI, oauth.InvalidRequestURI},
		{rp.ErrUnmetAuthenticationRequirements, oauth.UnmetAuthenticationRequirements},
		{rp.ErrInvalidAuthorizationDetails, oauth.InvalidAuthorizationDetails},
		{rp.ErrInvalidClient, oauth.InvalidClient},
		{rp.ErrInvalidGrant, oauth.InvalidGrant},
		{rp.ErrUnsupportedGrantType, oauth.UnsupportedGrantType},
	}
	for _, p := range pairs {
		if string(p.sdk) != string(p.provider) {
			t.Errorf("rp says %q, the provider %q", p.sdk, p.provider)
		}
	}
}
