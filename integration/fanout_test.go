package integration

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/migration"
)

// TestACopyFannedOutByTableCompletesWithEveryRow copies four tables, each
// as its own activity (at most two at once, shared by the two workers of
// the test server), and checks every row arrived once.
func TestACopyFannedOutByTableCompletesWithEveryRow(t *testing.T) {
	t.Parallel()
	src, dst := dbtest.New(t, datastore.SQLite), dbtest.New(t, datastore.Postgres)
	tables := []string{"t_a", "t_b", "t_c", "t_d"}
	for i, name := range tables {
		dbtest.Exec(t, src.Store, fmt.Sprintf("CREATE TABLE %s (id INTEGER PRIMARY KEY, label VARCHAR(40) NOT NULL)", name))
		var values []string
		for k := 1; k <= 500*(i+1); k++ {
			values = append(values, fmt.Sprintf("(%d, 'row %d of %s')", k, k, name))
		}
		dbtest.Exec(t, src.Store, "INSERT INTO "+name+" VALUES "+strings.Join(values, ","))
	}
	r := newDataRun(t, "it-data-fanout", src, dst, `
  - phase: provision
    provision: {from: legacy, to: new, tables: ["t_*"]}
  - phase: copy
    copy: {from: legacy, to: new, tables: ["t_*"], fanOut: 2, batchRows: 200}
  - phase: reconcile
    reconcile: {from: legacy, to: new, tables: ["t_*"], fanOut: 3}
`)
	r.start()
	final, err := r.result()
	require.NoError(t, err, "%+v", final)
	require.Equal(t, migration.StatusCompleted, final.Status)
	require.Equal(t, int64(500+1000+1500+2000), final.Phases[1].Records)
	require.Equal(t, "4 of 4 units done, 0 running", final.Phases[1].Step)
	require.True(t, strings.HasPrefix(final.Phases[1].Summary, "4 units: t_a: copied 500 rows"), final.Phases[1].Summary)
	for _, name := range tables {
		dbtest.AssertSameRows(t, src.Store, dst.Store, name)
	}
	out, err := godwit(t, "output", r.name, "copy")
	require.NoError(t, err, out)
	require.Equal(t, 4, strings.Count(out, "== copy run, attempt"), "one activity per table:\n%s", out)
	require.Equal(t, migration.PhaseCompleted, final.Phases[2].State)
	require.Equal(t, "4 of 4 units done, 0 running", final.Phases[2].Step, "the reconcile fanned out too")
	out, err = godwit(t, "output", r.name, "reconcile")
	require.NoError(t, err, out)
	require.Equal(t, 4, strings.Count(out, "== reconcile run, attempt"), "one check per table:\n%s", out)
	recordHistory(t, r.name)
}
