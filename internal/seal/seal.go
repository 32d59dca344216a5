// Package seal encrypts and authenticates small state that travels through
// the browser (login transactions, WebAuthn ceremonies, enrolment secrets),
// so that an unfinished flow writes nothing to the store. Each value is
// bound to a purpose and expires.
package seal

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
	"time"
)

// ErrInvalid is returned for a value that does not open: tampered, sealed
// for another purpose, sealed with an unknown secret, or expired.
var ErrInvalid = errors.New("seal: invalid or expired")

// Sealer seals with AES-256-GCM under a key derived from a shared secret.
type Sealer struct {
	// Secret returns the current 32-byte secret (shared by every node).
	Secret func() []byte
	// Secrets, when set, returns every secret still accepted, the current
	// one first: Open and CheckMAC try each, so values sealed before a
	// rotation, or by a node that has not reloaded yet, still open.
	Secrets func() [][]byte
	Now     func() time.Time
}

func (s Sealer) all() [][]byte {
	if s.Secrets != nil {
		if all := s.Secrets(); len(all) > 0 {
			return all
		}
	}
	return [][]byte{s.Secret()}
}

type envelope struct {
	Exp int64           `json:"e"`
	V   json.RawMessage `json:"v"`
}

// Seal serialises v as JSON and seals it for purpose, valid for ttl.
func (s Sealer) Seal(purpose string, v any, ttl time.Duration) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("seal: %w", err)
	}
	b, err = json.Marshal(envelope{Exp: s.Now().Add(ttl).Unix(), V: b})
	if err != nil {
		return "", fmt.Errorf("seal: %w", err)
	}
	aead, err := s.aead(s.Secret(), purpose)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize())
	rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(aead.Seal(nonce, nonce, b, []byte(purpose))), nil
}

// Open reverses Seal into v.
func (s Sealer) Open(purpose, sealed string, v any) error {
	raw, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil {
		return ErrInvalid
	}
	var b []byte
	for _, secret := range s.all() {
		aead, err := s.aead(secret, purpose)
		if err != nil {
			return err
		}
		if len(raw) < aead.NonceSize() {
			return ErrInvalid
		}
		if b, err = aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(purpose)); err == nil {
			break
		}
	}
	if b == nil {
		return ErrInvalid
	}
	var env envelope
	if json.Unmarshal(b, &env) != nil || s.Now().Unix() >= env.Exp {
		return ErrInvalid
	}
	if json.Unmarshal(env.V, v) != nil {
		return ErrInvalid
	}
	return nil
}

// MAC returns an HMAC-SHA256 of msg under a key derived for purpose from
// the current secret.
func (s Sealer) MAC(purpose string, msg []byte) []byte {
	return mac(s.Secret(), purpose, msg)
}

// CheckMAC reports whether sum is MAC(purpose, msg) under any accepted secret.
func (s Sealer) CheckMAC(purpose string, msg, sum []byte) bool {
	for _, secret := range s.all() {
		if hmac.Equal(mac(secret, purpose, msg), sum) {
			return true
		}
	}
	return false
}

func mac(secret []byte, purpose string, msg []byte) []byte {
	m := hmac.New(sha256.New, derive(secret, "mac/"+purpose))
	m.Write(msg)
	return m.Sum(nil)
}

func derive(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("stepup/" + purpose))
	return m.Sum(nil)
}

func (s Sealer) aead(secret []byte, purpose string) (cipher.AEAD, error) {
	block, err := aes.NewCipher(derive(secret, "seal/"+purpose))
	if err != nil {
		return nil, fmt.Errorf("seal: cipher: %w", err)
	}
	return cipher.NewGCM(block)
}
