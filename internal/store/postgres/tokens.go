package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/stepup-oidc/stepup/internal/store"
)

const codeCols = `hash, client_id, redirect_uri, user_id, session_id, scope, nonce,
	code_challenge, code_challenge_method, acr, amr, auth_time, authorization_details, created_at, expires_at,
	grant_id, consumed_at`

func scanCode(row scanner) (store.Code, error) {
	var (
		c                                    store.Code
		authTime, created, expires, consumed pgtype.Timestamptz
	)
	if err := row.Scan(&c.Hash, &c.ClientID, &c.RedirectURI, &c.UserID, &c.SessionID, &c.Scope, &c.Nonce,
		&c.CodeChallenge, &c.CodeChallengeMethod, &c.ACR, &c.AMR, &authTime, &c.AuthorizationDetails, &created, &expires,
		&c.GrantID, &consumed); err != nil {
		return store.Code{}, err
	}
	c.AuthTime, c.CreatedAt, c.ExpiresAt, c.ConsumedAt = fromDB(authTime), fromDB(created), fromDB(expires), fromDB(consumed)
	return c, nil
}

// CreateCode stores c; ErrConflict when its hash exists.
func (s *Store) CreateCode(ctx context.Context, c store.Code) error {
	tag, err := s.q().Exec(ctx, `INSERT INTO codes (`+codeCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
		ON CONFLICT DO NOTHING`,
		c.Hash, c.ClientID, c.RedirectURI, c.UserID, c.SessionID, c.Scope, c.Nonce,
		c.CodeChallenge, c.CodeChallengeMethod, c.ACR, list(c.AMR), toDB(c.AuthTime), c.AuthorizationDetails,
		toDB(c.CreatedAt), toDB(c.ExpiresAt), c.GrantID, toDB(c.ConsumedAt))
	return mustInsert(tag, err, "create code", c.Hash)
}

// ConsumeCode marks the code consumed by grantID at now unless it was
// consumed before, in which case it returns the stored code and
// ErrAlreadyUsed. Concurrent UPDATEs of the row wait for each other and
// re-check consumed_at, so exactly one succeeds.
func (s *Store) ConsumeCode(ctx context.Context, hash, grantID string, now time.Time) (store.Code, error) {
	if now.IsZero() {
		return store.Code{}, errors.New("store/postgres: consume code: zero time")
	}
	q := s.q()
	c, err := scanCode(q.QueryRow(ctx, `UPDATE codes SET grant_id = $2, consumed_at = $3
		WHERE hash = $1 AND consumed_at IS NULL RETURNING `+codeCols, hash, grantID, toDB(now)))
	if err == nil {
		return c, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return store.Code{}, mapErr(err, "consume code", hash)
	}
	c, err = scanCode(q.QueryRow(ctx, `SELECT `+codeCols+` FROM codes WHERE hash = $1`, hash))
	if err != nil {
		return store.Code{}, mapErr(err, "consume code", hash)
	}
	return c, fmt.Errorf("store/postgres: consume code %q: %w", hash, store.ErrAlreadyUsed)
}

const grantCols = `id, client_id, user_id, session_id, scope, acr, amr, auth_time, authorization_details,
	created_at, expires_at, revoked_at`

func scanGrant(row scanner) (store.Grant, error) {
	var (
		g                                   store.Grant
		authTime, created, expires, revoked pgtype.Timestamptz
	)
	if err := row.Scan(&g.ID, &g.ClientID, &g.UserID, &g.SessionID, &g.Scope, &g.ACR, &g.AMR,
		&authTime, &g.AuthorizationDetails, &created, &expires, &revoked); err != nil {
		return store.Grant{}, err
	}
	g.AuthTime, g.CreatedAt, g.ExpiresAt, g.RevokedAt = fromDB(authTime), fromDB(created), fromDB(expires), fromDB(revoked)
	return g, nil
}

// CreateGrant stores g; ErrConflict when its id exists.
func (s *Store) CreateGrant(ctx context.Context, g store.Grant) error {
	tag, err := s.q().Exec(ctx, `INSERT INTO grants (`+grantCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING`,
		g.ID, g.ClientID, g.UserID, g.SessionID, g.Scope, g.ACR, list(g.AMR),
		toDB(g.AuthTime), g.AuthorizationDetails, toDB(g.CreatedAt), toDB(g.ExpiresAt), toDB(g.RevokedAt))
	return mustInsert(tag, err, "create grant", g.ID)
}

// GetGrant returns the grant; ErrNotFound when unknown.
func (s *Store) GetGrant(ctx context.Context, id string) (store.Grant, error) {
	g, err := scanGrant(s.q().QueryRow(ctx, `SELECT `+grantCols+` FROM grants WHERE id = $1`, id))
	return g, mapErr(err, "get grant", id)
}

// RevokeGrant sets RevokedAt unless already set; ErrNotFound when unknown.
func (s *Store) RevokeGrant(ctx context.Context, id string, at time.Time) error {
	if at.IsZero() {
		return fmt.Errorf("store/postgres: revoke grant %q: zero time", id)
	}
	tag, err := s.q().Exec(ctx, `UPDATE grants SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1`, id, toDB(at))
	return mustAffect(tag, err, "revoke grant", id)
}

const refreshCols = `hash, grant_id, client_id, created_at, expires_at, used_at`

func scanRefresh(row scanner) (store.RefreshToken, error) {
	var (
		rt                  store.RefreshToken
		created, exp, usedA pgtype.Timestamptz
	)
	if err := row.Scan(&rt.Hash, &rt.GrantID, &rt.ClientID, &created, &exp, &usedA); err != nil {
		return store.RefreshToken{}, err
	}
	rt.CreatedAt, rt.ExpiresAt, rt.UsedAt = fromDB(created), fromDB(exp), fromDB(usedA)
	return rt, nil
}

// CreateRefreshToken stores rt; ErrConflict when its hash exists.
func (s *Store) CreateRefreshToken(ctx context.Context, rt store.RefreshToken) error {
	tag, err := s.q().Exec(ctx, `INSERT INTO refresh_tokens (`+refreshCols+`)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
		rt.Hash, rt.GrantID, rt.ClientID, toDB(rt.CreatedAt), toDB(rt.ExpiresAt), toDB(rt.UsedAt))
	return mustInsert(tag, err, "create refresh token", rt.Hash)
}

// GetRefreshToken returns the token; ErrNotFound when unknown.
func (s *Store) GetRefreshToken(ctx context.Context, hash string) (store.RefreshToken, error) {
	rt, err := scanRefresh(s.q().QueryRow(ctx, `SELECT `+refreshCols+` FROM refresh_tokens WHERE hash = $1`, hash))
	return rt, mapErr(err, "get refresh token", hash)
}

// UseRefreshToken marks the token used at now unless it was used before, in
// which case it returns the stored token and ErrAlreadyUsed.
func (s *Store) UseRefreshToken(ctx context.Context, hash string, now time.Time) (store.RefreshToken, error) {
	if now.IsZero() {
		return store.RefreshToken{}, errors.New("store/postgres: use refresh token: zero time")
	}
	q := s.q()
	rt, err := scanRefresh(q.QueryRow(ctx, `UPDATE refresh_tokens SET used_at = $2
		WHERE hash = $1 AND used_at IS NULL RETURNING `+refreshCols, hash, toDB(now)))
	if err == nil {
		return rt, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return store.RefreshToken{}, mapErr(err, "use refresh token", hash)
	}
	rt, err = scanRefresh(q.QueryRow(ctx, `SELECT `+refreshCols+` FROM refresh_tokens WHERE hash = $1`, hash))
	if err != nil {
		return store.RefreshToken{}, mapErr(err, "use refresh token", hash)
	}
	return rt, fmt.Errorf("store/postgres: use refresh token %q: %w", hash, store.ErrAlreadyUsed)
}

const keyCols = `id, use, alg, private, created_at, retired_at, expires_at`

func scanKey(row scanner) (store.Key, error) {
	var (
		k                         store.Key
		created, retired, expires pgtype.Timestamptz
	)
	if err := row.Scan(&k.ID, &k.Use, &k.Alg, &k.Private, &created, &retired, &expires); err != nil {
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
	tag, err := s.q().Exec(ctx, `INSERT INTO keys (`+keyCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT DO NOTHING`,
		k.ID, k.Use, k.Alg, priv, toDB(k.CreatedAt), toDB(k.RetiredAt), toDB(k.ExpiresAt))
	return mustInsert(tag, err, "create key", k.ID)
}

// ListKeys returns all keys, newest first.
func (s *Store) ListKeys(ctx context.Context) ([]store.Key, error) {
	rows, err := s.q().Query(ctx, `SELECT `+keyCols+` FROM keys
		ORDER BY created_at DESC NULLS LAST, id COLLATE "C" DESC`)
	if err != nil {
		return nil, mapErr(err, "list keys", "")
	}
	ks, err := collect(rows, scanKey)
	return ks, mapErr(err, "list keys", "")
}

// RetireKey sets RetiredAt and ExpiresAt of an active key: ErrNotFound when
// the key is unknown, ErrConflict when it is retired already.
func (s *Store) RetireKey(ctx context.Context, id string, retiredAt, expiresAt time.Time) error {
	if retiredAt.IsZero() {
		return fmt.Errorf("store/postgres: retire key %q: zero time", id)
	}
	q := s.q()
	tag, err := q.Exec(ctx, `UPDATE keys SET retired_at = $2, expires_at = $3 WHERE id = $1 AND retired_at IS NULL`,
		id, toDB(retiredAt), toDB(expiresAt))
	if err := mustAffect(tag, err, "retire key", id); !errors.Is(err, store.ErrNotFound) {
		return err
	}
	var exists bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM keys WHERE id = $1)`, id).Scan(&exists); err != nil {
		return mapErr(err, "retire key", id)
	}
	if !exists {
		return fmt.Errorf("store/postgres: retire key %q: %w", id, store.ErrNotFound)
	}
	return fmt.Errorf("store/postgres: retire key %q: retired already: %w", id, store.ErrConflict)
}
