package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/stepup-oidc/stepup/internal/authn"
	"github.com/stepup-oidc/stepup/internal/store"
)

func encodeEvent(e authn.Event) (string, error) {
	e.Time = normTime(e.Time)
	b, err := json.Marshal(e)
	if err != nil {
		return "", fmt.Errorf("store/sqlite: encode event: %w", err)
	}
	return string(b), nil
}

func decodeEvent(s string) (authn.Event, error) {
	var e authn.Event
	if err := json.Unmarshal([]byte(s), &e); err != nil {
		return authn.Event{}, fmt.Errorf("store/sqlite: decode event: %w", err)
	}
	e.Time = normTime(e.Time)
	return e, nil
}

// insertEvents appends es to the session's history, numbering them after
// the last seq handed out; ErrNotFound when the session does not exist.
// It must run inside a transaction.
func (s *Store) insertEvents(ctx context.Context, sessionID string, es []authn.Event) error {
	if len(es) == 0 {
		return nil
	}
	var last int64
	err := s.tq.QueryRowContext(ctx, `UPDATE sessions SET event_seq = event_seq + ? WHERE id = ? RETURNING event_seq`,
		len(es), sessionID).Scan(&last)
	if err != nil {
		return mapErr(err, "append event to session", sessionID)
	}
	first := last - int64(len(es)) + 1
	for i, e := range es {
		js, err := encodeEvent(e)
		if err != nil {
			return err
		}
		if _, err := s.tq.ExecContext(ctx, `INSERT INTO session_events (session_id, seq, event) VALUES (?, ?, ?)`,
			sessionID, first+int64(i), js); err != nil {
			return mapErr(err, "append event to session", sessionID)
		}
	}
	return nil
}

// CreateSession stores the session and its initial events.
func (s *Store) CreateSession(ctx context.Context, sess store.Session) error {
	return s.atomic(ctx, func(ts *Store) error {
		if _, err := ts.tq.ExecContext(ctx, `INSERT INTO sessions (id, handle_hash, user_id, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?)`,
			sess.ID, sess.HandleHash, sess.UserID, toDB(sess.CreatedAt), toDB(sess.ExpiresAt)); err != nil {
			return mapErr(err, "create session", sess.ID)
		}
		return ts.insertEvents(ctx, sess.ID, sess.Events)
	})
}

const sessionCols = `id, handle_hash, user_id, created_at, expires_at`

func scanSession(sc scanner) (store.Session, error) {
	var (
		sess             store.Session
		created, expires sql.NullInt64
	)
	if err := sc.Scan(&sess.ID, &sess.HandleHash, &sess.UserID, &created, &expires); err != nil {
		return store.Session{}, err
	}
	sess.CreatedAt, sess.ExpiresAt = fromDB(created), fromDB(expires)
	return sess, nil
}

// getSession reads one session and its events through q, which must see one
// snapshot for both queries: a transaction.
func getSession(ctx context.Context, q querier, where, key string) (store.Session, error) {
	sess, err := scanSession(q.QueryRowContext(ctx, `SELECT `+sessionCols+` FROM sessions WHERE `+where+` = ?`, key))
	if err != nil {
		return store.Session{}, mapErr(err, "get session", key)
	}
	evs, err := loadEvents(ctx, q, `session_id = ?`, sess.ID)
	if err != nil {
		return store.Session{}, err
	}
	sess.Events = evs[sess.ID]
	return sess, nil
}

// loadEvents returns the events of the sessions matching where, by session
// id, oldest first.
func loadEvents(ctx context.Context, q querier, where string, arg any) (map[string][]authn.Event, error) {
	rows, err := q.QueryContext(ctx, `SELECT session_id, event FROM session_events WHERE `+where+`
		ORDER BY session_id, seq`, arg)
	if err != nil {
		return nil, mapErr(err, "load session events", "")
	}
	defer rows.Close()
	m := map[string][]authn.Event{}
	for rows.Next() {
		var id, js string
		if err := rows.Scan(&id, &js); err != nil {
			return nil, mapErr(err, "load session events", "")
		}
		e, err := decodeEvent(js)
		if err != nil {
			return nil, err
		}
		m[id] = append(m[id], e)
	}
	return m, mapErr(rows.Err(), "load session events", "")
}

// readTx runs fn with a querier that sees one consistent snapshot: s's
// transaction, or a read-only transaction on the reader pool.
func (s *Store) readTx(ctx context.Context, fn func(q querier) error) error {
	if s.tx != nil {
		return fn(s.tq)
	}
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("store/sqlite: begin read: %w", err)
	}
	tq := newTxQuerier(tx, s.rs)
	defer tq.finish(ctx) // runs after the rollback below
	defer tx.Rollback()
	return fn(tq)
}

// GetSessionByHandle returns the session with the handle hash and its events.
func (s *Store) GetSessionByHandle(ctx context.Context, handleHash string) (store.Session, error) {
	var sess store.Session
	err := s.readTx(ctx, func(q querier) (err error) {
		sess, err = getSession(ctx, q, "handle_hash", handleHash)
		return err
	})
	return sess, err
}

// GetSession returns the session and its events.
func (s *Store) GetSession(ctx context.Context, id string) (store.Session, error) {
	var sess store.Session
	err := s.readTx(ctx, func(q querier) (err error) {
		sess, err = getSession(ctx, q, "id", id)
		return err
	})
	return sess, err
}

// AppendEvent adds e to the session's history; ErrNotFound when unknown.
func (s *Store) AppendEvent(ctx context.Context, sessionID string, e authn.Event) error {
	return s.atomic(ctx, func(ts *Store) error {
		return ts.insertEvents(ctx, sessionID, []authn.Event{e})
	})
}

// RotateSessionHandle replaces the handle hash if it still is oldHash.
func (s *Store) RotateSessionHandle(ctx context.Context, sessionID, oldHash, newHash string) error {
	res, err := s.writer().ExecContext(ctx, `UPDATE sessions SET handle_hash = ? WHERE id = ? AND handle_hash = ?`,
		newHash, sessionID, oldHash)
	return mustAffect(res, err, "rotate handle of session", sessionID)
}

// ListUserSessions returns the user's sessions with their events, newest
// first.
func (s *Store) ListUserSessions(ctx context.Context, userID string) ([]store.Session, error) {
	var out []store.Session
	err := s.readTx(ctx, func(q querier) error {
		out = nil
		rows, err := q.QueryContext(ctx, `SELECT `+sessionCols+` FROM sessions WHERE user_id = ?
			ORDER BY created_at DESC, id DESC`, userID)
		if err != nil {
			return mapErr(err, "list sessions of user", userID)
		}
		defer rows.Close()
		for rows.Next() {
			sess, err := scanSession(rows)
			if err != nil {
				return mapErr(err, "list sessions of user", userID)
			}
			out = append(out, sess)
		}
		if err := rows.Err(); err != nil {
			return mapErr(err, "list sessions of user", userID)
		}
		if len(out) == 0 {
			return nil
		}
		evs, err := loadEvents(ctx, q, `session_id IN (SELECT id FROM sessions WHERE user_id = ?)`, userID)
		if err != nil {
			return err
		}
		for i := range out {
			out[i].Events = evs[out[i].ID]
		}
		return nil
	})
	return out, err
}

// DeleteSession removes the session and its events; ErrNotFound when
// unknown.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	res, err := s.writer().ExecContext(ctx, `DELETE FROM sessions WHERE id = ?`, id)
	return mustAffect(res, err, "delete session", id)
}
