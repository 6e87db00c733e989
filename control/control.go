// Package control reads a migration's status report and steers it (pause,
// resume, approve, rollback) through a Temporal client. The `godwit` CLI and
// the dashboard both go through it, so a report reads the same and a
// request is checked the same way wherever a person looks or acts.
package control

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
)

// DefaultQueryTimeout bounds the wait for a worker to answer a status
// query when Migrations.QueryTimeout is zero.
const DefaultQueryTimeout = 10 * time.Second

// Migrations reads and steers the migrations of one namespace.
type Migrations struct {
	// Client is a dialled Temporal client (connect.Dial).
	Client client.Client
	// DC decodes the payloads read from descriptions and histories: the
	// converter Client uses, so it decrypts when payload encryption is on.
	DC converter.DataConverter
	// Namespace is the namespace listed.
	Namespace string
	// QueryTimeout bounds the wait for a worker to answer; zero means
	// DefaultQueryTimeout.
	QueryTimeout time.Duration
}

func (m Migrations) queryTimeout() time.Duration {
	if m.QueryTimeout > 0 {
		return m.QueryTimeout
	}
	return DefaultQueryTimeout
}

func (m Migrations) dc() converter.DataConverter {
	if m.DC != nil {
		return m.DC
	}
	return converter.GetDefaultDataConverter()
}

// Kind says why a request could not be done, so a caller can answer with
// the right exit code or HTTP status.
type Kind int

// The kinds of Error.
const (
	// KindNotFound: no migration has that name.
	KindNotFound Kind = iota + 1
	// KindEnded: the migration has ended; nothing can steer it.
	KindEnded
	// KindRefused: the migration, or Godwit's rules, refused the request
	// (a gate that is not waiting, a rollback past the point of no return);
	// nothing was recorded.
	KindRefused
)

// Error is a request that failed for a reason a person can act on.
type Error struct {
	Kind Kind
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the Kind of the Error in err's chain, 0 if there is none.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}

// Explain turns Temporal's errors about a missing workflow into advice.
func Explain(name string, err error) error {
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return &Error{Kind: KindNotFound, Err: fmt.Errorf("no migration named %q in this namespace: see `godwit list`", name)}
	}
	return fmt.Errorf("migration %s: %w", name, err)
}

// withContext returns ctx, or a background context for a nil one.
func withContext(ctx context.Context) context.Context {
	if ctx == nil {
		return context.Background()
	}
	return ctx
}
