// Package softauthn is a software WebAuthn client and authenticator in one:
// it turns the options JSON a relying party hands to
// navigator.credentials.create or navigator.credentials.get into the JSON of
// the PublicKeyCredential a browser would send back, signed with ES256 keys it
// keeps in memory.
//
// It exists for tests and for the load generator, never for production. It
// deliberately does not enforce the browser's own rules (that the rpId is a
// registrable suffix of the origin, that the origin is secure, that user
// verification was really performed): it reports whatever origin, rpId and
// flags it was configured with, so that it can also produce the malformed or
// hostile responses a relying party must reject.
//
// Responses use the "none" attestation format unless Options.Attestation is
// set, in which case they use "packed" with an x5c certificate chain.
// Assertion signatures are ASN.1 DER ECDSA over authenticatorData ||
// SHA-256(clientDataJSON), as WebAuthn specifies.
//
// An Authenticator is safe for concurrent use. It has one signature counter
// shared by all of its credentials, as many hardware security keys do.
package softauthn

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/fxamacker/cbor/v2"
)

// Errors returned by Create and Get.
var (
	// ErrBadOptions means the options JSON could not be understood.
	ErrBadOptions = errors.New("softauthn: invalid options")
	// ErrUnsupportedAlgorithm means the relying party does not accept ES256.
	ErrUnsupportedAlgorithm = errors.New("softauthn: ES256 not among pubKeyCredParams")
	// ErrExcluded means one of this authenticator's credentials is in
	// excludeCredentials (a browser reports InvalidStateError).
	ErrExcluded = errors.New("softauthn: credential excluded")
	// ErrNoCredential means no credential of this authenticator matches the
	// request (a browser reports NotAllowedError).
	ErrNoCredential = errors.New("softauthn: no matching credential")
)

// COSE and WebAuthn constants.
const (
	algES256 = -7

	flagUP = 0x01
	flagUV = 0x04
	flagBE = 0x08
	flagBS = 0x10
	flagAT = 0x40
)

// Options shape the authenticator data the Authenticator produces.
type Options struct {
	// BackupEligible sets the BE flag: a synced (multi-device) passkey.
	BackupEligible bool
	// BackupState sets the BS flag: the credential is currently backed up.
	BackupState bool
	// UserVerified sets the UV flag: a PIN or biometric was checked.
	UserVerified bool
	// SignCountStart is the signature counter reported at registration;
	// each assertion increments it first.
	SignCountStart uint32
	// NoCounter makes every response report a signature counter of zero,
	// like authenticators (such as synced passkeys) that keep none.
	NoCounter bool
	// AAGUID identifies the authenticator model; zero by default.
	AAGUID [16]byte
	// Attestation, when set, makes Create use the "packed" attestation
	// format signed by this key with this certificate chain; nil means the
	// "none" format.
	Attestation *Attestation
	// Platform reports authenticatorAttachment "platform" and transport
	// "internal" instead of "cross-platform" and "usb".
	Platform bool
}

// Attestation is a batch attestation key and its certificate chain.
type Attestation struct {
	// Key signs the attestation statement (ES256).
	Key *ecdsa.PrivateKey
	// Chain is the DER certificate chain, leaf (certifying Key) first,
	// without the root.
	Chain [][]byte
}

// Credential is one key pair held by an Authenticator.
type Credential struct {
	ID         []byte
	RPID       string
	UserHandle []byte
	Key        *ecdsa.PrivateKey
}

// Authenticator is a software authenticator bound to an rpID and the origin
// its "browser" reports.
type Authenticator struct {
	mu      sync.Mutex
	rpID    string
	origin  string
	opts    Options
	counter uint32
	creds   []*Credential
}

// New returns an Authenticator that reports origin in client data and hashes
// rpID into authenticator data.
func New(rpID, origin string, opts Options) *Authenticator {
	return &Authenticator{rpID: rpID, origin: origin, opts: opts, counter: opts.SignCountStart}
}

// SetOptions replaces the flags used by later ceremonies (the counter is not
// reset; see SetSignCount).
func (a *Authenticator) SetOptions(opts Options) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.opts = opts
}

// SetOrigin changes the origin reported in later client data.
func (a *Authenticator) SetOrigin(origin string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.origin = origin
}

// SetRPID changes the rpID hashed into later authenticator data. Existing
// credentials stay usable under the new rpID, so a test can make an
// assertion for the wrong relying party.
func (a *Authenticator) SetRPID(rpID string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.rpID = rpID
}

// SetSignCount sets the signature counter; the next assertion reports n+1.
// Setting it below a value already reported simulates a cloned
// authenticator (a counter regression).
func (a *Authenticator) SetSignCount(n uint32) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.counter = n
}

// SignCount returns the current signature counter.
func (a *Authenticator) SignCount() uint32 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.counter
}

// Credentials returns copies of the descriptors of the credentials held,
// oldest first.
func (a *Authenticator) Credentials() []Credential {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]Credential, len(a.creds))
	for i, c := range a.creds {
		out[i] = *c
	}
	return out
}

// Wire types: the subset of PublicKeyCredentialCreationOptions and
// PublicKeyCredentialRequestOptions (JSON forms) that an authenticator uses.
type (
	b64 []byte

	descriptor struct {
		Type string `json:"type"`
		ID   b64    `json:"id"`
	}

	creationOptions struct {
		RP struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"rp"`
		User struct {
			ID          b64    `json:"id"`
			Name        string `json:"name"`
			DisplayName string `json:"displayName"`
		} `json:"user"`
		Challenge  b64 `json:"challenge"`
		Parameters []struct {
			Type string `json:"type"`
			Alg  int    `json:"alg"`
		} `json:"pubKeyCredParams"`
		Exclude    []descriptor    `json:"excludeCredentials"`
		Extensions json.RawMessage `json:"extensions"`
	}

	requestOptions struct {
		Challenge b64          `json:"challenge"`
		RPID      string       `json:"rpId"`
		Allow     []descriptor `json:"allowCredentials"`
	}

	clientData struct {
		Type        string `json:"type"`
		Challenge   string `json:"challenge"`
		Origin      string `json:"origin"`
		CrossOrigin bool   `json:"crossOrigin"`
	}
)

func (b b64) MarshalJSON() ([]byte, error) {
	return json.Marshal(base64.RawURLEncoding.EncodeToString(b))
}

func (b *b64) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	v, err := base64.RawURLEncoding.DecodeString(trimPad(s))
	if err != nil {
		return err
	}
	*b = v
	return nil
}

func trimPad(s string) string {
	for len(s) > 0 && s[len(s)-1] == '=' {
		s = s[:len(s)-1]
	}
	return s
}

// unwrap accepts both {"publicKey": {...}} (CredentialCreationOptions /
// CredentialRequestOptions) and the bare inner dictionary.
func unwrap(optionsJSON []byte, v any) error {
	var outer struct {
		PublicKey json.RawMessage `json:"publicKey"`
	}
	if err := json.Unmarshal(optionsJSON, &outer); err != nil {
		return fmt.Errorf("%w: %w", ErrBadOptions, err)
	}
	inner := optionsJSON
	if len(outer.PublicKey) > 0 {
		inner = outer.PublicKey
	}
	if err := json.Unmarshal(inner, v); err != nil {
		return fmt.Errorf("%w: %w", ErrBadOptions, err)
	}
	return nil
}

// Create answers navigator.credentials.create: it makes a discoverable ES256
// credential and returns the JSON of the resulting PublicKeyCredential
// (RegistrationResponseJSON).
func (a *Authenticator) Create(optionsJSON []byte) ([]byte, error) {
	var o creationOptions
	if err := unwrap(optionsJSON, &o); err != nil {
		return nil, err
	}
	if len(o.Challenge) == 0 {
		return nil, fmt.Errorf("%w: missing challenge", ErrBadOptions)
	}
	if len(o.User.ID) == 0 {
		return nil, fmt.Errorf("%w: missing user.id", ErrBadOptions)
	}
	if len(o.Parameters) > 0 {
		ok := false
		for _, p := range o.Parameters {
			ok = ok || (p.Type == "public-key" && p.Alg == algES256)
		}
		if !ok {
			return nil, ErrUnsupportedAlgorithm
		}
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	for _, ex := range o.Exclude {
		for _, c := range a.creds {
			if bytes.Equal(c.ID, ex.ID) {
				return nil, ErrExcluded
			}
		}
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("softauthn: generate key: %w", err)
	}
	id := make([]byte, 32)
	if _, err := rand.Read(id); err != nil {
		return nil, fmt.Errorf("softauthn: credential id: %w", err)
	}
	coseKey, err := encodeCOSEKey(&key.PublicKey)
	if err != nil {
		return nil, err
	}

	cdj, err := json.Marshal(clientData{
		Type:      "webauthn.create",
		Challenge: base64.RawURLEncoding.EncodeToString(o.Challenge),
		Origin:    a.origin,
	})
	if err != nil {
		return nil, fmt.Errorf("softauthn: client data: %w", err)
	}

	// attestedCredentialData: aaguid(16) || credIdLen(2) || credId || COSE key
	att := make([]byte, 0, 16+2+len(id)+len(coseKey))
	att = append(att, a.opts.AAGUID[:]...)
	att = binary.BigEndian.AppendUint16(att, uint16(len(id)))
	att = append(att, id...)
	att = append(att, coseKey...)
	authData := a.authData(a.signCount(false), flagAT, att)

	fmtName, stmt, err := a.attest(authData, cdj)
	if err != nil {
		return nil, err
	}
	attObj, err := ctap2Marshal(map[string]any{
		"fmt":      fmtName,
		"attStmt":  stmt,
		"authData": authData,
	})
	if err != nil {
		return nil, fmt.Errorf("softauthn: attestation object: %w", err)
	}
	spki, err := marshalSPKI(&key.PublicKey)
	if err != nil {
		return nil, err
	}

	a.creds = append(a.creds, &Credential{
		ID:         id,
		RPID:       a.rpID,
		UserHandle: bytes.Clone(o.User.ID),
		Key:        key,
	})

	resp := map[string]any{
		"id":                      base64.RawURLEncoding.EncodeToString(id),
		"rawId":                   b64(id),
		"type":                    "public-key",
		"authenticatorAttachment": a.attachment(),
		"response": map[string]any{
			"clientDataJSON":     b64(cdj),
			"attestationObject":  b64(attObj),
			"authenticatorData":  b64(authData),
			"publicKey":          b64(spki),
			"publicKeyAlgorithm": algES256,
			"transports":         a.transports(),
		},
		"clientExtensionResults": a.creationExtensions(o.Extensions),
	}
	return json.Marshal(resp)
}

// Get answers navigator.credentials.get: it picks the first of its
// credentials listed in allowCredentials (or, when the list is empty, its
// newest credential, as for a discoverable login) and returns the JSON of the
// assertion (AuthenticationResponseJSON), including the user handle.
func (a *Authenticator) Get(optionsJSON []byte) ([]byte, error) {
	var o requestOptions
	if err := unwrap(optionsJSON, &o); err != nil {
		return nil, err
	}
	if len(o.Challenge) == 0 {
		return nil, fmt.Errorf("%w: missing challenge", ErrBadOptions)
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	cred := a.pick(o.Allow)
	if cred == nil {
		return nil, ErrNoCredential
	}

	cdj, err := json.Marshal(clientData{
		Type:      "webauthn.get",
		Challenge: base64.RawURLEncoding.EncodeToString(o.Challenge),
		Origin:    a.origin,
	})
	if err != nil {
		return nil, fmt.Errorf("softauthn: client data: %w", err)
	}
	authData := a.authData(a.signCount(true), 0, nil)
	sig, err := sign(cred.Key, authData, cdj)
	if err != nil {
		return nil, err
	}
	resp := map[string]any{
		"id":                      base64.RawURLEncoding.EncodeToString(cred.ID),
		"rawId":                   b64(cred.ID),
		"type":                    "public-key",
		"authenticatorAttachment": a.attachment(),
		"response": map[string]any{
			"clientDataJSON":    b64(cdj),
			"authenticatorData": b64(authData),
			"signature":         b64(sig),
			"userHandle":        b64(cred.UserHandle),
		},
		"clientExtensionResults": map[string]any{},
	}
	return json.Marshal(resp)
}

func (a *Authenticator) pick(allow []descriptor) *Credential {
	if len(allow) == 0 {
		for i := len(a.creds) - 1; i >= 0; i-- {
			if a.creds[i].RPID == a.rpID {
				return a.creds[i]
			}
		}
		// SetRPID may have moved us elsewhere: fall back to any credential.
		if len(a.creds) > 0 {
			return a.creds[len(a.creds)-1]
		}
		return nil
	}
	for _, d := range allow {
		for _, c := range a.creds {
			if bytes.Equal(c.ID, d.ID) {
				return c
			}
		}
	}
	return nil
}

// signCount returns the counter to report, advancing it for assertions.
func (a *Authenticator) signCount(advance bool) uint32 {
	if a.opts.NoCounter {
		return 0
	}
	if advance {
		a.counter++
	}
	return a.counter
}

// authData builds rpIdHash(32) || flags(1) || signCount(4) || extra.
func (a *Authenticator) authData(count uint32, flags byte, extra []byte) []byte {
	rpHash := sha256.Sum256([]byte(a.rpID))
	flags |= flagUP
	if a.opts.UserVerified {
		flags |= flagUV
	}
	if a.opts.BackupEligible {
		flags |= flagBE
	}
	if a.opts.BackupState {
		flags |= flagBS
	}
	out := make([]byte, 0, 37+len(extra))
	out = append(out, rpHash[:]...)
	out = append(out, flags)
	out = binary.BigEndian.AppendUint32(out, count)
	return append(out, extra...)
}

func (a *Authenticator) attest(authData, clientDataJSON []byte) (string, map[string]any, error) {
	if a.opts.Attestation == nil {
		return "none", map[string]any{}, nil
	}
	sig, err := sign(a.opts.Attestation.Key, authData, clientDataJSON)
	if err != nil {
		return "", nil, err
	}
	x5c := make([]any, len(a.opts.Attestation.Chain))
	for i, c := range a.opts.Attestation.Chain {
		x5c[i] = c
	}
	return "packed", map[string]any{"alg": algES256, "sig": sig, "x5c": x5c}, nil
}

func (a *Authenticator) attachment() string {
	if a.opts.Platform {
		return "platform"
	}
	return "cross-platform"
}

func (a *Authenticator) transports() []string {
	if a.opts.Platform {
		return []string{"internal", "hybrid"}
	}
	return []string{"usb"}
}

// creationExtensions answers the credProps extension when it was requested
// (and nothing else: unrequested outputs are rejected by careful RPs).
func (a *Authenticator) creationExtensions(raw json.RawMessage) map[string]any {
	out := map[string]any{}
	if len(raw) == 0 {
		return out
	}
	var ext struct {
		CredProps bool `json:"credProps"`
	}
	if json.Unmarshal(raw, &ext) == nil && ext.CredProps {
		out["credProps"] = map[string]any{"rk": true}
	}
	return out
}

// sign returns the DER ECDSA signature over authData || SHA-256(clientDataJSON).
func sign(key *ecdsa.PrivateKey, authData, clientDataJSON []byte) ([]byte, error) {
	cdh := sha256.Sum256(clientDataJSON)
	msg := make([]byte, 0, len(authData)+len(cdh))
	msg = append(msg, authData...)
	msg = append(msg, cdh[:]...)
	digest := sha256.Sum256(msg)
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		return nil, fmt.Errorf("softauthn: sign: %w", err)
	}
	return sig, nil
}

// encodeCOSEKey returns the CTAP2-canonical COSE_Key of an ES256 public key.
func encodeCOSEKey(pub *ecdsa.PublicKey) ([]byte, error) {
	raw, err := pub.Bytes() // 0x04 || X(32) || Y(32)
	if err != nil {
		return nil, fmt.Errorf("softauthn: public key: %w", err)
	}
	b, err := ctap2Marshal(map[int]any{
		1:  2,          // kty: EC2
		3:  algES256,   // alg: ES256
		-1: 1,          // crv: P-256
		-2: raw[1:33],  // x
		-3: raw[33:65], // y
	})
	if err != nil {
		return nil, fmt.Errorf("softauthn: COSE key: %w", err)
	}
	return b, nil
}

// ctap2Marshal encodes v in the CTAP2 canonical CBOR form.
func ctap2Marshal(v any) ([]byte, error) {
	em, err := cbor.CTAP2EncOptions().EncMode()
	if err != nil {
		return nil, fmt.Errorf("softauthn: cbor: %w", err)
	}
	return em.Marshal(v)
}

// marshalSPKI returns the DER SubjectPublicKeyInfo, as getPublicKey() does.
func marshalSPKI(pub *ecdsa.PublicKey) ([]byte, error) {
	b, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("softauthn: public key: %w", err)
	}
	return b, nil
}
