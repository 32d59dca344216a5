package passkey

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/stepup-oidc/stepup/internal/authn"
	"github.com/stepup-oidc/stepup/internal/authn/passkey/softauthn"
	"github.com/stepup-oidc/stepup/internal/store"
)

var (
	securityKey = softauthn.Options{UserVerified: true, AAGUID: [16]byte{0xca, 0xfe, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}}
	syncedKey   = softauthn.Options{UserVerified: true, BackupEligible: true, BackupState: true, NoCounter: true, Platform: true}
)

func TestRegisterThenLogin(t *testing.T) {
	tests := []struct {
		name         string
		opts         softauthn.Options
		usernameLess bool
		wantCounter  bool
	}{
		{name: "security key, known user", opts: securityKey, wantCounter: true},
		{name: "security key, username-less", opts: securityKey, usernameLess: true, wantCounter: true},
		{name: "synced passkey, known user", opts: syncedKey},
		{name: "synced passkey, username-less", opts: syncedKey, usernameLess: true},
		{name: "counter starting high", opts: softauthn.Options{UserVerified: true, SignCountStart: 1 << 30}, wantCounter: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			alice := e.user("u-alice")
			e.user("u-bob") // another account, never chosen
			a := softauthn.New(testRPID, testOrigin, tt.opts)

			c := e.register(alice, a)
			held := a.Credentials()
			if len(held) != 1 {
				t.Fatalf("authenticator holds %d credentials", len(held))
			}
			if want := base64.RawURLEncoding.EncodeToString(held[0].ID); c.ID != want {
				t.Errorf("credential ID = %q, want base64url %q", c.ID, want)
			}
			if !bytes.Equal(held[0].UserHandle, []byte(alice.ID)) {
				t.Errorf("user handle = %q, want the user ID", held[0].UserHandle)
			}
			if c.UserID != alice.ID || c.Type != store.CredentialPasskey || !c.UserVerified {
				t.Errorf("stored credential = %+v", c)
			}
			if c.BackupEligible != tt.opts.BackupEligible || c.BackupState != tt.opts.BackupState {
				t.Errorf("BE/BS = %v/%v, want %v/%v", c.BackupEligible, c.BackupState, tt.opts.BackupEligible, tt.opts.BackupState)
			}
			if c.Attested {
				t.Error("attested without attestation roots")
			}
			if wantCounter := int64(tt.opts.SignCountStart); c.Counter != wantCounter {
				t.Errorf("counter = %d, want %d", c.Counter, wantCounter)
			}
			var wc webauthn.Credential
			if err := json.Unmarshal(c.Secret, &wc); err != nil || !bytes.Equal(wc.ID, held[0].ID) || len(wc.PublicKey) == 0 {
				t.Errorf("secret does not hold the credential: %v", err)
			}
			stored := e.creds(alice)
			if len(stored) != 1 || stored[0].ID != c.ID {
				t.Fatalf("store holds %+v", stored)
			}

			for i := range 3 {
				var u *User
				if !tt.usernameLess {
					u = &alice
				}
				id, res, err := e.assert(u, a, nil)
				if err != nil {
					t.Fatalf("login %d: %v", i, err)
				}
				if id != alice.ID {
					t.Errorf("login %d: user = %q, want %q", i, id, alice.ID)
				}
				if res.ev.CredentialID != c.ID || res.ev.Method != authn.MethodPasskey {
					t.Errorf("login %d: event = %+v", i, res.ev)
				}
			}
			after, err := e.store.GetCredential(context.Background(), c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantCounter && after.Counter != int64(a.SignCount()) {
				t.Errorf("stored counter = %d, want %d", after.Counter, a.SignCount())
			}
			if !tt.wantCounter && after.Counter != 0 {
				t.Errorf("stored counter = %d, want 0", after.Counter)
			}
			if after.LastUsedAt.IsZero() {
				t.Error("LastUsedAt not recorded")
			}
		})
	}
}

func TestRegistrationOptions(t *testing.T) {
	e := newEnv(t, envOptions{})
	alice := e.user("u-alice")
	a := softauthn.New(testRPID, testOrigin, securityKey)
	first := e.register(alice, a)

	opts, _, err := e.m.BeginRegistration(context.Background(), alice, e.creds(alice))
	if err != nil {
		t.Fatal(err)
	}
	var o struct {
		PublicKey struct {
			RP struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"rp"`
			User struct {
				ID string `json:"id"`
			} `json:"user"`
			Exclude []struct {
				ID string `json:"id"`
			} `json:"excludeCredentials"`
			Selection struct {
				ResidentKey        string `json:"residentKey"`
				RequireResidentKey bool   `json:"requireResidentKey"`
				UserVerification   string `json:"userVerification"`
			} `json:"authenticatorSelection"`
			Attestation string `json:"attestation"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(opts, &o); err != nil {
		t.Fatal(err)
	}
	pk := o.PublicKey
	if pk.RP.ID != testRPID || pk.RP.Name != "Stepup" {
		t.Errorf("rp = %+v", pk.RP)
	}
	if pk.User.ID != base64.RawURLEncoding.EncodeToString([]byte(alice.ID)) {
		t.Errorf("user.id = %q, want base64url of the user ID", pk.User.ID)
	}
	if len(pk.Exclude) != 1 || pk.Exclude[0].ID != first.ID {
		t.Errorf("excludeCredentials = %+v, want the existing passkey %q", pk.Exclude, first.ID)
	}
	if pk.Selection.ResidentKey != "required" || !pk.Selection.RequireResidentKey || pk.Selection.UserVerification != "required" {
		t.Errorf("authenticatorSelection = %+v", pk.Selection)
	}
	if pk.Attestation != "none" {
		t.Errorf("attestation = %q, want none without roots", pk.Attestation)
	}
	if _, err := a.Create(opts); !errors.Is(err, softauthn.ErrExcluded) {
		t.Errorf("enrolling the same authenticator twice: %v, want excluded", err)
	}
}

func TestRegistrationRefused(t *testing.T) {
	tests := []struct {
		name   string
		opts   softauthn.Options
		tamper func(e *env, a *softauthn.Authenticator, state string) (User, string, []byte)
		want   error
	}{
		{
			name: "user verification missing",
			opts: softauthn.Options{},
			want: ErrUserVerificationRequired,
		},
		{
			name: "backup state without backup eligibility",
			opts: softauthn.Options{UserVerified: true, BackupState: true},
			want: ErrInvalidResponse,
		},
		{
			name: "wrong origin",
			opts: securityKey,
			tamper: func(e *env, a *softauthn.Authenticator, state string) (User, string, []byte) {
				a.SetOrigin("http://evil.example")
				return e.users["u-alice"], state, nil
			},
			want: ErrInvalidResponse,
		},
		{
			name: "wrong rpId",
			opts: securityKey,
			tamper: func(e *env, a *softauthn.Authenticator, state string) (User, string, []byte) {
				a.SetRPID("evil.example")
				return e.users["u-alice"], state, nil
			},
			want: ErrInvalidResponse,
		},
		{
			name: "state of another user",
			opts: securityKey,
			tamper: func(e *env, _ *softauthn.Authenticator, state string) (User, string, []byte) {
				return e.users["u-bob"], state, nil
			},
			want: ErrInvalidState,
		},
		{
			name: "login state",
			opts: securityKey,
			tamper: func(e *env, _ *softauthn.Authenticator, _ string) (User, string, []byte) {
				_, state, err := e.m.BeginLogin(context.Background(), nil, nil, nil)
				if err != nil {
					e.t.Fatal(err)
				}
				return e.users["u-alice"], state, nil
			},
			want: ErrInvalidState,
		},
		{
			name: "not JSON",
			opts: securityKey,
			tamper: func(e *env, _ *softauthn.Authenticator, state string) (User, string, []byte) {
				return e.users["u-alice"], state, []byte("{")
			},
			want: ErrInvalidResponse,
		},
		{
			name: "assertion instead of attestation",
			opts: securityKey,
			tamper: func(e *env, _ *softauthn.Authenticator, state string) (User, string, []byte) {
				return e.users["u-alice"], state, []byte(`{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"","signature":""}}`)
			},
			want: ErrInvalidResponse,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			alice := e.user("u-alice")
			e.user("u-bob")
			a := softauthn.New(testRPID, testOrigin, tt.opts)
			ctx := context.Background()
			opts, state, err := e.m.BeginRegistration(ctx, alice, nil)
			if err != nil {
				t.Fatal(err)
			}
			u, resp := alice, []byte(nil)
			if tt.tamper != nil {
				u, state, resp = tt.tamper(e, a, state)
			}
			if resp == nil {
				if resp, err = a.Create(opts); err != nil {
					t.Fatal(err)
				}
			}
			_, err = e.m.FinishRegistration(ctx, u, state, resp)
			if !errors.Is(err, tt.want) {
				t.Fatalf("FinishRegistration: %v, want %v", err, tt.want)
			}
			t.Logf("refused: %v", err)
			if cs := e.creds(alice); len(cs) != 0 {
				t.Errorf("refused registration stored %+v", cs)
			}
		})
	}
}

func TestLoginRefused(t *testing.T) {
	type setup struct {
		e     *env
		alice User
		a     *softauthn.Authenticator
	}
	// login runs BeginLogin for alice, lets mutate change the
	// authenticator, response or state, and finishes.
	login := func(s setup, usernameLess bool, mutate func(s setup, opts []byte, state string) ([]byte, string)) error {
		ctx := context.Background()
		var u *User
		if !usernameLess {
			u = &s.alice
		}
		opts, state, err := s.e.m.BeginLogin(ctx, u, s.e.creds(s.alice), nil)
		if err != nil {
			s.e.t.Fatal(err)
		}
		var resp []byte
		if mutate != nil {
			resp, state = mutate(s, opts, state)
		}
		if resp == nil {
			if resp, err = s.a.Get(opts); err != nil {
				s.e.t.Fatal(err)
			}
		}
		_, _, err = s.e.m.FinishLogin(ctx, state, resp, s.e.lookup)
		return err
	}
	withAuthenticator := func(f func(a *softauthn.Authenticator)) func(s setup, opts []byte, state string) ([]byte, string) {
		return func(s setup, _ []byte, state string) ([]byte, string) {
			f(s.a)
			return nil, state
		}
	}

	tests := []struct {
		name         string
		usernameLess bool
		mutate       func(s setup, opts []byte, state string) ([]byte, string)
		want         error
		wantWarn     bool
	}{
		{
			name:   "user verification missing",
			mutate: withAuthenticator(func(a *softauthn.Authenticator) { a.SetOptions(softauthn.Options{AAGUID: securityKey.AAGUID}) }),
			want:   ErrUserVerificationRequired,
		},
		{
			name:         "user verification missing, username-less",
			usernameLess: true,
			mutate:       withAuthenticator(func(a *softauthn.Authenticator) { a.SetOptions(softauthn.Options{}) }),
			want:         ErrUserVerificationRequired,
		},
		{
			name:   "wrong origin",
			mutate: withAuthenticator(func(a *softauthn.Authenticator) { a.SetOrigin("http://localhost:8081") }),
			want:   ErrInvalidResponse,
		},
		{
			name:         "wrong origin, username-less",
			usernameLess: true,
			mutate:       withAuthenticator(func(a *softauthn.Authenticator) { a.SetOrigin("https://evil.example") }),
			want:         ErrInvalidResponse,
		},
		{
			name:   "wrong rpId",
			mutate: withAuthenticator(func(a *softauthn.Authenticator) { a.SetRPID("evil.example") }),
			want:   ErrInvalidResponse,
		},
		{
			name: "replayed assertion",
			mutate: func(s setup, opts []byte, state string) ([]byte, string) {
				resp, err := s.a.Get(opts)
				if err != nil {
					s.e.t.Fatal(err)
				}
				if _, _, err := s.e.m.FinishLogin(context.Background(), state, resp, s.e.lookup); err != nil {
					s.e.t.Fatalf("first use: %v", err)
				}
				return resp, state
			},
			want:     ErrCounterRegression,
			wantWarn: true,
		},
		{
			name: "counter regression",
			mutate: func(s setup, opts []byte, state string) ([]byte, string) {
				for range 2 {
					if _, _, err := s.e.assert(&s.alice, s.a, nil); err != nil {
						s.e.t.Fatal(err)
					}
				}
				s.a.SetSignCount(0) // a clone made right after registration
				return nil, state
			},
			want:     ErrCounterRegression,
			wantWarn: true,
		},
		{
			name: "counter regression, username-less",
			mutate: func(s setup, opts []byte, state string) ([]byte, string) {
				if _, _, err := s.e.assert(nil, s.a, nil); err != nil {
					s.e.t.Fatal(err)
				}
				s.a.SetSignCount(0)
				return nil, state
			},
			usernameLess: true,
			want:         ErrCounterRegression,
			wantWarn:     true,
		},
		{
			name: "backup eligibility changed",
			mutate: withAuthenticator(func(a *softauthn.Authenticator) {
				a.SetOptions(softauthn.Options{UserVerified: true, BackupEligible: true, AAGUID: securityKey.AAGUID})
			}),
			want: ErrInvalidResponse,
		},
		{
			name: "backup state without backup eligibility",
			mutate: withAuthenticator(func(a *softauthn.Authenticator) {
				a.SetOptions(softauthn.Options{UserVerified: true, BackupState: true})
			}),
			want: ErrInvalidResponse,
		},
		{
			name: "another user's credential",
			mutate: func(s setup, opts []byte, state string) ([]byte, string) {
				bob := s.e.user("u-bob")
				mallory := softauthn.New(testRPID, testOrigin, securityKey)
				s.e.register(bob, mallory)
				return getAny(s.e.t, mallory, opts), state
			},
			want: ErrUnknownCredential,
		},
		{
			name: "unregistered credential, username-less",
			mutate: func(s setup, opts []byte, state string) ([]byte, string) {
				// A credential made for another relying party's user
				// handle that happens to name alice.
				stranger := softauthn.New(testRPID, testOrigin, securityKey)
				other := newEnv(s.e.t, envOptions{})
				other.register(s.alice, stranger)
				return getAny(s.e.t, stranger, opts), state
			},
			usernameLess: true,
			want:         ErrUnknownCredential,
		},
		{
			name: "deleted user, username-less",
			mutate: func(s setup, opts []byte, state string) ([]byte, string) {
				delete(s.e.users, s.alice.ID)
				return nil, state
			},
			usernameLess: true,
			want:         ErrUnknownCredential,
		},
		{
			name: "deleted credential",
			mutate: func(s setup, opts []byte, state string) ([]byte, string) {
				for _, c := range s.e.creds(s.alice) {
					if err := s.e.store.DeleteCredential(context.Background(), c.ID); err != nil {
						s.e.t.Fatal(err)
					}
				}
				return nil, state
			},
			want: ErrUnknownCredential,
		},
		{
			name: "state from another ceremony",
			mutate: func(s setup, opts []byte, _ string) ([]byte, string) {
				_, other, err := s.e.m.BeginLogin(context.Background(), &s.alice, s.e.creds(s.alice), nil)
				if err != nil {
					s.e.t.Fatal(err)
				}
				return nil, other
			},
			want: ErrInvalidResponse,
		},
		{
			name: "registration state",
			mutate: func(s setup, opts []byte, _ string) ([]byte, string) {
				_, reg, err := s.e.m.BeginRegistration(context.Background(), s.alice, nil)
				if err != nil {
					s.e.t.Fatal(err)
				}
				return nil, reg
			},
			want: ErrInvalidState,
		},
		{
			name: "state of a known user, other user's handle",
			mutate: func(s setup, opts []byte, state string) ([]byte, string) {
				st := openState(s.e.t, state)
				st.UserID = "u-bob"
				return nil, reseal(s.e.t, st)
			},
			want: ErrInvalidResponse,
		},
		{
			name: "garbage state",
			mutate: func(s setup, opts []byte, _ string) ([]byte, string) {
				return nil, "not-a-state"
			},
			want: ErrInvalidState,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			s := setup{e: e, alice: e.user("u-alice"), a: softauthn.New(testRPID, testOrigin, securityKey)}
			c := e.register(s.alice, s.a)
			err := login(s, tt.usernameLess, tt.mutate)
			if !errors.Is(err, tt.want) {
				t.Fatalf("FinishLogin: %v, want %v", err, tt.want)
			}
			t.Logf("refused: %v", err)
			logs := e.log.String()
			warned := strings.Contains(logs, `"level":"WARN"`)
			if warned != tt.wantWarn {
				t.Errorf("warned = %v, want %v; log:\n%s", warned, tt.wantWarn, logs)
			}
			if tt.wantWarn {
				if !strings.Contains(logs, `"user_id":"u-alice"`) || !strings.Contains(logs, `"credential_id":"`+c.ID+`"`) {
					t.Errorf("audit record lacks user or credential id:\n%s", logs)
				}
				var wc webauthn.Credential
				if err := json.Unmarshal(c.Secret, &wc); err != nil {
					t.Fatal(err)
				}
				if strings.Contains(logs, base64.StdEncoding.EncodeToString(wc.PublicKey)) || strings.Contains(logs, "publicKey") {
					t.Errorf("audit log holds credential material:\n%s", logs)
				}
			}
		})
	}
}

// getAny answers options with whichever credential the authenticator has,
// ignoring allowCredentials, as a malicious client could.
func getAny(t testing.TB, a *softauthn.Authenticator, opts []byte) []byte {
	t.Helper()
	var o map[string]map[string]any
	if err := json.Unmarshal(opts, &o); err != nil {
		t.Fatal(err)
	}
	delete(o["publicKey"], "allowCredentials")
	stripped, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := a.Get(stripped)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestBoundChallenge(t *testing.T) {
	ctx := context.Background()
	digest := func(s string) []byte { d := BoundChallenge(nil, []byte(s)); return d }
	statementA, statementB := digest("approve payment 1"), digest("approve payment 2")

	tests := []struct {
		name     string
		bindOpts []byte // bind at BeginLogin for the options answered
		bindFin  []byte // bind of the state finished with (nil: the same state)
		other    bool   // finish with the state of another ceremony bound to bindFin
		forge    bool   // alter the digest inside the state
		want     error
	}{
		{name: "assertion for bound options verifies", bindOpts: statementA},
		{name: "empty digest still binds", bindOpts: []byte{}},
		{name: "state of another digest refused", bindOpts: statementA, bindFin: statementB, other: true, want: ErrInvalidResponse},
		{name: "state of the same digest, other ceremony, refused", bindOpts: statementA, bindFin: statementA, other: true, want: ErrInvalidResponse},
		{name: "unbound state refused", bindOpts: statementA, other: true, want: ErrInvalidResponse},
		{name: "digest forged in the state refused", bindOpts: statementA, forge: true, want: ErrInvalidState},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, usernameLess := range []bool{false, true} {
				e := newEnv(t, envOptions{})
				alice := e.user("u-alice")
				a := softauthn.New(testRPID, testOrigin, securityKey)
				e.register(alice, a)
				var u *User
				if !usernameLess {
					u = &alice
				}

				opts, state, err := e.m.BeginLogin(ctx, u, e.creds(alice), tt.bindOpts)
				if err != nil {
					t.Fatal(err)
				}
				st := openState(t, state)
				if !st.Bound || len(st.Nonce) != 32 {
					t.Fatalf("state not bound: %+v", st)
				}
				var o struct {
					PublicKey struct {
						Challenge string `json:"challenge"`
					} `json:"publicKey"`
				}
				if err := json.Unmarshal(opts, &o); err != nil {
					t.Fatal(err)
				}
				if want := base64.RawURLEncoding.EncodeToString(BoundChallenge(st.Nonce, tt.bindOpts)); o.PublicKey.Challenge != want {
					t.Fatalf("challenge = %q, want SHA-256(nonce || digest) = %q", o.PublicKey.Challenge, want)
				}
				resp, err := a.Get(opts)
				if err != nil {
					t.Fatal(err)
				}

				finish := state
				if tt.other {
					if _, finish, err = e.m.BeginLogin(ctx, u, e.creds(alice), tt.bindFin); err != nil {
						t.Fatal(err)
					}
				}
				if tt.forge {
					st.Bind = statementB
					finish = reseal(t, st)
				}
				id, _, err := e.m.FinishLogin(ctx, finish, resp, e.lookup)
				if !errors.Is(err, tt.want) || (err == nil) != (tt.want == nil) {
					t.Fatalf("usernameLess=%v: FinishLogin: %v, want %v", usernameLess, err, tt.want)
				}
				if tt.want != nil {
					t.Logf("usernameLess=%v: refused: %v", usernameLess, err)
					continue
				}
				if id != alice.ID {
					t.Errorf("user = %q", id)
				}
				got, bound, err := e.m.LoginBinding(finish)
				if err != nil || !bound || !bytes.Equal(got, tt.bindOpts) {
					t.Errorf("LoginBinding = %x, %v, %v; want %x, true", got, bound, err, tt.bindOpts)
				}
			}
		})
	}

	t.Run("unbound login reports no binding", func(t *testing.T) {
		e := newEnv(t, envOptions{})
		_, state, err := e.m.BeginLogin(ctx, nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if d, bound, err := e.m.LoginBinding(state); err != nil || bound || d != nil {
			t.Errorf("LoginBinding = %x, %v, %v", d, bound, err)
		}
	})
}

func TestEventProperties(t *testing.T) {
	aaguid := securityKey.AAGUID
	tests := []struct {
		name          string
		opts          softauthn.Options
		roots         string // "" none, "trusted", "other"
		attest        bool
		wantBound     bool
		wantAttested  bool
		wantAMR       []string
		wantBackupEvt bool
	}{
		{name: "device-bound key without attestation roots", opts: securityKey, wantBound: true, wantAMR: []string{"swk", "pop", "user", "mfa"}},
		{name: "synced passkey", opts: syncedKey, wantAMR: []string{"swk", "pop", "user", "mfa"}},
		{name: "synced passkey, not yet backed up", opts: softauthn.Options{UserVerified: true, BackupEligible: true}, wantAMR: []string{"swk", "pop", "user", "mfa"}},
		{name: "attested device-bound key", opts: securityKey, roots: "trusted", attest: true, wantBound: true, wantAttested: true, wantAMR: []string{"hwk", "pop", "user", "mfa"}},
		{name: "attested synced passkey", opts: softauthn.Options{UserVerified: true, BackupEligible: true, AAGUID: aaguid}, roots: "trusted", attest: true, wantAttested: true, wantAMR: []string{"swk", "pop", "user", "mfa"}},
		{name: "attestation from an untrusted vendor", opts: securityKey, roots: "other", attest: true, wantBound: true, wantAMR: []string{"swk", "pop", "user", "mfa"}},
		{name: "attestation roots but no attestation", opts: securityKey, roots: "trusted", wantBound: true, wantAMR: []string{"swk", "pop", "user", "mfa"}},
		{name: "attestation without roots configured", opts: securityKey, attest: true, wantBound: true, wantAMR: []string{"swk", "pop", "user", "mfa"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ca, other := newTestCA(t, aaguid), newTestCA(t, aaguid)
			var roots [][]byte
			switch tt.roots {
			case "trusted":
				roots = [][]byte{ca.rootPEM}
			case "other":
				roots = [][]byte{other.rootPEM}
			}
			e := newEnv(t, envOptions{roots: roots})
			alice := e.user("u-alice")
			opts := tt.opts
			if tt.attest {
				opts.Attestation = ca.att
			}
			a := softauthn.New(testRPID, testOrigin, opts)
			c := e.register(alice, a)
			if c.Attested != tt.wantAttested {
				t.Errorf("stored Attested = %v, want %v", c.Attested, tt.wantAttested)
			}
			if tt.opts.AAGUID == aaguid && c.AAGUID != "cafe0102-0304-0506-0708-090a0b0c0d0e" {
				t.Errorf("AAGUID = %q", c.AAGUID)
			}

			before := e.m.now()
			_, res, err := e.assert(&alice, a, nil)
			if err != nil {
				t.Fatal(err)
			}
			ev := res.ev
			if ev.Method != authn.MethodPasskey {
				t.Errorf("Method = %q", ev.Method)
			}
			if !slices.Equal(ev.AMR, tt.wantAMR) {
				t.Errorf("AMR = %v, want %v", ev.AMR, tt.wantAMR)
			}
			if want := []string{authn.FactorPossession, authn.FactorInherence}; !slices.Equal(ev.Factors, want) {
				t.Errorf("Factors = %v, want %v", ev.Factors, want)
			}
			if !ev.PhishingResistant || !ev.UserVerified {
				t.Errorf("PhishingResistant/UserVerified = %v/%v", ev.PhishingResistant, ev.UserVerified)
			}
			if ev.DeviceBound != tt.wantBound || ev.Attested != tt.wantAttested {
				t.Errorf("DeviceBound/Attested = %v/%v, want %v/%v", ev.DeviceBound, ev.Attested, tt.wantBound, tt.wantAttested)
			}
			if ev.CredentialID != c.ID {
				t.Errorf("CredentialID = %q, want %q", ev.CredentialID, c.ID)
			}
			if ev.Time.Before(before) || ev.Time.After(e.m.now()) {
				t.Errorf("Time = %v, not now", ev.Time)
			}
		})
	}
}

func TestAttestationRequestedWithRoots(t *testing.T) {
	ca := newTestCA(t, securityKey.AAGUID)
	e := newEnv(t, envOptions{roots: [][]byte{ca.rootPEM}})
	opts, _, err := e.m.BeginRegistration(context.Background(), e.user("u-alice"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(opts, []byte(`"attestation":"direct"`)) {
		t.Errorf("options do not request direct attestation: %s", opts)
	}
}

func TestBackupStateChangeRecorded(t *testing.T) {
	e := newEnv(t, envOptions{})
	alice := e.user("u-alice")
	a := softauthn.New(testRPID, testOrigin, softauthn.Options{UserVerified: true, BackupEligible: true})
	c := e.register(alice, a)
	if c.BackupState {
		t.Fatal("registered as backed up")
	}
	a.SetOptions(softauthn.Options{UserVerified: true, BackupEligible: true, BackupState: true})
	if _, _, err := e.assert(&alice, a, nil); err != nil {
		t.Fatal(err)
	}
	after, err := e.store.GetCredential(context.Background(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !after.BackupState {
		t.Error("backup state change not recorded")
	}
}

func TestBeginLoginWithoutPasskeys(t *testing.T) {
	e := newEnv(t, envOptions{})
	alice := e.user("u-alice")
	totp := store.Credential{ID: "totp-1", UserID: alice.ID, Type: store.CredentialTOTP, Secret: []byte("x")}
	_, _, err := e.m.BeginLogin(context.Background(), &alice, []store.Credential{totp}, nil)
	if !errors.Is(err, ErrUnknownCredential) {
		t.Fatalf("BeginLogin: %v, want ErrUnknownCredential", err)
	}
}

func TestLoginOptions(t *testing.T) {
	e := newEnv(t, envOptions{})
	alice := e.user("u-alice")
	a := softauthn.New(testRPID, testOrigin, securityKey)
	c := e.register(alice, a)
	// Another user's passkey handed in by mistake is not allowed.
	foreign := c
	foreign.UserID = "u-bob"
	foreign.ID = "Zm9yZWlnbg"
	for _, tt := range []struct {
		name      string
		u         *User
		wantAllow []string
	}{
		{name: "known user", u: &alice, wantAllow: []string{c.ID}},
		{name: "username-less", u: nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			opts, _, err := e.m.BeginLogin(context.Background(), tt.u, append(e.creds(alice), foreign), nil)
			if err != nil {
				t.Fatal(err)
			}
			var o struct {
				PublicKey struct {
					RPID  string `json:"rpId"`
					UV    string `json:"userVerification"`
					Allow []struct {
						ID string `json:"id"`
					} `json:"allowCredentials"`
				} `json:"publicKey"`
			}
			if err := json.Unmarshal(opts, &o); err != nil {
				t.Fatal(err)
			}
			if o.PublicKey.RPID != testRPID || o.PublicKey.UV != "required" {
				t.Errorf("options = %s", opts)
			}
			var allow []string
			for _, d := range o.PublicKey.Allow {
				allow = append(allow, d.ID)
			}
			if !slices.Equal(allow, tt.wantAllow) {
				t.Errorf("allowCredentials = %v, want %v", allow, tt.wantAllow)
			}
		})
	}
}

func TestNew(t *testing.T) {
	ok := Config{RPID: testRPID, RPOrigins: []string{testOrigin}, Store: newMemStore(), Seal: testSeal, Unseal: testUnseal}
	tests := []struct {
		name   string
		mutate func(c *Config)
		ok     bool
	}{
		{name: "minimal", mutate: func(*Config) {}, ok: true},
		{name: "no RPID", mutate: func(c *Config) { c.RPID = "" }},
		{name: "IP address RPID", mutate: func(c *Config) { c.RPID = "127.0.0.1"; c.RPOrigins = []string{"http://127.0.0.1:8080"} }},
		{name: "no origins", mutate: func(c *Config) { c.RPOrigins = nil }},
		{name: "no store", mutate: func(c *Config) { c.Store = nil }},
		{name: "no sealer", mutate: func(c *Config) { c.Seal = nil }},
		{name: "attestation root not PEM", mutate: func(c *Config) { c.AttestationRoots = [][]byte{[]byte("nope")} }},
		{name: "attestation root not a certificate", mutate: func(c *Config) {
			c.AttestationRoots = [][]byte{[]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.mutate(&c)
			_, err := New(c)
			if (err == nil) != tt.ok {
				t.Errorf("New: %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestLoginSurvivesOtherPasskeyChanges(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, e *env, other store.Credential)
	}{
		{name: "other passkey deleted after BeginLogin", change: func(t *testing.T, e *env, other store.Credential) {
			if err := e.store.DeleteCredential(context.Background(), other.ID); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "other passkey's record damaged", change: func(t *testing.T, e *env, other store.Credential) {
			mem := e.store.(*memStore)
			mem.mu.Lock()
			defer mem.mu.Unlock()
			c := mem.creds[other.ID]
			c.Secret = []byte("{not json")
			mem.creds[other.ID] = c
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			e := newEnv(t, envOptions{store: newMemStore()})
			alice := e.user("u-alice")
			phone := softauthn.New(testRPID, testOrigin, syncedKey)
			key := softauthn.New(testRPID, testOrigin, securityKey)
			e.register(alice, phone)
			other := e.register(alice, key)

			opts, state, err := e.m.BeginLogin(ctx, &alice, e.creds(alice), nil)
			if err != nil {
				t.Fatal(err)
			}
			if n := bytes.Count(opts, []byte(`"type":"public-key"`)); n != 2 {
				t.Fatalf("%d allowed credentials, want 2: %s", n, opts)
			}
			tt.change(t, e, other)
			resp, err := phone.Get(opts)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := e.m.FinishLogin(ctx, state, resp, e.lookup); err != nil {
				t.Fatalf("FinishLogin: %v", err)
			}
		})
	}
}
