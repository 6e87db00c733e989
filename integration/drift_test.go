package integration

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/migration"
)

// TestSchemaDriftPausesTheMigrationAndResumeGoesOn adds a column to the
// source table in the middle of its copy. The copy notices at its next
// check and the migration pauses with an issue naming the change (not a
// rollback: the rows copied so far stay). Once the target's table has the
// column too, resume runs the copy again from its checkpoint, and the
// target ends equal to the source, new column included.
func TestSchemaDriftPausesTheMigrationAndResumeGoesOn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const rows = 20_000
	src, dst := dbtest.New(t, datastore.SQLite), dbtest.New(t, datastore.Postgres)
	dbtest.Exec(t, src.Store, "CREATE TABLE plain (id INTEGER PRIMARY KEY, label VARCHAR(40) NOT NULL)")
	seedPlain(t, src, rows)
	r := newDataRun(t, "it-drift-pause", src, dst, `  - phase: provision
    provision: {from: legacy, to: new, tables: [plain]}
  - phase: copy
    copy: {from: legacy, to: new, tables: [plain], batchRows: 500, rowsPerSecond: 4000}
`)
	r.start()
	r.waitFor("the copy to be under way", func(rep migration.Report) bool {
		return rep.Phases[1].State == migration.PhaseRunning && rep.Phases[1].Progress >= 10
	})
	dbtest.Exec(t, src.Store, "ALTER TABLE plain ADD COLUMN extra TEXT")

	paused := r.waitFor("the pause on the schema change", func(rep migration.Report) bool { return rep.Status == migration.StatusPaused })
	require.Equal(t, migration.PhasePaused, paused.Phases[1].State, "paused, not failed")
	require.NotEmpty(t, paused.Issues)
	issue := paused.Issues[len(paused.Issues)-1].Message
	require.Contains(t, issue, "column extra added")
	require.Contains(t, issue, "godwit resume it-drift-pause")
	copied, err := dst.Store.Count(ctx, "plain")
	require.NoError(t, err)
	require.Greater(t, copied, int64(0), "the rows copied before the change are kept")
	require.Less(t, copied, int64(rows))
	out, err := godwit(t, "status", r.name)
	require.NoError(t, err, out)
	require.Contains(t, out, "column extra added")

	// The fix: the target's table gets the column; the source's new rows
	// fill it.
	dbtest.Exec(t, dst.Store, "ALTER TABLE plain ADD COLUMN extra TEXT")
	dbtest.Exec(t, src.Store, "UPDATE plain SET extra = 'x' || id WHERE id > 19000")
	out, err = godwit(t, "resume", r.name)
	require.NoError(t, err, out)
	final, err := r.result()
	require.NoError(t, err, "%+v", final)
	require.Equal(t, migration.StatusCompleted, final.Status)
	require.GreaterOrEqual(t, final.Phases[1].Attempts, 1)
	dbtest.AssertSameRows(t, src.Store, dst.Store, "plain")
	recordHistory(t, r.name)
}
