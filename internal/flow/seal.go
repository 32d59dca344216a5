package flow

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrBadTransaction is returned for a transaction that does not unseal or
// has expired: the user must start again from the client.
var ErrBadTransaction = errors.New("flow: invalid or expired transaction")

// Seal encrypts and authenticates t with the current sealing secret
// (AES-256-GCM), for the login pages to carry.
func (s *Service) Seal(t *Transaction) (string, error) {
	b, err := json.Marshal(t)
	if err != nil {
		return "", internal("seal", err)
	}
	aead, err := s.aead("tx")
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize())
	rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(aead.Seal(nonce, nonce, b, []byte("stepup-tx"))), nil
}

// Unseal reverses Seal and checks the transaction's age.
func (s *Service) Unseal(v string) (*Transaction, error) {
	raw, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return nil, ErrBadTransaction
	}
	aead, err := s.aead("tx")
	if err != nil {
		return nil, err
	}
	if len(raw) < aead.NonceSize() {
		return nil, ErrBadTransaction
	}
	b, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte("stepup-tx"))
	if err != nil {
		return nil, ErrBadTransaction
	}
	var t Transaction
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, ErrBadTransaction
	}
	if s.cfg.Now().Sub(t.Start) > s.cfg.TransactionTTL {
		return nil, ErrBadTransaction
	}
	return &t, nil
}

// CSRFToken derives the form token for a browser's CSRF cookie value.
func (s *Service) CSRFToken(cookie string) string {
	m := hmac.New(sha256.New, s.derive("csrf"))
	m.Write([]byte(cookie))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// CheckCSRF compares a submitted form token with the cookie's.
func (s *Service) CheckCSRF(cookie, formToken string) bool {
	if cookie == "" || formToken == "" {
		return false
	}
	return hmac.Equal([]byte(s.CSRFToken(cookie)), []byte(formToken))
}

func (s *Service) derive(purpose string) []byte {
	m := hmac.New(sha256.New, s.cfg.Keys.Secret())
	m.Write([]byte("stepup/" + purpose))
	return m.Sum(nil)
}

func (s *Service) aead(purpose string) (cipher.AEAD, error) {
	block, err := aes.NewCipher(s.derive(purpose))
	if err != nil {
		return nil, fmt.Errorf("flow: cipher: %w", err)
	}
	return cipher.NewGCM(block)
}
