package config

import (
	"errors"
	"strings"
)

// ErrUnknownKey is wrapped by the Error for a key or STEPUP_ environment
// variable that does not exist.
var ErrUnknownKey = errors.New("unknown key")

// Error is one problem with the configuration. Load returns a single *Error
// or, when there are several, their errors.Join; use errors.As to inspect
// them.
type Error struct {
	// Source says where the value came from: "file:line" for the file, the
	// variable name for the environment, "" when unknown (e.g. a default or
	// a Config built in code).
	Source string
	// Path is the key path, e.g. "clients[0].redirect_uris[1]"; "" for the
	// document as a whole.
	Path string
	// Msg describes the problem.
	Msg string
	// Err is the underlying cause, if any.
	Err error
}

// Error formats e as "source: path: msg", leaving out empty parts.
func (e *Error) Error() string {
	var b strings.Builder
	if e.Source != "" {
		b.WriteString(e.Source)
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// joinErrors returns nil, the only error, or errors.Join of all of them.
func joinErrors(errs []error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return errors.Join(errs...)
}
