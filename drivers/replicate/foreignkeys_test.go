package replicate_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/cdc/cdctest"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	copydriver "github.com/godwit/godwit/drivers/copy"
	"github.com/godwit/godwit/drivers/provision"
	"github.com/godwit/godwit/drivers/replicate"
)

// fkSpec: provision, capture setup, copy, catchUp, stop of rental and
// payment (payment.rental_id → rental.id).
func fkSpec(t *testing.T, src, dst dbtest.DB, method string) *config.Spec {
	t.Helper()
	dir := t.TempDir()
	file := func(n, dsn string) string {
		p := filepath.Join(dir, n)
		require.NoError(t, os.WriteFile(p, []byte(dsn+"\n"), 0o600))
		return p
	}
	text := fmt.Sprintf(`name: fkafter-%d
stores:
  legacy: {engine: %s, dsn: {fromFile: %q}}
  new: {engine: %s, dsn: {fromFile: %q}}
phases:
  - {phase: provision, name: tables, provision: {from: legacy, to: new, tables: [rental, payment]}}
  - {phase: provision, name: capture, replicate: {from: legacy, to: new, tables: [rental, payment], mode: setup, method: %s}}
  - {phase: copy, copy: {from: legacy, to: new, tables: [rental, payment], batchRows: 10, concurrency: 1}}
  - {phase: copy, name: replicate, replicate: {from: legacy, to: new, tables: [rental, payment], maxLag: 1s, holdFor: 300ms}}
  - {phase: decommission, name: stop, replicate: {from: legacy, to: new, tables: [rental, payment], mode: stop}}
`, time.Now().UnixNano()%1e9, src.Store.Engine, file("legacy", src.DSN), dst.Store.Engine, file("new", dst.DSN), method)
	spec, err := config.ParseSpec([]byte(text))
	require.NoError(t, err, text)
	return spec
}

func fkTables(t *testing.T, db dbtest.DB) {
	t.Helper()
	dbtest.Exec(t, db.Store,
		"CREATE TABLE rental (id INTEGER PRIMARY KEY, label VARCHAR(40) NOT NULL)",
		"CREATE TABLE payment (id INTEGER PRIMARY KEY, rental_id INTEGER NOT NULL, amount INTEGER NOT NULL, CONSTRAINT payment_rental_fk FOREIGN KEY (rental_id) REFERENCES rental (id))")
	for i := 1; i <= 25; i++ {
		dbtest.Exec(t, db.Store, fmt.Sprintf("INSERT INTO rental (id, label) VALUES (%d, 'r%d')", i, i))
	}
	// Payments in several batches: the copy of payment goes on after its first.
	var values []string
	for i := 1; i <= 200; i++ {
		values = append(values, fmt.Sprintf("(%d, %d, %d)", i, i%25+1, i*10))
	}
	dbtest.Exec(t, db.Store, "INSERT INTO payment (id, rental_id, amount) VALUES "+strings.Join(values, ", "))
}

func hasForeignKey(t *testing.T, s *datastore.Store, table, ref string) bool {
	t.Helper()
	tbl, err := s.Introspect(context.Background(), table)
	require.NoError(t, err)
	for _, fk := range tbl.ForeignKeys {
		if fk.RefTable == ref {
			return true
		}
	}
	return false
}

func runPhase(t *testing.T, ctx context.Context, d interface {
	Do(context.Context, activities.Action, activities.PhaseInput, activities.Heartbeat, func(activities.Heartbeat)) (activities.PhaseResult, error)
}, spec *config.Spec, i int) activities.PhaseResult {
	t.Helper()
	res, err := d.Do(ctx, activities.ActionRun, input(spec, i), activities.Heartbeat{}, func(activities.Heartbeat) {})
	require.NoError(t, err, "phase %s", spec.Phases[i].Name)
	return res
}

// A copy under live writes sees a new payment but not its new rental (the
// rental is inserted, with its payment, after the copy has read rental):
// the foreign key fails validation at the end of the copy and is left off,
// recorded as pending; the catchUp phase, once change capture has brought
// the rental, adds it. Before the fix the key stayed off for good.
func TestForeignKeyLeftOffByALiveCopyIsAddedOnceCaughtUp(t *testing.T) {
	cases := []struct {
		name, method string
		open         func(t *testing.T) (dbtest.DB, dbtest.DB)
	}{
		{"postgres to mariadb, triggers", "triggers", func(t *testing.T) (dbtest.DB, dbtest.DB) {
			return dbtest.New(t, datastore.Postgres), dbtest.New(t, datastore.MySQL)
		}},
		{"postgres to mariadb, logical", "logical", func(t *testing.T) (dbtest.DB, dbtest.DB) {
			return cdctest.NewLogicalDB(t), dbtest.New(t, datastore.MySQL)
		}},
		{"mariadb to postgres, triggers", "triggers", func(t *testing.T) (dbtest.DB, dbtest.DB) {
			return dbtest.New(t, datastore.MySQL), dbtest.New(t, datastore.Postgres)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src, dst := tc.open(t)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			fkTables(t, src)
			spec := fkSpec(t, src, dst, tc.method)
			log := hclog.NewNullLogger()
			rep := replicate.New(log)
			rep.LagEvery = 100 * time.Millisecond
			runPhase(t, ctx, provision.New(log), spec, 0)
			runPhase(t, ctx, rep, spec, 1)

			cp := copydriver.New(log)
			var once sync.Once
			cp.AfterCommit = func(table string) {
				if table != "payment" {
					return
				}
				// One table at a time, rental first (the parent before
				// the child): rental is copied, payment is under way. A
				// new rental and its payment now reach the copy of
				// payment only (its key is past the copied ones).
				once.Do(func() {
					dbtest.Exec(t, src.Store, "INSERT INTO rental (id, label) VALUES (1000, 'late')",
						"INSERT INTO payment (id, rental_id, amount) VALUES (1000, 1000, 5)")
				})
			}
			res := runPhase(t, ctx, cp, spec, 2)
			require.Contains(t, res.Summary, "1 of them only because rows violate them now", "the copy saw the child without its parent: %s", res.Summary)
			assert.False(t, hasForeignKey(t, dst.Store, "payment", "rental"), "the key is off after the copy")
			pending, err := datastore.PendingForeignKeys(ctx, dst.Store, spec.Name)
			require.NoError(t, err)
			require.Len(t, pending, 1)
			assert.Equal(t, "payment", pending[0].Table)
			names, err := dst.Store.ListTables(ctx)
			require.NoError(t, err)
			assert.Equal(t, []string{"payment", "rental"}, names, "the record is Godwit's, not one of the target's tables")

			res = runPhase(t, ctx, rep, spec, 3)
			assert.Empty(t, res.Warnings)
			assert.Contains(t, res.Summary, "caught up")
			assert.Contains(t, res.Summary, "1 foreign key the copy had left off (rows not yet caught up) added now: payment.")
			assert.True(t, hasForeignKey(t, dst.Store, "payment", "rental"), "the key is on the target once caught up: %s", res.Summary)
			pending, err = datastore.PendingForeignKeys(ctx, dst.Store, spec.Name)
			require.NoError(t, err)
			assert.Empty(t, pending)

			// Run again (a retried activity): nothing left to do, no error.
			res = runPhase(t, ctx, rep, spec, 3)
			assert.NotContains(t, res.Summary, "foreign key")
			res = runPhase(t, ctx, rep, spec, 4)
			assert.Contains(t, res.Summary, "drained")
			dbtest.AssertSameRows(t, src.Store, dst.Store, "payment")
			// The key holds on the target.
			_, err = dst.Store.DB.ExecContext(ctx, "INSERT INTO payment (id, rental_id, amount) VALUES (2000, 2000, 1)")
			assert.Error(t, err, "the target refuses an orphan payment")

			// Provision's compensation forgets the record table with the tables.
			_, err = provision.New(log).Do(ctx, activities.ActionCompensate, input(spec, 0), activities.Heartbeat{}, func(activities.Heartbeat) {})
			require.NoError(t, err)
			schema := "current_schema()"
			if dst.Store.Engine == datastore.MySQL {
				schema = "DATABASE()"
			}
			var n int
			require.NoError(t, dst.Store.DB.QueryRowContext(ctx, "SELECT count(*) FROM information_schema.tables WHERE table_schema = "+schema+
				" AND table_name = 'godwit_pending_foreign_keys'").Scan(&n))
			assert.Zero(t, n, "no record table left")
		})
	}
}

// A source that itself holds an orphan (SQLite does not enforce foreign
// keys): the copy leaves the key off and records it, the catchUp and stop
// phases try it again and still cannot add it, and say so: which key, how
// many rows, an example, how to fix it.
func TestForeignKeyViolatedOnTheSourceIsReportedAfterCatchUp(t *testing.T) {
	src, dst := dbtest.New(t, datastore.SQLite), dbtest.New(t, datastore.Postgres)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	fkTables(t, src)
	dbtest.Exec(t, src.Store, "INSERT INTO payment (id, rental_id, amount) VALUES (500, 999, 1)", "INSERT INTO payment (id, rental_id, amount) VALUES (501, 998, 1)")
	spec := fkSpec(t, src, dst, "triggers")
	log := hclog.NewNullLogger()
	rep := replicate.New(log)
	rep.LagEvery = 100 * time.Millisecond
	runPhase(t, ctx, provision.New(log), spec, 0)
	runPhase(t, ctx, rep, spec, 1)
	res := runPhase(t, ctx, copydriver.New(log), spec, 2)
	assert.Contains(t, res.Summary, "1 of them only because rows violate them now")

	for _, i := range []int{3, 4} {
		res = runPhase(t, ctx, rep, spec, i)
		assert.Contains(t, res.Summary, "1 foreign key still NOT carried: payment.")
		assert.Contains(t, res.Summary, ": 2 rows of payment reference a missing row of rental (e.g. rental_id=")
		assert.Contains(t, res.Summary, "so the source has them too; delete or fix them (on the source, or here), then add the key: ALTER TABLE")
		require.Len(t, res.Warnings, 1, "the run's issues (godwit status) show it too")
		assert.Contains(t, res.Warnings[0], "foreign key still NOT carried to new: payment.")
	}
	assert.False(t, hasForeignKey(t, dst.Store, "payment", "rental"))
	pending, err := datastore.PendingForeignKeys(ctx, dst.Store, spec.Name)
	require.NoError(t, err)
	assert.Len(t, pending, 1, "still recorded: a later phase (the cut-over) tries again")
}

// orphanFollowed sets up a source whose payment references a rental it
// does not have, provisions, captures and copies it to PostgreSQL, runs
// the catchUp (which reports the key still not carried) and returns the
// replicate driver and a function running one bounded (300 ms) run of
// the replication in the background, its checkpoint carried on.
func orphanFollowed(t *testing.T, ctx context.Context, keysEvery time.Duration) (src dbtest.DB, dst dbtest.DB, rep *replicate.Driver, bounded func() activities.PhaseResult, spec *config.Spec) {
	t.Helper()
	src, dst = dbtest.New(t, datastore.SQLite), dbtest.New(t, datastore.Postgres)
	fkTables(t, src)
	dbtest.Exec(t, src.Store, "INSERT INTO payment (id, rental_id, amount) VALUES (500, 999, 1)")
	spec = fkSpec(t, src, dst, "triggers")
	log := hclog.NewNullLogger()
	rep = replicate.New(log)
	rep.LagEvery = 50 * time.Millisecond
	rep.PendingKeysEvery = keysEvery
	runPhase(t, ctx, provision.New(log), spec, 0)
	runPhase(t, ctx, rep, spec, 1)
	runPhase(t, ctx, copydriver.New(log), spec, 2)
	res := runPhase(t, ctx, rep, spec, 3)
	require.Contains(t, res.Summary, "1 foreign key still NOT carried: payment.")

	follow, ok := spec.Phases[3].Driver.(*replicate.Spec).FollowFor(300 * time.Millisecond)
	require.True(t, ok)
	in := input(spec, 3)
	in.Phase.Driver = follow
	bounded = func() activities.PhaseResult {
		t.Helper()
		res, err := rep.Do(ctx, activities.ActionRun, in, activities.Heartbeat{Checkpoint: in.Resume}, func(activities.Heartbeat) {})
		require.NoError(t, err)
		in.Resume = res.Checkpoint
		return res
	}
	return src, dst, rep, bounded, spec
}

// A replication going on in the background runs bounded (runFor), and a
// bounded run did not try the keys the copy left off: a parent brought
// after the catchUp (the orphan fixed on the source) let the key on only
// at the stop or the cut-over. A bounded run that ends caught up, having
// applied changes, tries them; one that applied nothing does not.
func TestForeignKeyIsAddedByABoundedRunOnceItsParentArrives(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	src, dst, _, bounded, spec := orphanFollowed(t, ctx, 0)
	res := bounded()
	assert.NotContains(t, res.Summary, "foreign key", "nothing applied: the keys are not tried again")

	// The orphan's parent is written on the source.
	dbtest.Exec(t, src.Store, "INSERT INTO rental (id, label) VALUES (999, 'fixed')")
	for k := 0; !hasForeignKey(t, dst.Store, "payment", "rental"); k++ {
		require.Less(t, k, 20, "a bounded run never added the key: %s", res.Summary)
		res = bounded()
	}
	assert.Contains(t, res.Summary, "kept up for 300ms")
	assert.Contains(t, res.Summary, "1 foreign key the copy had left off (rows not yet caught up) added now: payment.")
	pending, err := datastore.PendingForeignKeys(ctx, dst.Store, spec.Name)
	require.NoError(t, err)
	assert.Empty(t, pending)
}

// A key that stays violated is not checked again at every bounded run of
// a busy source (each check reads the child table): after a bounded run's
// failed try, the next tries wait PendingKeysEvery.
func TestABoundedRunWaitsBeforeTryingAViolatedKeyAgain(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	src, _, rep, bounded, _ := orphanFollowed(t, ctx, time.Hour)
	tried := func(id int) bool {
		t.Helper()
		// The source keeps taking writes: every bounded run applies some.
		dbtest.Exec(t, src.Store, fmt.Sprintf("INSERT INTO payment (id, rental_id, amount) VALUES (%d, 1, 1)", id))
		for k := 0; ; k++ {
			res := bounded()
			if res.Records > 0 || k == 10 {
				require.Positive(t, res.Records, "no bounded run applied the write")
				return strings.Contains(strings.Join(res.Warnings, "\n"), "foreign key still NOT carried")
			}
		}
	}
	assert.True(t, tried(600), "the first bounded run that applied changes tries the key")
	assert.False(t, tried(601), "the next, within PendingKeysEvery of the failed try, tries it again")
	rep.PendingKeysEvery = time.Nanosecond
	assert.True(t, tried(602), "past PendingKeysEvery a bounded run tries again")
}
