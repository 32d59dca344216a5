package flow

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"

	"github.com/stepup-oidc/stepup/internal/oauth"
	"github.com/stepup-oidc/stepup/internal/password"
	"github.com/stepup-oidc/stepup/internal/store"
)

type verifiedSecret struct {
	hash   string   // the stored argon2id hash that was verified
	digest [32]byte // SHA-256 of the secret that matched it
}

// AuthenticateClient checks the presented client credentials against the
// registered client and its token_endpoint_auth_method. Secrets are stored
// as argon2id hashes; a successful verification is remembered in memory
// (as a SHA-256 digest) so that the hash cost is paid once per secret, not
// once per request.
func (s *Service) AuthenticateClient(ctx context.Context, a oauth.ClientAuth) (store.Client, error) {
	c, err := s.cfg.Store.GetClient(ctx, a.ClientID)
	if errors.Is(err, store.ErrNotFound) {
		return c, oauth.Err(oauth.InvalidClient, "client authentication failed")
	}
	if err != nil {
		return c, internal("get client", err)
	}
	method := c.TokenEndpointAuthMethod
	if method == "" {
		method = "client_secret_basic"
		if c.SecretHash == "" {
			method = "none"
		}
	}
	if a.Method != method {
		return c, oauth.Err(oauth.InvalidClient, "client authentication failed: client must use %s", method)
	}
	if method == "none" {
		return c, nil
	}
	if c.SecretHash == "" || a.Secret == "" || !s.secretMatches(c, a.Secret) {
		return c, oauth.Err(oauth.InvalidClient, "client authentication failed")
	}
	return c, nil
}

func (s *Service) secretMatches(c store.Client, secret string) bool {
	digest := sha256.Sum256([]byte(secret))
	if v, ok := s.secrets.Load(c.ID); ok {
		vs := v.(verifiedSecret)
		if vs.hash == c.SecretHash && subtle.ConstantTimeCompare(vs.digest[:], digest[:]) == 1 {
			return true
		}
	}
	ok, err := password.Verify(secret, c.SecretHash)
	if err != nil || !ok {
		return false
	}
	s.secrets.Store(c.ID, verifiedSecret{hash: c.SecretHash, digest: digest})
	return true
}
