package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/stepup-oidc/stepup/internal/store"
)

const credentialCols = `id, user_id, type, name, secret, counter, backup_eligible, backup_state,
	user_verified, attested, aaguid, created_at, last_used_at`

func scanCredential(sc scanner) (store.Credential, error) {
	var (
		c             store.Credential
		created, used sql.NullInt64
	)
	if err := sc.Scan(&c.ID, &c.UserID, &c.Type, &c.Name, &c.Secret, &c.Counter, &c.BackupEligible, &c.BackupState,
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
	_, err := s.writer().ExecContext(ctx, `INSERT INTO credentials (`+credentialCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.UserID, c.Type, c.Name, secret, c.Counter, c.BackupEligible, c.BackupState,
		c.UserVerified, c.Attested, c.AAGUID, toDB(c.CreatedAt), toDB(c.LastUsedAt))
	return mapErr(err, "create credential", c.ID)
}

// GetCredential returns the credential; ErrNotFound when unknown.
func (s *Store) GetCredential(ctx context.Context, id string) (store.Credential, error) {
	c, err := scanCredential(s.reader().QueryRowContext(ctx, `SELECT `+credentialCols+` FROM credentials WHERE id = ?`, id))
	return c, mapErr(err, "get credential", id)
}

// ListCredentials returns the user's credentials, oldest first.
func (s *Store) ListCredentials(ctx context.Context, userID string) ([]store.Credential, error) {
	rows, err := s.reader().QueryContext(ctx, `SELECT `+credentialCols+` FROM credentials WHERE user_id = ?
		ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, mapErr(err, "list credentials of user", userID)
	}
	defer rows.Close()
	var cs []store.Credential
	for rows.Next() {
		c, err := scanCredential(rows)
		if err != nil {
			return nil, mapErr(err, "list credentials of user", userID)
		}
		cs = append(cs, c)
	}
	return cs, mapErr(rows.Err(), "list credentials of user", userID)
}

// UseCredential records a use at counter n if n is above the stored counter
// or both are zero: ErrConflict otherwise, ErrNotFound when unknown.
func (s *Store) UseCredential(ctx context.Context, id string, n int64, at time.Time) error {
	return s.atomic(ctx, func(ts *Store) error {
		res, err := ts.tq.ExecContext(ctx, `UPDATE credentials SET counter = ?1, last_used_at = ?2
			WHERE id = ?3 AND (counter < ?1 OR (counter = 0 AND ?1 = 0))`, n, toDB(at), id)
		if err := mustAffect(res, err, "use credential", id); !errors.Is(err, store.ErrNotFound) {
			return err
		}
		var counter int64
		if err := ts.tq.QueryRowContext(ctx, `SELECT counter FROM credentials WHERE id = ?`, id).Scan(&counter); err != nil {
			return mapErr(err, "use credential", id)
		}
		return fmt.Errorf("store/sqlite: use credential %q: counter %d is not above %d: %w", id, n, counter, store.ErrConflict)
	})
}

// UpdateCredential replaces the mutable fields, Name and BackupState.
func (s *Store) UpdateCredential(ctx context.Context, c store.Credential) error {
	res, err := s.writer().ExecContext(ctx, `UPDATE credentials SET name = ?, backup_state = ? WHERE id = ?`,
		c.Name, c.BackupState, c.ID)
	return mustAffect(res, err, "update credential", c.ID)
}

// DeleteCredential removes the credential; ErrNotFound when unknown, so of
// concurrent deletions exactly one succeeds.
func (s *Store) DeleteCredential(ctx context.Context, id string) error {
	res, err := s.writer().ExecContext(ctx, `DELETE FROM credentials WHERE id = ?`, id)
	return mustAffect(res, err, "delete credential", id)
}

// CreateLink stores l; ErrConflict when (Upstream, Subject) is linked.
func (s *Store) CreateLink(ctx context.Context, l store.Link) error {
	_, err := s.writer().ExecContext(ctx, `INSERT INTO links (upstream, subject, user_id, created_at) VALUES (?, ?, ?, ?)`,
		l.Upstream, l.Subject, l.UserID, toDB(l.CreatedAt))
	return mapErr(err, "create link", l.Upstream+" "+l.Subject)
}

// GetLink returns the link of the upstream subject; ErrNotFound when none.
func (s *Store) GetLink(ctx context.Context, upstream, subject string) (store.Link, error) {
	var (
		l       store.Link
		created sql.NullInt64
	)
	err := s.reader().QueryRowContext(ctx, `SELECT upstream, subject, user_id, created_at FROM links
		WHERE upstream = ? AND subject = ?`, upstream, subject).Scan(&l.Upstream, &l.Subject, &l.UserID, &created)
	if err != nil {
		return store.Link{}, mapErr(err, "get link", upstream+" "+subject)
	}
	l.CreatedAt = fromDB(created)
	return l, nil
}
