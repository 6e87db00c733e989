package integration

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/migration"
)

// TestDataPlaneThrottleProbeShowsInStatus runs a copy whose back-off probe
// reads a control row that is over its maximum: the copy writes nothing,
// `godwit status` says it is throttled and by how much, and once the row
// drops the migration completes with the target equal to the source.
func TestDataPlaneThrottleProbeShowsInStatus(t *testing.T) {
	t.Parallel()
	src, dst := dbtest.New(t, datastore.Postgres), dbtest.New(t, datastore.MySQL)
	dbtest.Exec(t, src.Store, "CREATE TABLE plain (id INTEGER PRIMARY KEY, label VARCHAR(40) NOT NULL)",
		"CREATE TABLE throttle_ctl (lag double precision NOT NULL)", "INSERT INTO throttle_ctl VALUES (12.3)")
	seedPlain(t, src, 2000)
	r := newDataRun(t, "it-data-throttle-probe", src, dst, `  - phase: provision
    provision: {from: legacy, to: new, tables: [plain]}
  - phase: copy
    copy:
      from: legacy
      to: new
      tables: [plain]
      batchRows: 500
      throttle:
        probe: {name: replication_lag, store: legacy, query: "SELECT lag FROM throttle_ctl", max: 5, every: 200ms}
`)
	r.start()
	held := r.waitFor("the copy to be throttled", func(rep migration.Report) bool {
		return rep.Phases[1].State == migration.PhaseRunning && strings.HasPrefix(rep.Phases[1].Detail, "throttled: ")
	})
	require.Regexp(t, `^throttled: probe replication_lag 12\.3 > 5 \(waiting \d+s\)\n`, held.Phases[1].Detail)
	out, err := godwit(t, "status", r.name)
	require.NoError(t, err, out)
	require.Contains(t, out, "throttled: probe replication_lag 12.3 > 5 (waiting ")
	n, err := dst.Store.Count(context.Background(), "plain")
	require.NoError(t, err)
	require.Zero(t, n, "nothing is written while the probe is over its maximum")

	dbtest.Exec(t, src.Store, "UPDATE throttle_ctl SET lag = 0.5")
	final, err := r.result()
	require.NoError(t, err, "%+v", final)
	require.Equal(t, migration.StatusCompleted, final.Status)
	require.Equal(t, int64(2000), final.Phases[1].Records)
	dbtest.AssertSameRows(t, src.Store, dst.Store, "plain")
}
