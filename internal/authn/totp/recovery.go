package totp

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/stepup-oidc/stepup/internal/authn"
	"github.com/stepup-oidc/stepup/internal/store"
)

// Recovery codes.
//
// A recovery code is RecoveryCodeLength characters of the RFC 4648 base32
// alphabet (A–Z, 2–7; 50 random bits), shown grouped as "XXXXX-XXXXX". Each
// is stored as its own store.CredentialRecovery credential whose Secret is
// the SHA-256 of the normalised code; deleting the credential consumes it.
//
// A recovery code is a one-time password the user has written down or
// printed: something they have. VerifyRecovery therefore records AMR ["otp"]
// (RFC 8176: one-time password) and Factors [possession], with Method
// MethodRecovery so the acr policy can tell it apart from an authenticator
// app if it wants to.
const (
	// RecoveryCodeCount is how many codes are issued at once.
	RecoveryCodeCount = 10
	// RecoveryCodeLength is the number of characters of a code, without the
	// dash.
	RecoveryCodeLength = 10
	// RecoveryCredentialName is the Name of stored recovery credentials.
	RecoveryCredentialName = "Recovery code"
)

// NormaliseRecoveryCode upper-cases code and removes spaces and dashes. It
// reports whether the result has the shape of a recovery code.
func NormaliseRecoveryCode(code string) (string, bool) {
	if len(code) > 4*RecoveryCodeLength { // bound the work on hostile input
		return "", false
	}
	var b strings.Builder
	b.Grow(RecoveryCodeLength)
	for i := 0; i < len(code); i++ {
		c := code[i]
		switch {
		case c == ' ' || c == '-':
			continue
		case 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		}
		if !('A' <= c && c <= 'Z' || '2' <= c && c <= '7') {
			return "", false
		}
		b.WriteByte(c)
	}
	if b.Len() != RecoveryCodeLength {
		return "", false
	}
	return b.String(), true
}

// hashRecoveryCode is the stored form of a normalised code.
func hashRecoveryCode(normalised string) []byte {
	h := sha256.Sum256([]byte(normalised))
	return h[:]
}

// newRecoveryCode returns a code in display form ("XXXXX-XXXXX").
func newRecoveryCode() string {
	// rand.Text is 26 characters of the base32 alphabet, each uniform.
	t := rand.Text()[:RecoveryCodeLength]
	return t[:RecoveryCodeLength/2] + "-" + t[RecoveryCodeLength/2:]
}

// createRecoveryCodes stores RecoveryCodeCount fresh codes for userID and
// returns them in display form. On error it removes those it created.
func (m *Method) createRecoveryCodes(ctx context.Context, userID string, now time.Time) ([]string, error) {
	codes := make([]string, 0, RecoveryCodeCount)
	ids := make([]string, 0, RecoveryCodeCount)
	for range RecoveryCodeCount {
		code := newRecoveryCode()
		norm, _ := NormaliseRecoveryCode(code)
		c := store.Credential{
			ID:        rand.Text(),
			UserID:    userID,
			Type:      store.CredentialRecovery,
			Name:      RecoveryCredentialName,
			Secret:    hashRecoveryCode(norm),
			CreatedAt: now,
		}
		if err := m.store.CreateCredential(ctx, c); err != nil {
			for _, id := range ids {
				_ = m.store.DeleteCredential(context.WithoutCancel(ctx), id)
			}
			return nil, fmt.Errorf("totp: store recovery code: %w", err)
		}
		codes = append(codes, code)
		ids = append(ids, c.ID)
	}
	return codes, nil
}

// RegenerateRecoveryCodes deletes userID's recovery codes and issues
// RecoveryCodeCount fresh ones, returned in display form. The old codes are
// deleted first, so on a partial failure the user may be left with fewer
// codes, never with codes they were not shown.
func (m *Method) RegenerateRecoveryCodes(ctx context.Context, userID string) ([]string, error) {
	if userID == "" {
		return nil, errors.New("totp: user id is required")
	}
	creds, err := m.store.ListCredentials(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("totp: list credentials: %w", err)
	}
	for _, c := range creds {
		if c.Type != store.CredentialRecovery || c.UserID != userID {
			continue
		}
		if err := m.store.DeleteCredential(ctx, c.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("totp: delete recovery code: %w", err)
		}
	}
	return m.createRecoveryCodes(ctx, userID, m.now())
}

// VerifyRecovery consumes one of userID's recovery codes among creds (other
// users' credentials and other types are ignored). The code is normalised
// (upper case, spaces and dashes removed), hashed, and compared in constant
// time with every recovery credential; the match is deleted, which is its
// one-time use.
//
// Errors: ErrNoCredential when the user has no recovery codes left,
// ErrInvalidCode for a malformed or unknown code, ErrReplayedCode when the
// code was consumed concurrently or since creds was listed.
//
// The event records Method MethodRecovery, AMR ["otp"], Factors
// [possession], the time and the consumed credential's ID.
func (m *Method) VerifyRecovery(ctx context.Context, userID string, creds []store.Credential, code string) (authn.Event, error) {
	var own []store.Credential
	for _, c := range creds {
		if c.Type == store.CredentialRecovery && c.UserID == userID && len(c.Secret) == sha256.Size {
			own = append(own, c)
		}
	}
	if len(own) == 0 {
		return authn.Event{}, ErrNoCredential
	}
	norm, ok := NormaliseRecoveryCode(code)
	if !ok {
		return authn.Event{}, ErrInvalidCode
	}
	h := hashRecoveryCode(norm)
	var id string
	for _, c := range own { // no early exit: constant time over the list
		if subtle.ConstantTimeCompare(c.Secret, h) == 1 {
			id = c.ID
		}
	}
	if id == "" {
		return authn.Event{}, ErrInvalidCode
	}
	switch err := m.store.DeleteCredential(ctx, id); {
	case errors.Is(err, store.ErrNotFound):
		return authn.Event{}, ErrReplayedCode
	case err != nil:
		return authn.Event{}, fmt.Errorf("totp: consume recovery code: %w", err)
	}
	return authn.Event{
		Method:       MethodRecovery,
		AMR:          []string{"otp"},
		Time:         m.now(),
		Factors:      []string{authn.FactorPossession},
		CredentialID: id,
	}, nil
}
