// Package cdc keeps a target store in step with a live source store after
// a backfill: change data capture. It knows nothing of Temporal.
//
// Two capture methods, chosen per source engine:
//
//   - logical (PostgreSQL with wal_level=logical): a publication and a
//     logical replication slot (pgoutput) created before the backfill; the
//     changes are streamed from the slot's start with jackc/pglogrepl.
//   - triggers (MySQL/MariaDB, SQLite, and PostgreSQL without logical
//     replication): AFTER INSERT/UPDATE/DELETE triggers record the key of
//     every changed row in a changelog table per source table (the
//     pt-online-schema-change approach); the drain reads the row's current
//     state by that key and applies it.
//
// Through a mapping (Options.Mapped), both methods read each changed key
// back from the source through the mapping's SELECT (readFrom): the
// trigger drain joins its changelog to it, the logical reader looks up
// the keys of each batch's changes (readBack).
//
// Both are set up before the backfill (Setup) and removed by Teardown.
// Run applies the changes to the target in batches, one target transaction
// each, as upserts and deletes by primary key: replaying a change twice
// changes nothing, so a restart from an older checkpoint is safe, and the
// changes made while the backfill ran (which the backfill may or may not
// have seen) converge to the source's state.
package cdc

import (
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/mapping"
)

// Method is how changes are captured.
type Method string

// The capture methods.
const (
	MethodAuto     Method = ""         // logical on PostgreSQL when wal_level=logical, else triggers
	MethodLogical  Method = "logical"  // PostgreSQL logical replication (pgoutput)
	MethodTriggers Method = "triggers" // change triggers into changelog tables
)

// ParseMethod accepts a spec's method name ("", auto, logical, triggers).
func ParseMethod(s string) (Method, error) {
	switch s {
	case "", "auto":
		return MethodAuto, nil
	case string(MethodLogical):
		return MethodLogical, nil
	case string(MethodTriggers):
		return MethodTriggers, nil
	}
	return "", fmt.Errorf("%w: capture method %q (want auto, logical or triggers)", ErrNotSupported, s)
}

// Errors a caller can test with errors.Is. All are permanent (IsPermanent):
// retrying cannot fix them without a change of settings or spec.
var (
	// ErrNotSupported: the method does not apply to the engine, or the
	// server does not allow it (wal_level is not logical).
	ErrNotSupported = errors.New("change capture not supported")
	// ErrNotSetUp: Run found no capture objects (Setup did not run, or
	// Teardown removed them): changes since then are lost to it.
	ErrNotSetUp = errors.New("change capture is not set up")
	// ErrSchemaDrift: a captured table's columns changed on the source.
	ErrSchemaDrift = errors.New("source schema changed while replicating")
)

// IsPermanent reports whether err is one that retrying cannot fix: the
// errors above and datastore's permanent errors. Anything else (a dropped
// connection, a deadlock, a slot still held by a dying worker) is worth a
// retry from the checkpoint.
func IsPermanent(err error) bool {
	return errors.Is(err, ErrNotSupported) || errors.Is(err, ErrNotSetUp) ||
		errors.Is(err, ErrSchemaDrift) || datastore.IsPermanent(err)
}

// Options name a capture: its source, its tables and its name.
type Options struct {
	// Source is the store whose changes are captured.
	Source *datastore.Store
	// SourceDSN is Source's DSN: logical replication opens a replication
	// connection of its own. Never logged.
	SourceDSN string
	// Name identifies the capture's objects (slot, publication, changelog
	// tables, triggers): lower-case letters, digits and _, at most 40
	// characters, unique per source server (a PostgreSQL slot name is
	// global to the cluster). Use CaptureName to derive one.
	Name string
	// Tables are the source tables (resolved names, not patterns); each
	// needs a primary key.
	Tables []string
	// Method is the capture method; MethodAuto picks one (see Resolve).
	Method Method
	// Mapped holds, by source table name, how a table's rows become the
	// target's (mapping.Table): the key of each change (a changelog entry,
	// or a change in the logical stream) is read back from the source
	// through the mapping, so the source engine computes the expressions
	// and the filter, and a row that fails the filter is deleted on the
	// target. Both methods apply a mapping, with the same read (readBack).
	Mapped map[string]mapping.Table
	// Logger receives progress; nil: none.
	Logger hclog.Logger
}

func (o Options) logger() hclog.Logger {
	if o.Logger == nil {
		return hclog.NewNullLogger()
	}
	return o.Logger
}

func (o Options) check() error {
	if o.Source == nil {
		return fmt.Errorf("cdc: no source store")
	}
	if err := checkName(o.Name); err != nil {
		return err
	}
	if len(o.Tables) == 0 {
		return fmt.Errorf("cdc %s: %w: no tables", o.Name, datastore.ErrUnknownTable)
	}
	return nil
}

// Checkpoint is where a replication stands: small, JSON, resumable.
type Checkpoint struct {
	// Method is the capture method the position belongs to.
	Method Method `json:"method"`
	// LSN (logical) is the end of the last transaction applied to the
	// target: a restart streams from there.
	LSN string `json:"lsn,omitempty"`
	// Applied counts the changes applied over all runs (a change replayed
	// after a restart counts twice: it is a measure of work, not of rows).
	Applied int64 `json:"applied"`
}

// Lag is how far the target is behind the source.
type Lag struct {
	// Through is a time of the source up to which every change committed
	// is applied (zero: not known yet).
	Through time.Time `json:"through"`
	// Seconds is Measured − Through: the age of the oldest change that may
	// not be applied yet; 0 when nothing is behind (triggers: the
	// changelogs are empty; logical: nothing pending and the stream has
	// passed the source's WAL position). Logical, while changes flow: the
	// stream is probed every LagEvery and a probe needs up to
	// wal_writer_delay to be decoded, so the figure is the probe interval
	// and a little more (see LagFloor).
	Seconds float64 `json:"seconds"`
	// Changes is the number of changes captured and not yet applied:
	// changelog rows (triggers), or changes received and not yet applied
	// (logical; the backlog still in the WAL is in Bytes).
	Changes int64 `json:"changes"`
	// Bytes (logical) is how much WAL the stream has not yet passed.
	Bytes int64 `json:"bytes,omitempty"`
	// Measured is when the figures were taken.
	Measured time.Time `json:"measured"`
}

// LagFloor is the smallest lag limit (maxLag) a method can judge: a
// limit under it could only ever hold on an idle source. Logical: the
// probe interval (DefaultLagEvery), which bounds the lag while changes
// flow. Triggers: the changelog's timestamps are exact, but a report is
// rounded to 10ms and a measurement query takes about that long. Auto is
// judged as logical, which it may choose.
func LagFloor(m Method) time.Duration {
	if m == MethodTriggers {
		return 10 * time.Millisecond
	}
	return DefaultLagEvery
}

// Duration is Seconds as a time.Duration.
func (l Lag) Duration() time.Duration { return time.Duration(l.Seconds * float64(time.Second)) }

// Progress is reported after each applied batch and each lag measurement.
type Progress struct {
	Method     Method
	Checkpoint Checkpoint
	Lag        Lag
	// AppliedThisRun counts the changes applied since Run started.
	AppliedThisRun int64
	// ChangesPerSecond is this run's average apply rate.
	ChangesPerSecond float64
	// Started is when this run started.
	Started time.Time
}
