package schemachange

import (
	"context"
	"fmt"
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
}

// String says what the record holds, for a person deciding whether to
// forget it.
func (r Record) String() string {
	switch r.Step {
	case stepBackfill:
		return fmt.Sprintf("%s: backfill, %d rows walked", r.Name, r.Rows)
	case stepDown:
		return fmt.Sprintf("%s: rollback, %s of its down script done", r.Name, migration.Count(r.Done, "statement"))
	}
	return fmt.Sprintf("%s: %s applied (its dual-write triggers' included)", r.Name, migration.Count(r.Done, "statement"))
}

// Records lists the records whose name starts with prefix, changing
// nothing: a store without RecordTable has none.
func Records(ctx context.Context, st *datastore.Store, prefix string) ([]Record, error) {
	rows, err := st.DB.QueryContext(ctx, "SELECT name, step, done, row_count FROM "+st.Quote(RecordTable)+" ORDER BY name")
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
		if err := rows.Scan(&r.Name, &r.Step, &r.Done, &r.Rows); err != nil {
			return nil, fmt.Errorf("read %s: %w", RecordTable, err)
		}
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
