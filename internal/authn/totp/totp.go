// Package totp implements the "totp" authentication method: RFC 6238
// time-based one-time passwords (HMAC-SHA1, 6 digits, 30-second steps — the
// parameters every authenticator app supports) on github.com/pquerna/otp,
// plus the one-time recovery codes handed out at enrollment.
//
// The package holds no HTTP handlers. It never logs, and its errors never
// carry codes or secrets.
//
// Replay protection: a credential's Counter is the last time step accepted.
// Verify accepts the current step and one step either side, and records the
// matched step with store.Credentials.UseCredential, which succeeds only for
// a step greater than the stored one. A code is therefore accepted once, and
// once a step has been used no code of that or an earlier step is accepted.
package totp

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"image/png"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	pqtotp "github.com/pquerna/otp/totp"

	"github.com/stepup-oidc/stepup/internal/authn"
	"github.com/stepup-oidc/stepup/internal/store"
)

// Sentinel errors. Every error this package returns for a failed check wraps
// one of them, so callers use errors.Is.
var (
	// ErrInvalidCode: the code is malformed or matches no credential.
	ErrInvalidCode = errors.New("totp: invalid code")
	// ErrReplayedCode: the code matched, but its time step (or the recovery
	// code) has been used already.
	ErrReplayedCode = errors.New("totp: code already used")
	// ErrNoCredential: the user has no credential of the kind checked.
	ErrNoCredential = errors.New("totp: no credential enrolled")
	// ErrInvalidSecret: a TOTP secret is not valid base32 or is too short.
	ErrInvalidSecret = errors.New("totp: invalid secret")
)

// MethodRecovery is the authn.Event Method recorded for a recovery code.
const MethodRecovery = "recovery"

// Parameters shared with the authenticator app. They are the defaults of the
// otpauth:// Key URI format, so every app understands them.
const (
	// Digits is the length of a code.
	Digits = 6
	// Period is the length of a time step.
	Period = 30 * time.Second
	// Skew is how many steps either side of the current one are accepted.
	Skew = 1
	// SecretSize is the size in bytes of generated secrets (160 bits, as
	// RFC 4226 §4 recommends).
	SecretSize = 20
	// MinSecretSize is the smallest imported secret accepted: 80 bits, the
	// size many existing deployments issued (16 base32 characters).
	MinSecretSize = 10
	// QRSize is the width and height in pixels of the enrollment QR code.
	QRSize = 200
)

// DefaultIssuer is used when Config.Issuer is empty.
const DefaultIssuer = "Stepup"

// Config configures a Method.
type Config struct {
	// Issuer is shown in the authenticator app next to the account, e.g.
	// "Stepup". It must not contain a colon. Empty means DefaultIssuer.
	Issuer string
	// Store holds the credentials. Required.
	Store store.Credentials
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Method enrolls and verifies TOTP credentials and recovery codes. It is safe
// for concurrent use.
type Method struct {
	issuer string
	store  store.Credentials
	now    func() time.Time
}

// New returns a Method for cfg.
func New(cfg Config) (*Method, error) {
	if cfg.Store == nil {
		return nil, errors.New("totp: Config.Store is required")
	}
	issuer := cfg.Issuer
	if issuer == "" {
		issuer = DefaultIssuer
	}
	if strings.ContainsRune(issuer, ':') {
		return nil, errors.New("totp: Config.Issuer must not contain a colon")
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Method{issuer: issuer, store: cfg.Store, now: now}, nil
}

// Enrollment is what the user needs to add the account to an authenticator
// app. It holds the secret: show it to the user, never log it.
type Enrollment struct {
	// Secret is the base32 secret (unpadded), for manual entry.
	Secret string
	// URL is the otpauth:// Key URI.
	URL string
	// QRPNG is a PNG image (QRSize x QRSize) of a QR code of URL.
	QRPNG []byte
}

// BeginEnrollment generates a fresh secret for account (the username shown
// in the app). Nothing is stored: the caller keeps Secret (e.g. in the
// sealed login state) until FinishEnrollment.
func (m *Method) BeginEnrollment(account string) (Enrollment, error) {
	if account == "" || strings.ContainsRune(account, ':') {
		return Enrollment{}, errors.New("totp: account name must be non-empty and without a colon")
	}
	key, err := pqtotp.Generate(pqtotp.GenerateOpts{
		Issuer:      m.issuer,
		AccountName: account,
		Period:      uint(Period / time.Second),
		SecretSize:  SecretSize,
		Digits:      otp.DigitsSix,
		Algorithm:   otp.AlgorithmSHA1,
		Rand:        rand.Reader,
	})
	if err != nil {
		return Enrollment{}, fmt.Errorf("totp: generate key: %w", err)
	}
	img, err := key.Image(QRSize, QRSize)
	if err != nil {
		return Enrollment{}, fmt.Errorf("totp: render QR code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return Enrollment{}, fmt.Errorf("totp: encode QR code: %w", err)
	}
	return Enrollment{Secret: key.Secret(), URL: key.URL(), QRPNG: buf.Bytes()}, nil
}

// DefaultCredentialName names a TOTP credential enrolled without a name.
const DefaultCredentialName = "Authenticator app"

// FinishEnrollment checks code against the base32 secret from
// BeginEnrollment (current step ±Skew), then stores a TOTP credential for
// userID whose Counter is the matched step, so the enrollment code cannot be
// replayed to log in. It also issues fresh recovery codes (see
// RecoveryCodeCount); they are returned in clear once and only their hashes
// are stored. Recovery codes the user already had stay valid; use
// RegenerateRecoveryCodes to replace them.
//
// A wrong code yields ErrInvalidCode and stores nothing.
func (m *Method) FinishEnrollment(ctx context.Context, userID, secret, code, name string) (store.Credential, []string, error) {
	if userID == "" {
		return store.Credential{}, nil, errors.New("totp: user id is required")
	}
	raw, err := SecretFromBase32(secret)
	if err != nil {
		return store.Credential{}, nil, err
	}
	now := m.now()
	step, ok := matchStep(raw, code, now)
	if !ok {
		return store.Credential{}, nil, ErrInvalidCode
	}
	if name == "" {
		name = DefaultCredentialName
	}
	cred := store.Credential{
		ID:        rand.Text(),
		UserID:    userID,
		Type:      store.CredentialTOTP,
		Name:      name,
		Secret:    raw,
		Counter:   step,
		CreatedAt: now,
	}
	if err := m.store.CreateCredential(ctx, cred); err != nil {
		return store.Credential{}, nil, fmt.Errorf("totp: store credential: %w", err)
	}
	codes, err := m.createRecoveryCodes(ctx, userID, now)
	if err != nil {
		// Best effort: do not leave a TOTP credential the user never saw
		// confirmed. The original error is what matters.
		_ = m.store.DeleteCredential(context.WithoutCancel(ctx), cred.ID)
		return store.Credential{}, nil, err
	}
	return cred, codes, nil
}

// Verify checks code against userID's TOTP credentials among creds (other
// users' and other types are ignored). It accepts the code of the current
// time step or one step either side, and each step once per credential.
//
// Before checking, ASCII spaces are removed (apps show "123 456"); what
// remains must be exactly Digits ASCII digits. Errors: ErrNoCredential when
// the user has no TOTP credential, ErrInvalidCode for a malformed or wrong
// code, ErrReplayedCode when the code matched a step already used.
//
// The event records Method authn.MethodTOTP, AMR ["otp"], Factors
// [possession], the time and the credential's ID.
func (m *Method) Verify(ctx context.Context, userID string, creds []store.Credential, code string) (authn.Event, error) {
	var own []store.Credential
	for _, c := range creds {
		if c.Type == store.CredentialTOTP && c.UserID == userID && len(c.Secret) > 0 {
			own = append(own, c)
		}
	}
	if len(own) == 0 {
		return authn.Event{}, ErrNoCredential
	}
	now := m.now()
	replayed := false
	// Check every credential (no early exit on a miss) so the time taken does
	// not depend on which credential, if any, matched.
	type match struct {
		id   string
		step int64
	}
	var matches []match
	for _, c := range own {
		if step, ok := matchStep(c.Secret, code, now); ok {
			matches = append(matches, match{c.ID, step})
		}
	}
	for _, mt := range matches {
		err := m.store.UseCredential(ctx, mt.id, mt.step, now)
		switch {
		case err == nil:
			return authn.Event{
				Method:       authn.MethodTOTP,
				AMR:          []string{"otp"},
				Time:         now,
				Factors:      []string{authn.FactorPossession},
				CredentialID: mt.id,
			}, nil
		case errors.Is(err, store.ErrConflict):
			replayed = true
		case errors.Is(err, store.ErrNotFound):
			// Deleted since the caller listed it: as if it were not there.
		default:
			return authn.Event{}, fmt.Errorf("totp: record use: %w", err)
		}
	}
	if replayed {
		return authn.Event{}, ErrReplayedCode
	}
	return authn.Event{}, ErrInvalidCode
}

// SecretFromBase32 decodes a base32 TOTP secret as shown by authenticator
// apps or stored in configuration (users[].totp_secret): case-insensitive,
// padding optional, spaces ignored. It returns the raw secret for
// store.Credential.Secret. Errors wrap ErrInvalidSecret and never echo s.
func SecretFromBase32(s string) ([]byte, error) {
	s = strings.ToUpper(strings.ReplaceAll(s, " ", ""))
	s = strings.TrimRight(s, "=")
	switch len(s) % 8 { // lengths no whole number of bytes encodes to
	case 1, 3, 6:
		return nil, fmt.Errorf("%w: not base32", ErrInvalidSecret)
	}
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: not base32", ErrInvalidSecret)
	}
	if len(raw) < MinSecretSize {
		return nil, fmt.Errorf("%w: shorter than %d bytes", ErrInvalidSecret, MinSecretSize)
	}
	return raw, nil
}

// normaliseCode removes ASCII spaces and reports whether the rest is exactly
// Digits ASCII digits.
func normaliseCode(code string) (string, bool) {
	if len(code) > 4*Digits { // bound the work on hostile input
		return "", false
	}
	code = strings.ReplaceAll(code, " ", "")
	if len(code) != Digits {
		return "", false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return "", false
		}
	}
	return code, true
}

// stepAt is the RFC 6238 time step T of t.
func stepAt(t time.Time) int64 {
	p := int64(Period / time.Second)
	u := t.Unix()
	s := u / p
	if u%p < 0 {
		s-- // floor for times before 1970
	}
	return s
}

// matchStep reports the highest step within ±Skew of now whose code is code.
// Every candidate is computed and compared in constant time.
func matchStep(secret []byte, code string, now time.Time) (int64, bool) {
	code, ok := normaliseCode(code)
	if !ok {
		return 0, false
	}
	b32 := base32.StdEncoding.EncodeToString(secret)
	cur := stepAt(now)
	var best int64
	found := 0
	for s := cur - Skew; s <= cur+Skew; s++ {
		if s < 0 {
			continue
		}
		want, err := hotp.GenerateCodeCustom(b32, uint64(s), hotp.ValidateOpts{
			Digits:    otp.DigitsSix,
			Algorithm: otp.AlgorithmSHA1,
		})
		if err != nil {
			continue // unreachable: b32 is valid base32
		}
		eq := subtle.ConstantTimeCompare([]byte(want), []byte(code))
		if eq == 1 {
			best = s // s increases, so the last match is the highest
		}
		found |= eq
	}
	return best, found == 1
}
