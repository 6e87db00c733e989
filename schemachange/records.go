package schemachange

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/migration"
)

// Record is a change's progress as the store keeps it in RecordTable.
type Record struct {
	Name string `json:"name"`
	// Step is "up", "down" or "backfill"; Done the statements of that
	// step's script done; Rows the rows a backfill walked.
	Step string `json:"step"`
	Done int    `json:"done"`
	Rows int64  `json:"rows,omitempty"`
	// Run is the run that keeps the record (Change.Run); "" for a record
	// from before records had a run, or of a run without a key.
	Run string `json:"run,omitempty"`
}

// String says what the record holds, for a person deciding whether to
// forget it.
func (r Record) String() string {
	by := ""
	if r.Run != "" {
		by = ", by run " + r.Run
	}
	switch r.Step {
	case stepBackfill:
		return fmt.Sprintf("%s: backfill, %d rows walked%s", r.Name, r.Rows, by)
	case stepDown:
		return fmt.Sprintf("%s: rollback, %s of its down script done%s", r.Name, migration.Count(r.Done, "statement"), by)
	}
	return fmt.Sprintf("%s: %s applied (its dual-write triggers' included)%s", r.Name, migration.Count(r.Done, "statement"), by)
}

// Records lists the records whose name starts with prefix, changing
// nothing: a store without RecordTable has none.
func Records(ctx context.Context, st *datastore.Store, prefix string) ([]Record, error) {
	run := "NULL" // a table from before records had a run
	if hasRunColumn(ctx, st) {
		run = runColumn
	}
	rows, err := st.DB.QueryContext(ctx, "SELECT name, step, done, row_count, "+run+" FROM "+st.Quote(RecordTable)+" ORDER BY name")
	if err != nil {
		if st.IsMissingObject(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("read %s: %w", RecordTable, err)
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		var r Record
		var run sql.NullString
		if err := rows.Scan(&r.Name, &r.Step, &r.Done, &r.Rows, &run); err != nil {
			return nil, fmt.Errorf("read %s: %w", RecordTable, err)
		}
		r.Run = run.String
		if strings.HasPrefix(r.Name, prefix) {
			out = append(out, r)
		}
	}
	return out, rows.Err()
}

// Forget removes the records of the named changes; a name without a
// record is passed over.
func Forget(ctx context.Context, st *datastore.Store, names ...string) error {
	if len(names) == 0 {
		return nil
	}
	if err := ensureRecordTable(ctx, st); err != nil {
		return err
	}
	for _, n := range names {
		if err := deleteRecord(ctx, st.DB, st, n); err != nil {
			return err
		}
	}
	return nil
}

// OtherRunsChange says, changing nothing, how the store records c when it
// records it as another run's (Change.Run), as Apply will find it: inPlace
// when that run applied c's up script whole (Apply takes it as in place,
// and leaves it that run's), an *OtherRunError when that run left it part
// way (Apply refuses it), run naming that run. A record of this run's, a
// change not recorded, or one another run completed with another script
// (Apply applies c afresh) read as neither. For a preflight: the store may
// be read-only, its record table from before records had a run.
func OtherRunsChange(ctx context.Context, st *datastore.Store, c Change) (inPlace bool, run string, err error) {
	rec, err := peekRecord(ctx, st, c.Name)
	if err != nil || rec == nil || rec.mine(c.Run) {
		return false, "", err
	}
	hash, n, marked := strings.Cut(rec.lastKey, "/")
	total, _ := strconv.Atoi(n)
	switch {
	case rec.step != stepUp:
	case !marked && rec.done >= len(c.Up):
		// A record from before marks: complete as far as can be told (it
		// counts the triggers' statements too).
		return true, rec.run, nil
	case marked && rec.done >= total && hash == upHash(c.Up):
		return true, rec.run, nil
	case marked && rec.done >= total:
		return false, "", nil
	}
	return false, rec.run, &OtherRunError{Change: c.Name, Run: rec.run, Down: rec.step != stepUp, Done: rec.done}
}

// peekRecord is readRecord for a store that may be read-only: a missing
// RecordTable is no record, and one without the run column (made before
// it) holds records of no run.
func peekRecord(ctx context.Context, st *datastore.Store, name string) (*record, error) {
	if hasRunColumn(ctx, st) {
		return readRecord(ctx, st.DB, st, name)
	}
	var r record
	var key sql.NullString
	err := st.DB.QueryRowContext(ctx, fmt.Sprintf("SELECT step, done, last_key, row_count FROM %s WHERE name = %s",
		st.Quote(RecordTable), st.Placeholder(1)), name).Scan(&r.step, &r.done, &key, &r.rows)
	switch {
	case errors.Is(err, sql.ErrNoRows), err != nil && st.IsMissingObject(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read %s: %w", RecordTable, err)
	}
	r.lastKey = key.String
	return &r, nil
}
