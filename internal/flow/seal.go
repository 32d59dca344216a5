package flow

import (
	"context"
	"encoding/base64"
	"errors"
)

// ErrBadTransaction is returned for a transaction that does not unseal or
// has expired: the user must start again from the client.
var ErrBadTransaction = errors.New("flow: invalid or expired transaction")

const purposeTx = "tx"

// Seal encrypts and authenticates t for the login pages to carry.
func (s *Service) Seal(t *Transaction) (string, error) {
	return s.cfg.Sealer.Seal(purposeTx, t, s.cfg.TransactionTTL)
}

// Unseal reverses Seal and checks the transaction's age.
func (s *Service) Unseal(v string) (*Transaction, error) {
	var t Transaction
	if err := s.cfg.Sealer.Open(purposeTx, v, &t); err != nil {
		// Another node may have sealed it with a secret this node has not
		// loaded yet: reload once and retry.
		if s.cfg.Keys.Reload(context.Background()) != nil || s.cfg.Sealer.Open(purposeTx, v, &t) != nil {
			return nil, ErrBadTransaction
		}
	}
	return &t, nil
}

// CSRFToken derives the form token for a browser's CSRF cookie value.
func (s *Service) CSRFToken(cookie string) string {
	return base64.RawURLEncoding.EncodeToString(s.cfg.Sealer.MAC("csrf", []byte(cookie)))
}

// CheckCSRF compares a submitted form token with the cookie's.
func (s *Service) CheckCSRF(cookie, formToken string) bool {
	if cookie == "" || formToken == "" {
		return false
	}
	sum, err := base64.RawURLEncoding.DecodeString(formToken)
	if err != nil {
		return false
	}
	return s.cfg.Sealer.CheckMAC("csrf", []byte(cookie), sum)
}
