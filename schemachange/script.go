package schemachange

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/specfiles"
)

// MaxScriptBytes bounds a SQL file: it is read whole, on the worker.
const MaxScriptBytes = 16 << 20

// ReadScript reads the SQL file path (field names it in errors) on this
// worker, only under its files directory (specfiles), and splits it by
// the engine's rules. Errors never quote the file's content.
func ReadScript(engine datastore.Engine, field, path string) ([]datastore.ScriptStatement, error) {
	real, err := specfiles.Resolve(field, path)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(real)
	if err != nil {
		return nil, fmt.Errorf("%s %s cannot be read on this worker: %w", field, path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxScriptBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", field, path, err)
	}
	if len(b) > MaxScriptBytes {
		return nil, fmt.Errorf("%s %s is larger than %d MiB: a schema change, not a dump with data", field, path, MaxScriptBytes>>20)
	}
	stmts := datastore.SplitScript(engine, string(b))
	if len(stmts) == 0 {
		return nil, fmt.Errorf("%s %s holds no SQL statement", field, path)
	}
	return stmts, nil
}

// ForgetExcept removes the records of every change whose name starts with
// prefix but keep's (an earlier run's of the same migration, when a new
// one starts), so that a later run under the same names starts afresh.
func ForgetExcept(ctx context.Context, st *datastore.Store, prefix, keep string) error {
	if err := ensureRecordTable(ctx, st); err != nil {
		return err
	}
	names, err := recordNames(ctx, st)
	if err != nil {
		return err
	}
	for _, n := range names {
		if strings.HasPrefix(n, prefix) && n != keep {
			if err := deleteRecord(ctx, st.DB, st, n); err != nil {
				return err
			}
		}
	}
	return nil
}

func recordNames(ctx context.Context, st *datastore.Store) ([]string, error) {
	rows, err := st.DB.QueryContext(ctx, "SELECT name FROM "+st.Quote(RecordTable))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", RecordTable, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}
