package copy_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	copydriver "github.com/godwit/godwit/drivers/copy"
	"github.com/godwit/godwit/drivers/provision"
)

// TestAFannedOutUnitIsATableNameNotAPattern: tables: ["*"] selects tables
// whose names a pattern may not hold as they are ("order items") or would
// read as a glob ("a*b", which would also select "axb"); each fanned-out
// unit copies exactly its table. The unit "order items" was refused as a
// bad pattern after provision had created it, and the migration rolled
// back.
func TestAFannedOutUnitIsATableNameNotAPattern(t *testing.T) {
	ctx := context.Background()
	src, dst := dbtest.New(t, datastore.SQLite), dbtest.New(t, datastore.SQLite)
	dbtest.Exec(t, src.Store,
		`CREATE TABLE "order items" (id INTEGER PRIMARY KEY, label VARCHAR(20))`,
		`INSERT INTO "order items" VALUES (1, 'one'), (2, 'two')`,
		`CREATE TABLE "a*b" (id INTEGER PRIMARY KEY)`,
		`INSERT INTO "a*b" VALUES (1)`,
		`CREATE TABLE axb (id INTEGER PRIMARY KEY)`,
		`INSERT INTO axb VALUES (7), (8), (9)`)
	dir := t.TempDir()
	file := func(n, dsn string) string {
		p := filepath.Join(dir, n)
		require.NoError(t, os.WriteFile(p, []byte(dsn+"\n"), 0o600))
		return p
	}
	spec, err := config.ParseSpec([]byte(fmt.Sprintf(`name: names
stores:
  legacy: {engine: sqlite, dsn: {fromFile: %s}}
  new: {engine: sqlite, dsn: {fromFile: %s}}
phases:
  - phase: provision
    provision: {from: legacy, to: new, tables: ["*"]}
  - phase: copy
    copy: {from: legacy, to: new, tables: ["*"], fanOut: 2}
`, file("legacy", src.DSN), file("new", dst.DSN))))
	require.NoError(t, err)
	prov, cp := provision.New(logger()), copydriver.New(logger())
	_, err = prov.Do(ctx, activities.ActionRun, input(spec, 0), activities.Heartbeat{}, func(activities.Heartbeat) {})
	require.NoError(t, err)

	units, err := cp.Units(ctx, input(spec, 1))
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"order items", "a*b", "axb"}, units)
	want := map[string]int64{"order items": 2, "a*b": 1, "axb": 3}
	for _, u := range units {
		in := input(spec, 1)
		in.Unit = u
		res, err := cp.Do(ctx, activities.ActionRun, in, activities.Heartbeat{}, func(activities.Heartbeat) {})
		require.NoError(t, err, "unit %q", u)
		require.Equal(t, want[u], res.Records, "unit %q copies its own table only", u)
	}
	for _, table := range units {
		dbtest.AssertSameRows(t, src.Store, dst.Store, table)
	}
}
