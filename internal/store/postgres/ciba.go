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

var _ store.CIBA = (*Store)(nil)

const cibaCols = `id, client_id, user_id, scope, acr_values, binding_message, authorization_details,
	mode, notification_token, status, acr, amr, auth_time, interval_seconds, last_polled_at,
	created_at, expires_at, decided_at, grant_id, redeemed_at`

func scanCIBA(row scanner) (store.CIBARequest, error) {
	var (
		r                                                     store.CIBARequest
		authTime, polled, created, expires, decided, redeemed pgtype.Timestamptz
	)
	if err := row.Scan(&r.ID, &r.ClientID, &r.UserID, &r.Scope, &r.ACRValues, &r.BindingMessage, &r.AuthorizationDetails,
		&r.Mode, &r.NotificationToken, &r.Status, &r.ACR, &r.AMR, &authTime, &r.IntervalSeconds, &polled,
		&created, &expires, &decided, &r.GrantID, &redeemed); err != nil {
		return store.CIBARequest{}, err
	}
	r.AuthTime, r.LastPolledAt = fromDB(authTime), fromDB(polled)
	r.CreatedAt, r.ExpiresAt, r.DecidedAt, r.RedeemedAt = fromDB(created), fromDB(expires), fromDB(decided), fromDB(redeemed)
	return r, nil
}

// CreateCIBARequest stores r; ErrConflict when its id exists.
func (s *Store) CreateCIBARequest(ctx context.Context, r store.CIBARequest) error {
	tag, err := s.q().Exec(ctx, `INSERT INTO ciba_requests (`+cibaCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
		ON CONFLICT DO NOTHING`,
		r.ID, r.ClientID, r.UserID, r.Scope, list(r.ACRValues), r.BindingMessage, r.AuthorizationDetails,
		r.Mode, r.NotificationToken, r.Status, r.ACR, list(r.AMR), toDB(r.AuthTime), r.IntervalSeconds, toDB(r.LastPolledAt),
		toDB(r.CreatedAt), toDB(r.ExpiresAt), toDB(r.DecidedAt), r.GrantID, toDB(r.RedeemedAt))
	return mustInsert(tag, err, "create ciba request", r.ID)
}

// GetCIBARequest returns the request; ErrNotFound when unknown.
func (s *Store) GetCIBARequest(ctx context.Context, id string) (store.CIBARequest, error) {
	r, err := scanCIBA(s.q().QueryRow(ctx, `SELECT `+cibaCols+` FROM ciba_requests WHERE id = $1`, id))
	return r, mapErr(err, "get ciba request", id)
}

// ListPendingCIBARequests returns the user's pending requests expiring after
// now (or never), oldest first.
func (s *Store) ListPendingCIBARequests(ctx context.Context, userID string, now time.Time) ([]store.CIBARequest, error) {
	rows, err := s.q().Query(ctx, `SELECT `+cibaCols+` FROM ciba_requests
		WHERE user_id = $1 AND status = $2 AND (expires_at IS NULL OR expires_at > $3)
		ORDER BY created_at NULLS FIRST, id COLLATE "C"`, userID, store.CIBAPending, normTime(now))
	if err != nil {
		return nil, mapErr(err, "list pending ciba requests of user", userID)
	}
	rs, err := collect(rows, scanCIBA)
	return rs, mapErr(err, "list pending ciba requests of user", userID)
}

// DecideCIBARequest moves a pending request to status: ErrConflict when it
// is no longer pending, ErrNotFound when unknown. Concurrent UPDATEs of the
// row wait for each other and re-check the status, so exactly one succeeds.
func (s *Store) DecideCIBARequest(ctx context.Context, id, status, acr string, amr []string, authTime, at time.Time) error {
	if status != store.CIBAApproved && status != store.CIBADenied {
		return fmt.Errorf("store/postgres: decide ciba request %q: invalid status %q", id, status)
	}
	if at.IsZero() {
		return fmt.Errorf("store/postgres: decide ciba request %q: zero time", id)
	}
	q := s.q()
	tag, err := q.Exec(ctx, `UPDATE ciba_requests SET status = $2, acr = $3, amr = $4, auth_time = $5, decided_at = $6
		WHERE id = $1 AND status = $7`, id, status, acr, list(amr), toDB(authTime), toDB(at), store.CIBAPending)
	if err := mustAffect(tag, err, "decide ciba request", id); !errors.Is(err, store.ErrNotFound) {
		return err
	}
	var cur string
	if err := q.QueryRow(ctx, `SELECT status FROM ciba_requests WHERE id = $1`, id).Scan(&cur); err != nil {
		return mapErr(err, "decide ciba request", id)
	}
	return fmt.Errorf("store/postgres: decide ciba request %q: status is %q: %w", id, cur, store.ErrConflict)
}

// TouchCIBARequest records a poll at now and returns the previous poll time
// (zero for the first); ErrNotFound when unknown. The row lock taken by the
// subquery makes concurrent touches see each other's writes.
func (s *Store) TouchCIBARequest(ctx context.Context, id string, now time.Time) (time.Time, error) {
	if now.IsZero() {
		return time.Time{}, fmt.Errorf("store/postgres: touch ciba request %q: zero time", id)
	}
	var prev pgtype.Timestamptz
	err := s.q().QueryRow(ctx, `UPDATE ciba_requests c SET last_polled_at = $2
		FROM (SELECT id, last_polled_at FROM ciba_requests WHERE id = $1 FOR UPDATE) old
		WHERE c.id = old.id RETURNING old.last_polled_at`, id, toDB(now)).Scan(&prev)
	if err != nil {
		return time.Time{}, mapErr(err, "touch ciba request", id)
	}
	return fromDB(prev), nil
}

// RedeemCIBARequest marks an approved request redeemed by grantID at now.
// A request redeemed before yields the stored request and ErrAlreadyUsed,
// one not approved the stored request and ErrConflict. Concurrent UPDATEs
// of the row wait for each other and re-check redeemed_at, so exactly one
// succeeds.
func (s *Store) RedeemCIBARequest(ctx context.Context, id, grantID string, now time.Time) (store.CIBARequest, error) {
	if now.IsZero() {
		return store.CIBARequest{}, fmt.Errorf("store/postgres: redeem ciba request %q: zero time", id)
	}
	q := s.q()
	r, err := scanCIBA(q.QueryRow(ctx, `UPDATE ciba_requests SET grant_id = $2, redeemed_at = $3
		WHERE id = $1 AND status = $4 AND redeemed_at IS NULL RETURNING `+cibaCols,
		id, grantID, toDB(now), store.CIBAApproved))
	if err == nil {
		return r, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return store.CIBARequest{}, mapErr(err, "redeem ciba request", id)
	}
	r, err = scanCIBA(q.QueryRow(ctx, `SELECT `+cibaCols+` FROM ciba_requests WHERE id = $1`, id))
	if err != nil {
		return store.CIBARequest{}, mapErr(err, "redeem ciba request", id)
	}
	if !r.RedeemedAt.IsZero() {
		return r, fmt.Errorf("store/postgres: redeem ciba request %q: %w", id, store.ErrAlreadyUsed)
	}
	return r, fmt.Errorf("store/postgres: redeem ciba request %q: status is %q: %w", id, r.Status, store.ErrConflict)
}
