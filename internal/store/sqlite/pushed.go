package sqlite

import (
	"context"
	"database/sql"

	"github.com/stepup-oidc/stepup/internal/store"
)

const pushedCols = `hash, client_id, payload, created_at, expires_at`

func scanPushed(sc scanner) (store.PushedRequest, error) {
	var (
		r                store.PushedRequest
		created, expires sql.NullInt64
	)
	if err := sc.Scan(&r.Hash, &r.ClientID, &r.Payload, &created, &expires); err != nil {
		return store.PushedRequest{}, err
	}
	r.CreatedAt, r.ExpiresAt = fromDB(created), fromDB(expires)
	return r, nil
}

// CreatePushedRequest stores r; ErrConflict when its hash exists.
func (s *Store) CreatePushedRequest(ctx context.Context, r store.PushedRequest) error {
	payload := r.Payload
	if payload == nil {
		payload = []byte{}
	}
	_, err := s.writer().ExecContext(ctx, `INSERT INTO pushed_requests (`+pushedCols+`) VALUES (?, ?, ?, ?, ?)`,
		r.Hash, r.ClientID, payload, toDB(r.CreatedAt), toDB(r.ExpiresAt))
	return mapErr(err, "create pushed request", r.Hash)
}

// ConsumePushedRequest deletes the request and returns it; ErrNotFound when
// unknown or consumed already. The single writer connection serialises
// consumers, so exactly one of them gets the row.
func (s *Store) ConsumePushedRequest(ctx context.Context, hash string) (store.PushedRequest, error) {
	r, err := scanPushed(s.writer().QueryRowContext(ctx, `DELETE FROM pushed_requests WHERE hash = ?
		RETURNING `+pushedCols, hash))
	if err != nil {
		return store.PushedRequest{}, mapErr(err, "consume pushed request", hash)
	}
	return r, nil
}
