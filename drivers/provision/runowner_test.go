package provision_test

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/drivers/provision"
)

// A migration run again under the same name after an earlier run
// completed found the tables (and the database) that run created as its
// own ("created by an earlier attempt"), took them over, and its rollback
// dropped them with everything the earlier run had moved (found by a
// trial: 201,000 rows gone). What a provision creates is now owned by its
// run (activities.PhaseInput.Run): the later run's preflight names the
// earlier run's tables as a problem, its provision refuses them, and its
// compensation leaves them and the database alone; the earlier run's own
// retry and rollback still find them as theirs.
func TestALaterRunOfAMigrationNeverTakesOverWhatAnEarlierRunCreated(t *testing.T) {
	for _, engine := range dbtest.Engines {
		t.Run(string(engine), func(t *testing.T) {
			ctx := context.Background()
			src := dbtest.New(t, datastore.SQLite)
			seedShop(t, src)
			dsn := newDatabaseDSN(t, engine)
			first := activities.OwnerKey("rerun", "run-1")
			t.Cleanup(func() { _, _ = datastore.DropCreatedDatabase(context.Background(), engine, dsn, first) })
			spec := createDBSpec(t, "rerun", src, engine, dsn)
			d := provision.New(hclog.NewNullLogger())
			runIn := func(run string) activities.PhaseInput {
				in := in(spec, 0)
				in.Run = run
				return in
			}

			_, err := d.Do(ctx, activities.ActionRun, runIn("run-1"), activities.Heartbeat{}, none)
			require.NoError(t, err)
			res, err := d.Do(ctx, activities.ActionRun, runIn("run-1"), activities.Heartbeat{}, none)
			require.NoError(t, err, "a retry of the first run")
			require.Contains(t, res.Summary, "created by an earlier attempt")
			target, err := datastore.Open(ctx, engine, dsn)
			require.NoError(t, err)
			defer target.Close()
			dbtest.Exec(t, target, "INSERT INTO customers (id, name) VALUES (1, 'moved by run 1')")

			// The second run: preflight says why, provision refuses, the
			// compensation keeps everything.
			problems := strings.Join(d.Preflight(activities.WithRun(ctx, "run-2"), spec, spec.Phases[0]), "\n")
			require.Contains(t, problems, "table customers already exists, created by an earlier run of this migration (run run-1)")
			_, err = d.Do(ctx, activities.ActionRun, runIn("run-2"), activities.Heartbeat{}, none)
			require.Error(t, err, "the second run's provision took over the first run's tables")
			res, err = d.Do(ctx, activities.ActionCompensate, runIn("run-2"), activities.Heartbeat{}, none)
			require.NoError(t, err)
			require.NotContains(t, res.Summary, "dropped")
			exists, err := datastore.DatabaseExists(ctx, engine, dsn)
			require.NoError(t, err)
			require.True(t, exists, "the second run's rollback dropped the database the first run created")
			var n int
			require.NoError(t, target.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM customers").Scan(&n))
			require.Equal(t, 1, n, "the second run's rollback lost the first run's rows")
			target.Close()

			// The first run's own rollback still drops what it created.
			res, err = d.Do(ctx, activities.ActionCompensate, runIn("run-1"), activities.Heartbeat{}, none)
			require.NoError(t, err)
			require.Contains(t, res.Summary, "which this migration created")
			exists, err = datastore.DatabaseExists(ctx, engine, dsn)
			require.NoError(t, err)
			require.False(t, exists, "the first run's rollback kept the database it created")
		})
	}
}
