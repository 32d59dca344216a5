package totp_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"image/png"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	pqtotp "github.com/pquerna/otp/totp"

	"github.com/stepup-oidc/stepup/internal/authn"
	"github.com/stepup-oidc/stepup/internal/authn/totp"
	"github.com/stepup-oidc/stepup/internal/store"
	"github.com/stepup-oidc/stepup/internal/store/sqlite"
)

// clock is an injectable clock, safe for concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// t0 is in the middle of a 30 s step, so ±15 s stays in it.
var t0 = time.Unix(1_700_000_025, 0).UTC()

const (
	alice = "user-alice"
	bob   = "user-bob"
	// testSecret is a 160-bit base32 secret.
	testSecret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
)

type fixture struct {
	m     *totp.Method
	store store.Credentials
	clock *clock
}

// newFixture returns a Method on a fresh SQLite store, with the clock at t0.
func newFixture(t testing.TB) fixture {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return newFixtureWith(t, st)
}

// newFixtureWith returns a Method on st, with the clock at t0.
func newFixtureWith(t testing.TB, st store.Credentials) fixture {
	t.Helper()
	clk := &clock{t: t0}
	m, err := totp.New(totp.Config{Issuer: "Stepup", Store: st, Now: clk.Now})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return fixture{m: m, store: st, clock: clk}
}

// addTOTP stores a TOTP credential for userID with secret (base32), as an
// operator import would, and returns it.
func (f fixture) addTOTP(t testing.TB, id, userID, secret string) store.Credential {
	t.Helper()
	raw, err := totp.SecretFromBase32(secret)
	if err != nil {
		t.Fatalf("SecretFromBase32: %v", err)
	}
	c := store.Credential{ID: id, UserID: userID, Type: store.CredentialTOTP, Name: id, Secret: raw, CreatedAt: t0}
	if err := f.store.CreateCredential(context.Background(), c); err != nil {
		t.Fatalf("CreateCredential: %v", err)
	}
	return c
}

func (f fixture) creds(t testing.TB, userID string) []store.Credential {
	t.Helper()
	cs, err := f.store.ListCredentials(context.Background(), userID)
	if err != nil {
		t.Fatalf("ListCredentials: %v", err)
	}
	return cs
}

func (f fixture) verify(t testing.TB, userID, code string) (authn.Event, error) {
	t.Helper()
	return f.m.Verify(context.Background(), userID, f.creds(t, userID), code)
}

// codeAt is the authenticator app's code for secret at t.
func codeAt(t testing.TB, secret string, at time.Time) string {
	t.Helper()
	c, err := pqtotp.GenerateCode(secret, at)
	if err != nil {
		t.Fatalf("GenerateCode: %v", err)
	}
	return c
}

func stepOf(at time.Time) int64 { return at.Unix() / 30 }

func TestNewValidatesConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  totp.Config
		ok   bool
	}{
		{"minimal config with defaults", totp.Config{Store: newMemStore()}, true},
		{"missing store is refused", totp.Config{Issuer: "Stepup"}, false},
		{"issuer with a colon is refused", totp.Config{Issuer: "a:b", Store: newMemStore()}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := totp.New(tt.cfg)
			if (err == nil) != tt.ok || (m != nil) != tt.ok {
				t.Fatalf("New = %v, %v; want ok=%v", m, err, tt.ok)
			}
		})
	}
}

func TestRFC6238VectorIsAccepted(t *testing.T) {
	// RFC 6238 appendix B, SHA-1 seed "12345678901234567890": at T=59 the
	// 8-digit TOTP is 94287082, at T=1111111109 it is 07081804; the 6-digit
	// codes are their last six digits.
	seed := base32.StdEncoding.EncodeToString([]byte("12345678901234567890"))
	tests := []struct {
		name string
		at   int64
		code string
	}{
		{"T=59", 59, "287082"},
		{"T=1111111109", 1111111109, "081804"},
		{"T=1234567890", 1234567890, "005924"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.clock.t = time.Unix(tt.at, 0)
			f.addTOTP(t, "rfc", alice, seed)
			if _, err := f.verify(t, alice, tt.code); err != nil {
				t.Fatalf("Verify(RFC vector) = %v", err)
			}
		})
	}
}

func TestEnrollmentRoundTrip(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()

	enr, err := f.m.BeginEnrollment("alice@example.com")
	if err != nil {
		t.Fatalf("BeginEnrollment: %v", err)
	}
	if got := f.creds(t, alice); len(got) != 0 {
		t.Fatalf("BeginEnrollment stored %d credentials, want none", len(got))
	}
	raw, err := totp.SecretFromBase32(enr.Secret)
	if err != nil || len(raw) != totp.SecretSize {
		t.Fatalf("secret decodes to %d bytes, %v; want %d", len(raw), err, totp.SecretSize)
	}

	u, err := url.Parse(enr.URL)
	if err != nil {
		t.Fatalf("URL: %v", err)
	}
	q := u.Query()
	if u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/Stepup:alice@example.com" ||
		q.Get("secret") != enr.Secret || q.Get("issuer") != "Stepup" ||
		q.Get("algorithm") != "SHA1" || q.Get("digits") != "6" || q.Get("period") != "30" {
		t.Fatalf("URL = %s: wrong parameters", enr.URL)
	}

	code := codeAt(t, enr.Secret, f.clock.Now())
	cred, recovery, err := f.m.FinishEnrollment(ctx, alice, enr.Secret, code, "Phone")
	if err != nil {
		t.Fatalf("FinishEnrollment: %v", err)
	}
	if cred.ID == "" || cred.UserID != alice || cred.Type != store.CredentialTOTP || cred.Name != "Phone" ||
		!bytes.Equal(cred.Secret, raw) || cred.Counter != stepOf(t0) || !cred.CreatedAt.Equal(t0) {
		t.Fatalf("credential = %+v", cred)
	}
	stored, err := f.store.GetCredential(ctx, cred.ID)
	if err != nil || stored.Counter != stepOf(t0) || !bytes.Equal(stored.Secret, raw) {
		t.Fatalf("stored credential = %+v, %v", stored, err)
	}

	// Recovery codes: 10 distinct "XXXXX-XXXXX" base32 codes, stored hashed.
	shape := regexp.MustCompile(`^[A-Z2-7]{5}-[A-Z2-7]{5}$`)
	if len(recovery) != totp.RecoveryCodeCount {
		t.Fatalf("got %d recovery codes, want %d", len(recovery), totp.RecoveryCodeCount)
	}
	hashes := map[string]bool{}
	for _, c := range f.creds(t, alice) {
		if c.Type == store.CredentialRecovery {
			hashes[string(c.Secret)] = true
		}
	}
	seen := map[string]bool{}
	for _, rc := range recovery {
		if !shape.MatchString(rc) || seen[rc] {
			t.Fatalf("recovery code %q malformed or duplicated", rc)
		}
		seen[rc] = true
		h := sha256.Sum256([]byte(strings.ReplaceAll(rc, "-", "")))
		if !hashes[string(h[:])] {
			t.Fatalf("recovery code %q not stored as its SHA-256", rc)
		}
	}
	if len(hashes) != totp.RecoveryCodeCount {
		t.Fatalf("%d recovery credentials stored, want %d", len(hashes), totp.RecoveryCodeCount)
	}

	// The enrollment code cannot be replayed to log in.
	if _, err := f.verify(t, alice, code); !errors.Is(err, totp.ErrReplayedCode) {
		t.Fatalf("Verify(enrollment code) = %v, want ErrReplayedCode", err)
	}
	// The next step's code logs in.
	f.clock.Add(30 * time.Second)
	ev, err := f.verify(t, alice, codeAt(t, enr.Secret, f.clock.Now()))
	if err != nil || ev.CredentialID != cred.ID {
		t.Fatalf("Verify(next code) = %+v, %v", ev, err)
	}
}

func TestEnrollmentQRIsA200x200PNG(t *testing.T) {
	f := newFixture(t)
	enr, err := f.m.BeginEnrollment("alice")
	if err != nil {
		t.Fatalf("BeginEnrollment: %v", err)
	}
	if !bytes.HasPrefix(enr.QRPNG, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("QRPNG does not start with the PNG signature")
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(enr.QRPNG))
	if err != nil || cfg.Width != totp.QRSize || cfg.Height != totp.QRSize {
		t.Fatalf("PNG config = %+v, %v; want %dx%d", cfg, err, totp.QRSize, totp.QRSize)
	}
}

func TestBeginEnrollmentRefusesBadAccount(t *testing.T) {
	f := newFixture(t)
	for _, account := range []string{"", "a:b"} {
		if _, err := f.m.BeginEnrollment(account); err == nil {
			t.Errorf("BeginEnrollment(%q) succeeded", account)
		}
	}
}

func TestBeginEnrollmentGeneratesFreshSecrets(t *testing.T) {
	f := newFixture(t)
	a, err1 := f.m.BeginEnrollment("alice")
	b, err2 := f.m.BeginEnrollment("alice")
	if err1 != nil || err2 != nil || a.Secret == b.Secret {
		t.Fatalf("two enrollments: %v, %v, same secret %v", err1, err2, a.Secret == b.Secret)
	}
}

func TestFinishEnrollmentRefuses(t *testing.T) {
	f := newFixture(t)
	good := codeAt(t, testSecret, t0)
	tests := []struct {
		name, userID, secret, code string
		want                       error
	}{
		{"wrong code", alice, testSecret, wrongCode(good), totp.ErrInvalidCode},
		{"code two steps old", alice, testSecret, codeAt(t, testSecret, t0.Add(-60*time.Second)), totp.ErrInvalidCode},
		{"malformed code", alice, testSecret, "12ab56", totp.ErrInvalidCode},
		{"secret not base32", alice, "not base32!", good, totp.ErrInvalidSecret},
		{"missing user", "", testSecret, good, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, codes, err := f.m.FinishEnrollment(context.Background(), tt.userID, tt.secret, tt.code, "x")
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) || codes != nil {
				t.Fatalf("FinishEnrollment = %v, %v; want %v", codes, err, tt.want)
			}
			if got := f.creds(t, tt.userID); len(got) != 0 {
				t.Fatalf("refused enrollment stored %d credentials", len(got))
			}
		})
	}
}

func TestFinishEnrollmentDefaultsName(t *testing.T) {
	f := newFixture(t)
	cred, _, err := f.m.FinishEnrollment(context.Background(), alice, testSecret, codeAt(t, testSecret, t0), "")
	if err != nil || cred.Name != totp.DefaultCredentialName {
		t.Fatalf("FinishEnrollment = %+v, %v", cred, err)
	}
}

func TestFinishEnrollmentStoreFailureLeavesNothing(t *testing.T) {
	// The in-memory store injects the failure; SQLite cannot.
	mem := newMemStore()
	mem.failCreateAfter = 5 // the TOTP credential and 3 recovery codes succeed
	f := newFixtureWith(t, mem)
	_, _, err := f.m.FinishEnrollment(context.Background(), alice, testSecret, codeAt(t, testSecret, t0), "x")
	if !errors.Is(err, errInjected) {
		t.Fatalf("FinishEnrollment = %v, want the store error wrapped", err)
	}
	if got := f.creds(t, alice); len(got) != 0 {
		t.Fatalf("failed enrollment left %d credentials", len(got))
	}
}

// wrongCode returns a 6-digit code different from c.
func wrongCode(c string) string {
	b := []byte(c)
	b[0] = '0' + (b[0]-'0'+1)%10
	return string(b)
}

func TestVerifyClockSkew(t *testing.T) {
	tests := []struct {
		name   string
		offset time.Duration // of the app's clock relative to the server's
		want   error
	}{
		{"current step accepted", 0, nil},
		{"one step behind accepted", -30 * time.Second, nil},
		{"one step ahead accepted", 30 * time.Second, nil},
		{"two steps behind refused", -60 * time.Second, totp.ErrInvalidCode},
		{"two steps ahead refused", 60 * time.Second, totp.ErrInvalidCode},
		{"end of the window accepted", 44 * time.Second, nil},
		{"just past the window refused", 45 * time.Second, totp.ErrInvalidCode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.addTOTP(t, "c1", alice, testSecret)
			_, err := f.verify(t, alice, codeAt(t, testSecret, t0.Add(tt.offset)))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestVerifyRecordsEvent(t *testing.T) {
	f := newFixture(t)
	f.addTOTP(t, "c1", alice, testSecret)
	ev, err := f.verify(t, alice, codeAt(t, testSecret, t0))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if ev.Method != authn.MethodTOTP || !slices.Equal(ev.AMR, []string{"otp"}) ||
		!slices.Equal(ev.Factors, []string{authn.FactorPossession}) || !ev.Time.Equal(t0) ||
		ev.CredentialID != "c1" || ev.PhishingResistant || ev.DeviceBound {
		t.Fatalf("event = %+v", ev)
	}
	stored, _ := f.store.GetCredential(context.Background(), "c1")
	if stored.Counter != stepOf(t0) || !stored.LastUsedAt.Equal(t0) {
		t.Fatalf("stored credential counter %d, last used %v", stored.Counter, stored.LastUsedAt)
	}
}

func TestVerifyReplayIsRefused(t *testing.T) {
	tests := []struct {
		name         string
		first, again time.Duration // app clock offsets of the two codes
		waitBetween  time.Duration // server time passing between them
		want         error
	}{
		{"same code twice", 0, 0, 0, totp.ErrReplayedCode},
		{"same code twice across a step boundary", 0, 0, 20 * time.Second, totp.ErrReplayedCode},
		{"earlier step after a later one", 30 * time.Second, 0, 0, totp.ErrReplayedCode},
		{"earlier step after a later one, both in window", 0, -30 * time.Second, 0, totp.ErrReplayedCode},
		{"next step after the current one accepted", 0, 30 * time.Second, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.addTOTP(t, "c1", alice, testSecret)
			if _, err := f.verify(t, alice, codeAt(t, testSecret, t0.Add(tt.first))); err != nil {
				t.Fatalf("first Verify: %v", err)
			}
			f.clock.Add(tt.waitBetween)
			_, err := f.verify(t, alice, codeAt(t, testSecret, t0.Add(tt.again)))
			if !errors.Is(err, tt.want) {
				t.Fatalf("second Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestVerifyReplayIsRefusedWithStaleCredentialList(t *testing.T) {
	// The caller listed the credentials before the first use: the store's
	// counter, not the caller's copy, decides.
	f := newFixture(t)
	f.addTOTP(t, "c1", alice, testSecret)
	creds := f.creds(t, alice)
	code := codeAt(t, testSecret, t0)
	if _, err := f.m.Verify(context.Background(), alice, creds, code); err != nil {
		t.Fatalf("first Verify: %v", err)
	}
	if _, err := f.m.Verify(context.Background(), alice, creds, code); !errors.Is(err, totp.ErrReplayedCode) {
		t.Fatalf("second Verify = %v, want ErrReplayedCode", err)
	}
}

func TestVerifyConcurrentSameCodeSucceedsOnce(t *testing.T) {
	f := newFixture(t)
	f.addTOTP(t, "c1", alice, testSecret)
	creds := f.creds(t, alice)
	code := codeAt(t, testSecret, t0)
	const n = 16
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			_, err := f.m.Verify(context.Background(), alice, creds, code)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	ok := 0
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, totp.ErrReplayedCode):
			t.Errorf("Verify = %v, want nil or ErrReplayedCode", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d concurrent Verify calls succeeded, want 1", ok)
	}
}

func TestVerifyCodeFormat(t *testing.T) {
	good := codeAt(t, testSecret, t0)
	tests := []struct {
		name, code string
		want       error
	}{
		{"plain code", good, nil},
		{"grouped as apps show it", good[:3] + " " + good[3:], nil},
		{"surrounding spaces", "  " + good + " ", nil},
		{"wrong code", wrongCode(good), totp.ErrInvalidCode},
		{"empty", "", totp.ErrInvalidCode},
		{"five digits", good[:5], totp.ErrInvalidCode},
		{"seven digits", good + "0", totp.ErrInvalidCode},
		{"letters", "abcdef", totp.ErrInvalidCode},
		{"dash", good[:3] + "-" + good[3:], totp.ErrInvalidCode},
		{"tab", good + "\t", totp.ErrInvalidCode},
		{"newline", good + "\n", totp.ErrInvalidCode},
		{"full-width digits", "１２３４５６", totp.ErrInvalidCode},
		{"sign", "+" + good[1:], totp.ErrInvalidCode},
		{"very long", strings.Repeat("1", 1<<16), totp.ErrInvalidCode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.addTOTP(t, "c1", alice, testSecret)
			if _, err := f.verify(t, alice, tt.code); !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestVerifyWithoutCredential(t *testing.T) {
	f := newFixture(t)
	f.addTOTP(t, "bobs", bob, testSecret)
	code := codeAt(t, testSecret, t0)
	tests := []struct {
		name  string
		creds []store.Credential
	}{
		{"no credentials", nil},
		{"only another user's TOTP", f.creds(t, bob)},
		{"only recovery codes", []store.Credential{{ID: "r", UserID: alice, Type: store.CredentialRecovery, Secret: make([]byte, 32)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := f.m.Verify(context.Background(), alice, tt.creds, code); !errors.Is(err, totp.ErrNoCredential) {
				t.Fatalf("Verify = %v, want ErrNoCredential", err)
			}
		})
	}
}

func TestVerifyPicksTheMatchingCredential(t *testing.T) {
	f := newFixture(t)
	f.addTOTP(t, "old", alice, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")
	f.addTOTP(t, "new", alice, testSecret)
	ev, err := f.verify(t, alice, codeAt(t, testSecret, t0))
	if err != nil || ev.CredentialID != "new" {
		t.Fatalf("Verify = %+v, %v; want credential new", ev, err)
	}
}

func TestVerifyCredentialDeletedMeanwhile(t *testing.T) {
	f := newFixture(t)
	f.addTOTP(t, "c1", alice, testSecret)
	creds := f.creds(t, alice)
	_ = f.store.DeleteCredential(context.Background(), "c1")
	_, err := f.m.Verify(context.Background(), alice, creds, codeAt(t, testSecret, t0))
	if !errors.Is(err, totp.ErrInvalidCode) {
		t.Fatalf("Verify = %v, want ErrInvalidCode", err)
	}
}

func TestRecoveryCodeWorksOnce(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_, codes, err := f.m.FinishEnrollment(ctx, alice, testSecret, codeAt(t, testSecret, t0), "x")
	if err != nil {
		t.Fatalf("FinishEnrollment: %v", err)
	}
	ev, err := f.m.VerifyRecovery(ctx, alice, f.creds(t, alice), codes[3])
	if err != nil {
		t.Fatalf("VerifyRecovery: %v", err)
	}
	if ev.Method != totp.MethodRecovery || !slices.Equal(ev.AMR, []string{"otp"}) ||
		!slices.Equal(ev.Factors, []string{authn.FactorPossession}) || !ev.Time.Equal(t0) || ev.CredentialID == "" {
		t.Fatalf("event = %+v", ev)
	}
	if _, err := f.store.GetCredential(ctx, ev.CredentialID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("consumed recovery credential still stored: %v", err)
	}
	// Fresh list: the code is gone.
	if _, err := f.m.VerifyRecovery(ctx, alice, f.creds(t, alice), codes[3]); !errors.Is(err, totp.ErrInvalidCode) {
		t.Fatalf("second VerifyRecovery = %v, want ErrInvalidCode", err)
	}
	// Other codes still work.
	if _, err := f.m.VerifyRecovery(ctx, alice, f.creds(t, alice), codes[4]); err != nil {
		t.Fatalf("VerifyRecovery(other code): %v", err)
	}
}

func TestRecoveryCodeReplayWithStaleList(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_, codes, err := f.m.FinishEnrollment(ctx, alice, testSecret, codeAt(t, testSecret, t0), "x")
	if err != nil {
		t.Fatalf("FinishEnrollment: %v", err)
	}
	creds := f.creds(t, alice)
	if _, err := f.m.VerifyRecovery(ctx, alice, creds, codes[0]); err != nil {
		t.Fatalf("VerifyRecovery: %v", err)
	}
	if _, err := f.m.VerifyRecovery(ctx, alice, creds, codes[0]); !errors.Is(err, totp.ErrReplayedCode) {
		t.Fatalf("VerifyRecovery(stale list) = %v, want ErrReplayedCode", err)
	}
}

func TestRecoveryCodeNormalisation(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_, codes, err := f.m.FinishEnrollment(ctx, alice, testSecret, codeAt(t, testSecret, t0), "x")
	if err != nil {
		t.Fatalf("FinishEnrollment: %v", err)
	}
	bare := strings.ReplaceAll(codes[0], "-", "")
	tests := []struct {
		name  string
		input func(code string) string
		want  error
	}{
		{"as shown", func(c string) string { return c }, nil},
		{"lower case", strings.ToLower, nil},
		{"without dash", func(c string) string { return strings.ReplaceAll(c, "-", "") }, nil},
		{"spaces instead of dash", func(c string) string { return strings.ReplaceAll(c, "-", " ") }, nil},
		{"surrounding spaces and extra dashes", func(c string) string { return " -" + c + "- " }, nil},
		{"one character wrong", func(c string) string {
			r := []byte(c)
			r[0] = map[bool]byte{true: 'B', false: 'A'}[r[0] == 'A']
			return string(r)
		}, totp.ErrInvalidCode},
		{"truncated", func(c string) string { return c[:len(c)-1] }, totp.ErrInvalidCode},
		{"digit outside base32", func(c string) string { return "1" + c[1:] }, totp.ErrInvalidCode},
		{"a TOTP code", func(string) string { return codeAt(t, testSecret, t0) }, totp.ErrInvalidCode},
		{"empty", func(string) string { return "" }, totp.ErrInvalidCode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			creds := f.creds(t, alice)
			ev, err := f.m.VerifyRecovery(ctx, alice, creds, tt.input(codes[0]))
			if !errors.Is(err, tt.want) {
				t.Fatalf("VerifyRecovery = %v, want %v", err, tt.want)
			}
			if err == nil {
				// Put the consumed code back for the next case.
				h := sha256.Sum256([]byte(bare))
				_ = f.store.CreateCredential(ctx, store.Credential{ID: ev.CredentialID, UserID: alice, Type: store.CredentialRecovery, Secret: h[:]})
			}
		})
	}
}

func TestNormaliseRecoveryCode(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"ABCDE-FGH23", "ABCDEFGH23", true},
		{"abcde fgh23", "ABCDEFGH23", true},
		{" a-b-c-d-e-f-g-h-2-3 ", "ABCDEFGH23", true},
		{"ABCDE-FGH21", "", false}, // 1 is not base32
		{"ABCDE-FGH2", "", false},
		{"ABCDE-FGH234", "", false},
		{"ÄBCDE-FGH23", "", false},
		{"ABCDE_FGH23", "", false},
	}
	for _, tt := range tests {
		got, ok := totp.NormaliseRecoveryCode(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("NormaliseRecoveryCode(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestVerifyRecoveryWithoutCodes(t *testing.T) {
	f := newFixture(t)
	f.addTOTP(t, "c1", alice, testSecret)
	if _, err := f.m.VerifyRecovery(context.Background(), alice, f.creds(t, alice), "ABCDE-FGH23"); !errors.Is(err, totp.ErrNoCredential) {
		t.Fatalf("VerifyRecovery = %v, want ErrNoCredential", err)
	}
}

func TestVerifyRecoveryIgnoresOtherUsersCodes(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_, bobCodes, err := f.m.FinishEnrollment(ctx, bob, testSecret, codeAt(t, testSecret, t0), "x")
	if err != nil {
		t.Fatalf("FinishEnrollment: %v", err)
	}
	_, _, err = f.m.FinishEnrollment(ctx, alice, testSecret, codeAt(t, testSecret, t0), "x")
	if err != nil {
		t.Fatalf("FinishEnrollment: %v", err)
	}
	all := append(f.creds(t, alice), f.creds(t, bob)...)
	if _, err := f.m.VerifyRecovery(ctx, alice, all, bobCodes[0]); !errors.Is(err, totp.ErrInvalidCode) {
		t.Fatalf("VerifyRecovery(bob's code as alice) = %v, want ErrInvalidCode", err)
	}
}

func TestRegenerateRecoveryCodesReplacesOldOnes(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	cred, old, err := f.m.FinishEnrollment(ctx, alice, testSecret, codeAt(t, testSecret, t0), "x")
	if err != nil {
		t.Fatalf("FinishEnrollment: %v", err)
	}
	fresh, err := f.m.RegenerateRecoveryCodes(ctx, alice)
	if err != nil || len(fresh) != totp.RecoveryCodeCount {
		t.Fatalf("RegenerateRecoveryCodes = %d codes, %v", len(fresh), err)
	}
	if _, err := f.m.VerifyRecovery(ctx, alice, f.creds(t, alice), old[0]); !errors.Is(err, totp.ErrInvalidCode) {
		t.Fatalf("old code: %v, want ErrInvalidCode", err)
	}
	if _, err := f.m.VerifyRecovery(ctx, alice, f.creds(t, alice), fresh[0]); err != nil {
		t.Fatalf("fresh code: %v", err)
	}
	if _, err := f.store.GetCredential(ctx, cred.ID); err != nil {
		t.Fatalf("TOTP credential gone after regenerating recovery codes: %v", err)
	}
}

func TestSecretFromBase32(t *testing.T) {
	tests := []struct {
		name, in string
		size     int // 0: refused
	}{
		{"generated 160-bit secret", testSecret, 20},
		{"lower case", strings.ToLower(testSecret), 20},
		{"grouped with spaces", "JBSW Y3DP EHPK 3PXP JBSW Y3DP EHPK 3PXP", 20},
		{"padded", "JBSWY3DPEHPK3PXPJBSWY3DPEE======", 16},
		{"80-bit legacy secret", "JBSWY3DPEHPK3PXP", 10},
		{"too short", "JBSWY3DPEHPK3P", 0},
		{"not base32", "JBSWY3DPEHPK3PX1JBSWY3DPEHPK3PXP", 0},
		{"impossible length", "JBSWY3DPEHPK3PXPJ", 0},
		{"empty", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := totp.SecretFromBase32(tt.in)
			if tt.size == 0 {
				if !errors.Is(err, totp.ErrInvalidSecret) || raw != nil {
					t.Fatalf("SecretFromBase32 = %x, %v; want ErrInvalidSecret", raw, err)
				}
				if tt.in != "" && strings.Contains(err.Error(), tt.in) {
					t.Fatalf("error %q echoes the secret", err)
				}
				return
			}
			if err != nil || len(raw) != tt.size {
				t.Fatalf("SecretFromBase32 = %d bytes, %v; want %d", len(raw), err, tt.size)
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	f := newFixture(b)
	f.addTOTP(b, "c1", alice, testSecret)
	creds := f.creds(b, alice)
	code := codeAt(b, testSecret, t0)
	ctx := context.Background()
	for b.Loop() {
		// The code was used on the first iteration: every later one runs the
		// full check and is refused by the store, as a replay would be.
		if _, err := f.m.Verify(ctx, alice, creds, code); err != nil && !errors.Is(err, totp.ErrReplayedCode) {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyWrongCode(b *testing.B) {
	f := newFixture(b)
	f.addTOTP(b, "c1", alice, testSecret)
	creds := f.creds(b, alice)
	code := wrongCode(codeAt(b, testSecret, t0))
	ctx := context.Background()
	for b.Loop() {
		if _, err := f.m.Verify(ctx, alice, creds, code); !errors.Is(err, totp.ErrInvalidCode) {
			b.Fatal(err)
		}
	}
}

func FuzzVerify(f *testing.F) {
	for _, s := range []string{
		codeAt(f, testSecret, t0), codeAt(f, testSecret, t0.Add(30*time.Second)), "000000", "123 456",
		"", "12345", "1234567", "abcdef", "１２３４５６", "12345\x00", " 123456 ", "-12345", "+12345",
	} {
		f.Add(s)
	}
	valid := map[string]bool{}
	for d := -30 * time.Second; d <= 30*time.Second; d += 30 * time.Second {
		valid[codeAt(f, testSecret, t0.Add(d))] = true
	}
	// One SQLite store per fuzz process; the credential is replaced whenever
	// a code is accepted, so every input is checked against an unused one.
	fx := newFixture(f)
	ctx := context.Background()
	n := 0
	fresh := func(t *testing.T) []store.Credential {
		n++
		return []store.Credential{fx.addTOTP(t, fmt.Sprintf("c%d", n), alice, testSecret)}
	}
	var creds []store.Credential
	f.Fuzz(func(t *testing.T, code string) {
		if creds == nil {
			creds = fresh(t)
		}
		ev, err := fx.m.Verify(ctx, alice, creds, code)
		if err != nil {
			if !errors.Is(err, totp.ErrInvalidCode) {
				t.Fatalf("Verify(%q) = %v, want ErrInvalidCode", code, err)
			}
			return
		}
		accepted := creds[0].ID
		creds = nil
		norm := strings.ReplaceAll(code, " ", "")
		if len(norm) != 6 || strings.Trim(norm, "0123456789") != "" {
			t.Fatalf("Verify accepted %q, not six digits", code)
		}
		if !valid[norm] {
			t.Fatalf("Verify accepted %q, not a code of the window", code)
		}
		if ev.Method != authn.MethodTOTP || ev.CredentialID != accepted {
			t.Fatalf("event = %+v", ev)
		}
	})
}
