package passkey

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/stepup-oidc/stepup/internal/authn"
	"github.com/stepup-oidc/stepup/internal/store"
)

// loginState is the sealed state of a login ceremony.
type loginState struct {
	// UserID is the expected user; empty for a username-less login.
	UserID  string               `json:"u,omitempty"`
	Session webauthn.SessionData `json:"s"`
	// Bound is set when the challenge commits to Bind:
	// challenge = SHA-256(Nonce || Bind).
	Bound bool   `json:"bd,omitempty"`
	Nonce []byte `json:"n,omitempty"`
	Bind  []byte `json:"b,omitempty"`
}

// nonceSize is the size of the random part of a bound challenge.
const nonceSize = 32

// BoundChallenge is the WebAuthn challenge of a login bound to digest:
// SHA-256(nonce || digest), nonce being 32 random bytes. An assertion's
// signature covers SHA-256(clientDataJSON), and clientDataJSON holds the
// challenge, so whoever has (nonce, digest) and the assertion can check
// that the user's authenticator signed this very digest.
func BoundChallenge(nonce, digest []byte) []byte {
	h := sha256.New()
	h.Write(nonce)
	h.Write(digest)
	return h.Sum(nil)
}

// BeginLogin starts a sign-in. For a known user (step-up), u is the user and
// creds its credentials: its passkeys become allowCredentials (and
// ErrUnknownCredential is returned when it has none). For a username-less
// login (discoverable credentials, conditional UI) u is nil, creds is
// ignored, and the authenticator's user handle names the user in
// FinishLogin.
//
// bind optionally commits the ceremony to extra data, typically the digest
// of a statement the user approves: when bind is non-nil the challenge is
// BoundChallenge(nonce, bind) for 32 fresh random bytes nonce, which the
// sealed state keeps, so the assertion signature commits to bind; see
// LoginBinding. When bind is nil the challenge is 32 random bytes.
//
// It returns the JSON to pass to navigator.credentials.get (a
// protocol.CredentialAssertion: {"publicKey":
// PublicKeyCredentialRequestOptions}) and the sealed state.
func (m *Method) BeginLogin(ctx context.Context, u *User, creds []store.Credential, bind []byte) (optionsJSON []byte, state string, err error) {
	st := loginState{}
	opts := []webauthn.LoginOption{webauthn.WithUserVerification(protocol.VerificationRequired)}
	if bind != nil {
		nonce := make([]byte, nonceSize)
		if _, err := rand.Read(nonce); err != nil {
			return nil, "", fmt.Errorf("passkey: challenge nonce: %w", err)
		}
		st.Bound, st.Nonce, st.Bind = true, nonce, bytes.Clone(bind)
		opts = append(opts, webauthn.WithChallenge(BoundChallenge(nonce, bind)))
	}

	var (
		assertion *protocol.CredentialAssertion
		session   *webauthn.SessionData
	)
	if u == nil {
		assertion, session, err = m.wa.BeginDiscoverableLogin(opts...)
	} else {
		if err := checkUser(*u); err != nil {
			return nil, "", err
		}
		was, _ := m.decodeCredentials(ctx, u.ID, creds)
		if len(was) == 0 {
			return nil, "", fmt.Errorf("%w: user has no passkey", ErrUnknownCredential)
		}
		st.UserID = u.ID
		assertion, session, err = m.wa.BeginLogin(&waUser{u: *u, creds: was}, opts...)
	}
	if err != nil {
		return nil, "", fmt.Errorf("passkey: begin login: %w", err)
	}
	st.Session = *session
	optionsJSON, err = json.Marshal(assertion)
	if err != nil {
		return nil, "", fmt.Errorf("passkey: encode request options: %w", err)
	}
	state, err = m.seal(purposeLogin, st)
	if err != nil {
		return nil, "", fmt.Errorf("passkey: seal login state: %w", err)
	}
	return optionsJSON, state, nil
}

// LoginBinding returns the digest a login state was bound to by BeginLogin
// (bound false when it was begun with a nil bind). A caller approving a
// statement finishes the login with FinishLogin and checks here that the
// state was bound to the digest of that statement.
func (m *Method) LoginBinding(state string) (digest []byte, bound bool, err error) {
	st, err := m.loginState(state)
	if err != nil {
		return nil, false, err
	}
	return st.Bind, st.Bound, nil
}

func (m *Method) loginState(state string) (loginState, error) {
	var st loginState
	if err := m.unseal(purposeLogin, state, &st); err != nil {
		return loginState{}, fmt.Errorf("%w: %w", ErrInvalidState, err)
	}
	if st.Bound {
		// Defence in depth: the sealer already guarantees integrity.
		want := base64.RawURLEncoding.EncodeToString(BoundChallenge(st.Nonce, st.Bind))
		if len(st.Nonce) != nonceSize || !hmac.Equal([]byte(want), []byte(st.Session.Challenge)) {
			return loginState{}, fmt.Errorf("%w: bound challenge mismatch", ErrInvalidState)
		}
	}
	return st, nil
}

// FinishLogin verifies an assertion (the JSON of the PublicKeyCredential
// returned by get()) against state from BeginLogin, and returns the user's
// ID and the authentication Event.
//
// lookup maps a user handle (the store user ID bytes) to the user and its
// credentials. For a username-less login the handle comes from the
// authenticator's response; for a known user it is the user of the state.
// A lookup error matching store.ErrNotFound yields ErrUnknownCredential.
//
// FinishLogin checks the credential belongs to the user (and to the allowed
// list of the state), then the challenge, origin, rpId, signature, user
// presence and user verification (ErrUserVerificationRequired when UV is
// absent). It then advances the stored signature counter with
// Store.UseCredential: a counter that does not advance (a replayed
// assertion or a cloned authenticator) is refused with ErrCounterRegression
// and logged at Warn. A changed backup state is recorded.
func (m *Method) FinishLogin(ctx context.Context, state string, response []byte, lookup func(ctx context.Context, userHandle []byte) (User, []store.Credential, error)) (userID string, ev authn.Event, err error) {
	if lookup == nil {
		return "", authn.Event{}, errors.New("passkey: FinishLogin needs a lookup function")
	}
	st, err := m.loginState(state)
	if err != nil {
		return "", authn.Event{}, err
	}
	if len(response) > maxResponseSize {
		return "", authn.Event{}, fmt.Errorf("%w: response of %d bytes is too large", ErrInvalidResponse, len(response))
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return "", authn.Event{}, libError("parse assertion", err)
	}
	flags := parsed.Response.AuthenticatorData.Flags
	if !flags.HasUserVerified() {
		return "", authn.Event{}, ErrUserVerificationRequired
	}
	if len(st.Session.AllowedCredentialIDs) > 0 && !containsID(st.Session.AllowedCredentialIDs, parsed.RawID) {
		return "", authn.Event{}, fmt.Errorf("%w: credential not allowed in this ceremony", ErrUnknownCredential)
	}

	handle := []byte(st.UserID)
	if st.UserID == "" {
		handle = parsed.Response.UserHandle
		if len(handle) == 0 {
			return "", authn.Event{}, fmt.Errorf("%w: username-less assertion without user handle", ErrInvalidResponse)
		}
	} else if h := parsed.Response.UserHandle; len(h) > 0 && !bytes.Equal(h, handle) {
		return "", authn.Event{}, fmt.Errorf("%w: user handle is not the expected user's", ErrInvalidResponse)
	}

	u, creds, err := lookup(ctx, bytes.Clone(handle))
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return "", authn.Event{}, fmt.Errorf("%w: %w", ErrUnknownCredential, err)
		}
		return "", authn.Event{}, fmt.Errorf("passkey: look up user: %w", err)
	}
	if u.ID != string(handle) {
		return "", authn.Event{}, fmt.Errorf("%w: user handle names another user", ErrUnknownCredential)
	}
	was, stored := m.decodeCredentials(ctx, u.ID, creds)
	idx := -1
	for i := range was {
		if bytes.Equal(was[i].ID, parsed.RawID) {
			idx = i
			break
		}
	}
	if idx < 0 {
		return "", authn.Event{}, fmt.Errorf("%w: credential is not the user's", ErrUnknownCredential)
	}
	sc := stored[idx]

	// The library requires every allowed credential to be owned by the user;
	// a passkey deleted since BeginLogin must not fail the others, so keep
	// the allowed credentials that still exist (the one used is among them).
	session := st.Session
	if len(session.AllowedCredentialIDs) > 0 {
		var still [][]byte
		for _, id := range session.AllowedCredentialIDs {
			if containsCredential(was, id) {
				still = append(still, id)
			}
		}
		session.AllowedCredentialIDs = still
	}
	user := &waUser{u: u, creds: was}
	if st.UserID == "" {
		_, _, err = m.wa.ValidatePasskeyLogin(func(rawID, userHandle []byte) (webauthn.User, error) {
			return user, nil
		}, session, parsed)
	} else {
		_, err = m.wa.ValidateLogin(user, session, parsed)
	}
	if err != nil {
		return "", authn.Event{}, libError("verify assertion", err)
	}

	now := m.now().UTC()
	count := parsed.Response.AuthenticatorData.Counter
	if err := m.store.UseCredential(ctx, sc.ID, int64(count), now); err != nil {
		switch {
		case errors.Is(err, store.ErrConflict):
			m.log.WarnContext(ctx, "passkey signature counter regression: replayed assertion or cloned authenticator",
				"user_id", u.ID, "credential_id", sc.ID, "sign_count", count, "stored_count", sc.Counter)
			return "", authn.Event{}, fmt.Errorf("%w: %w", ErrCounterRegression, err)
		case errors.Is(err, store.ErrNotFound):
			return "", authn.Event{}, fmt.Errorf("%w: %w", ErrUnknownCredential, err)
		default:
			return "", authn.Event{}, fmt.Errorf("passkey: record credential use: %w", err)
		}
	}

	if bs := flags.HasBackupState(); bs != sc.BackupState {
		prev := sc.BackupState
		sc.BackupState = bs
		if err := m.store.UpdateCredential(ctx, sc); err != nil {
			// The assertion is valid and its counter consumed: the backup
			// state is informational, so record the failure and go on.
			m.log.ErrorContext(ctx, "passkey: update backup state", "credential_id", sc.ID, "err", err)
		} else {
			m.log.InfoContext(ctx, "passkey backup state changed", "user_id", u.ID, "credential_id", sc.ID,
				"from", prev, "to", bs)
		}
	}

	return u.ID, assertionEvent(sc, flags, now), nil
}

// assertionEvent describes a verified assertion.
//
// Factors: possession (the private key) always; inherence when the
// authenticator verified the user, since UV is a local PIN or biometric
// check we cannot tell apart and record it as the second category (a PIN
// would strictly be knowledge; either way the event proves two factors).
//
// AMR (RFC 8176): "hwk" for a device-bound credential whose attestation
// chains to a trusted root, "swk" otherwise (synced or unattested keys),
// "pop" (proof of possession), "user" when user presence was tested, and
// "mfa" when the user was verified.
func assertionEvent(sc store.Credential, flags protocol.AuthenticatorFlags, now time.Time) authn.Event {
	deviceBound := !sc.BackupEligible
	uv := flags.HasUserVerified()
	key := "swk"
	if deviceBound && sc.Attested {
		key = "hwk"
	}
	amr := []string{key, "pop"}
	if flags.HasUserPresent() {
		amr = append(amr, "user")
	}
	factors := []string{authn.FactorPossession}
	if uv {
		amr = append(amr, "mfa")
		factors = append(factors, authn.FactorInherence)
	}
	return authn.Event{
		Method:            authn.MethodPasskey,
		AMR:               amr,
		Time:              now,
		Factors:           factors,
		PhishingResistant: true,
		DeviceBound:       deviceBound,
		UserVerified:      uv,
		Attested:          sc.Attested,
		CredentialID:      sc.ID,
	}
}

func containsID(ids [][]byte, id []byte) bool {
	for _, x := range ids {
		if bytes.Equal(x, id) {
			return true
		}
	}
	return false
}

func containsCredential(creds []webauthn.Credential, id []byte) bool {
	for i := range creds {
		if bytes.Equal(creds[i].ID, id) {
			return true
		}
	}
	return false
}
