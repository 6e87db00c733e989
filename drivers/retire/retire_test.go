package retire_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/drivers/retire"
	"github.com/godwit/godwit/drivers/stores"
)

// retireSpec parses a spec whose only phase retires tables of store
// legacy; its mapping shop carries legacy's order* and users tables to new
// (renamed), for a section that names it.
func retireSpec(t *testing.T, db dbtest.DB, section string) (*config.Spec, error) {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "legacy.dsn"), []byte(db.DSN+"\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "new.dsn"), []byte(filepath.Join(dir, "new.db")+"\n"), 0o600))
	text := fmt.Sprintf(`name: retire-test
stores:
  legacy: {engine: %s, dsn: {fromFile: %s/legacy.dsn}}
  new: {engine: sqlite, dsn: {fromFile: %s/new.dsn}}
mappings:
  shop:
    from: legacy
    to: new
    names: PascalCase
    tables:
      "order*": {}
      users: {to: Customer}
phases:
  - phase: decommission
    retire: %s
`, db.Store.Engine, dir, dir, section)
	return config.ParseSpec([]byte(text))
}

func tables(t *testing.T, s *datastore.Store) string {
	t.Helper()
	names, err := s.ListTables(context.Background())
	require.NoError(t, err)
	sort.Strings(names)
	return strings.Join(names, ",")
}

func TestRetireDriverSaysWhatItDidAndUndoesARename(t *testing.T) {
	cases := []struct {
		name, section    string
		summary, after   string
		compensates      bool
		undoSummary, end string
	}{
		{"rename by default", `{store: legacy, tables: ["order*"]}`,
			"renamed order_lines to order_lines_retired, orders to orders_retired in legacy (rename them back to undo)",
			"order_lines_retired,orders_retired,users", true,
			"renamed order_lines, orders back in legacy", "order_lines,orders,users"},
		{"rename with a pattern", `{store: legacy, tables: [orders], renameTo: "old_{table}"}`,
			"renamed orders to old_orders in legacy (rename them back to undo)",
			"old_orders,order_lines,users", true,
			"renamed orders back in legacy", "order_lines,orders,users"},
		{"drop", `{store: legacy, tables: [orders, order_lines], mode: drop}`,
			"dropped order_lines, orders in legacy", "users", false, "", ""},
		{"keep", `{store: legacy, tables: ["*"], mode: keep}`,
			"kept order_lines, orders, users in legacy as they are (mode: keep)", "order_lines,orders,users", false, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			db := dbtest.New(t, datastore.SQLite)
			dbtest.Exec(t, db.Store, "CREATE TABLE orders (id INTEGER PRIMARY KEY)", "CREATE TABLE order_lines (id INTEGER PRIMARY KEY)",
				"CREATE TABLE users (id INTEGER PRIMARY KEY)")
			spec, err := retireSpec(t, db, tc.section)
			require.NoError(t, err)
			d := retire.New(hclog.NewNullLogger())
			require.Empty(t, d.Preflight(ctx, spec, spec.Phases[0]))
			in := activities.PhaseInput{Migration: spec.Name, Phase: spec.Phases[0]}
			res, err := d.Do(ctx, activities.ActionRun, in, activities.Heartbeat{}, func(activities.Heartbeat) {})
			require.NoError(t, err)
			require.Equal(t, tc.summary, res.Summary)
			require.Equal(t, tc.after, tables(t, db.Store))

			// A retried run finds the work done.
			again, err := d.Do(ctx, activities.ActionRun, in, activities.Heartbeat{}, func(activities.Heartbeat) {})
			require.NoError(t, err)
			require.Equal(t, tc.after, tables(t, db.Store))
			if tc.name != "keep" {
				require.Contains(t, again.Summary, "by an earlier attempt")
			}

			comp, ok := spec.Phases[0].Driver.(config.Compensator)
			require.True(t, ok)
			require.Equal(t, tc.compensates, comp.HasCompensation())
			if tc.compensates {
				undo, err := d.Do(ctx, activities.ActionCompensate, in, activities.Heartbeat{}, func(activities.Heartbeat) {})
				require.NoError(t, err)
				require.Equal(t, tc.undoSummary, undo.Summary)
				require.Equal(t, tc.end, tables(t, db.Store))
			}
		})
	}
}

func TestRetireSpecErrors(t *testing.T) {
	db := dbtest.New(t, datastore.SQLite)
	for section, want := range map[string]string{
		`{store: nowhere, tables: [orders]}`:                                   "store",
		`{store: legacy, tables: [orders], mode: shred}`:                       `"shred" is not a choice`,
		`{store: legacy, tables: [orders], renameTo: old}`:                     "must hold {table}",
		`{store: legacy, tables: [orders], mode: drop, renameTo: "x_{table}"}`: "is for mode rename only",
	} {
		_, err := retireSpec(t, db, section)
		require.Error(t, err, section)
		require.Contains(t, err.Error(), want, section)
	}
}

func TestRetirePreflightNamesAMissingTable(t *testing.T) {
	db := dbtest.New(t, datastore.SQLite)
	dbtest.Exec(t, db.Store, "CREATE TABLE orders (id INTEGER PRIMARY KEY)")
	spec, err := retireSpec(t, db, `{store: legacy, tables: [orders, invoices]}`)
	require.NoError(t, err)
	problems := retire.New(hclog.NewNullLogger()).Preflight(context.Background(), spec, spec.Phases[0])
	require.Equal(t, []string{`store legacy: no table matches "invoices" to retire`}, problems)
}

// TestRetireThroughAMappingRetiresItsSourceTables: retire {mapping: shop}
// retires, in the mapping's source store, the tables its patterns match
// there (not the renamed targets, not the tables it does not carry); the
// leases are those tables; a rename is undone by the compensation.
func TestRetireThroughAMappingRetiresItsSourceTables(t *testing.T) {
	ctx := context.Background()
	db := dbtest.New(t, datastore.SQLite)
	dbtest.Exec(t, db.Store, "CREATE TABLE orders (id INTEGER PRIMARY KEY)", "CREATE TABLE order_lines (id INTEGER PRIMARY KEY)",
		"CREATE TABLE users (id INTEGER PRIMARY KEY)", "CREATE TABLE audit (id INTEGER PRIMARY KEY)")
	spec, err := retireSpec(t, db, `{mapping: shop}`)
	require.NoError(t, err)
	s := spec.Phases[0].Driver.(*retire.Spec)
	require.Equal(t, "legacy", s.Store)
	require.Equal(t, []string{"order*", "users"}, s.Tables)
	require.Equal(t, stores.Resources(spec, "legacy", []string{"order*", "users"}), s.Resources(spec), "the leases are the retired source tables")

	d := retire.New(hclog.NewNullLogger())
	require.Empty(t, d.Preflight(ctx, spec, spec.Phases[0]))
	in := activities.PhaseInput{Migration: spec.Name, Phase: spec.Phases[0]}
	res, err := d.Do(ctx, activities.ActionRun, in, activities.Heartbeat{}, func(activities.Heartbeat) {})
	require.NoError(t, err)
	require.Equal(t, "renamed order_lines to order_lines_retired, orders to orders_retired, users to users_retired in legacy (rename them back to undo)", res.Summary)
	require.Equal(t, "audit,order_lines_retired,orders_retired,users_retired", tables(t, db.Store))
	require.True(t, s.HasCompensation())
	undo, err := d.Do(ctx, activities.ActionCompensate, in, activities.Heartbeat{}, func(activities.Heartbeat) {})
	require.NoError(t, err)
	require.Equal(t, "renamed order_lines, orders, users back in legacy", undo.Summary)
	require.Equal(t, "audit,order_lines,orders,users", tables(t, db.Store))

	// Preflight names a mapped table legacy does not have.
	dbtest.Exec(t, db.Store, "DROP TABLE users")
	require.Equal(t, []string{`store legacy: no table matches "users" to retire`}, d.Preflight(ctx, spec, spec.Phases[0]))
}

func TestRetireThroughAMappingSpecErrors(t *testing.T) {
	db := dbtest.New(t, datastore.SQLite)
	for section, want := range map[string]string{
		`{mapping: shopp}`:                                   `mapping "shopp" is not in mappings:`,
		`{mapping: shop, store: new}`:                        "is new but mapping shop reads from legacy: leave store out",
		`{mapping: shop, tables: [orders]}`:                  "lists tables but mapping shop selects the tables itself: leave tables out",
		`{mapping: shop, mode: drop, renameTo: "x_{table}"}`: "is for mode rename only",
	} {
		_, err := retireSpec(t, db, section)
		require.Error(t, err, section)
		require.Contains(t, err.Error(), want, section)
	}
	spec, err := retireSpec(t, db, `{mapping: shop, store: legacy, mode: drop}`)
	require.NoError(t, err, "store may name the mapping's source store")
	require.False(t, spec.Phases[0].Driver.(*retire.Spec).HasCompensation(), "a drop has no compensation, mapped or not")
}
