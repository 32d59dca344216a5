package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/stepup-oidc/stepup/internal/store"
)

const codeCols = `hash, client_id, redirect_uri, user_id, session_id, scope, nonce,
	code_challenge, code_challenge_method, acr, amr, auth_time, authorization_details, created_at, expires_at,
	grant_id, consumed_at`

func scanCode(sc scanner) (store.Code, error) {
	var (
		c                                    store.Code
		amr                                  string
		authTime, created, expires, consumed sql.NullInt64
	)
	if err := sc.Scan(&c.Hash, &c.ClientID, &c.RedirectURI, &c.UserID, &c.SessionID, &c.Scope, &c.Nonce,
		&c.CodeChallenge, &c.CodeChallengeMethod, &c.ACR, &amr, &authTime, &c.AuthorizationDetails, &created, &expires,
		&c.GrantID, &consumed); err != nil {
		return store.Code{}, err
	}
	var err error
	if c.AMR, err = decodeList(amr); err != nil {
		return store.Code{}, err
	}
	c.AuthTime, c.CreatedAt, c.ExpiresAt, c.ConsumedAt = fromDB(authTime), fromDB(created), fromDB(expires), fromDB(consumed)
	return c, nil
}

// CreateCode stores c; ErrConflict when its hash exists.
func (s *Store) CreateCode(ctx context.Context, c store.Code) error {
	amr, err := encodeList(c.AMR)
	if err != nil {
		return err
	}
	_, err = s.writer().ExecContext(ctx, `INSERT INTO codes (`+codeCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.Hash, c.ClientID, c.RedirectURI, c.UserID, c.SessionID, c.Scope, c.Nonce,
		c.CodeChallenge, c.CodeChallengeMethod, c.ACR, amr, toDB(c.AuthTime), c.AuthorizationDetails,
		toDB(c.CreatedAt), toDB(c.ExpiresAt), c.GrantID, toDB(c.ConsumedAt))
	return mapErr(err, "create code", c.Hash)
}

// ConsumeCode marks the code consumed by grantID at now unless it was
// consumed before, in which case it returns the stored code and
// ErrAlreadyUsed. The single writer connection serialises consumers.
func (s *Store) ConsumeCode(ctx context.Context, hash, grantID string, now time.Time) (store.Code, error) {
	if now.IsZero() {
		return store.Code{}, fmt.Errorf("store/sqlite: consume code: zero time")
	}
	w := s.writer()
	c, err := scanCode(w.QueryRowContext(ctx, `UPDATE codes SET grant_id = ?, consumed_at = ?
		WHERE hash = ? AND consumed_at IS NULL RETURNING `+codeCols, grantID, toDB(now), hash))
	if err == nil {
		return c, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return store.Code{}, mapErr(err, "consume code", hash)
	}
	c, err = scanCode(w.QueryRowContext(ctx, `SELECT `+codeCols+` FROM codes WHERE hash = ?`, hash))
	if err != nil {
		return store.Code{}, mapErr(err, "consume code", hash)
	}
	return c, fmt.Errorf("store/sqlite: consume code %q: %w", hash, store.ErrAlreadyUsed)
}

const grantCols = `id, client_id, user_id, session_id, scope, acr, amr, auth_time, authorization_details,
	created_at, expires_at, revoked_at`

func scanGrant(sc scanner) (store.Grant, error) {
	var (
		g                                   store.Grant
		amr                                 string
		authTime, created, expires, revoked sql.NullInt64
	)
	if err := sc.Scan(&g.ID, &g.ClientID, &g.UserID, &g.SessionID, &g.Scope, &g.ACR, &amr,
		&authTime, &g.AuthorizationDetails, &created, &expires, &revoked); err != nil {
		return store.Grant{}, err
	}
	var err error
	if g.AMR, err = decodeList(amr); err != nil {
		return store.Grant{}, err
	}
	g.AuthTime, g.CreatedAt, g.ExpiresAt, g.RevokedAt = fromDB(authTime), fromDB(created), fromDB(expires), fromDB(revoked)
	return g, nil
}

// CreateGrant stores g; ErrConflict when its id exists.
func (s *Store) CreateGrant(ctx context.Context, g store.Grant) error {
	amr, err := encodeList(g.AMR)
	if err != nil {
		return err
	}
	_, err = s.writer().ExecContext(ctx, `INSERT INTO grants (`+grantCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		g.ID, g.ClientID, g.UserID, g.SessionID, g.Scope, g.ACR, amr,
		toDB(g.AuthTime), g.AuthorizationDetails, toDB(g.CreatedAt), toDB(g.ExpiresAt), toDB(g.RevokedAt))
	return mapErr(err, "create grant", g.ID)
}

// GetGrant returns the grant; ErrNotFound when unknown.
func (s *Store) GetGrant(ctx context.Context, id string) (store.Grant, error) {
	g, err := scanGrant(s.reader().QueryRowContext(ctx, `SELECT `+grantCols+` FROM grants WHERE id = ?`, id))
	return g, mapErr(err, "get grant", id)
}

// RevokeGrant sets RevokedAt unless already set; ErrNotFound when unknown.
func (s *Store) RevokeGrant(ctx context.Context, id string, at time.Time) error {
	if at.IsZero() {
		return fmt.Errorf("store/sqlite: revoke grant %q: zero time", id)
	}
	res, err := s.writer().ExecContext(ctx, `UPDATE grants SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`,
		toDB(at), id)
	return mustAffect(res, err, "revoke grant", id)
}

const refreshCols = `hash, grant_id, client_id, created_at, expires_at, used_at`

func scanRefresh(sc scanner) (store.RefreshToken, error) {
	var (
		rt                  store.RefreshToken
		created, exp, usedA sql.NullInt64
	)
	if err := sc.Scan(&rt.Hash, &rt.GrantID, &rt.ClientID, &created, &exp, &usedA); err != nil {
		return store.RefreshToken{}, err
	}
	rt.CreatedAt, rt.ExpiresAt, rt.UsedAt = fromDB(created), fromDB(exp), fromDB(usedA)
	return rt, nil
}

// CreateRefreshToken stores rt; ErrConflict when its hash exists.
func (s *Store) CreateRefreshToken(ctx context.Context, rt store.RefreshToken) error {
	_, err := s.writer().ExecContext(ctx, `INSERT INTO refresh_tokens (`+refreshCols+`) VALUES (?, ?, ?, ?, ?, ?)`,
		rt.Hash, rt.GrantID, rt.ClientID, toDB(rt.CreatedAt), toDB(rt.ExpiresAt), toDB(rt.UsedAt))
	return mapErr(err, "create refresh token", rt.Hash)
}

// GetRefreshToken returns the token; ErrNotFound when unknown.
func (s *Store) GetRefreshToken(ctx context.Context, hash string) (store.RefreshToken, error) {
	rt, err := scanRefresh(s.reader().QueryRowContext(ctx, `SELECT `+refreshCols+` FROM refresh_tokens WHERE hash = ?`, hash))
	return rt, mapErr(err, "get refresh token", hash)
}

// UseRefreshToken marks the token used at now unless it was used before, in
// which case it returns the stored token and ErrAlreadyUsed.
func (s *Store) UseRefreshToken(ctx context.Context, hash string, now time.Time) (store.RefreshToken, error) {
	if now.IsZero() {
		return store.RefreshToken{}, fmt.Errorf("store/sqlite: use refresh token: zero time")
	}
	w := s.writer()
	rt, err := scanRefresh(w.QueryRowContext(ctx, `UPDATE refresh_tokens SET used_at = ?
		WHERE hash = ? AND used_at IS NULL RETURNING `+refreshCols, toDB(now), hash))
	if err == nil {
		return rt, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return store.RefreshToken{}, mapErr(err, "use refresh token", hash)
	}
	rt, err = scanRefresh(w.QueryRowContext(ctx, `SELECT `+refreshCols+` FROM refresh_tokens WHERE hash = ?`, hash))
	if err != nil {
		return store.RefreshToken{}, mapErr(err, "use refresh token", hash)
	}
	return rt, fmt.Errorf("store/sqlite: use refresh token %q: %w", hash, store.ErrAlreadyUsed)
}

const keyCols = `id, use, alg, private, created_at, retired_at, expires_at`

func scanKey(sc scanner) (store.Key, error) {
	var (
		k                         store.Key
		created, retired, expires sql.NullInt64
	)
	if err := sc.Scan(&k.ID, &k.Use, &k.Alg, &k.Private, &created, &retired, &expires); err != nil {
		return store.Key{}, err
	}
	k.CreatedAt, k.RetiredAt, k.ExpiresAt = fromDB(created), fromDB(retired), fromDB(expires)
	return k, nil
}

// CreateKey stores k; ErrConflict when its id exists.
func (s *Store) CreateKey(ctx context.Context, k store.Key) error {
	priv := k.Private
	if priv == nil {
		priv = []byte{}
	}
	_, err := s.writer().ExecContext(ctx, `INSERT INTO keys (`+keyCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.Use, k.Alg, priv, toDB(k.CreatedAt), toDB(k.RetiredAt), toDB(k.ExpiresAt))
	return mapErr(err, "create key", k.ID)
}

// ListKeys returns all keys, newest first.
func (s *Store) ListKeys(ctx context.Context) ([]store.Key, error) {
	rows, err := s.reader().QueryContext(ctx, `SELECT `+keyCols+` FROM keys ORDER BY created_at DESC, id DESC`)
	if err != nil {
		return nil, mapErr(err, "list keys", "")
	}
	defer rows.Close()
	var ks []store.Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, mapErr(err, "list keys", "")
		}
		ks = append(ks, k)
	}
	return ks, mapErr(rows.Err(), "list keys", "")
}

// RetireKey sets RetiredAt and ExpiresAt of an active key: ErrNotFound when
// the key is unknown, ErrConflict when it is retired already.
func (s *Store) RetireKey(ctx context.Context, id string, retiredAt, expiresAt time.Time) error {
	if retiredAt.IsZero() {
		return fmt.Errorf("store/sqlite: retire key %q: zero time", id)
	}
	return s.atomic(ctx, func(ts *Store) error {
		res, err := ts.tq.ExecContext(ctx, `UPDATE keys SET retired_at = ?, expires_at = ?
			WHERE id = ? AND retired_at IS NULL`, toDB(retiredAt), toDB(expiresAt), id)
		if err := mustAffect(res, err, "retire key", id); !errors.Is(err, store.ErrNotFound) {
			return err
		}
		var one int
		err = ts.tq.QueryRowContext(ctx, `SELECT 1 FROM keys WHERE id = ?`, id).Scan(&one)
		if err != nil {
			return mapErr(err, "retire key", id)
		}
		return fmt.Errorf("store/sqlite: retire key %q: retired already: %w", id, store.ErrConflict)
	})
}
