package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/stepup-oidc/stepup/internal/store"
)

var _ store.CIBA = (*Store)(nil)

const cibaCols = `id, client_id, user_id, scope, acr_values, binding_message, authorization_details,
	mode, notification_token, status, acr, amr, auth_time, interval_seconds, last_polled_at,
	created_at, expires_at, decided_at, grant_id, redeemed_at`

func scanCIBA(sc scanner) (store.CIBARequest, error) {
	var (
		r                                                     store.CIBARequest
		acrValues, amr                                        string
		authTime, polled, created, expires, decided, redeemed sql.NullInt64
	)
	if err := sc.Scan(&r.ID, &r.ClientID, &r.UserID, &r.Scope, &acrValues, &r.BindingMessage, &r.AuthorizationDetails,
		&r.Mode, &r.NotificationToken, &r.Status, &r.ACR, &amr, &authTime, &r.IntervalSeconds, &polled,
		&created, &expires, &decided, &r.GrantID, &redeemed); err != nil {
		return store.CIBARequest{}, err
	}
	var err error
	if r.ACRValues, err = decodeList(acrValues); err != nil {
		return store.CIBARequest{}, err
	}
	if r.AMR, err = decodeList(amr); err != nil {
		return store.CIBARequest{}, err
	}
	r.AuthTime, r.LastPolledAt = fromDB(authTime), fromDB(polled)
	r.CreatedAt, r.ExpiresAt, r.DecidedAt, r.RedeemedAt = fromDB(created), fromDB(expires), fromDB(decided), fromDB(redeemed)
	return r, nil
}

// CreateCIBARequest stores r; ErrConflict when its id exists.
func (s *Store) CreateCIBARequest(ctx context.Context, r store.CIBARequest) error {
	acrValues, err := encodeList(r.ACRValues)
	if err != nil {
		return err
	}
	amr, err := encodeList(r.AMR)
	if err != nil {
		return err
	}
	_, err = s.writer().ExecContext(ctx, `INSERT INTO ciba_requests (`+cibaCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.ClientID, r.UserID, r.Scope, acrValues, r.BindingMessage, r.AuthorizationDetails,
		r.Mode, r.NotificationToken, r.Status, r.ACR, amr, toDB(r.AuthTime), r.IntervalSeconds, toDB(r.LastPolledAt),
		toDB(r.CreatedAt), toDB(r.ExpiresAt), toDB(r.DecidedAt), r.GrantID, toDB(r.RedeemedAt))
	return mapErr(err, "create ciba request", r.ID)
}

// GetCIBARequest returns the request; ErrNotFound when unknown.
func (s *Store) GetCIBARequest(ctx context.Context, id string) (store.CIBARequest, error) {
	r, err := scanCIBA(s.reader().QueryRowContext(ctx, `SELECT `+cibaCols+` FROM ciba_requests WHERE id = ?`, id))
	return r, mapErr(err, "get ciba request", id)
}

// ListPendingCIBARequests returns the user's pending requests expiring after
// now (or never), oldest first.
func (s *Store) ListPendingCIBARequests(ctx context.Context, userID string, now time.Time) ([]store.CIBARequest, error) {
	rows, err := s.reader().QueryContext(ctx, `SELECT `+cibaCols+` FROM ciba_requests
		WHERE user_id = ? AND status = ? AND (expires_at IS NULL OR expires_at > ?)
		ORDER BY created_at, id`, userID, store.CIBAPending, now.UnixMicro())
	if err != nil {
		return nil, mapErr(err, "list pending ciba requests of user", userID)
	}
	defer rows.Close()
	var rs []store.CIBARequest
	for rows.Next() {
		r, err := scanCIBA(rows)
		if err != nil {
			return nil, mapErr(err, "list pending ciba requests of user", userID)
		}
		rs = append(rs, r)
	}
	return rs, mapErr(rows.Err(), "list pending ciba requests of user", userID)
}

// DecideCIBARequest moves a pending request to status: ErrConflict when it
// is no longer pending, ErrNotFound when unknown. The single writer
// connection serialises deciders.
func (s *Store) DecideCIBARequest(ctx context.Context, id, status, acr string, amr []string, authTime, at time.Time) error {
	if status != store.CIBAApproved && status != store.CIBADenied {
		return fmt.Errorf("store/sqlite: decide ciba request %q: invalid status %q", id, status)
	}
	if at.IsZero() {
		return fmt.Errorf("store/sqlite: decide ciba request %q: zero time", id)
	}
	amrList, err := encodeList(amr)
	if err != nil {
		return err
	}
	return s.atomic(ctx, func(ts *Store) error {
		res, err := ts.tq.ExecContext(ctx, `UPDATE ciba_requests SET status = ?, acr = ?, amr = ?, auth_time = ?, decided_at = ?
			WHERE id = ? AND status = ?`, status, acr, amrList, toDB(authTime), toDB(at), id, store.CIBAPending)
		if err := mustAffect(res, err, "decide ciba request", id); !errors.Is(err, store.ErrNotFound) {
			return err
		}
		var cur string
		if err := ts.tq.QueryRowContext(ctx, `SELECT status FROM ciba_requests WHERE id = ?`, id).Scan(&cur); err != nil {
			return mapErr(err, "decide ciba request", id)
		}
		return fmt.Errorf("store/sqlite: decide ciba request %q: status is %q: %w", id, cur, store.ErrConflict)
	})
}

// TouchCIBARequest records a poll at now and returns the previous poll time
// (zero for the first); ErrNotFound when unknown.
func (s *Store) TouchCIBARequest(ctx context.Context, id string, now time.Time) (time.Time, error) {
	if now.IsZero() {
		return time.Time{}, fmt.Errorf("store/sqlite: touch ciba request %q: zero time", id)
	}
	var prev time.Time
	err := s.atomic(ctx, func(ts *Store) error {
		var polled sql.NullInt64
		if err := ts.tq.QueryRowContext(ctx, `SELECT last_polled_at FROM ciba_requests WHERE id = ?`, id).Scan(&polled); err != nil {
			return mapErr(err, "touch ciba request", id)
		}
		res, err := ts.tq.ExecContext(ctx, `UPDATE ciba_requests SET last_polled_at = ? WHERE id = ?`, toDB(now), id)
		if err := mustAffect(res, err, "touch ciba request", id); err != nil {
			return err
		}
		prev = fromDB(polled)
		return nil
	})
	if err != nil {
		return time.Time{}, err
	}
	return prev, nil
}

// RedeemCIBARequest marks an approved request redeemed by grantID at now.
// A request redeemed before yields the stored request and ErrAlreadyUsed,
// one not approved the stored request and ErrConflict. The single writer
// connection serialises redeemers.
func (s *Store) RedeemCIBARequest(ctx context.Context, id, grantID string, now time.Time) (store.CIBARequest, error) {
	if now.IsZero() {
		return store.CIBARequest{}, fmt.Errorf("store/sqlite: redeem ciba request %q: zero time", id)
	}
	var (
		r      store.CIBARequest
		result error
	)
	err := s.atomic(ctx, func(ts *Store) error {
		var err error
		r, err = scanCIBA(ts.tq.QueryRowContext(ctx, `UPDATE ciba_requests SET grant_id = ?, redeemed_at = ?
			WHERE id = ? AND status = ? AND redeemed_at IS NULL RETURNING `+cibaCols,
			grantID, toDB(now), id, store.CIBAApproved))
		if err == nil {
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return mapErr(err, "redeem ciba request", id)
		}
		r, err = scanCIBA(ts.tq.QueryRowContext(ctx, `SELECT `+cibaCols+` FROM ciba_requests WHERE id = ?`, id))
		if err != nil {
			return mapErr(err, "redeem ciba request", id)
		}
		if !r.RedeemedAt.IsZero() {
			result = fmt.Errorf("store/sqlite: redeem ciba request %q: %w", id, store.ErrAlreadyUsed)
		} else {
			result = fmt.Errorf("store/sqlite: redeem ciba request %q: status is %q: %w", id, r.Status, store.ErrConflict)
		}
		return nil
	})
	if err != nil {
		return store.CIBARequest{}, err
	}
	return r, result
}
