package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/stepup-oidc/stepup/internal/store"
)

const clientCols = `id, name, secret_hash, redirect_uris, post_logout_redirect_uris, grant_types,
	token_endpoint_auth_method, id_token_signed_response_alg,
	access_token_ttl, id_token_ttl, refresh_token_ttl, min_acr, acr_fallback, allow_nnin, static, created_at, updated_at`

func clientArgs(c store.Client) []any {
	return []any{c.ID, c.Name, c.SecretHash, list(c.RedirectURIs), list(c.PostLogoutRedirectURIs), list(c.GrantTypes),
		c.TokenEndpointAuthMethod, c.IDTokenSignedResponseAlg,
		int64(c.AccessTokenTTL), int64(c.IDTokenTTL), int64(c.RefreshTokenTTL), c.MinACR, c.ACRFallback, c.AllowNNIN, c.Static,
		toDB(c.CreatedAt), toDB(c.UpdatedAt)}
}

func scanClient(row scanner) (store.Client, error) {
	var (
		c                store.Client
		at, it, rt       int64
		created, updated pgtype.Timestamptz
	)
	if err := row.Scan(&c.ID, &c.Name, &c.SecretHash, &c.RedirectURIs, &c.PostLogoutRedirectURIs, &c.GrantTypes,
		&c.TokenEndpointAuthMethod, &c.IDTokenSignedResponseAlg,
		&at, &it, &rt, &c.MinACR, &c.ACRFallback, &c.AllowNNIN, &c.Static, &created, &updated); err != nil {
		return store.Client{}, err
	}
	c.AccessTokenTTL, c.IDTokenTTL, c.RefreshTokenTTL = time.Duration(at), time.Duration(it), time.Duration(rt)
	c.CreatedAt, c.UpdatedAt = fromDB(created), fromDB(updated)
	return c, nil
}

// CreateClient inserts c; ErrConflict when the id exists.
func (s *Store) CreateClient(ctx context.Context, c store.Client) error {
	tag, err := s.q().Exec(ctx, `INSERT INTO clients (`+clientCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
		ON CONFLICT DO NOTHING`, clientArgs(c)...)
	return mustInsert(tag, err, "create client", c.ID)
}

// UpsertClient creates or replaces the client, keeping a stored CreatedAt.
func (s *Store) UpsertClient(ctx context.Context, c store.Client) error {
	_, err := s.q().Exec(ctx, `INSERT INTO clients (`+clientCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
		ON CONFLICT (id) DO UPDATE SET
			name = excluded.name,
			secret_hash = excluded.secret_hash,
			redirect_uris = excluded.redirect_uris,
			post_logout_redirect_uris = excluded.post_logout_redirect_uris,
			grant_types = excluded.grant_types,
			token_endpoint_auth_method = excluded.token_endpoint_auth_method,
			id_token_signed_response_alg = excluded.id_token_signed_response_alg,
			access_token_ttl = excluded.access_token_ttl,
			id_token_ttl = excluded.id_token_ttl,
			refresh_token_ttl = excluded.refresh_token_ttl,
			min_acr = excluded.min_acr,
			acr_fallback = excluded.acr_fallback,
			allow_nnin = excluded.allow_nnin,
			static = excluded.static,
			updated_at = excluded.updated_at`, clientArgs(c)...)
	return mapErr(err, "upsert client", c.ID)
}

// GetClient returns the client; ErrNotFound when unknown.
func (s *Store) GetClient(ctx context.Context, id string) (store.Client, error) {
	c, err := scanClient(s.q().QueryRow(ctx, `SELECT `+clientCols+` FROM clients WHERE id = $1`, id))
	return c, mapErr(err, "get client", id)
}

// ListClients returns all clients ordered by id.
func (s *Store) ListClients(ctx context.Context) ([]store.Client, error) {
	rows, err := s.q().Query(ctx, `SELECT `+clientCols+` FROM clients ORDER BY id COLLATE "C"`)
	if err != nil {
		return nil, mapErr(err, "list clients", "")
	}
	cs, err := collect(rows, scanClient)
	return cs, mapErr(err, "list clients", "")
}

// DeleteClient removes the client; ErrNotFound when unknown.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	tag, err := s.q().Exec(ctx, `DELETE FROM clients WHERE id = $1`, id)
	return mustAffect(tag, err, "delete client", id)
}

const userCols = `id, username, password_hash, email, name, nnin, phone, birthdate, disabled, created_at, updated_at`

func scanUser(row scanner) (store.User, error) {
	var (
		u                store.User
		created, updated pgtype.Timestamptz
	)
	if err := row.Scan(&u.ID, &u.Username, &u.PasswordHash, &u.Email, &u.Name, &u.NNIN, &u.Phone, &u.Birthdate,
		&u.Disabled, &created, &updated); err != nil {
		return store.User{}, err
	}
	u.CreatedAt, u.UpdatedAt = fromDB(created), fromDB(updated)
	return u, nil
}

// foldUsername is the stored form of a username.
func foldUsername(name string) string { return strings.ToLower(name) }

func userArgs(u store.User) []any {
	return []any{u.ID, foldUsername(u.Username), u.PasswordHash, u.Email, u.Name, u.NNIN, u.Phone, u.Birthdate,
		u.Disabled, toDB(u.CreatedAt), toDB(u.UpdatedAt)}
}

// CreateUser inserts u with its username case-folded; ErrConflict when the
// id, the username or a non-empty NNIN exists.
func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	tag, err := s.q().Exec(ctx, `INSERT INTO users (`+userCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING`, userArgs(u)...)
	return mustInsert(tag, err, "create user", u.ID)
}

// UpsertUserByUsername creates u or updates the user with its username,
// keeping that user's ID and CreatedAt, and returns the stored user.
func (s *Store) UpsertUserByUsername(ctx context.Context, u store.User) (store.User, error) {
	var got store.User
	err := s.guarded(ctx, func(q querier) (err error) {
		got, err = scanUser(q.QueryRow(ctx, `INSERT INTO users (`+userCols+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
			ON CONFLICT (username) DO UPDATE SET
				password_hash = excluded.password_hash,
				email = excluded.email,
				name = excluded.name,
				nnin = excluded.nnin,
				phone = excluded.phone,
				birthdate = excluded.birthdate,
				disabled = excluded.disabled,
				updated_at = excluded.updated_at
			RETURNING `+userCols, userArgs(u)...))
		return mapErr(err, "upsert user", u.Username)
	})
	return got, err
}

// UpdateUser replaces every field of the user with u.ID but CreatedAt.
func (s *Store) UpdateUser(ctx context.Context, u store.User) error {
	return s.guarded(ctx, func(q querier) error {
		tag, err := q.Exec(ctx, `UPDATE users SET username = $2, password_hash = $3, email = $4,
			name = $5, nnin = $6, phone = $7, birthdate = $8, disabled = $9, updated_at = $10 WHERE id = $1`,
			u.ID, foldUsername(u.Username), u.PasswordHash, u.Email, u.Name, u.NNIN, u.Phone, u.Birthdate,
			u.Disabled, toDB(u.UpdatedAt))
		return mustAffect(tag, err, "update user", u.ID)
	})
}

// GetUser returns the user; ErrNotFound when unknown.
func (s *Store) GetUser(ctx context.Context, id string) (store.User, error) {
	u, err := scanUser(s.q().QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE id = $1`, id))
	return u, mapErr(err, "get user", id)
}

// GetUserByUsername returns the user, matching case-insensitively.
func (s *Store) GetUserByUsername(ctx context.Context, username string) (store.User, error) {
	u, err := scanUser(s.q().QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE username = $1`,
		foldUsername(username)))
	return u, mapErr(err, "get user by username", username)
}

// GetUserByNNIN returns the user with the national identity number;
// ErrNotFound when there is none or nnin is empty.
func (s *Store) GetUserByNNIN(ctx context.Context, nnin string) (store.User, error) {
	if nnin == "" {
		return store.User{}, fmt.Errorf("store/postgres: get user by nnin %q: %w", nnin, store.ErrNotFound)
	}
	u, err := scanUser(s.q().QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE nnin = $1 AND nnin <> ''`, nnin))
	return u, mapErr(err, "get user by nnin", nnin)
}

// ListUsers returns all users ordered by username.
func (s *Store) ListUsers(ctx context.Context) ([]store.User, error) {
	rows, err := s.q().Query(ctx, `SELECT `+userCols+` FROM users ORDER BY username COLLATE "C"`)
	if err != nil {
		return nil, mapErr(err, "list users", "")
	}
	us, err := collect(rows, scanUser)
	return us, mapErr(err, "list users", "")
}

// DeleteUser removes the user; ErrNotFound when unknown.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	tag, err := s.q().Exec(ctx, `DELETE FROM users WHERE id = $1`, id)
	return mustAffect(tag, err, "delete user", id)
}
