// Package storetest is the conformance suite every store.Store backend must
// pass. A backend's test calls Run with a function that opens a new, empty,
// migrated store.
//
// Besides what store.go states, the suite pins down these behaviours:
//
//   - Times come back in UTC, without a monotonic reading, truncated to
//     microseconds; the zero time comes back as the zero time and means
//     "never" for expiries (DeleteExpired keeps such rows).
//   - Empty and nil lists (and Key.Private, PushedRequest.Payload) are
//     interchangeable.
//   - Create* fail with ErrConflict on an existing key; Delete*, Update*,
//     Get*, RevokeGrant and RetireKey fail with ErrNotFound on an unknown one.
//     RetireKey on a key retired already fails with ErrConflict.
//   - Usernames are stored lower-cased. An empty NNIN is not unique and
//     GetUserByNNIN("") finds nobody.
//   - UpdateCredential ignores every field but Name and BackupState.
//   - The sentinel errors may be wrapped; callers test them with errors.Is.
//   - Inside Tx, a method failing with a sentinel error leaves the
//     transaction usable; Tx on a transaction's Store nests (a failing inner
//     Tx undoes only its own writes).
//   - ListUserSessions returns the sessions with their events.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/stepup-oidc/stepup/internal/authn"
	"github.com/stepup-oidc/stepup/internal/store"
)

// Run runs the suite. open must return a new, empty, migrated store and
// arrange (with t.Cleanup) for it to be closed and removed; it is called
// once per subtest, from parallel subtests.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	for _, tc := range cases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

type testCase struct {
	name string
	fn   func(t *testing.T, s store.Store)
}

func cases() []testCase {
	return []testCase{
		{"Clients/CreateGetUpdateDelete", testClientsCRUD},
		{"Clients/CreateDuplicateIsConflict", testClientsDuplicate},
		{"Clients/UpsertKeepsCreatedAt", testClientsUpsertKeepsCreatedAt},
		{"Clients/ListOrderedByID", testClientsList},
		{"Clients/NotFound", testClientsNotFound},

		{"Users/CreateGetUpdateDelete", testUsersCRUD},
		{"Users/UsernameIsCaseInsensitive", testUsersCaseInsensitive},
		{"Users/CreateDuplicateIsConflict", testUsersDuplicate},
		{"Users/UpsertByUsernameIsIdempotent", testUsersUpsert},
		{"Users/UpdateToTakenUsernameIsConflict", testUsersUpdateTaken},
		{"Users/ListOrderedByUsername", testUsersList},
		{"Users/NotFound", testUsersNotFound},
		{"Users/NNINIsUniqueWhenSet", testUsersNNIN},

		{"Sessions/CreateGet", testSessionsCreateGet},
		{"Sessions/CreateDuplicateIsConflict", testSessionsDuplicate},
		{"Sessions/EventsAreAppendOnlyAndOrdered", testSessionsEvents},
		{"Sessions/ConcurrentAppendsAllKept", testSessionsConcurrentAppend},
		{"Sessions/RotateHandle", testSessionsRotate},
		{"Sessions/ListUserSessionsNewestFirst", testSessionsList},
		{"Sessions/DeleteRemovesEvents", testSessionsDelete},
		{"Sessions/NotFound", testSessionsNotFound},

		{"Codes/CreateConsume", testCodesCreateConsume},
		{"Codes/CreateDuplicateIsConflict", testCodesDuplicate},
		{"Codes/ConsumeIsOneTimeUnderConcurrency", testCodesConcurrent},
		{"Codes/UnknownIsNotFound", testCodesUnknown},
		{"Codes/ConsumeIgnoresExpiry", testCodesExpiry},
		{"Codes/LargeAuthorizationDetails", testCodesLargeAuthorizationDetails},

		{"Grants/CreateGet", testGrantsCreateGet},
		{"Grants/Revoke", testGrantsRevoke},
		{"Grants/LargeAuthorizationDetails", testGrantsLargeAuthorizationDetails},

		{"Refresh/CreateGetUse", testRefreshCreateGetUse},
		{"Refresh/RotationIsOneTimeUnderConcurrency", testRefreshConcurrent},
		{"Refresh/UnknownIsNotFound", testRefreshUnknown},

		{"Keys/CreateListRetire", testKeys},

		{"Credentials/CreateGetListDelete", testCredentialsCRUD},
		{"Credentials/UpdateChangesOnlyMutableFields", testCredentialsUpdate},
		{"Credentials/UseCounterMustIncrease", testCredentialsUse},
		{"Credentials/UseIsOneTimeUnderConcurrency", testCredentialsUseConcurrent},
		{"Credentials/DeleteIsOneTimeUnderConcurrency", testCredentialsDeleteConcurrent},

		{"Links/CreateGet", testLinks},

		{"PushedRequests/CreateConsumeOnce", testPushedCreateConsume},
		{"PushedRequests/ConsumeIsOneTimeUnderConcurrency", testPushedConcurrent},
		{"PushedRequests/DuplicateIsConflict", testPushedDuplicate},
		{"PushedRequests/UnknownIsNotFound", testPushedUnknown},
		{"PushedRequests/DeleteExpiredRemovesThem", testPushedDeleteExpired},

		{"CIBA/CreateGet", testCIBACreateGet},
		{"CIBA/CreateDuplicateIsConflict", testCIBADuplicate},
		{"CIBA/UnknownIsNotFound", testCIBAUnknown},
		{"CIBA/ListPendingOnlyPendingUnexpiredOfUserOldestFirst", testCIBAListPending},
		{"CIBA/DecideOnce", testCIBADecide},
		{"CIBA/DecideIsOneTimeUnderConcurrency", testCIBADecideConcurrent},
		{"CIBA/TouchReturnsPreviousPoll", testCIBATouch},
		{"CIBA/RedeemApprovedOnce", testCIBARedeem},
		{"CIBA/RedeemIsOneTimeUnderConcurrency", testCIBARedeemConcurrent},
		{"CIBA/DeleteExpiredRemovesThem", testCIBADeleteExpired},

		{"Tx/CommitsAllWrites", testTxCommit},
		{"Tx/RollbackOnError", testTxRollback},
		{"Tx/RollbackOnPanic", testTxPanic},
		{"Tx/UncommittedInvisibleOutside", testTxIsolation},
		{"Tx/CommitVisibleOnSecondConnection", testTxVisible},
		{"Tx/NestedRollsBackOnlyInner", testTxNested},
		{"Tx/UsableAfterSentinelErrors", testTxSentinels},
		{"Tx/ConsumeRolledBackIsReusable", testTxConsumeRollback},
		{"Tx/PushedRequests", testTxPushed},
		{"Tx/CIBA", testTxCIBA},

		{"Time/RoundTripsUTCMicroseconds", testTimeRoundTrip},
		{"Time/ZeroRoundTripsAsZero", testTimeZero},

		{"DeleteExpired/RemovesOnlyExpired", testDeleteExpired},

		{"LargeValues", testLargeValues},
		{"EveryFieldRoundTrips", testEveryField},

		{"Concurrency/ParallelWritesReadsAndTxs", testConcurrency},
	}
}

// testCtx is the context of one subtest: a backend that deadlocks fails it
// instead of hanging the run.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// at is a fixed instant (UTC, whole microseconds) plus d.
func at(d time.Duration) time.Time {
	return time.Date(2031, 3, 4, 5, 6, 7, 891011000, time.UTC).Add(d)
}

// sameTime is equality for values a store returned: same instant, same
// location (UTC), and both with or both without a monotonic reading.
func sameTime(x, y time.Time) bool {
	return x.Equal(y) && x.Location() == y.Location() && hasMono(x) == hasMono(y)
}

func hasMono(t time.Time) bool { return t != t.Round(0) }

func diffOpts() []cmp.Option {
	return []cmp.Option{cmpopts.EquateEmpty(), cmp.Comparer(sameTime)}
}

// diff fails t when got differs from want.
func diff(t *testing.T, what string, want, got any) {
	t.Helper()
	if d := cmp.Diff(want, got, diffOpts()...); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, d)
	}
}

// must fails t now when err is not nil.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantErr fails t unless errors.Is(err, target).
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: got error %v, want %v", what, err, target)
	}
}

// parallel runs fn(0..n-1) in n goroutines released at once and waits.
func parallel(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn(i)
		}()
	}
	close(start)
	wg.Wait()
}

func newClient(id string) store.Client {
	return store.Client{
		ID:                       id,
		Name:                     "Client " + id,
		SecretHash:               "$argon2id$" + id,
		RedirectURIs:             []string{"https://" + id + ".example/cb", "http://127.0.0.1:8080/cb"},
		PostLogoutRedirectURIs:   []string{"https://" + id + ".example/bye"},
		GrantTypes:               []string{"authorization_code", "refresh_token"},
		TokenEndpointAuthMethod:  "client_secret_basic",
		IDTokenSignedResponseAlg: "ES256",
		AccessTokenTTL:           5 * time.Minute,
		IDTokenTTL:               time.Hour + 1,
		RefreshTokenTTL:          30 * 24 * time.Hour,
		MinACR:                   "urn:stepup:acr:mfa",
		ACRFallback:              true,
		Static:                   true,
		CreatedAt:                at(0),
		UpdatedAt:                at(time.Minute),
	}
}

func newUser(id, username string) store.User {
	return store.User{
		ID:           id,
		Username:     username,
		PasswordHash: "$argon2id$" + id,
		Email:        strings.ToLower(username) + "@example.org",
		Name:         "User " + username,
		Phone:        "+4791234567",
		Birthdate:    "1990-01-31",
		CreatedAt:    at(0),
		UpdatedAt:    at(time.Second),
	}
}

func newEvent(method string, d time.Duration) authn.Event {
	e := authn.Event{Method: method, AMR: []string{method}, Time: at(d)}
	switch method {
	case authn.MethodPasskey:
		e.AMR = []string{"hwk", "user"}
		e.PhishingResistant, e.DeviceBound, e.UserVerified, e.Attested = true, true, true, true
		e.CredentialID = "cred-" + d.String()
	case authn.MethodTOTP:
		e.AMR = []string{"otp"}
		e.CredentialID = "totp-1"
	case authn.MethodUpstream:
		e.AMR = nil
		e.UpstreamACR = "urn:upstream:loa2"
		e.UpstreamAMR = []string{"pwd", "mfa"}
	}
	return e
}

func newSession(id, userID string, created time.Time) store.Session {
	return store.Session{
		ID:         id,
		HandleHash: "handle-" + id,
		UserID:     userID,
		CreatedAt:  created,
		ExpiresAt:  created.Add(12 * time.Hour),
		Events:     []authn.Event{newEvent(authn.MethodPassword, 0)},
	}
}

// accountDetails is a small RFC 9396 authorization_details array.
const accountDetails = `[{"type":"account_information","actions":["list_accounts","read_balances"],` +
	`"locations":["https://example.com/accounts"]}]`

func newCode(hash string) store.Code {
	return store.Code{
		Hash:                 hash,
		ClientID:             "client-1",
		RedirectURI:          "https://client-1.example/cb",
		UserID:               "user-1",
		SessionID:            "session-1",
		Scope:                "openid profile email",
		Nonce:                "nonce-" + hash,
		CodeChallenge:        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		CodeChallengeMethod:  "S256",
		ACR:                  "urn:stepup:acr:mfa",
		AMR:                  []string{"pwd", "otp"},
		AuthTime:             at(-time.Minute),
		AuthorizationDetails: accountDetails,
		CreatedAt:            at(0),
		ExpiresAt:            at(time.Minute),
	}
}

func newGrant(id string) store.Grant {
	return store.Grant{
		ID:                   id,
		ClientID:             "client-1",
		UserID:               "user-1",
		SessionID:            "session-1",
		Scope:                "openid offline_access",
		ACR:                  "urn:stepup:acr:mfa",
		AMR:                  []string{"pwd", "otp"},
		AuthTime:             at(-time.Minute),
		AuthorizationDetails: accountDetails,
		CreatedAt:            at(0),
		ExpiresAt:            at(30 * 24 * time.Hour),
	}
}

func newRefresh(hash, grantID string) store.RefreshToken {
	return store.RefreshToken{
		Hash:      hash,
		GrantID:   grantID,
		ClientID:  "client-1",
		CreatedAt: at(0),
		ExpiresAt: at(24 * time.Hour),
	}
}

func newKey(id string, created time.Time) store.Key {
	return store.Key{
		ID:        id,
		Use:       "sig",
		Alg:       "ES256",
		Private:   []byte(fmt.Sprintf(`{"kty":"EC","crv":"P-256","kid":%q,"d":"secret"}`, id)),
		CreatedAt: created,
	}
}
