package passkey

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-webauthn/webauthn/metadata"
	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"

	"github.com/stepup-oidc/stepup/internal/store"
)

// registrationState is the sealed state of a registration ceremony.
type registrationState struct {
	UserID  string               `json:"u"`
	Session webauthn.SessionData `json:"s"`
}

// DefaultCredentialName is the Name given to a newly registered passkey; the
// user may rename it later (Store.UpdateCredential).
const DefaultCredentialName = "Passkey"

// BeginRegistration starts enrolling a passkey for u. It returns the JSON to
// pass to navigator.credentials.create (a protocol.CredentialCreation:
// {"publicKey": PublicKeyCredentialCreationOptions}) and the sealed state the
// page carries to FinishRegistration. existing are the user's credentials:
// its passkeys become excludeCredentials, so an authenticator already
// enrolled is not enrolled twice.
func (m *Method) BeginRegistration(ctx context.Context, u User, existing []store.Credential) (optionsJSON []byte, state string, err error) {
	if err := checkUser(u); err != nil {
		return nil, "", err
	}
	creds, _ := m.decodeCredentials(ctx, u.ID, existing)
	exclude := webauthn.Credentials(creds).CredentialDescriptors()
	creation, session, err := m.wa.BeginRegistration(&waUser{u: u},
		webauthn.WithExclusions(exclude),
		webauthn.WithExtensions(webauthn.WithExtensionCredProps()),
	)
	if err != nil {
		return nil, "", fmt.Errorf("passkey: begin registration: %w", err)
	}
	optionsJSON, err = json.Marshal(creation)
	if err != nil {
		return nil, "", fmt.Errorf("passkey: encode creation options: %w", err)
	}
	state, err = m.seal(purposeRegister, registrationState{UserID: u.ID, Session: *session})
	if err != nil {
		return nil, "", fmt.Errorf("passkey: seal registration state: %w", err)
	}
	return optionsJSON, state, nil
}

// FinishRegistration verifies the browser's response (the JSON of the
// PublicKeyCredential returned by create()) against state, which must come
// from BeginRegistration for the same user, and stores the new passkey. It
// refuses a response without user verification
// (ErrUserVerificationRequired), with BS=1 but BE=0 or that otherwise fails
// verification (ErrInvalidResponse), or whose client reports a
// non-discoverable credential (ErrInvalidResponse). A credential ID that is
// already registered yields ErrCredentialExists.
func (m *Method) FinishRegistration(ctx context.Context, u User, state string, response []byte) (store.Credential, error) {
	var st registrationState
	if err := m.unseal(purposeRegister, state, &st); err != nil {
		return store.Credential{}, fmt.Errorf("%w: %w", ErrInvalidState, err)
	}
	if st.UserID != u.ID {
		return store.Credential{}, fmt.Errorf("%w: state is for another user", ErrInvalidState)
	}
	if len(response) > maxResponseSize {
		return store.Credential{}, fmt.Errorf("%w: response of %d bytes is too large", ErrInvalidResponse, len(response))
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return store.Credential{}, libError("parse registration", err)
	}
	flags := parsed.Response.AttestationObject.AuthData.Flags
	if !flags.HasUserVerified() {
		return store.Credential{}, ErrUserVerificationRequired
	}
	if flags.HasBackupState() && !flags.HasBackupEligible() {
		return store.Credential{}, fmt.Errorf("%w: backup state without backup eligibility", ErrInvalidResponse)
	}
	if cp := parsed.ClientExtensionResults.CredProps; cp != nil && cp.RK != nil && !*cp.RK {
		return store.Credential{}, fmt.Errorf("%w: credential is not discoverable", ErrInvalidResponse)
	}

	cred, err := m.wa.CreateCredential(&waUser{u: u}, st.Session, parsed)
	if err != nil {
		return store.Credential{}, libError("verify registration", err)
	}

	attested := m.attested(parsed, cred)
	aaguid := ""
	if id, err := uuid.FromBytes(cred.Authenticator.AAGUID); err == nil {
		aaguid = id.String()
	}
	secret, err := json.Marshal(cred)
	if err != nil {
		return store.Credential{}, fmt.Errorf("passkey: encode credential: %w", err)
	}
	sc := store.Credential{
		ID:             encodeID(cred.ID),
		UserID:         u.ID,
		Type:           store.CredentialPasskey,
		Name:           DefaultCredentialName,
		Secret:         secret,
		Counter:        int64(cred.Authenticator.SignCount),
		BackupEligible: cred.Flags.BackupEligible,
		BackupState:    cred.Flags.BackupState,
		UserVerified:   cred.Flags.UserVerified,
		Attested:       attested,
		AAGUID:         aaguid,
		CreatedAt:      m.now().UTC(),
	}
	if err := m.store.CreateCredential(ctx, sc); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return store.Credential{}, fmt.Errorf("%w: %w", ErrCredentialExists, err)
		}
		return store.Credential{}, fmt.Errorf("passkey: store credential: %w", err)
	}
	m.log.InfoContext(ctx, "passkey registered", "user_id", u.ID, "credential_id", sc.ID,
		"aaguid", aaguid, "attested", attested, "backup_eligible", sc.BackupEligible)
	return sc, nil
}

// attested reports whether the (already verified) attestation statement of
// a registration chains to one of the configured roots. Only certificate
// based attestation types count; self attestation and "none" never do.
func (m *Method) attested(parsed *protocol.ParsedCredentialCreationData, cred *webauthn.Credential) bool {
	if m.roots == nil {
		return false
	}
	switch metadata.AuthenticatorAttestationType(cred.AttestationType) {
	case metadata.BasicFull, metadata.AttCA, metadata.AnonCA:
	default:
		return false
	}
	att := parsed.Response.AttestationObject
	if x5c, ok := att.AttStatement["x5c"].([]any); ok {
		return m.chainVerifies(x5c)
	}
	for _, sub := range att.SubStatements {
		if x5c, ok := sub.AttStatement["x5c"].([]any); ok && m.chainVerifies(x5c) {
			return true
		}
	}
	return false
}

// chainVerifies checks an x5c array (leaf first) against the roots.
func (m *Method) chainVerifies(x5c []any) bool {
	var certs []*x509.Certificate
	for _, raw := range x5c {
		der, ok := raw.([]byte)
		if !ok {
			return false
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return false
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return false
	}
	leaf := *certs[0]
	// Attestation formats (TPM in particular) mark extensions critical that
	// crypto/x509 does not process; the library has already checked them
	// according to the format, so they must not fail the chain check.
	leaf.UnhandledCriticalExtensions = nil
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots:         m.roots,
		Intermediates: inter,
		CurrentTime:   m.now(),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	return err == nil
}
