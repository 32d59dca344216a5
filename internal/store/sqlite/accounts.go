package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/stepup-oidc/stepup/internal/store"
)

// encodeList stores a list as JSON text; nil stays null.
func encodeList(l []string) (string, error) {
	b, err := json.Marshal(l)
	if err != nil {
		return "", fmt.Errorf("store/sqlite: encode list: %w", err)
	}
	return string(b), nil
}

func decodeList(s string) ([]string, error) {
	var l []string
	if err := json.Unmarshal([]byte(s), &l); err != nil {
		return nil, fmt.Errorf("store/sqlite: decode list: %w", err)
	}
	return l, nil
}

// scanner is what *sql.Row and *sql.Rows have in common.
type scanner interface {
	Scan(dest ...any) error
}

const clientCols = `id, name, secret_hash, redirect_uris, post_logout_redirect_uris, grant_types,
	token_endpoint_auth_method, id_token_signed_response_alg,
	access_token_ttl, id_token_ttl, refresh_token_ttl, min_acr, acr_fallback, allow_nnin, static, created_at, updated_at`

func clientArgs(c store.Client) ([]any, error) {
	var lists [3]string
	for i, l := range [][]string{c.RedirectURIs, c.PostLogoutRedirectURIs, c.GrantTypes} {
		s, err := encodeList(l)
		if err != nil {
			return nil, err
		}
		lists[i] = s
	}
	return []any{c.ID, c.Name, c.SecretHash, lists[0], lists[1], lists[2],
		c.TokenEndpointAuthMethod, c.IDTokenSignedResponseAlg,
		int64(c.AccessTokenTTL), int64(c.IDTokenTTL), int64(c.RefreshTokenTTL), c.MinACR, c.ACRFallback, c.AllowNNIN, c.Static,
		toDB(c.CreatedAt), toDB(c.UpdatedAt)}, nil
}

func scanClient(sc scanner) (store.Client, error) {
	var (
		c                store.Client
		ru, plru, gt     string
		at, it, rt       int64
		created, updated sql.NullInt64
	)
	if err := sc.Scan(&c.ID, &c.Name, &c.SecretHash, &ru, &plru, &gt,
		&c.TokenEndpointAuthMethod, &c.IDTokenSignedResponseAlg,
		&at, &it, &rt, &c.MinACR, &c.ACRFallback, &c.AllowNNIN, &c.Static, &created, &updated); err != nil {
		return store.Client{}, err
	}
	var err error
	if c.RedirectURIs, err = decodeList(ru); err != nil {
		return store.Client{}, err
	}
	if c.PostLogoutRedirectURIs, err = decodeList(plru); err != nil {
		return store.Client{}, err
	}
	if c.GrantTypes, err = decodeList(gt); err != nil {
		return store.Client{}, err
	}
	c.AccessTokenTTL, c.IDTokenTTL, c.RefreshTokenTTL = time.Duration(at), time.Duration(it), time.Duration(rt)
	c.CreatedAt, c.UpdatedAt = fromDB(created), fromDB(updated)
	return c, nil
}

// CreateClient inserts c; ErrConflict when the id exists.
func (s *Store) CreateClient(ctx context.Context, c store.Client) error {
	args, err := clientArgs(c)
	if err != nil {
		return err
	}
	_, err = s.writer().ExecContext(ctx, `INSERT INTO clients (`+clientCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...)
	return mapErr(err, "create client", c.ID)
}

// UpsertClient creates or replaces the client, keeping a stored CreatedAt.
func (s *Store) UpsertClient(ctx context.Context, c store.Client) error {
	args, err := clientArgs(c)
	if err != nil {
		return err
	}
	_, err = s.writer().ExecContext(ctx, `INSERT INTO clients (`+clientCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
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
			updated_at = excluded.updated_at`, args...)
	return mapErr(err, "upsert client", c.ID)
}

// GetClient returns the client; ErrNotFound when unknown.
func (s *Store) GetClient(ctx context.Context, id string) (store.Client, error) {
	c, err := scanClient(s.reader().QueryRowContext(ctx, `SELECT `+clientCols+` FROM clients WHERE id = ?`, id))
	return c, mapErr(err, "get client", id)
}

// ListClients returns all clients ordered by id.
func (s *Store) ListClients(ctx context.Context) ([]store.Client, error) {
	rows, err := s.reader().QueryContext(ctx, `SELECT `+clientCols+` FROM clients ORDER BY id`)
	if err != nil {
		return nil, mapErr(err, "list clients", "")
	}
	defer rows.Close()
	var cs []store.Client
	for rows.Next() {
		c, err := scanClient(rows)
		if err != nil {
			return nil, mapErr(err, "list clients", "")
		}
		cs = append(cs, c)
	}
	return cs, mapErr(rows.Err(), "list clients", "")
}

// DeleteClient removes the client; ErrNotFound when unknown.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	res, err := s.writer().ExecContext(ctx, `DELETE FROM clients WHERE id = ?`, id)
	return mustAffect(res, err, "delete client", id)
}

const userCols = `id, username, password_hash, email, name, nnin, phone, birthdate, disabled, created_at, updated_at`

func scanUser(sc scanner) (store.User, error) {
	var (
		u                store.User
		created, updated sql.NullInt64
	)
	if err := sc.Scan(&u.ID, &u.Username, &u.PasswordHash, &u.Email, &u.Name, &u.NNIN, &u.Phone, &u.Birthdate,
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
	_, err := s.writer().ExecContext(ctx, `INSERT INTO users (`+userCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		userArgs(u)...)
	return mapErr(err, "create user", u.ID)
}

// UpsertUserByUsername creates u or updates the user with its username,
// keeping that user's ID and CreatedAt, and returns the stored user.
func (s *Store) UpsertUserByUsername(ctx context.Context, u store.User) (store.User, error) {
	got, err := scanUser(s.writer().QueryRowContext(ctx, `INSERT INTO users (`+userCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
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
	return got, mapErr(err, "upsert user", u.Username)
}

// UpdateUser replaces every field of the user with u.ID but CreatedAt.
func (s *Store) UpdateUser(ctx context.Context, u store.User) error {
	res, err := s.writer().ExecContext(ctx, `UPDATE users SET username = ?, password_hash = ?, email = ?,
		name = ?, nnin = ?, phone = ?, birthdate = ?, disabled = ?, updated_at = ? WHERE id = ?`,
		foldUsername(u.Username), u.PasswordHash, u.Email, u.Name, u.NNIN, u.Phone, u.Birthdate,
		u.Disabled, toDB(u.UpdatedAt), u.ID)
	return mustAffect(res, err, "update user", u.ID)
}

// GetUser returns the user; ErrNotFound when unknown.
func (s *Store) GetUser(ctx context.Context, id string) (store.User, error) {
	u, err := scanUser(s.reader().QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE id = ?`, id))
	return u, mapErr(err, "get user", id)
}

// GetUserByUsername returns the user, matching case-insensitively.
func (s *Store) GetUserByUsername(ctx context.Context, username string) (store.User, error) {
	u, err := scanUser(s.reader().QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE username = ?`,
		foldUsername(username)))
	return u, mapErr(err, "get user by username", username)
}

// GetUserByNNIN returns the user with the national identity number;
// ErrNotFound when there is none or nnin is empty.
func (s *Store) GetUserByNNIN(ctx context.Context, nnin string) (store.User, error) {
	if nnin == "" {
		return store.User{}, notFound("get user by nnin", nnin)
	}
	u, err := scanUser(s.reader().QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE nnin = ? AND nnin <> ''`, nnin))
	return u, mapErr(err, "get user by nnin", nnin)
}

// ListUsers returns all users ordered by username.
func (s *Store) ListUsers(ctx context.Context) ([]store.User, error) {
	rows, err := s.reader().QueryContext(ctx, `SELECT `+userCols+` FROM users ORDER BY username`)
	if err != nil {
		return nil, mapErr(err, "list users", "")
	}
	defer rows.Close()
	var us []store.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, mapErr(err, "list users", "")
		}
		us = append(us, u)
	}
	return us, mapErr(rows.Err(), "list users", "")
}

// DeleteUser removes the user; ErrNotFound when unknown.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	res, err := s.writer().ExecContext(ctx, `DELETE FROM users WHERE id = ?`, id)
	return mustAffect(res, err, "delete user", id)
}
