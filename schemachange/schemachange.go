// Package schemachange changes a live schema in place, as expand and
// contract: it applies a SQL script to a store (in one transaction where
// the engine's DDL is transactional, statement by statement with recorded
// progress where it is not), creates and removes the dual-write triggers
// that keep an old and a new column in step while both exist, and fills a
// new column in keyset batches (backfill.go). Each change is recorded in
// the store under its name (table godwit_schema_changes), in the same
// transaction as its work where the engine allows, so a retried or resumed
// run neither applies a statement twice nor rewrites a finished batch. It
// knows nothing of Temporal; engine-specific SQL is datastore's.
package schemachange

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/migration"
)

// RecordTable is the table in the store that records each change's
// progress.
const RecordTable = "godwit_schema_changes"

// Defaults of a Change left zero.
const (
	DefaultLockTimeout = 2 * time.Second
	DefaultRetries     = 5
	DefaultBackoff     = time.Second
)

// Change is one schema change on a store: the statements to apply, the
// statements that undo them, and the dual-write rules to install (expand)
// or the tables whose dual-write triggers go first (contract).
type Change struct {
	// Name records the change in the store: unique per migration and phase.
	Name string
	// Up and Down are the scripts' statements (datastore.SplitScript).
	Up, Down []datastore.ScriptStatement
	// DualWrite holds the rules per table, installed after Up.
	DualWrite map[string][]datastore.DualWriteRule
	// Owner is the migration whose dual-write triggers these are: their
	// names carry its tag (datastore.DualWriteTag), so status and cleanup
	// tell them from another migration's. A table that already has
	// untagged triggers of Godwit's (a run from before tags, resumed) gets
	// untagged names again, so one set never holds both; "" names none.
	Owner string
	// Run is the run of the migration applying the change (its chain's
	// first run ID): its record keeps it. A record another run left under
	// the same Name is that run's, never this one's: Apply takes a change
	// it applied completely as in place without owning it, refuses one it
	// left part way, and Rollback leaves either as it is, so a later run of
	// a migration never undoes what an earlier, completed run changed.
	// "" keeps the rule from before records had a run: a record without
	// one is the name's, whichever run left it (a run in flight from
	// before).
	Run string
	// RemoveDualWrite names tables whose dual-write triggers are removed
	// before Up runs (contract: before the old column goes).
	RemoveDualWrite []string
	// LockTimeout bounds each wait for a lock (PostgreSQL lock_timeout,
	// MySQL lock_wait_timeout and, for row locks, innodb_lock_wait_timeout);
	// a statement that times out is retried up to
	// Retries times, Backoff apart (doubling).
	LockTimeout time.Duration
	Retries     int
	Backoff     time.Duration
	// RequireOnline refuses, on MySQL/MariaDB, a statement the engine can
	// make neither INSTANT nor INPLACE with LOCK=NONE, instead of running
	// it as written (which may copy the table and hold writes meanwhile).
	RequireOnline bool
}

func (c *Change) normalize() {
	if c.LockTimeout <= 0 {
		c.LockTimeout = DefaultLockTimeout
	}
	if c.Retries <= 0 {
		c.Retries = DefaultRetries
	}
	if c.Backoff <= 0 {
		c.Backoff = DefaultBackoff
	}
}

// Result says what Apply or Rollback did.
type Result struct {
	// Statements run by this call; Already is true when an earlier attempt
	// had done everything.
	Statements int
	Already    bool
	// Triggers created or removed.
	Triggers []string
	// Skipped are the down statements a rollback of a partly applied
	// change (MySQL/MariaDB) passed over because what they drop does not
	// exist: the up statements that would have made it never ran.
	Skipped []Skipped
	// OtherRun is set when the change is recorded as another run's
	// (Change.Run): Apply found it completely applied by that run and
	// left it that run's; Rollback left it in place. OtherRunKey names
	// that run ("" for a record from before records had a run).
	OtherRun    bool
	OtherRunKey string
}

// Skipped is a down statement a rollback passed over, and why.
type Skipped struct {
	Index int    `json:"index"` // 1-based, in the down script
	Line  int    `json:"line,omitempty"`
	SQL   string `json:"sql"`
	Error string `json:"error"`
}

// String names the statement and the store's reason.
func (s Skipped) String() string {
	at := ""
	if s.Line > 0 {
		at = fmt.Sprintf(" (line %d)", s.Line)
	}
	return fmt.Sprintf("rollback statement %d%s %.60q: %s", s.Index, at, s.SQL, s.Error)
}

// record is a change's row in RecordTable.
type record struct {
	step    string // "up", "down" or "backfill"
	done    int    // statements done in step; backfill: rows updated so far
	lastKey string // backfill: JSON of the last key done; down: partialMark when the up was partly applied; up: upMark
	rows    int64  // backfill: rows walked; down after a partial up: up statements that had been applied
	run     string // the run that keeps the record (Change.Run); "" for none
}

// mine says whether the record is the run's: the same run key, or
// neither has one (a record from before records had a run belongs to
// the change's name, as it always did, to a run that has none).
func (r *record) mine(run string) bool { return r.run == run }

// upMark is what an up record keeps of the change it applies: a hash of
// its up statements and their number, "sha256:HEX/N". A run whose own
// statements differ finds a record left complete by an earlier run under
// the same name that ended without a contract (an expand-only migration
// that completed, whose record nothing forgets): that change is done, and
// this one is applied afresh instead of being taken as "already applied"
// and skipped. A record left part way is resumed as before (its failing
// statement fixed); a record without a mark (made before it) is taken as
// it always was.
//
// Only the up script is hashed: the triggers' statements depend on the
// table as plan finds it, which the change itself alters (a retry after
// the expand committed must find its own record).
func upMark(up []datastore.ScriptStatement, total int) string {
	return upHash(up) + "/" + strconv.Itoa(total)
}

// upHash is upMark's hash of the up statements, "sha256:HEX".
func upHash(up []datastore.ScriptStatement) string {
	h := sha256.New()
	for _, s := range up {
		h.Write([]byte(s.SQL))
		h.Write([]byte{0})
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// completeOther reports that rec is an up record, marked, complete, of
// another up script than mark's.
func completeOther(rec *record, mark string) bool {
	if rec == nil || rec.step != stepUp || rec.lastKey == "" {
		return false
	}
	hash, n, ok := strings.Cut(rec.lastKey, "/")
	mine, _, _ := strings.Cut(mark, "/")
	total, err := strconv.Atoi(n)
	return ok && err == nil && hash != mine && rec.done >= total
}

// partialMark in a down record says the change's up script had been only
// partly applied when its rollback began.
const partialMark = "partial"

const (
	stepUp       = "up"
	stepDown     = "down"
	stepBackfill = "backfill"
)

// execer is a connection or a transaction.
type execer interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

// runColumn holds the run that keeps a record (Change.Run); NULL in a
// record written before it, or by a run without a key.
const runColumn = "run_key"

func ensureRecordTable(ctx context.Context, st *datastore.Store) error {
	q := fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s (name VARCHAR(200) NOT NULL PRIMARY KEY,
		step VARCHAR(20) NOT NULL, done INTEGER NOT NULL, last_key TEXT, row_count BIGINT NOT NULL,
		updated_at VARCHAR(40) NOT NULL, %s VARCHAR(200))%s`, st.Quote(RecordTable), runColumn, st.TableSuffix())
	if _, err := st.DB.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("create %s: %w", RecordTable, err)
	}
	// A table created before records had a run lacks the column: add it
	// (its records keep NULL, the name's, as they were).
	if hasRunColumn(ctx, st) {
		return nil
	}
	add := fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s VARCHAR(200)", st.Quote(RecordTable), runColumn)
	if _, err := st.DB.ExecContext(ctx, add); err != nil && !hasRunColumn(ctx, st) {
		// (Another worker may have added it meanwhile.)
		return fmt.Errorf("add column %s to %s: %w", runColumn, RecordTable, err)
	}
	return nil
}

func hasRunColumn(ctx context.Context, st *datastore.Store) bool {
	rows, err := st.DB.QueryContext(ctx, fmt.Sprintf("SELECT %s FROM %s WHERE 1 = 0", runColumn, st.Quote(RecordTable)))
	if err != nil {
		return false
	}
	rows.Close()
	return true
}

func readRecord(ctx context.Context, q execer, st *datastore.Store, name string) (*record, error) {
	var r record
	var key, run sql.NullString
	err := q.QueryRowContext(ctx, fmt.Sprintf("SELECT step, done, last_key, row_count, %s FROM %s WHERE name = %s",
		runColumn, st.Quote(RecordTable), st.Placeholder(1)), name).Scan(&r.step, &r.done, &key, &r.rows, &run)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", RecordTable, err)
	}
	r.lastKey, r.run = key.String, run.String
	return &r, nil
}

func writeRecord(ctx context.Context, q execer, st *datastore.Store, name string, r record) error {
	p := st.Placeholder
	del := fmt.Sprintf("DELETE FROM %s WHERE name = %s", st.Quote(RecordTable), p(1))
	ins := fmt.Sprintf("INSERT INTO %s (name, step, done, last_key, row_count, updated_at, %s) VALUES (%s, %s, %s, %s, %s, %s, %s)",
		st.Quote(RecordTable), runColumn, p(1), p(2), p(3), p(4), p(5), p(6), p(7))
	if _, err := q.ExecContext(ctx, del, name); err != nil {
		return fmt.Errorf("write %s: %w", RecordTable, err)
	}
	var key, run any
	if r.lastKey != "" {
		key = r.lastKey
	}
	if r.run != "" {
		run = r.run
	}
	if _, err := q.ExecContext(ctx, ins, name, r.step, r.done, key, r.rows, time.Now().UTC().Format(time.RFC3339), run); err != nil {
		return fmt.Errorf("write %s: %w", RecordTable, err)
	}
	return nil
}

func deleteRecord(ctx context.Context, q execer, st *datastore.Store, name string) error {
	_, err := q.ExecContext(ctx, fmt.Sprintf("DELETE FROM %s WHERE name = %s", st.Quote(RecordTable), st.Placeholder(1)), name)
	if err != nil {
		return fmt.Errorf("write %s: %w", RecordTable, err)
	}
	return nil
}

// Apply applies the change: the dual-write triggers of RemoveDualWrite's
// tables go, Up runs, the dual-write triggers are created. On PostgreSQL
// and SQLite all of it is one transaction with the change's record; on
// MySQL/MariaDB (whose DDL commits at once) each statement runs alone and
// the record counts those done, so a retry goes on after the last one.
// PostgreSQL's CREATE INDEX CONCURRENTLY runs after the transaction. A
// change already applied is not applied again.
func Apply(ctx context.Context, st *datastore.Store, c Change, log hclog.Logger) (Result, error) {
	c.normalize()
	if err := ensureRecordTable(ctx, st); err != nil {
		return Result{}, err
	}
	rec, err := readRecord(ctx, st.DB, st, c.Name)
	if err != nil {
		return Result{}, err
	}
	if rec != nil && rec.mine(c.Run) && rec.step != stepUp {
		return Result{}, fmt.Errorf("change %s is being rolled back (%d statements of its down script done): finish the rollback first", c.Name, rec.done)
	}
	removals, stmts, created, err := plan(ctx, st, c)
	if err != nil {
		return Result{}, err
	}
	mark := upMark(c.Up, len(stmts))
	if completeOther(rec, mark) {
		log.Warn("the store records another change of this name as complete (an earlier run's, which ended without a contract to forget it): applying this one afresh",
			"change", c.Name, "statements_done", rec.done)
		if err := deleteRecord(ctx, st.DB, st, c.Name); err != nil {
			return Result{}, err
		}
		rec = nil
	}
	var triggers []string
	for _, tr := range created {
		triggers = append(triggers, tr.Name)
	}
	if rec != nil && !rec.mine(c.Run) {
		return applyOthers(ctx, st, c, rec, stmts, created, triggers, log)
	}
	if rec != nil && rec.done >= len(stmts) {
		if err := restoreTriggers(ctx, st, c, stmts[len(c.Up):], created, log); err != nil {
			return Result{}, err
		}
		return Result{Already: true, Triggers: triggers}, nil
	}
	done := 0
	if rec != nil {
		done = rec.done
	}
	inTx, after := stmts, []string(nil)
	if st.TransactionalDDL() {
		inTx, after = splitConcurrent(stmts)
	}
	res := Result{Triggers: triggers}
	if st.TransactionalDDL() && done < len(inTx) {
		err := withRetry(ctx, st, c, log, "apply "+c.Name, func() error {
			return inTransaction(ctx, st, c.LockTimeout, func(tx *sql.Tx) error {
				for _, q := range removals {
					if _, err := tx.ExecContext(ctx, q); err != nil {
						return fmt.Errorf("change %s: remove dual-write triggers: %w; nothing of the change was applied (one transaction)", c.Name, err)
					}
				}
				for i, q := range inTx {
					if _, err := tx.ExecContext(ctx, q); err != nil {
						return statementError(st, c, i, len(stmts), err, "nothing of the change was applied (one transaction)")
					}
				}
				return writeRecord(ctx, tx, st, c.Name, record{step: stepUp, done: len(inTx), lastKey: mark, run: c.Run})
			})
		})
		if err != nil {
			return res, err
		}
		res.Statements, done = len(inTx), len(inTx)
	}
	if !st.TransactionalDDL() {
		for _, q := range removals {
			if _, err := st.DB.ExecContext(ctx, q); err != nil {
				return res, fmt.Errorf("change %s: remove dual-write triggers: %w", c.Name, err)
			}
		}
	}
	n, _, err := oneByOne(ctx, st, c, log, record{step: stepUp, lastKey: mark, run: c.Run}, append(inTx, after...), done, false)
	res.Statements += n
	if err != nil && !st.TransactionalDDL() && len(removals) > 0 {
		// The triggers went first and for good: say so, as the error
		// otherwise reads as if only the statements before it had run.
		err = fmt.Errorf("%w; the dual-write triggers on %s were removed before it (MySQL/MariaDB DDL commits at once): until this change completes, a write to one of their columns no longer fills the other", err, strings.Join(c.RemoveDualWrite, ", "))
	}
	return res, err
}

// applyOthers is Apply of a change the store records as another run's
// (Change.Run). One that run applied completely, with the same up script
// (completeOther took any other), is in place: this run applies nothing,
// re-creates its dual-write triggers if they are gone (as for its own, see
// restoreTriggers), and leaves the record that run's, so its rollback
// leaves the change. One that run left part way is refused: taking it
// over would make this run's rollback undo what that run applied.
func applyOthers(ctx context.Context, st *datastore.Store, c Change, rec *record, stmts []string, created []datastore.DualWriteTrigger, triggers []string, log hclog.Logger) (Result, error) {
	if rec.step != stepUp || rec.done < len(stmts) {
		return Result{}, &OtherRunError{Change: c.Name, Run: rec.run, Down: rec.step != stepUp, Done: rec.done}
	}
	if err := restoreTriggers(ctx, st, c, stmts[len(c.Up):], created, log); err != nil {
		return Result{}, err
	}
	log.Warn("the change is already applied, by another run of the migration: it stays that run's (this run's rollback leaves it)",
		"change", c.Name, "run", rec.run)
	return Result{Already: true, Triggers: triggers, OtherRun: true, OtherRunKey: rec.run}, nil
}

// OtherRunError is a change that another run of its migration left part
// way (its up script partly applied, or its rollback stopped): this run
// does not take it over, since its rollback would then undo what that run
// applied.
type OtherRunError struct {
	Change string
	Run    string // "" for a record from before records had a run
	Down   bool   // that run's rollback of the change stopped part way
	Done   int    // statements of that step done
}

func (e *OtherRunError) Error() string {
	who := "another run of its migration"
	if e.Run != "" {
		who += " (run " + e.Run + ")"
	}
	if e.Down {
		return fmt.Sprintf("change %s was being rolled back by %s, which stopped after %s of the rollback script: this run does not take over another run's change; finish that rollback by hand and forget its record",
			e.Change, who, migration.Count(e.Done, "statement"))
	}
	return fmt.Sprintf("change %s was left part way by %s, with %s of it applied (its dual-write triggers' included): this run does not take over another run's change, as its rollback would undo what that run applied; undo what was applied by hand (the rollback script) and forget its record",
		e.Change, who, migration.Count(e.Done, "statement"))
}

// Rollback undoes the change: its dual-write triggers go, then Down runs
// (one transaction where the engine allows, statement by statement with
// recorded progress on MySQL) and the record is removed. A change never
// applied has only its triggers removed (none should exist). A change the
// store records as another run's (Change.Run) is left as it is, triggers
// and all: this run did not apply it.
func Rollback(ctx context.Context, st *datastore.Store, c Change, log hclog.Logger) (Result, error) {
	c.normalize()
	// A rollback runs whatever form it can: refusing it would leave the
	// change half undone.
	c.RequireOnline = false
	if err := ensureRecordTable(ctx, st); err != nil {
		return Result{}, err
	}
	rec, err := readRecord(ctx, st.DB, st, c.Name)
	if err != nil {
		return Result{}, err
	}
	if rec != nil && !rec.mine(c.Run) {
		log.Warn("the change is another run's of the migration: left in place", "change", c.Name, "run", rec.run)
		return Result{Already: true, OtherRun: true, OtherRunKey: rec.run}, nil
	}
	var res Result
	removed, err := RemoveDualWrite(ctx, st, tablesOf(c.DualWrite))
	res.Triggers = removed
	if err != nil || rec == nil {
		res.Already = rec == nil
		return res, err
	}
	down := make([]string, len(c.Down))
	for i, s := range c.Down {
		down[i] = s.SQL
	}
	done := 0
	if rec.step == stepDown {
		done = rec.done
	}
	if st.TransactionalDDL() {
		err := withRetry(ctx, st, c, log, "roll back "+c.Name, func() error {
			return inTransaction(ctx, st, c.LockTimeout, func(tx *sql.Tx) error {
				for i, q := range down {
					if _, err := tx.ExecContext(ctx, q); err != nil {
						return fmt.Errorf("change %s: down statement %d of %d (line %d) failed: %w; nothing was undone (one transaction): fix the down script and roll back again",
							c.Name, i+1, len(down), c.Down[i].Line, err)
					}
				}
				return deleteRecord(ctx, tx, st, c.Name)
			})
		})
		if err == nil {
			res.Statements = len(down)
		}
		return res, err
	}
	// An up script stopped part way (a statement refused, the run
	// stopped): the down script's statements for what never ran find
	// nothing to drop. Those are passed over and reported, not fatal.
	base := record{step: stepDown, lastKey: rec.lastKey, rows: rec.rows, run: c.Run}
	if rec.step != stepDown {
		base = record{step: stepDown, run: c.Run}
		if rec.done < len(c.Up) {
			base.lastKey, base.rows = partialMark, int64(rec.done)
			log.Warn("rolling back a partly applied change; down statements whose object does not exist are skipped",
				"change", c.Name, "up_applied", rec.done, "up_total", len(c.Up))
		}
		if err := writeRecord(ctx, st.DB, st, c.Name, base); err != nil {
			return res, err
		}
	}
	n, skipped, err := oneByOne(ctx, st, c, log, base, down, done, base.lastKey == partialMark)
	res.Statements, res.Skipped = n, skipped
	if err != nil {
		return res, err
	}
	return res, deleteRecord(ctx, st.DB, st, c.Name)
}

// RemoveDualWrite removes Godwit's dual-write triggers on tables (every
// one of them in the store when tables is nil) and returns their names.
func RemoveDualWrite(ctx context.Context, st *datastore.Store, tables []string) ([]string, error) {
	all, err := st.DualWriteTriggers(ctx)
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, tr := range all {
		if tables != nil && !contains(tables, tr.Table) {
			continue
		}
		for _, q := range st.DropDualWriteSQL(tr) {
			if _, err := st.DB.ExecContext(ctx, q); err != nil {
				return removed, fmt.Errorf("remove dual-write trigger %s on %s: %w", tr.Name, tr.Table, err)
			}
		}
		removed = append(removed, tr.Name)
	}
	return removed, nil
}

// plan returns the change's statements: the removals of RemoveDualWrite's
// triggers (each harmless when repeated, so run on every attempt and not
// counted in the record: a retry finds fewer of them), then Up and the
// dual-write triggers' creation (counted); and the triggers created.
func plan(ctx context.Context, st *datastore.Store, c Change) (removals, stmts []string, created []datastore.DualWriteTrigger, err error) {
	var out []string
	var existing []datastore.DualWriteTrigger
	if len(c.RemoveDualWrite) > 0 || len(c.DualWrite) > 0 {
		if existing, err = st.DualWriteTriggers(ctx); err != nil {
			return nil, nil, nil, err
		}
	}
	for _, tr := range existing {
		if contains(c.RemoveDualWrite, tr.Table) {
			removals = append(removals, st.DropDualWriteSQL(tr)...)
		}
	}
	for _, s := range c.Up {
		out = append(out, s.SQL)
	}
	for _, table := range tablesOf(c.DualWrite) {
		t, err := st.Introspect(ctx, table)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("dual-write on %s: %w", table, err)
		}
		if err := childrenCovered(ctx, st, c, t.Name); err != nil {
			return nil, nil, nil, err
		}
		cols := t.ColumnNames()
		for _, r := range c.DualWrite[table] {
			if _, ok := findFold(cols, r.Column); !ok {
				cols = append(cols, r.Column) // added by Up
			}
		}
		q, err := st.DualWriteSQL(t, cols, c.DualWrite[table], triggerTag(c.Owner, t.Name, existing))
		if err != nil {
			return nil, nil, nil, err
		}
		out = append(out, q...)
		for _, s := range q {
			if name := createdTrigger(s); name != "" {
				created = append(created, datastore.DualWriteTrigger{Name: name, Table: t.Name})
			}
		}
	}
	return removals, out, created, nil
}

// oneByOne runs stmts[done:] each alone, recording after each how many are
// done: for engines whose DDL is not transactional, and for what cannot
// run in a transaction.
//
// skipMissing (a rollback of a partly applied change) passes over a
// statement refused because its object does not exist, and returns it.
func oneByOne(ctx context.Context, st *datastore.Store, c Change, log hclog.Logger, base record, stmts []string, done int, skipMissing bool) (int, []Skipped, error) {
	step := base.step
	n := 0
	var skipped []Skipped
	for i := done; i < len(stmts); i++ {
		q := stmts[i]
		err := withRetry(ctx, st, c, log, fmt.Sprintf("%s %s statement %d", step, c.Name, i+1), func() error {
			conn, err := st.DB.Conn(ctx)
			if err != nil {
				return err
			}
			defer conn.Close()
			if lt := st.LockTimeoutSQL(c.LockTimeout); lt != "" && !st.TransactionalDDL() {
				if _, err := conn.ExecContext(ctx, lt); err != nil {
					return err
				}
			}
			return execOnline(ctx, conn, st, log, c, i+1, q)
		})
		switch {
		case err != nil && skipMissing && st.IsMissingObject(err):
			sk := Skipped{Index: i + 1, SQL: q, Error: err.Error()}
			if i < len(c.Down) {
				sk.Line = c.Down[i].Line
			}
			log.Warn("rollback statement skipped: its object does not exist (the up statement that creates it never ran)",
				"change", c.Name, "statement", i+1, "line", sk.Line, "error", err)
			skipped = append(skipped, sk)
		case err != nil:
			what := "the statements before it were applied and recorded: the phase's rollback undoes them, a retry goes on after them"
			switch {
			case step == stepDown:
				what = downNote(c, i, q, err)
			case i == 0:
				what = "nothing of the change was applied"
			}
			if skipMissing {
				what += fmt.Sprintf("; the change had been partly applied (%d of its %d statements), so rollback statements whose object does not exist are skipped, but this one failed otherwise", base.rows, len(c.Up))
			}
			return n, skipped, stepError(st, c, step, i, len(stmts), err, what)
		default:
			n++
		}
		r := base
		r.done = i + 1
		if err := writeRecord(ctx, st.DB, st, c.Name, r); err != nil {
			return n, skipped, err
		}
	}
	return n, skipped, nil
}

// downNote says, for a rollback statement i that failed on MySQL/MariaDB
// (whose rollback removes the dual-write triggers first, and whose DDL
// commits at once), what stays and how a retry goes on; and for a row the
// statement's NOT NULL refuses, where to look: rows that code writing
// only the new column inserted once the triggers were gone.
func downNote(c Change, i int, q string, err error) string {
	note := "no rollback statement ran: the change stays applied, without its dual-write triggers (removed first); a retry of the rollback starts at this statement"
	if i > 0 {
		note = fmt.Sprintf("rollback statements 1 to %d ran and were recorded; the rest of the change stays, without its dual-write triggers (removed first); a retry of the rollback goes on at this statement", i)
	}
	column, ok := datastore.NullIntoNotNull(err)
	if !ok {
		return note
	}
	look := "look for NULLs in the columns it makes NOT NULL"
	if table := alteredTable(q); table != "" && column != "" {
		look = fmt.Sprintf("SELECT COUNT(*) FROM %s WHERE %s IS NULL", table, column)
	}
	return note + fmt.Sprintf("; a row holds NULL in a column this statement makes NOT NULL (or a value too long for a narrower type): "+
		"rows inserted, since the dual-write triggers went, by code that writes only the new column (%s); stop that code, "+
		"fill the column from the new one (UPDATE … WHERE … IS NULL), then retry the rollback", look)
}

// alteredTable is the table an ALTER TABLE statement names, or "".
func alteredTable(q string) string {
	f := strings.Fields(q)
	if len(f) < 3 || !strings.EqualFold(f[0], "ALTER") || !strings.EqualFold(f[1], "TABLE") {
		return ""
	}
	if len(f) >= 5 && strings.EqualFold(f[2], "IF") && strings.EqualFold(f[3], "EXISTS") {
		return f[4]
	}
	return f[2]
}

// execOnline runs a statement in its most online form the engine takes
// for it (ALGORITHM=INSTANT, then INPLACE with LOCK=NONE, on
// MySQL/MariaDB), and as written when none is possible, saying so: that
// form may copy the table and block writes while it runs. With
// RequireOnline it refuses that last form instead.
func execOnline(ctx context.Context, conn execer, st *datastore.Store, log hclog.Logger, c Change, n int, q string) error {
	forms := st.OnlineForms(q)
	for k, f := range forms {
		last := k == len(forms)-1
		if last && len(forms) > 1 && c.RequireOnline {
			break
		}
		_, err := conn.ExecContext(ctx, f)
		if err == nil || last || !st.IsAlgorithmRefused(err) {
			if err == nil && len(forms) > 1 && last {
				log.Warn("statement ran as written: the engine has no online form for it, so it may have copied the table and held writes while it ran",
					"change", c.Name, "statement", n)
			}
			return err
		}
		log.Debug("online form refused, trying the next", "change", c.Name, "statement", n, "form", k+1, "error", err)
		if k == len(forms)-2 && c.RequireOnline {
			return &NotOnlineError{Err: err}
		}
	}
	return nil
}

// NotOnlineError is a statement refused because it has no online form
// and the change requires one.
type NotOnlineError struct{ Err error }

func (e *NotOnlineError) Error() string {
	return fmt.Sprintf("the engine can make it neither INSTANT nor INPLACE with LOCK=NONE (%v), and online: require is set: "+
		"run it with an online schema change tool (gh-ost, pt-online-schema-change) or set online: prefer to let it copy the table under a write lock", e.Err)
}

func (e *NotOnlineError) Unwrap() error { return e.Err }

// StatementError is a statement of a change that failed. Refused is
// true when the store refused it (a wrong statement, not a lost
// connection or a lock timeout): running it again cannot succeed.
type StatementError struct {
	Change  string
	Index   int // 1-based, in the change's statements
	Total   int
	Line    int // in the script, when known
	Refused bool
	Down    bool   // a statement of the down (rollback) script
	Trigger bool   // a statement creating the dual-write triggers, after the up script
	Note    string // what became of the change
	Err     error
}

func (e *StatementError) Error() string {
	at := ""
	if e.Line > 0 {
		at = fmt.Sprintf(" (line %d)", e.Line)
	}
	what := "statement"
	switch {
	case e.Down:
		what = "rollback script's statement"
	case e.Trigger:
		what = "dual-write trigger statement"
	}
	// PostgreSQL names what stands in the way (the views on a dropped
	// column, the row that breaks a NOT NULL) only in its DETAIL.
	cause := e.Err.Error()
	if d := datastore.ErrorDetail(e.Err); d != "" {
		cause += " (" + d + ")"
	}
	return fmt.Sprintf("change %s: %s %d of %d%s failed: %s; %s", e.Change, what, e.Index, e.Total, at, cause, e.Note)
}

func (e *StatementError) Unwrap() error { return e.Err }

func statementError(st *datastore.Store, c Change, i, total int, err error, what string) error {
	if _, ok := err.(*StatementError); ok {
		return err
	}
	return stepError(st, c, stepUp, i, total, err, what)
}

// stepError numbers the statement for the person who wrote the script:
// an up statement i of the up script's, a trigger statement (the
// statements of the up step after the script) among the trigger
// statements, so "statement 2 of 6" never counts statements the script
// does not have.
func stepError(st *datastore.Store, c Change, step string, i, total int, err error, what string) error {
	e := &StatementError{Change: c.Name, Index: i + 1, Total: total, Refused: st.IsRefused(err), Down: step == stepDown, Note: what, Err: err}
	switch {
	case step == stepUp && i < len(c.Up):
		e.Line, e.Total = c.Up[i].Line, min(total, len(c.Up))
	case step == stepUp && total > len(c.Up):
		e.Trigger, e.Index, e.Total = true, i-len(c.Up)+1, total-len(c.Up)
	case step == stepDown && i < len(c.Down):
		e.Line = c.Down[i].Line
	}
	return e
}

// restoreTriggers re-creates the dual-write triggers of an expand found
// applied when some are gone: on MySQL/MariaDB a contract that failed
// after removing them (its DDL commits at once) leaves the expand's
// record, and a new run taking the expand as applied would otherwise
// dual-write nothing. A column a rule sets must still exist: when the
// failed contract dropped one, re-created triggers would fail every write,
// so it refuses instead. The statements create or replace, so running
// them again is harmless.
func restoreTriggers(ctx context.Context, st *datastore.Store, c Change, triggerSQL []string, created []datastore.DualWriteTrigger, log hclog.Logger) error {
	if len(created) == 0 {
		return nil
	}
	existing, err := st.DualWriteTriggers(ctx)
	if err != nil {
		return err
	}
	var missing []string
	for _, tr := range created {
		if !slices.ContainsFunc(existing, func(e datastore.DualWriteTrigger) bool { return strings.EqualFold(e.Name, tr.Name) }) {
			missing = append(missing, tr.Name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	for _, table := range tablesOf(c.DualWrite) {
		t, err := st.Introspect(ctx, table)
		if err != nil {
			return fmt.Errorf("change %s: dual-write on %s: %w", c.Name, table, err)
		}
		for _, r := range c.DualWrite[table] {
			if _, ok := findFold(t.ColumnNames(), r.Column); !ok {
				return fmt.Errorf("change %s is recorded as applied but its dual-write triggers %s are gone (a contract that failed part way removed them) and %s.%s no longer exists: finish the contract, or undo the change by hand and run godwit cleanup",
					c.Name, strings.Join(missing, ", "), table, r.Column)
			}
		}
	}
	log.Warn("dual-write triggers of an applied change were gone: re-creating them", "change", c.Name, "triggers", missing)
	if st.TransactionalDDL() {
		return inTransaction(ctx, st, c.LockTimeout, func(tx *sql.Tx) error {
			for _, q := range triggerSQL {
				if _, err := tx.ExecContext(ctx, q); err != nil {
					return fmt.Errorf("change %s: re-create dual-write triggers: %w", c.Name, err)
				}
			}
			return nil
		})
	}
	for _, q := range triggerSQL {
		if _, err := st.DB.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("change %s: re-create dual-write triggers: %w", c.Name, err)
		}
	}
	return nil
}

// childrenCovered refuses a dual-write on a table whose inheritance
// children are not dual-written too: their rows' writes do not fire the
// parent's triggers, so the new column would miss them and the contract
// would drop what they wrote (Sakila's payment, whose inserts rules route
// to payment_p2007_01 …).
func childrenCovered(ctx context.Context, st *datastore.Store, c Change, table string) error {
	children, err := st.InheritanceChildren(ctx, table)
	if err != nil {
		return fmt.Errorf("dual-write on %s: %w", table, err)
	}
	var missing []string
	for _, ch := range children {
		if _, ok := findFold(tablesOf(c.DualWrite), ch); !ok {
			missing = append(missing, ch)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s has tables inheriting from it (%s), whose rows' writes do not fire its triggers (an insert a rule routes to one, an update of one's rows): give each the same dualWrite rules as %s",
		datastore.ErrBadDualWrite, table, strings.Join(missing, ", "), table)
}

// inTransaction runs fn in a transaction that waits at most timeout for
// each lock.
func inTransaction(ctx context.Context, st *datastore.Store, timeout time.Duration, fn func(*sql.Tx) error) error {
	tx, err := st.DB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if lt := st.LockTimeoutSQL(timeout); lt != "" {
		if _, err := tx.ExecContext(ctx, lt); err != nil {
			return err
		}
	}
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// withRetry runs fn again while it fails on a lock timeout, up to the
// change's retries, waiting Backoff, then twice as long each time.
func withRetry(ctx context.Context, st *datastore.Store, c Change, log hclog.Logger, what string, fn func() error) error {
	wait := c.Backoff
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || !st.IsLockTimeout(err) {
			return err
		}
		if attempt > c.Retries {
			return fmt.Errorf("%s: gave up after %d lock timeouts of %s (a long transaction holds the table): %w", what, attempt, c.LockTimeout, err)
		}
		log.Warn("lock timeout, retrying", "what", what, "attempt", attempt, "wait", wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// splitConcurrent moves PostgreSQL's CREATE INDEX CONCURRENTLY (which
// cannot run in a transaction) after the rest.
func splitConcurrent(stmts []string) (inTx, after []string) {
	for _, q := range stmts {
		f := strings.Fields(strings.ToUpper(q))
		if len(f) >= 3 && f[0] == "CREATE" && (f[1] == "INDEX" && f[2] == "CONCURRENTLY" || len(f) >= 4 && f[1] == "UNIQUE" && f[2] == "INDEX" && f[3] == "CONCURRENTLY") {
			after = append(after, q)
			continue
		}
		inTx = append(inTx, q)
	}
	return inTx, after
}

// createdTrigger is the trigger a CREATE TRIGGER statement creates ("" for
// another statement).
func createdTrigger(q string) string {
	f := strings.Fields(q)
	if len(f) >= 3 && strings.EqualFold(f[0], "CREATE") && strings.EqualFold(f[1], "TRIGGER") {
		return strings.Trim(f[2], "\"`")
	}
	return ""
}

// triggerTag is the tag of the triggers the change creates on table: its
// owner's, unless the table already has untagged ones (see Change.Owner).
func triggerTag(owner, table string, existing []datastore.DualWriteTrigger) string {
	for _, tr := range existing {
		if tr.Tag == "" && strings.EqualFold(tr.Table, table) {
			return ""
		}
	}
	return datastore.DualWriteTag(owner)
}

func tablesOf(m map[string][]datastore.DualWriteRule) []string {
	out := make([]string, 0, len(m))
	for t := range m {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

func contains(list []string, s string) bool {
	_, ok := findFold(list, s)
	return ok
}

func findFold(list []string, s string) (string, bool) {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return x, true
		}
	}
	return "", false
}

// DryRun checks the change without keeping anything of it, where the
// engine's DDL is transactional (PostgreSQL, SQLite): Up, the triggers
// and then Down run in one transaction that is always rolled back. It
// reports the first statement the store refuses. On MySQL/MariaDB, whose
// DDL cannot be rolled back, it does nothing (ok is false).
func DryRun(ctx context.Context, st *datastore.Store, c Change) (ok bool, err error) {
	if !st.TransactionalDDL() {
		return false, nil
	}
	c.normalize()
	removals, stmts, created, err := plan(ctx, st, c)
	if err != nil {
		return true, err
	}
	inTx, _ := splitConcurrent(stmts)
	inTx = append(removals, inTx...)
	// As a rollback does, the triggers go before the down script.
	for _, tr := range created {
		inTx = append(inTx, st.DropDualWriteSQL(tr)...)
	}
	tx, err := st.DB.BeginTx(ctx, nil)
	if err != nil {
		return true, err
	}
	defer tx.Rollback()
	if lt := st.LockTimeoutSQL(c.LockTimeout); lt != "" {
		if _, err := tx.ExecContext(ctx, lt); err != nil {
			return true, err
		}
	}
	for i, q := range inTx {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return true, stepError(st, c, stepUp, i, len(inTx), err, "in a dry run, rolled back")
		}
	}
	for i, s := range c.Down {
		if _, err := tx.ExecContext(ctx, s.SQL); err != nil {
			return true, stepError(st, c, stepDown, i, len(c.Down), err, "after the expand, in a dry run, rolled back")
		}
	}
	return true, nil
}
