package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/stepup-oidc/stepup/internal/store"
)

func newCredential(id, userID, typ string, created time.Time) store.Credential {
	c := store.Credential{
		ID:        id,
		UserID:    userID,
		Type:      typ,
		Name:      "cred " + id,
		Secret:    []byte("secret-" + id),
		CreatedAt: created,
	}
	switch typ {
	case store.CredentialTOTP:
		c.Counter = 100
	case store.CredentialPasskey:
		c.Secret = []byte{0xa5, 0x01, 0x02, 0x03, 0x26, 0x00, 0xff}
		c.BackupEligible, c.BackupState, c.UserVerified, c.Attested = true, true, true, true
		c.AAGUID = "08987058-cadc-4b81-b6e1-30de50dcbe96"
	}
	return c
}

func testUsersNNIN(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	a, b, c := newUser("u1", "alice"), newUser("u2", "bob"), newUser("u3", "carol")
	a.NNIN = "01017012345"
	must(t, s.CreateUser(ctx, a))
	must(t, s.CreateUser(ctx, b)) // NNIN empty: not unique
	must(t, s.CreateUser(ctx, c))
	got, err := s.GetUserByNNIN(ctx, "01017012345")
	must(t, err)
	diff(t, "user by nnin", a, got)
	_, err = s.GetUserByNNIN(ctx, "")
	wantErr(t, "GetUserByNNIN empty", err, store.ErrNotFound)
	_, err = s.GetUserByNNIN(ctx, "99999999999")
	wantErr(t, "GetUserByNNIN unknown", err, store.ErrNotFound)

	d := newUser("u4", "dave")
	d.NNIN = a.NNIN
	wantErr(t, "CreateUser with a taken NNIN", s.CreateUser(ctx, d), store.ErrConflict)
	b.NNIN = a.NNIN
	wantErr(t, "UpdateUser to a taken NNIN", s.UpdateUser(ctx, b), store.ErrConflict)
	_, err = s.UpsertUserByUsername(ctx, b)
	wantErr(t, "UpsertUserByUsername to a taken NNIN", err, store.ErrConflict)
	b.NNIN = "02028054321"
	must(t, s.UpdateUser(ctx, b))
	got, err = s.GetUserByNNIN(ctx, b.NNIN)
	must(t, err)
	diff(t, "user by updated nnin", b, got)
	_, err = s.GetUser(ctx, "u4")
	wantErr(t, "user of failed create", err, store.ErrNotFound)
}

func testCredentialsCRUD(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	got, err := s.ListCredentials(ctx, "u1")
	must(t, err)
	diff(t, "credentials of user without any", []store.Credential(nil), got)

	totp := newCredential("c-totp", "u1", store.CredentialTOTP, at(time.Hour))
	pk := newCredential("c-pk", "u1", store.CredentialPasskey, at(0))
	rc := newCredential("c-rc", "u1", store.CredentialRecovery, at(2*time.Hour))
	other := newCredential("c-other", "u2", store.CredentialTOTP, at(0))
	for _, c := range []store.Credential{totp, pk, rc, other} {
		must(t, s.CreateCredential(ctx, c))
	}
	dup := newCredential("c-pk", "u2", store.CredentialTOTP, at(0))
	wantErr(t, "CreateCredential duplicate", s.CreateCredential(ctx, dup), store.ErrConflict)

	g, err := s.GetCredential(ctx, "c-pk")
	must(t, err)
	diff(t, "passkey", pk, g)
	got, err = s.ListCredentials(ctx, "u1")
	must(t, err)
	diff(t, "credentials of u1, oldest first", []store.Credential{pk, totp, rc}, got)

	must(t, s.DeleteCredential(ctx, "c-rc"))
	_, err = s.GetCredential(ctx, "c-rc")
	wantErr(t, "GetCredential after delete", err, store.ErrNotFound)
	wantErr(t, "DeleteCredential twice", s.DeleteCredential(ctx, "c-rc"), store.ErrNotFound)
	got, err = s.ListCredentials(ctx, "u1")
	must(t, err)
	diff(t, "credentials of u1 after delete", []store.Credential{pk, totp}, got)
	_, err = s.GetCredential(ctx, "nope")
	wantErr(t, "GetCredential unknown", err, store.ErrNotFound)
}

func testCredentialsUpdate(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	pk := newCredential("c-pk", "u1", store.CredentialPasskey, at(0))
	must(t, s.CreateCredential(ctx, pk))
	changed := store.Credential{
		ID: "c-pk", UserID: "u2", Type: store.CredentialTOTP, Name: "Laptop", Secret: []byte("other"),
		Counter: 77, BackupState: false, AAGUID: "other", CreatedAt: at(time.Hour), LastUsedAt: at(time.Hour),
	}
	must(t, s.UpdateCredential(ctx, changed))
	want := pk
	want.Name, want.BackupState = "Laptop", false
	got, err := s.GetCredential(ctx, "c-pk")
	must(t, err)
	diff(t, "credential after update of Name and BackupState only", want, got)
	changed.ID = "nope"
	wantErr(t, "UpdateCredential unknown", s.UpdateCredential(ctx, changed), store.ErrNotFound)
}

func testCredentialsUse(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	totp := newCredential("c-totp", "u1", store.CredentialTOTP, at(0)) // counter 100
	pk := newCredential("c-pk", "u1", store.CredentialPasskey, at(0))  // counter 0
	must(t, s.CreateCredential(ctx, totp))
	must(t, s.CreateCredential(ctx, pk))

	check := func(what string, want store.Credential) {
		t.Helper()
		got, err := s.GetCredential(ctx, want.ID)
		must(t, err)
		diff(t, what, want, got)
	}
	wantErr(t, "TOTP step equal to the counter", s.UseCredential(ctx, "c-totp", 100, at(time.Second)), store.ErrConflict)
	wantErr(t, "TOTP step below the counter", s.UseCredential(ctx, "c-totp", 99, at(time.Second)), store.ErrConflict)
	check("TOTP after refused uses", totp)
	must(t, s.UseCredential(ctx, "c-totp", 101, at(time.Minute)))
	totp.Counter, totp.LastUsedAt = 101, at(time.Minute)
	check("TOTP after use", totp)
	wantErr(t, "TOTP step replayed", s.UseCredential(ctx, "c-totp", 101, at(2*time.Minute)), store.ErrConflict)
	must(t, s.UseCredential(ctx, "c-totp", 105, at(3*time.Minute)))
	totp.Counter, totp.LastUsedAt = 105, at(3*time.Minute)
	check("TOTP after skipping steps", totp)

	// A passkey without a counter reports zero every time.
	must(t, s.UseCredential(ctx, "c-pk", 0, at(time.Minute)))
	must(t, s.UseCredential(ctx, "c-pk", 0, at(2*time.Minute)))
	pk.LastUsedAt = at(2 * time.Minute)
	check("counterless passkey", pk)
	must(t, s.UseCredential(ctx, "c-pk", 5, at(3*time.Minute)))
	wantErr(t, "passkey counter back to zero", s.UseCredential(ctx, "c-pk", 0, at(4*time.Minute)), store.ErrConflict)
	wantErr(t, "passkey counter regression", s.UseCredential(ctx, "c-pk", 4, at(4*time.Minute)), store.ErrConflict)
	pk.Counter, pk.LastUsedAt = 5, at(3*time.Minute)
	check("passkey after regressions", pk)

	wantErr(t, "UseCredential unknown", s.UseCredential(ctx, "nope", 1, at(0)), store.ErrNotFound)
}

func testCredentialsUseConcurrent(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	totp := newCredential("c-totp", "u1", store.CredentialTOTP, at(0))
	must(t, s.CreateCredential(ctx, totp))
	const n = 16
	errs := make([]error, n)
	parallel(n, func(i int) {
		errs[i] = s.UseCredential(ctx, "c-totp", totp.Counter+1, at(time.Duration(i+1)*time.Second))
	})
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("UseCredential succeeded for both %d and %d", winner, i)
		case err == nil:
			winner = i
		default:
			wantErr(t, fmt.Sprintf("loser %d", i), err, store.ErrConflict)
		}
	}
	if winner < 0 {
		t.Fatalf("no UseCredential succeeded: %v", errs)
	}
	got, err := s.GetCredential(ctx, "c-totp")
	must(t, err)
	totp.Counter, totp.LastUsedAt = totp.Counter+1, at(time.Duration(winner+1)*time.Second)
	diff(t, "credential after concurrent uses", totp, got)
}

func testCredentialsDeleteConcurrent(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	must(t, s.CreateCredential(ctx, newCredential("c-rc", "u1", store.CredentialRecovery, at(0))))
	const n = 16
	errs := make([]error, n)
	parallel(n, func(i int) { errs[i] = s.DeleteCredential(ctx, "c-rc") })
	wins := 0
	for i, err := range errs {
		if err == nil {
			wins++
			continue
		}
		wantErr(t, fmt.Sprintf("deletion %d", i), err, store.ErrNotFound)
	}
	if wins != 1 {
		t.Errorf("%d concurrent deletions succeeded, want 1", wins)
	}
}

func testLinks(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	l := store.Link{Upstream: "google", Subject: "1234567890", UserID: "u1", CreatedAt: at(0)}
	must(t, s.CreateLink(ctx, l))
	got, err := s.GetLink(ctx, "google", "1234567890")
	must(t, err)
	diff(t, "link", l, got)

	dup := l
	dup.UserID = "u2"
	wantErr(t, "CreateLink linked subject", s.CreateLink(ctx, dup), store.ErrConflict)
	// The same subject at another upstream is another account.
	other := store.Link{Upstream: "github", Subject: "1234567890", UserID: "u2", CreatedAt: at(time.Hour)}
	must(t, s.CreateLink(ctx, other))
	got, err = s.GetLink(ctx, "github", "1234567890")
	must(t, err)
	diff(t, "link at the other upstream", other, got)
	got, err = s.GetLink(ctx, "google", "1234567890")
	must(t, err)
	diff(t, "link after duplicate create", l, got)

	must(t, s.CreateLink(ctx, store.Link{Upstream: "google", Subject: "AbC", UserID: "u3"}))
	_, err = s.GetLink(ctx, "google", "abc")
	wantErr(t, "GetLink is case-sensitive", err, store.ErrNotFound)
	_, err = s.GetLink(ctx, "nope", "1234567890")
	wantErr(t, "GetLink unknown upstream", err, store.ErrNotFound)
	_, err = s.GetLink(ctx, "google", "nope")
	wantErr(t, "GetLink unknown subject", err, store.ErrNotFound)
}
