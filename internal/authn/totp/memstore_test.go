package totp_test

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/stepup-oidc/stepup/internal/store"
)

// memStore is an in-memory store.Credentials with the contract's semantics
// (UseCredential succeeds only for n greater than the stored counter, or
// both zero; DeleteCredential returns ErrNotFound when gone). The tests run
// on SQLite; this fake serves where a store failure must be injected.
type memStore struct {
	mu    sync.Mutex
	creds map[string]store.Credential
	order []string
	// failCreateAfter, when > 0, makes the n-th CreateCredential fail.
	failCreateAfter int
	creates         int
}

var _ store.Credentials = (*memStore)(nil)

func newMemStore() *memStore { return &memStore{creds: map[string]store.Credential{}} }

var errInjected = fmt.Errorf("injected failure")

func (s *memStore) CreateCredential(_ context.Context, c store.Credential) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.creates++
	if s.failCreateAfter > 0 && s.creates >= s.failCreateAfter {
		return errInjected
	}
	if _, ok := s.creds[c.ID]; ok {
		return fmt.Errorf("credential %q: %w", c.ID, store.ErrConflict)
	}
	c.Secret = append([]byte(nil), c.Secret...)
	s.creds[c.ID] = c
	s.order = append(s.order, c.ID)
	return nil
}

func (s *memStore) GetCredential(_ context.Context, id string) (store.Credential, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.creds[id]
	if !ok {
		return store.Credential{}, fmt.Errorf("credential %q: %w", id, store.ErrNotFound)
	}
	return c, nil
}

func (s *memStore) ListCredentials(_ context.Context, userID string) ([]store.Credential, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []store.Credential
	for _, id := range s.order {
		if c, ok := s.creds[id]; ok && c.UserID == userID {
			out = append(out, c)
		}
	}
	return out, nil
}

func (s *memStore) UseCredential(_ context.Context, id string, n int64, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.creds[id]
	if !ok {
		return fmt.Errorf("credential %q: %w", id, store.ErrNotFound)
	}
	if !(n > c.Counter || n == 0 && c.Counter == 0) {
		return fmt.Errorf("credential %q counter %d: %w", id, n, store.ErrConflict)
	}
	c.Counter, c.LastUsedAt = n, at
	s.creds[id] = c
	return nil
}

func (s *memStore) UpdateCredential(_ context.Context, c store.Credential) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.creds[c.ID]
	if !ok {
		return fmt.Errorf("credential %q: %w", c.ID, store.ErrNotFound)
	}
	old.Name, old.BackupState = c.Name, c.BackupState
	s.creds[c.ID] = old
	return nil
}

func (s *memStore) DeleteCredential(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.creds[id]; !ok {
		return fmt.Errorf("credential %q: %w", id, store.ErrNotFound)
	}
	delete(s.creds, id)
	return nil
}
