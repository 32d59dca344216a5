package softauthn

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math/big"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

const (
	rpID   = "localhost"
	origin = "http://localhost:8080"
)

func newCreationOptions(challenge, userID string, exclude ...string) []byte {
	ex := []map[string]string{}
	for _, id := range exclude {
		ex = append(ex, map[string]string{"type": "public-key", "id": id})
	}
	b, _ := json.Marshal(map[string]any{"publicKey": map[string]any{
		"rp":                 map[string]string{"id": rpID, "name": "Test"},
		"user":               map[string]string{"id": userID, "name": "alice", "displayName": "Alice"},
		"challenge":          challenge,
		"pubKeyCredParams":   []map[string]any{{"type": "public-key", "alg": -7}},
		"excludeCredentials": ex,
		"extensions":         map[string]any{"credProps": true},
	}})
	return b
}

func newRequestOptions(challenge string, allow ...string) []byte {
	al := []map[string]string{}
	for _, id := range allow {
		al = append(al, map[string]string{"type": "public-key", "id": id})
	}
	b, _ := json.Marshal(map[string]any{"publicKey": map[string]any{
		"challenge": challenge, "rpId": rpID, "allowCredentials": al,
	}})
	return b
}

type wireResponse struct {
	ID       string `json:"id"`
	RawID    string `json:"rawId"`
	Type     string `json:"type"`
	Response struct {
		ClientDataJSON    string `json:"clientDataJSON"`
		AttestationObject string `json:"attestationObject"`
		AuthenticatorData string `json:"authenticatorData"`
		Signature         string `json:"signature"`
		UserHandle        string `json:"userHandle"`
	} `json:"response"`
	Extensions map[string]any `json:"clientExtensionResults"`
}

func decode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("base64url %q: %v", s, err)
	}
	return b
}

// register creates a credential and returns its id and public key.
func register(t *testing.T, a *Authenticator, opts Options) (string, *ecdsa.PublicKey, []byte) {
	t.Helper()
	out, err := a.Create(newCreationOptions("Y2hhbGxlbmdlLWNoYWxsZW5nZQ", "dS0x"))
	if err != nil {
		t.Fatal(err)
	}
	var r wireResponse
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatal(err)
	}
	if r.ID != r.RawID || r.Type != "public-key" {
		t.Fatalf("id/rawId/type = %q/%q/%q", r.ID, r.RawID, r.Type)
	}
	var cd map[string]any
	if err := json.Unmarshal(decode(t, r.Response.ClientDataJSON), &cd); err != nil {
		t.Fatal(err)
	}
	if cd["type"] != "webauthn.create" || cd["challenge"] != "Y2hhbGxlbmdlLWNoYWxsZW5nZQ" || cd["origin"] != origin {
		t.Errorf("clientData = %v", cd)
	}
	var att struct {
		Fmt      string         `cbor:"fmt"`
		AttStmt  map[string]any `cbor:"attStmt"`
		AuthData []byte         `cbor:"authData"`
	}
	if err := cbor.Unmarshal(decode(t, r.Response.AttestationObject), &att); err != nil {
		t.Fatal(err)
	}
	ad := att.AuthData
	rpHash := sha256.Sum256([]byte(rpID))
	if !bytes.Equal(ad[:32], rpHash[:]) {
		t.Error("rpIdHash is not SHA-256(rpId)")
	}
	wantFlags := byte(flagUP | flagAT)
	if opts.UserVerified {
		wantFlags |= flagUV
	}
	if opts.BackupEligible {
		wantFlags |= flagBE
	}
	if opts.BackupState {
		wantFlags |= flagBS
	}
	if ad[32] != wantFlags {
		t.Errorf("flags = %#x, want %#x", ad[32], wantFlags)
	}
	if !bytes.Equal(ad[37:53], opts.AAGUID[:]) {
		t.Errorf("aaguid = %x", ad[37:53])
	}
	n := int(binary.BigEndian.Uint16(ad[53:55]))
	if got := base64.RawURLEncoding.EncodeToString(ad[55 : 55+n]); got != r.ID {
		t.Errorf("attested credential id %q, response id %q", got, r.ID)
	}
	var key map[int]any
	if err := cbor.Unmarshal(ad[55+n:], &key); err != nil {
		t.Fatal(err)
	}
	x, _ := key[-2].([]byte)
	y, _ := key[-3].([]byte)
	pub := &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int).SetBytes(x), Y: new(big.Int).SetBytes(y)}
	if key[1] != uint64(2) || key[3] != int64(-7) || key[-1] != uint64(1) {
		t.Errorf("COSE key = %v", key)
	}
	if opts.Attestation == nil && (att.Fmt != "none" || len(att.AttStmt) != 0) {
		t.Errorf("attestation = %q %v, want none", att.Fmt, att.AttStmt)
	}
	if rk, _ := r.Extensions["credProps"].(map[string]any); rk["rk"] != true {
		t.Errorf("credProps = %v", r.Extensions)
	}
	return r.ID, pub, ad
}

// assert runs Get and checks the signature; it returns the counter.
func assert(t *testing.T, a *Authenticator, pub *ecdsa.PublicKey, allow ...string) uint32 {
	t.Helper()
	out, err := a.Get(newRequestOptions("c2Vjb25kLWNoYWxsZW5nZQ", allow...))
	if err != nil {
		t.Fatal(err)
	}
	var r wireResponse
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatal(err)
	}
	cdj := decode(t, r.Response.ClientDataJSON)
	ad := decode(t, r.Response.AuthenticatorData)
	var cd map[string]any
	if err := json.Unmarshal(cdj, &cd); err != nil {
		t.Fatal(err)
	}
	if cd["type"] != "webauthn.get" || cd["challenge"] != "c2Vjb25kLWNoYWxsZW5nZQ" {
		t.Errorf("clientData = %v", cd)
	}
	if len(ad) != 37 || ad[32]&flagAT != 0 {
		t.Errorf("assertion authData = %x", ad)
	}
	if string(decode(t, r.Response.UserHandle)) != "u-1" {
		t.Errorf("userHandle = %q", r.Response.UserHandle)
	}
	cdh := sha256.Sum256(cdj)
	digest := sha256.Sum256(append(append([]byte{}, ad...), cdh[:]...))
	if !ecdsa.VerifyASN1(pub, digest[:], decode(t, r.Response.Signature)) {
		t.Error("signature does not verify over authData || SHA-256(clientDataJSON)")
	}
	return binary.BigEndian.Uint32(ad[33:37])
}

func TestCreateThenGet(t *testing.T) {
	tests := []struct {
		name     string
		opts     Options
		counters []uint32
	}{
		{name: "security key", opts: Options{UserVerified: true, AAGUID: [16]byte{1, 2, 3}}, counters: []uint32{1, 2, 3}},
		{name: "counter start", opts: Options{UserVerified: true, SignCountStart: 41}, counters: []uint32{42, 43}},
		{name: "synced passkey without counter", opts: Options{UserVerified: true, BackupEligible: true, BackupState: true, NoCounter: true, Platform: true}, counters: []uint32{0, 0}},
		{name: "no user verification", opts: Options{}, counters: []uint32{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := New(rpID, origin, tt.opts)
			id, pub, _ := register(t, a, tt.opts)
			for i, want := range tt.counters {
				allow := []string{id}
				if i%2 == 1 {
					allow = nil // discoverable
				}
				if got := assert(t, a, pub, allow...); got != want {
					t.Errorf("assertion %d: counter %d, want %d", i, got, want)
				}
			}
		})
	}
}

func TestSetSignCountRollsBack(t *testing.T) {
	a := New(rpID, origin, Options{UserVerified: true})
	id, pub, _ := register(t, a, Options{UserVerified: true})
	assert(t, a, pub, id)
	assert(t, a, pub, id)
	a.SetSignCount(0)
	if got := assert(t, a, pub, id); got != 1 {
		t.Errorf("counter after rollback = %d, want 1", got)
	}
}

func TestCreateRefuses(t *testing.T) {
	a := New(rpID, origin, Options{UserVerified: true})
	id, _, _ := register(t, a, Options{UserVerified: true})
	tests := []struct {
		name string
		opts []byte
		want error
	}{
		{name: "excluded credential", opts: newCreationOptions("Y2hhbGxlbmdlLWNoYWxsZW5nZQ", "dS0x", id), want: ErrExcluded},
		{name: "not JSON", opts: []byte("{"), want: ErrBadOptions},
		{name: "no challenge", opts: newCreationOptions("", "dS0x"), want: ErrBadOptions},
		{name: "RS256 only", opts: []byte(`{"publicKey":{"challenge":"AAAA","user":{"id":"dS0x"},"pubKeyCredParams":[{"type":"public-key","alg":-257}]}}`), want: ErrUnsupportedAlgorithm},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := a.Create(tt.opts); !errors.Is(err, tt.want) {
				t.Errorf("Create: %v, want %v", err, tt.want)
			}
		})
	}
}

func TestGetWithoutMatchingCredential(t *testing.T) {
	a := New(rpID, origin, Options{UserVerified: true})
	if _, err := a.Get(newRequestOptions("AAAAAAAAAAAAAAAAAAAAAA")); !errors.Is(err, ErrNoCredential) {
		t.Errorf("Get with no credentials: %v", err)
	}
	register(t, a, Options{UserVerified: true})
	if _, err := a.Get(newRequestOptions("AAAAAAAAAAAAAAAAAAAAAA", "b3RoZXI")); !errors.Is(err, ErrNoCredential) {
		t.Errorf("Get with another allowed credential: %v", err)
	}
}
