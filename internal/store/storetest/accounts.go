package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/stepup-oidc/stepup/internal/store"
)

func testClientsCRUD(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	c := newClient("app")
	must(t, s.CreateClient(ctx, c))
	got, err := s.GetClient(ctx, "app")
	must(t, err)
	diff(t, "created client", c, got)

	c.Name = "Renamed"
	c.SecretHash = ""
	c.RedirectURIs = []string{"https://new.example/cb"}
	c.PostLogoutRedirectURIs = nil
	c.GrantTypes = []string{"client_credentials"}
	c.TokenEndpointAuthMethod = "none"
	c.IDTokenSignedResponseAlg = "RS256"
	c.AccessTokenTTL, c.IDTokenTTL, c.RefreshTokenTTL = 0, time.Nanosecond, -time.Second
	c.MinACR, c.ACRFallback, c.Static = "", false, false
	c.UpdatedAt = at(time.Hour)
	must(t, s.UpsertClient(ctx, c))
	got, err = s.GetClient(ctx, "app")
	must(t, err)
	diff(t, "updated client", c, got)

	must(t, s.DeleteClient(ctx, "app"))
	_, err = s.GetClient(ctx, "app")
	wantErr(t, "GetClient after delete", err, store.ErrNotFound)
	wantErr(t, "DeleteClient twice", s.DeleteClient(ctx, "app"), store.ErrNotFound)
}

func testClientsDuplicate(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	c := newClient("app")
	must(t, s.CreateClient(ctx, c))
	other := newClient("app")
	other.Name = "Impostor"
	wantErr(t, "CreateClient duplicate", s.CreateClient(ctx, other), store.ErrConflict)
	got, err := s.GetClient(ctx, "app")
	must(t, err)
	diff(t, "client after duplicate create", c, got)
}

func testClientsUpsertKeepsCreatedAt(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	c := newClient("app")
	must(t, s.UpsertClient(ctx, c)) // creates
	got, err := s.GetClient(ctx, "app")
	must(t, err)
	diff(t, "upserted client", c, got)

	c2 := c
	c2.Name = "Second"
	c2.CreatedAt = at(99 * time.Hour)
	c2.UpdatedAt = at(100 * time.Hour)
	must(t, s.UpsertClient(ctx, c2))
	got, err = s.GetClient(ctx, "app")
	must(t, err)
	want := c2
	want.CreatedAt = c.CreatedAt
	diff(t, "client after second upsert", want, got)
}

func testClientsList(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	got, err := s.ListClients(ctx)
	must(t, err)
	diff(t, "empty client list", []store.Client(nil), got)
	var want []store.Client
	for _, id := range []string{"c", "a", "d", "b"} {
		must(t, s.CreateClient(ctx, newClient(id)))
	}
	for _, id := range []string{"a", "b", "c", "d"} {
		want = append(want, newClient(id))
	}
	got, err = s.ListClients(ctx)
	must(t, err)
	diff(t, "client list", want, got)
}

func testClientsNotFound(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	must(t, s.CreateClient(ctx, newClient("app")))
	_, err := s.GetClient(ctx, "nope")
	wantErr(t, "GetClient", err, store.ErrNotFound)
	_, err = s.GetClient(ctx, "APP")
	wantErr(t, "GetClient with other case", err, store.ErrNotFound)
	wantErr(t, "DeleteClient", s.DeleteClient(ctx, "nope"), store.ErrNotFound)
}

func testUsersCRUD(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	u := newUser("u1", "alice")
	must(t, s.CreateUser(ctx, u))
	got, err := s.GetUser(ctx, "u1")
	must(t, err)
	diff(t, "created user", u, got)

	u.Username = "alice2"
	u.PasswordHash = ""
	u.Email = "a2@example.org"
	u.Name = "Alice Two"
	u.Disabled = true
	u.UpdatedAt = at(time.Hour)
	must(t, s.UpdateUser(ctx, u))
	got, err = s.GetUserByUsername(ctx, "alice2")
	must(t, err)
	diff(t, "updated user", u, got)
	_, err = s.GetUserByUsername(ctx, "alice")
	wantErr(t, "GetUserByUsername old name", err, store.ErrNotFound)

	must(t, s.DeleteUser(ctx, "u1"))
	_, err = s.GetUser(ctx, "u1")
	wantErr(t, "GetUser after delete", err, store.ErrNotFound)
	_, err = s.GetUserByUsername(ctx, "alice2")
	wantErr(t, "GetUserByUsername after delete", err, store.ErrNotFound)
	wantErr(t, "DeleteUser twice", s.DeleteUser(ctx, "u1"), store.ErrNotFound)
}

func testUsersCaseInsensitive(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	u := newUser("u1", "Alice.Smith")
	must(t, s.CreateUser(ctx, u))
	want := u
	want.Username = "alice.smith"
	for _, name := range []string{"alice.smith", "ALICE.SMITH", "aLiCe.SmItH"} {
		got, err := s.GetUserByUsername(ctx, name)
		if err != nil {
			t.Errorf("GetUserByUsername(%q): %v", name, err)
			continue
		}
		diff(t, "user by "+name, want, got)
	}
	got, err := s.GetUser(ctx, "u1")
	must(t, err)
	diff(t, "user by id", want, got)
	wantErr(t, "CreateUser with the username in other case",
		s.CreateUser(ctx, newUser("u2", "ALICE.smith")), store.ErrConflict)

	must(t, s.CreateUser(ctx, newUser("u3", "Bob")))
	u3 := newUser("u3", "ALICE.SMITH")
	wantErr(t, "UpdateUser to the username in other case", s.UpdateUser(ctx, u3), store.ErrConflict)
}

func testUsersDuplicate(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	u := newUser("u1", "alice")
	must(t, s.CreateUser(ctx, u))
	wantErr(t, "CreateUser same id", s.CreateUser(ctx, newUser("u1", "bob")), store.ErrConflict)
	wantErr(t, "CreateUser same username", s.CreateUser(ctx, newUser("u2", "alice")), store.ErrConflict)
	_, err := s.GetUserByUsername(ctx, "bob")
	wantErr(t, "user of failed create", err, store.ErrNotFound)
	_, err = s.GetUser(ctx, "u2")
	wantErr(t, "user of failed create", err, store.ErrNotFound)
	got, err := s.GetUser(ctx, "u1")
	must(t, err)
	diff(t, "user after duplicate creates", u, got)
}

func testUsersUpsert(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	u := newUser("u1", "Carol")
	want := u
	want.Username = "carol"
	got, err := s.UpsertUserByUsername(ctx, u) // creates
	must(t, err)
	diff(t, "first upsert result", want, got)
	got, err = s.UpsertUserByUsername(ctx, u) // same again: no change
	must(t, err)
	diff(t, "second upsert result", want, got)

	// Same username in other case, new id and times: updates the stored
	// user, keeping its ID and CreatedAt.
	u2 := newUser("u2", "CAROL")
	u2.PasswordHash = "$new"
	u2.Email = "carol@new.example"
	u2.Name = "Carol New"
	u2.Disabled = true
	u2.CreatedAt = at(50 * time.Hour)
	u2.UpdatedAt = at(51 * time.Hour)
	got, err = s.UpsertUserByUsername(ctx, u2)
	must(t, err)
	want = u2
	want.ID, want.Username, want.CreatedAt = "u1", "carol", u.CreatedAt
	diff(t, "upsert of existing username", want, got)
	stored, err := s.GetUser(ctx, "u1")
	must(t, err)
	diff(t, "stored user after upsert", want, stored)
	_, err = s.GetUser(ctx, "u2")
	wantErr(t, "upsert must not create u2", err, store.ErrNotFound)
	all, err := s.ListUsers(ctx)
	must(t, err)
	diff(t, "users after upserts", []store.User{want}, all)
}

func testUsersUpdateTaken(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	a, b := newUser("u1", "alice"), newUser("u2", "bob")
	must(t, s.CreateUser(ctx, a))
	must(t, s.CreateUser(ctx, b))
	b2 := b
	b2.Username = "alice"
	wantErr(t, "UpdateUser to taken username", s.UpdateUser(ctx, b2), store.ErrConflict)
	got, err := s.GetUser(ctx, "u2")
	must(t, err)
	diff(t, "user after failed update", b, got)
}

func testUsersList(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	got, err := s.ListUsers(ctx)
	must(t, err)
	diff(t, "empty user list", []store.User(nil), got)
	in := []store.User{newUser("1", "dave"), newUser("2", "Bob"), newUser("3", "carol"), newUser("4", "ALICE")}
	for _, u := range in {
		must(t, s.CreateUser(ctx, u))
	}
	var want []store.User
	for _, i := range []int{3, 1, 2, 0} {
		u := in[i]
		u.Username = strings.ToLower(u.Username)
		want = append(want, u)
	}
	got, err = s.ListUsers(ctx)
	must(t, err)
	diff(t, "user list", want, got)
}

func testUsersNotFound(t *testing.T, s store.Store) {
	ctx := testCtx(t)
	must(t, s.CreateUser(ctx, newUser("u1", "alice")))
	_, err := s.GetUser(ctx, "nope")
	wantErr(t, "GetUser", err, store.ErrNotFound)
	_, err = s.GetUserByUsername(ctx, "nope")
	wantErr(t, "GetUserByUsername", err, store.ErrNotFound)
	wantErr(t, "UpdateUser", s.UpdateUser(ctx, newUser("nope", "nope")), store.ErrNotFound)
	wantErr(t, "DeleteUser", s.DeleteUser(ctx, "nope"), store.ErrNotFound)
}
