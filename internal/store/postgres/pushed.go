package postgres

import (
	"context"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/stepup-oidc/stepup/internal/store"
)

const pushedCols = `hash, client_id, payload, created_at, expires_at`

func scanPushed(row scanner) (store.PushedRequest, error) {
	var (
		r                store.PushedRequest
		created, expires pgtype.Timestamptz
	)
	if err := row.Scan(&r.Hash, &r.ClientID, &r.Payload, &created, &expires); err != nil {
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
	tag, err := s.q().Exec(ctx, `INSERT INTO pushed_requests (`+pushedCols+`) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT DO NOTHING`,
		r.Hash, r.ClientID, payload, toDB(r.CreatedAt), toDB(r.ExpiresAt))
	return mustInsert(tag, err, "create pushed request", r.Hash)
}

// ConsumePushedRequest deletes the request and returns it; ErrNotFound when
// unknown or consumed already. Concurrent DELETEs of the row wait for each
// other, and the ones that waited find it gone, so exactly one gets it.
func (s *Store) ConsumePushedRequest(ctx context.Context, hash string) (store.PushedRequest, error) {
	r, err := scanPushed(s.q().QueryRow(ctx, `DELETE FROM pushed_requests WHERE hash = $1 RETURNING `+pushedCols, hash))
	if err != nil {
		return store.PushedRequest{}, mapErr(err, "consume pushed request", hash)
	}
	return r, nil
}
