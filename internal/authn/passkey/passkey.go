// Package passkey is the WebAuthn authentication method: passkey enrollment
// (registration) and sign-in (assertion), for a known user (step-up) or
// username-less (discoverable credentials, conditional UI).
//
// It is built on github.com/go-webauthn/webauthn and knows nothing of HTTP:
// the HTTP edge hands it the parsed bytes the browser posted and carries the
// options JSON and the sealed ceremony state in its pages.
//
// # Ceremony state
//
// Begin* returns the state of the ceremony (challenge, expected user,
// allowed credentials) sealed with Config.Seal; Finish* unseals it with
// Config.Unseal. The sealer provides confidentiality, integrity and expiry.
// A state is not single-use by itself: the caller must make sure a state is
// finished successfully at most once (for instance by keeping it in a
// transaction that is consumed on success), because an assertion from a
// credential without a signature counter (always zero, as with many synced
// passkeys) can otherwise be replayed with the same state until it expires.
// Credentials with a counter are protected by Store.UseCredential whatever
// the caller does.
//
// # Policy
//
// User verification (a PIN or biometric) is required in both ceremonies and
// responses without the UV flag are refused with ErrUserVerificationRequired.
// Registration asks for a discoverable (resident) credential so that
// username-less sign-in works. The invalid flag combination BE=0 BS=1 is
// refused.
//
// # User handle
//
// The WebAuthn user handle is the bytes of the store user ID (opaque, no
// personal data), so it must be 1 to 64 bytes long.
//
// # Storage
//
// A passkey is a store.Credential of Type store.CredentialPasskey whose ID is
// the base64url (unpadded) credential ID and whose Secret is the
// webauthn.Credential serialised as JSON. The signature counter lives in
// store.Credential.Counter, advanced atomically by Store.UseCredential.
//
// # Errors
//
// Errors match the sentinels below with errors.Is. Errors from the WebAuthn
// library are wrapped (%w) and their text may describe the expected values;
// show the user a generic message, not err.Error().
package passkey

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/stepup-oidc/stepup/internal/store"
)

// Sentinel errors.
var (
	// ErrInvalidResponse means the browser's response does not parse or does
	// not verify (challenge, origin, rpId, signature, attestation, flags).
	ErrInvalidResponse = errors.New("passkey: invalid response")
	// ErrUserVerificationRequired means the authenticator did not report
	// user verification (UV flag).
	ErrUserVerificationRequired = errors.New("passkey: user verification required")
	// ErrCounterRegression means the signature counter did not advance: a
	// replayed assertion or a cloned authenticator.
	ErrCounterRegression = errors.New("passkey: signature counter regression")
	// ErrUnknownCredential means the credential (or its user) is not
	// registered, or not one this ceremony allows.
	ErrUnknownCredential = errors.New("passkey: unknown credential")
	// ErrInvalidState means the sealed ceremony state does not unseal, has
	// expired, or belongs to another user or ceremony.
	ErrInvalidState = errors.New("passkey: invalid or expired ceremony state")
	// ErrCredentialExists means the credential ID is already registered.
	ErrCredentialExists = errors.New("passkey: credential already registered")
	// ErrRPIDIsIPAddress is returned by New for an RPID that is an IP
	// address: WebAuthn relying party IDs are domains, and browsers refuse
	// WebAuthn on IP-address origins. Use "localhost" in development.
	ErrRPIDIsIPAddress = errors.New("passkey: the relying party ID must be a domain, not an IP address")
)

// Seal purposes, so that a registration state is never accepted as a login
// state and vice versa.
const (
	purposeRegister = "passkey-register"
	purposeLogin    = "passkey-login"
)

// maxResponseSize bounds the response bytes accepted by Finish*: a genuine
// response (credential ID at most 1023 bytes, an attestation chain of a few
// certificates) fits well within it.
const maxResponseSize = 64 << 10

// Config configures a Method.
type Config struct {
	// RPID is the relying party ID, the issuer's host: a domain such as
	// "id.example.com" or "localhost", never an IP address
	// (ErrRPIDIsIPAddress).
	RPID string
	// RPDisplayName is shown by authenticators, e.g. "Stepup".
	RPDisplayName string
	// RPOrigins are the accepted origins, e.g. "https://id.example.com".
	RPOrigins []string
	// Store keeps the credentials.
	Store store.Credentials
	// AttestationRoots are PEM-encoded root certificates the operator trusts
	// for attestation. When empty, attestation is requested as "none" and
	// no credential is marked Attested. When set, "direct" attestation is
	// requested and a credential is marked Attested when its verified
	// attestation statement carries an x5c chain that verifies to one of
	// these roots; a credential whose attestation does not (none, self,
	// unknown vendor) is still registered, only not Attested.
	AttestationRoots [][]byte
	// Seal seals JSON-serialisable ceremony state for purpose, with
	// authenticated encryption and expiry.
	Seal func(purpose string, v any) (string, error)
	// Unseal reverses Seal, failing on tampering, a wrong purpose or expiry.
	Unseal func(purpose string, s string, v any) error
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Logger receives audit records (counter regressions at Warn, with user
	// and credential IDs, never secrets); discarded when nil.
	Logger *slog.Logger
}

// Method is the WebAuthn authentication method. It is safe for concurrent use.
type Method struct {
	wa     *webauthn.WebAuthn
	store  store.Credentials
	roots  *x509.CertPool // nil: attestation not evaluated
	seal   func(purpose string, v any) (string, error)
	unseal func(purpose string, s string, v any) error
	now    func() time.Time
	log    *slog.Logger
}

// User is the account a ceremony is for, mapped by the caller from
// store.User. ID becomes the WebAuthn user handle.
type User struct {
	ID          string
	Username    string
	DisplayName string
}

// New checks cfg and returns the Method.
func New(cfg Config) (*Method, error) {
	switch {
	case cfg.RPID == "":
		return nil, errors.New("passkey: RPID is required")
	case net.ParseIP(cfg.RPID) != nil:
		return nil, fmt.Errorf("%w: %q", ErrRPIDIsIPAddress, cfg.RPID)
	case len(cfg.RPOrigins) == 0:
		return nil, errors.New("passkey: at least one RPOrigin is required")
	case cfg.Store == nil:
		return nil, errors.New("passkey: Store is required")
	case cfg.Seal == nil || cfg.Unseal == nil:
		return nil, errors.New("passkey: Seal and Unseal are required")
	}
	name := cfg.RPDisplayName
	if name == "" {
		name = cfg.RPID
	}
	conveyance := protocol.PreferNoAttestation
	var roots *x509.CertPool
	if len(cfg.AttestationRoots) > 0 {
		var err error
		if roots, err = parseRoots(cfg.AttestationRoots); err != nil {
			return nil, err
		}
		conveyance = protocol.PreferDirectAttestation
	}
	wa, err := webauthn.New(&webauthn.Config{
		RPID:                  cfg.RPID,
		RPDisplayName:         name,
		RPOrigins:             append([]string(nil), cfg.RPOrigins...),
		AttestationPreference: conveyance,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			RequireResidentKey: protocol.ResidentKeyRequired(),
			ResidentKey:        protocol.ResidentKeyRequirementRequired,
			UserVerification:   protocol.VerificationRequired,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("passkey: %w", err)
	}
	m := &Method{
		wa:     wa,
		store:  cfg.Store,
		roots:  roots,
		seal:   cfg.Seal,
		unseal: cfg.Unseal,
		now:    cfg.Now,
		log:    cfg.Logger,
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	return m, nil
}

func parseRoots(pems [][]byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	for i, p := range pems {
		n := 0
		for rest := p; ; {
			var block *pem.Block
			block, rest = pem.Decode(rest)
			if block == nil {
				break
			}
			if block.Type != "CERTIFICATE" {
				continue
			}
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("passkey: attestation root %d: %w", i, err)
			}
			pool.AddCert(cert)
			n++
		}
		if n == 0 {
			return nil, fmt.Errorf("passkey: attestation root %d: no PEM certificate", i)
		}
	}
	return pool, nil
}

// waUser adapts a User and its passkeys to webauthn.User.
type waUser struct {
	u     User
	creds []webauthn.Credential
}

func (w *waUser) WebAuthnID() []byte                         { return []byte(w.u.ID) }
func (w *waUser) WebAuthnName() string                       { return w.u.Username }
func (w *waUser) WebAuthnDisplayName() string                { return w.u.DisplayName }
func (w *waUser) WebAuthnCredentials() []webauthn.Credential { return w.creds }

// checkUser validates u as the source of a user handle.
func checkUser(u User) error {
	if n := len(u.ID); n < protocol.MinimumUserHandleLength || n > protocol.MaximumUserHandleLength {
		return fmt.Errorf("passkey: user id must be %d to %d bytes, not %d",
			protocol.MinimumUserHandleLength, protocol.MaximumUserHandleLength, n)
	}
	return nil
}

// decodeCredentials returns the passkeys among creds that belong to userID,
// decoded, with the store records in the same order. A record that does not
// decode is logged and skipped, so that one damaged record does not lock the
// user out of their other passkeys.
func (m *Method) decodeCredentials(ctx context.Context, userID string, creds []store.Credential) ([]webauthn.Credential, []store.Credential) {
	var (
		was    []webauthn.Credential
		stored []store.Credential
	)
	for _, c := range creds {
		if c.Type != store.CredentialPasskey || c.UserID != userID {
			continue
		}
		var wc webauthn.Credential
		if err := json.Unmarshal(c.Secret, &wc); err != nil {
			m.log.ErrorContext(ctx, "passkey: stored credential does not decode", "user_id", userID, "credential_id", c.ID, "err", err)
			continue
		}
		if encodeID(wc.ID) != c.ID {
			m.log.ErrorContext(ctx, "passkey: stored credential id does not match its secret", "user_id", userID, "credential_id", c.ID)
			continue
		}
		was = append(was, wc)
		stored = append(stored, c)
	}
	return was, stored
}

// encodeID is the store form of a credential ID: unpadded base64url.
func encodeID(id []byte) string { return base64.RawURLEncoding.EncodeToString(id) }

// libError wraps an error of the WebAuthn library as ErrInvalidResponse (or
// ErrUnknownCredential when the library says so).
func libError(op string, err error) error {
	var unknown *protocol.ErrorUnknownCredential
	if errors.As(err, &unknown) {
		return fmt.Errorf("passkey: %s: %w: %w", op, ErrUnknownCredential, err)
	}
	return fmt.Errorf("passkey: %s: %w: %w", op, ErrInvalidResponse, err)
}
