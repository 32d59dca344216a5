package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/stepup-oidc/stepup/internal/authn"
	"github.com/stepup-oidc/stepup/internal/store"
)

func encodeEvent(e authn.Event) ([]byte, error) {
	e.Time = normTime(e.Time)
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("store/postgres: encode event: %w", err)
	}
	return b, nil
}

// insertEvents appends es to the session's history, numbering them after
// the last seq handed out (the UPDATE locks the session row until the
// transaction ends); ErrNotFound when the session does not exist. It must
// run inside a transaction.
func (s *Store) insertEvents(ctx context.Context, sessionID string, es []authn.Event) error {
	if len(es) == 0 {
		return nil
	}
	var last int64
	err := s.tx.QueryRow(ctx, `UPDATE sessions SET event_seq = event_seq + $1 WHERE id = $2 RETURNING event_seq`,
		int64(len(es)), sessionID).Scan(&last)
	if err != nil {
		return mapErr(err, "append event to session", sessionID)
	}
	first := last - int64(len(es)) + 1
	for i, e := range es {
		js, err := encodeEvent(e)
		if err != nil {
			return err
		}
		if _, err := s.tx.Exec(ctx, `INSERT INTO session_events (session_id, seq, event) VALUES ($1, $2, $3)`,
			sessionID, first+int64(i), js); err != nil {
			return mapErr(err, "append event to session", sessionID)
		}
	}
	return nil
}

// CreateSession stores the session and its initial events.
func (s *Store) CreateSession(ctx context.Context, sess store.Session) error {
	return s.atomic(ctx, func(ts *Store) error {
		tag, err := ts.tx.Exec(ctx, `INSERT INTO sessions (id, handle_hash, user_id, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
			sess.ID, sess.HandleHash, sess.UserID, toDB(sess.CreatedAt), toDB(sess.ExpiresAt))
		if err := mustInsert(tag, err, "create session", sess.ID); err != nil {
			return err
		}
		return ts.insertEvents(ctx, sess.ID, sess.Events)
	})
}

// sessionSelect reads sessions with their events aggregated in one
// statement, hence one snapshot.
const sessionSelect = `SELECT s.id, s.handle_hash, s.user_id, s.created_at, s.expires_at,
	COALESCE((SELECT jsonb_agg(e.event ORDER BY e.seq) FROM session_events e WHERE e.session_id = s.id), '[]')
	FROM sessions s `

func scanSession(row scanner) (store.Session, error) {
	var (
		sess             store.Session
		created, expires pgtype.Timestamptz
		events           []byte
	)
	if err := row.Scan(&sess.ID, &sess.HandleHash, &sess.UserID, &created, &expires, &events); err != nil {
		return store.Session{}, err
	}
	sess.CreatedAt, sess.ExpiresAt = fromDB(created), fromDB(expires)
	if err := json.Unmarshal(events, &sess.Events); err != nil {
		return store.Session{}, fmt.Errorf("store/postgres: decode events of session %q: %w", sess.ID, err)
	}
	for i := range sess.Events {
		sess.Events[i].Time = normTime(sess.Events[i].Time)
	}
	return sess, nil
}

// GetSessionByHandle returns the session with the handle hash and its events.
func (s *Store) GetSessionByHandle(ctx context.Context, handleHash string) (store.Session, error) {
	sess, err := scanSession(s.q().QueryRow(ctx, sessionSelect+`WHERE s.handle_hash = $1`, handleHash))
	return sess, mapErr(err, "get session by handle", handleHash)
}

// GetSession returns the session and its events.
func (s *Store) GetSession(ctx context.Context, id string) (store.Session, error) {
	sess, err := scanSession(s.q().QueryRow(ctx, sessionSelect+`WHERE s.id = $1`, id))
	return sess, mapErr(err, "get session", id)
}

// AppendEvent adds e to the session's history; ErrNotFound when unknown.
func (s *Store) AppendEvent(ctx context.Context, sessionID string, e authn.Event) error {
	return s.atomic(ctx, func(ts *Store) error {
		return ts.insertEvents(ctx, sessionID, []authn.Event{e})
	})
}

// RotateSessionHandle replaces the handle hash if it still is oldHash.
func (s *Store) RotateSessionHandle(ctx context.Context, sessionID, oldHash, newHash string) error {
	return s.guarded(ctx, func(q querier) error {
		tag, err := q.Exec(ctx, `UPDATE sessions SET handle_hash = $3 WHERE id = $1 AND handle_hash = $2`,
			sessionID, oldHash, newHash)
		return mustAffect(tag, err, "rotate handle of session", sessionID)
	})
}

// ListUserSessions returns the user's sessions with their events, newest
// first.
func (s *Store) ListUserSessions(ctx context.Context, userID string) ([]store.Session, error) {
	rows, err := s.q().Query(ctx, sessionSelect+`WHERE s.user_id = $1
		ORDER BY s.created_at DESC NULLS LAST, s.id COLLATE "C" DESC`, userID)
	if err != nil {
		return nil, mapErr(err, "list sessions of user", userID)
	}
	ss, err := collect(rows, scanSession)
	return ss, mapErr(err, "list sessions of user", userID)
}

// DeleteSession removes the session and its events; ErrNotFound when
// unknown.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	tag, err := s.q().Exec(ctx, `DELETE FROM sessions WHERE id = $1`, id)
	return mustAffect(tag, err, "delete session", id)
}
