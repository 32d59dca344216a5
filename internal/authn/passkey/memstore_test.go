package passkey

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/stepup-oidc/stepup/internal/store"
)

// memStore is an in-memory store.Credentials with the contract's semantics,
// for the fuzz target (which must be fast and needs no files).
type memStore struct {
	mu    sync.Mutex
	creds map[string]store.Credential
}

var _ store.Credentials = (*memStore)(nil)

func newMemStore() *memStore { return &memStore{creds: map[string]store.Credential{}} }

func (s *memStore) CreateCredential(_ context.Context, c store.Credential) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.creds[c.ID]; ok {
		return fmt.Errorf("credential %q: %w", c.ID, store.ErrConflict)
	}
	s.creds[c.ID] = c
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
	for _, c := range s.creds {
		if c.UserID == userID {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

func (s *memStore) UseCredential(_ context.Context, id string, n int64, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.creds[id]
	if !ok {
		return fmt.Errorf("credential %q: %w", id, store.ErrNotFound)
	}
	if !(n > c.Counter || (n == 0 && c.Counter == 0)) {
		return fmt.Errorf("credential %q: counter %d not above %d: %w", id, n, c.Counter, store.ErrConflict)
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
