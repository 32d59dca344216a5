package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/stepup-oidc/stepup/internal/store"
)

const credentialCols = `id, user_id, type, name, secret, counter, backup_eligible, backup_state,
	user_verified, attested, aaguid, created_at, last_used_at`

func scanCredential(row scanner) (store.Credential, error) {
	var (
		c             store.Credential
		created, used pgtype.Timestamptz
	)
	if err := row.Scan(&c.ID, &c.UserID, &c.Type, &c.Name, &c.Secret, &c.Counter, &c.BackupEligible, &c.BackupState,
		&c.UserVerified, &c.Attested, &c.AAGUID, &created, &used); err != nil {
		return store.Credential{}, err
	}
	c.CreatedAt, c.LastUsedAt = fromDB(created), fromDB(used)
	return c, nil
}

// CreateCredential stores c; ErrConflict when its id exists.
func (s *Store) CreateCredential(ctx context.Context, c store.Credential) error {
	secret := c.Secret
	if secret == nil {
		secret = []byte{}
	}
	tag, err := s.q().Exec(ctx, `INSERT INTO credentials (`+credentialCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT DO NOTHING`,
		c.ID, c.UserID, c.Type, c.Name, secret, c.Counter, c.BackupEligible, c.BackupState,
		c.UserVerified, c.Attested, c.AAGUID, toDB(c.CreatedAt), toDB(c.LastUsedAt))
	return mustInsert(tag, err, "create credential", c.ID)
}

// GetCredential returns the credential; ErrNotFound when unknown.
func (s *Store) GetCredential(ctx context.Context, id string) (store.Credential, error) {
	c, err := scanCredential(s.q().QueryRow(ctx, `SELECT `+credentialCols+` FROM credentials WHERE id = $1`, id))
	return c, mapErr(err, "get credential", id)
}

// ListCredentials returns the user's credentials, oldest first.
func (s *Store) ListCredentials(ctx context.Context, userID string) ([]store.Credential, error) {
	rows, err := s.q().Query(ctx, `SELECT `+credentialCols+` FROM credentials WHERE user_id = $1
		ORDER BY created_at NULLS FIRST, id COLLATE "C"`, userID)
	if err != nil {
		return nil, mapErr(err, "list credentials of user", userID)
	}
	cs, err := collect(rows, scanCredential)
	return cs, mapErr(err, "list credentials of user", userID)
}

// UseCredential records a use at counter n if n is above the stored counter
// or both are zero: ErrConflict otherwise, ErrNotFound when unknown.
// Concurrent UPDATEs of the row wait for each other and re-check the
// counter, so of callers with the same n exactly one succeeds.
func (s *Store) UseCredential(ctx context.Context, id string, n int64, at time.Time) error {
	q := s.q()
	tag, err := q.Exec(ctx, `UPDATE credentials SET counter = $2, last_used_at = $3
		WHERE id = $1 AND (counter < $2 OR (counter = 0 AND $2 = 0))`, id, n, toDB(at))
	if err := mustAffect(tag, err, "use credential", id); !errors.Is(err, store.ErrNotFound) {
		return err
	}
	var counter int64
	if err := q.QueryRow(ctx, `SELECT counter FROM credentials WHERE id = $1`, id).Scan(&counter); err != nil {
		return mapErr(err, "use credential", id)
	}
	return fmt.Errorf("store/postgres: use credential %q: counter %d is not above %d: %w", id, n, counter, store.ErrConflict)
}

// UpdateCredential replaces the mutable fields, Name and BackupState.
func (s *Store) UpdateCredential(ctx context.Context, c store.Credential) error {
	tag, err := s.q().Exec(ctx, `UPDATE credentials SET name = $2, backup_state = $3 WHERE id = $1`,
		c.ID, c.Name, c.BackupState)
	return mustAffect(tag, err, "update credential", c.ID)
}

// DeleteCredential removes the credential; ErrNotFound when unknown, so of
// concurrent deletions exactly one succeeds.
func (s *Store) DeleteCredential(ctx context.Context, id string) error {
	tag, err := s.q().Exec(ctx, `DELETE FROM credentials WHERE id = $1`, id)
	return mustAffect(tag, err, "delete credential", id)
}

// CreateLink stores l; ErrConflict when (Upstream, Subject) is linked.
func (s *Store) CreateLink(ctx context.Context, l store.Link) error {
	tag, err := s.q().Exec(ctx, `INSERT INTO links (upstream, subject, user_id, created_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT DO NOTHING`, l.Upstream, l.Subject, l.UserID, toDB(l.CreatedAt))
	return mustInsert(tag, err, "create link", l.Upstream+" "+l.Subject)
}

// GetLink returns the link of the upstream subject; ErrNotFound when none.
func (s *Store) GetLink(ctx context.Context, upstream, subject string) (store.Link, error) {
	var (
		l       store.Link
		created pgtype.Timestamptz
	)
	err := s.q().QueryRow(ctx, `SELECT upstream, subject, user_id, created_at FROM links
		WHERE upstream = $1 AND subject = $2`, upstream, subject).Scan(&l.Upstream, &l.Subject, &l.UserID, &created)
	if err != nil {
		return store.Link{}, mapErr(err, "get link", upstream+" "+subject)
	}
	l.CreatedAt = fromDB(created)
	return l, nil
}
