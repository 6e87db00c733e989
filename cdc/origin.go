package cdc

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/godwit/godwit/datastore"
)

// Origin tags. Every transaction Run applies to a target is marked as
// written by a replication stream, and every capture skips the changes so
// marked: with a capture on each side (forward legacy → new, reverse new →
// legacy after the write switch), a change applied by one stream is not
// captured by the other and sent back (no echo, no ping-pong). A change
// applied by any Godwit stream is skipped, whatever the stream: Godwit
// replicates between two stores, never along a chain.
//
// Per engine, the mark is what the capture can see from inside the
// writing transaction:
//
//   - PostgreSQL, triggers: a transaction-local setting
//     (set_config('godwit.origin', <capture>, true)); the trigger function
//     returns early when it is set. It ends with the transaction.
//   - PostgreSQL, logical replication: a transactional logical message
//     (pg_logical_emit_message(true, 'godwit:origin', <capture>)) as the
//     transaction's first record; the stream decodes it inside the
//     transaction, and the reader drops the whole transaction. PostgreSQL
//     15's pgoutput cannot filter by replication origin (the `origin`
//     option is PostgreSQL 16's), and a session's replication origin
//     needs superuser (or GRANTs of pg_replication_origin_*), must be
//     reset on the same connection after the commit, and is not reported
//     by pgoutput once dropped; the message needs no privilege, lives and
//     dies with the transaction, and decodes the same way on every
//     version with `messages 'true'` (protocol 1).
//   - MySQL/MariaDB: the session variable @godwit_origin, set first in the
//     transaction and cleared last; the triggers record nothing while it
//     is set. Only the applier writes captured tables through Godwit's
//     connections, so a variable left set by a transaction that failed
//     half-way marks only the applier's next transaction, which sets it
//     anyway.
//   - SQLite: a row in the table godwit_origin, inserted first in the
//     transaction and deleted last; the triggers' WHEN clause tests that
//     the table is empty. SQLite has one writer at a time, so while the
//     row exists (it is never committed) the only writer is the applier:
//     a connection-local marker without a per-connection object (a TEMP
//     table would not be visible to a trigger fired on another
//     connection, and a trigger naming a table missing there fails).
const (
	originSetting = "godwit.origin"
	originVar     = "@godwit_origin"
	originTable   = datastore.OriginTable
	originMessage = "godwit:origin"
)

// originHooks returns the hooks that tag Run's transactions on target as
// written by the capture name.
func originHooks(ctx context.Context, target *datastore.Store, name string) (datastore.TxHooks, error) {
	exec := func(q string, args ...any) func(ctx context.Context, tx *sql.Tx) error {
		return func(ctx context.Context, tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				return fmt.Errorf("tag the transaction with its origin: %w", err)
			}
			return nil
		}
	}
	switch target.Engine {
	case datastore.Postgres:
		level, err := WALLevel(ctx, target)
		if err != nil {
			return datastore.TxHooks{}, fmt.Errorf("target: %w", err)
		}
		q := "SELECT set_config('" + originSetting + "', $1, true)"
		if level == "logical" {
			q += ", pg_logical_emit_message(true, '" + originMessage + "', $1)"
		}
		return datastore.TxHooks{Begin: exec(q, name)}, nil
	case datastore.MySQL:
		return datastore.TxHooks{Begin: exec("SET "+originVar+" = ?", name), BeforeCommit: exec("SET " + originVar + " = NULL")}, nil
	}
	q := target.Quote(originTable)
	// Whether Begin marked the transaction: hooks run for one transaction
	// at a time, and only a marked one has a row to remove.
	marked := false
	return datastore.TxHooks{
		Begin: func(ctx context.Context, tx *sql.Tx) error {
			// The table exists only where a capture does (created with its
			// triggers); without it nothing can echo. Looked up in each
			// transaction: a capture may be set up on the target while a
			// run applies to it.
			var n int
			if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", originTable).Scan(&n); err != nil {
				return fmt.Errorf("look for %s: %w", originTable, err)
			}
			marked = n > 0
			if !marked {
				return nil
			}
			return exec("INSERT INTO "+q+" (capture) VALUES (?)", name)(ctx, tx)
		},
		BeforeCommit: func(ctx context.Context, tx *sql.Tx) error {
			if !marked {
				return nil
			}
			return exec("DELETE FROM "+q)(ctx, tx)
		},
	}, nil
}

// createOriginTable makes SQLite's marker table (see above) if missing.
func createOriginTable(ctx context.Context, s *datastore.Store) ([]string, error) {
	exists, err := tableExists(ctx, s, originTable)
	if err != nil || exists {
		return nil, err
	}
	if _, err := s.DB.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+s.Quote(originTable)+" (capture TEXT NOT NULL)"); err != nil {
		return nil, fmt.Errorf("create %s: %w", originTable, err)
	}
	return []string{"table " + originTable}, nil
}

// dropOriginTable removes SQLite's marker table once no capture's trigger
// tests it.
func dropOriginTable(ctx context.Context, s *datastore.Store) ([]string, error) {
	if s.Engine != datastore.SQLite {
		return nil, nil
	}
	left, err := listObjects(ctx, s, "")
	if err != nil {
		return nil, err
	}
	found := false
	for _, o := range left {
		if o.Kind == "trigger" {
			return nil, nil
		}
		found = found || (o.Kind == "table" && o.Name == originTable)
	}
	if !found {
		return nil, nil
	}
	if _, err := s.DB.ExecContext(ctx, "DROP TABLE IF EXISTS "+s.Quote(originTable)); err != nil {
		return nil, fmt.Errorf("drop %s: %w", originTable, err)
	}
	return []string{"table " + originTable}, nil
}
