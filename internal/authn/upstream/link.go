package upstream

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/stepup-oidc/stepup/internal/store"
)

// LinkStore is what Link needs of the store.
type LinkStore interface {
	store.Links
	store.Users
}

// Link returns the local user of a verified upstream login:
//
//   - the user an existing link (Name, r.Subject) points to;
//   - else, when LinkClaim is "nnin" and the ID token has a non-empty nnin
//     claim, the user with that NNIN, after linking the subject to them;
//   - else ErrNotLinked.
//
// mustBe, when not empty, is the ID of the user who must authenticate (a
// step-up of a signed-in user): any other user gives ErrWrongUser, and no
// link is created to anyone else. A disabled user gives ErrUserDisabled and
// is never linked. A link to a user that no longer exists counts as no link
// (ErrNotLinked).
func (m *Method) Link(ctx context.Context, st LinkStore, r Result, mustBe string) (store.User, error) {
	if r.Subject == "" {
		return store.User{}, fmt.Errorf("%w: %s: no subject", ErrNotLinked, m.cfg.Name)
	}
	l, err := st.GetLink(ctx, m.cfg.Name, r.Subject)
	switch {
	case err == nil:
		return m.linkedUser(ctx, st, l.UserID, mustBe)
	case !errors.Is(err, store.ErrNotFound):
		return store.User{}, fmt.Errorf("upstream %s: get link: %w", m.cfg.Name, err)
	}

	if m.cfg.LinkClaim != LinkClaimNNIN {
		return store.User{}, fmt.Errorf("%w: %s", ErrNotLinked, m.cfg.Name)
	}
	nnin, _ := r.Claims[LinkClaimNNIN].(string)
	nnin = strings.TrimSpace(nnin)
	if nnin == "" {
		return store.User{}, fmt.Errorf("%w: %s: no %s claim", ErrNotLinked, m.cfg.Name, LinkClaimNNIN)
	}
	u, err := st.GetUserByNNIN(ctx, nnin)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.User{}, fmt.Errorf("%w: %s: no local user has this %s", ErrNotLinked, m.cfg.Name, LinkClaimNNIN)
	case err != nil:
		// The store's error may quote the nnin: do not pass its text on.
		return store.User{}, fmt.Errorf("upstream %s: find user by %s: %w", m.cfg.Name, LinkClaimNNIN, redacted{err})
	}
	if mustBe != "" && u.ID != mustBe {
		return store.User{}, fmt.Errorf("%w: %s", ErrWrongUser, m.cfg.Name)
	}
	if u.Disabled {
		return store.User{}, fmt.Errorf("%w: %s", ErrUserDisabled, m.cfg.Name)
	}
	err = st.CreateLink(ctx, store.Link{Upstream: m.cfg.Name, Subject: r.Subject, UserID: u.ID, CreatedAt: m.cfg.Now()})
	switch {
	case errors.Is(err, store.ErrConflict):
		// Linked concurrently: follow the link that won.
		l, err := st.GetLink(ctx, m.cfg.Name, r.Subject)
		if err != nil {
			return store.User{}, fmt.Errorf("upstream %s: get link: %w", m.cfg.Name, err)
		}
		return m.linkedUser(ctx, st, l.UserID, mustBe)
	case err != nil:
		return store.User{}, fmt.Errorf("upstream %s: create link: %w", m.cfg.Name, err)
	}
	return u, nil
}

func (m *Method) linkedUser(ctx context.Context, st LinkStore, id, mustBe string) (store.User, error) {
	if mustBe != "" && id != mustBe {
		return store.User{}, fmt.Errorf("%w: %s", ErrWrongUser, m.cfg.Name)
	}
	u, err := st.GetUser(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.User{}, fmt.Errorf("%w: %s: linked user is gone", ErrNotLinked, m.cfg.Name)
	case err != nil:
		return store.User{}, fmt.Errorf("upstream %s: get linked user: %w", m.cfg.Name, err)
	}
	if u.Disabled {
		return store.User{}, fmt.Errorf("%w: %s", ErrUserDisabled, m.cfg.Name)
	}
	return u, nil
}

// redacted keeps an error matchable with errors.Is/As but hides its text,
// which may contain personal data.
type redacted struct{ err error }

func (e redacted) Error() string { return "store error (details withheld)" }
func (e redacted) Unwrap() error { return e.err }
