package schemachange_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/godwit/godwit/datacopy"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/schemachange"
)

func TestBackfillResumesWithoutRewritingDoneBatches(t *testing.T) {
	for _, e := range dbtest.Engines {
		t.Run(string(e), func(t *testing.T) {
			ctx := context.Background()
			st := setupUsers(t, e, 25)
			c := renameChange(e, true)
			if _, err := schemachange.Apply(ctx, st, c, hclog.NewNullLogger()); err != nil {
				t.Fatal(err)
			}
			// updates counts how often the backfill wrote each row.
			dbtest.Exec(t, st, "ALTER TABLE users ADD COLUMN updates INTEGER NOT NULL DEFAULT 0")
			b := schemachange.Backfill{Name: "test/backfill", Table: "users", BatchRows: 10,
				Set: map[string]string{"email_address": "email", "updates": "updates + 1"}}

			// The first run stops after its first batch (a killed worker).
			cctx, cancel := context.WithCancel(ctx)
			_, err := schemachange.RunBackfill(cctx, st, b, hclog.NewNullLogger(), func(p schemachange.Progress) { cancel() })
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("interrupted backfill: %v", err)
			}
			var progress []schemachange.Progress
			p, err := schemachange.RunBackfill(ctx, st, b, hclog.NewNullLogger(), func(p schemachange.Progress) { progress = append(progress, p) })
			if err != nil {
				t.Fatal(err)
			}
			if p.Checkpoint.Stage != datacopy.StageDone || p.Checkpoint.RowsDone != 25 || p.Checkpoint.Total != 25 {
				t.Fatalf("final progress %+v", p.Checkpoint)
			}
			if p.Updated != 15 || len(progress) != 2 {
				t.Fatalf("resumed run updated %d rows in %d batches, want 15 in 2", p.Updated, len(progress))
			}
			if p.UpdatedBefore != 10 || p.TotalUpdated() != 25 {
				t.Fatalf("resumed run: %d updated before it, %d in all; want 10 and 25 (the record keeps the first run's)", p.UpdatedBefore, p.TotalUpdated())
			}
			var wrong int
			if err := st.DB.QueryRow("SELECT COUNT(*) FROM users WHERE updates <> 1 OR email_address IS NULL OR email_address <> email").Scan(&wrong); err != nil {
				t.Fatal(err)
			}
			if wrong != 0 {
				t.Fatalf("%d rows not backfilled exactly once", wrong)
			}
			// A finished backfill run again does nothing.
			p, err = schemachange.RunBackfill(ctx, st, b, hclog.NewNullLogger(), nil)
			if err != nil || p.Updated != 0 || p.Checkpoint.Stage != datacopy.StageDone || p.TotalUpdated() != 25 {
				t.Fatalf("backfill after done: %+v, %v (want 25 updated in all)", p, err)
			}
		})
	}
}

func TestBackfillWhereAndThrottle(t *testing.T) {
	for _, e := range dbtest.Engines {
		t.Run(string(e), func(t *testing.T) {
			ctx := context.Background()
			st := setupUsers(t, e, 7)
			c := renameChange(e, false)
			c.DualWrite = nil
			if _, err := schemachange.Apply(ctx, st, c, hclog.NewNullLogger()); err != nil {
				t.Fatal(err)
			}
			dbtest.Exec(t, st, "UPDATE users SET email_address = 'kept' WHERE id = 3")
			b := schemachange.Backfill{Name: "test/backfill", Table: "users", BatchRows: 3, RowsPerSecond: 1000,
				Set: map[string]string{"email_address": "lower(email)"}, Where: "email_address IS NULL"}
			p, err := schemachange.RunBackfill(ctx, st, b, hclog.NewNullLogger(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if p.Updated != 6 || p.Batches != 3 {
				t.Fatalf("updated %d in %d batches, want 6 in 3", p.Updated, p.Batches)
			}
			_, kept := both(t, st, 3)
			_, filled := both(t, st, 4)
			if kept.String != "kept" || filled.String != "user4@example.com" {
				t.Fatalf("row 3 %v (want kept), row 4 %v", kept, filled)
			}
		})
	}
}

// The back-off probe (datacopy's) holds the backfill before its first
// batch while its value is over its maximum, and lets it go on once the
// value is back under; a probe that keeps failing stops it at its record
// with datacopy.ErrProbeFailed, nothing updated.
func TestBackfillHeldByTheProbe(t *testing.T) {
	for _, e := range dbtest.Engines {
		t.Run(string(e), func(t *testing.T) {
			ctx := context.Background()
			st := setupUsers(t, e, 9)
			c := renameChange(e, false)
			c.DualWrite = nil
			if _, err := schemachange.Apply(ctx, st, c, hclog.NewNullLogger()); err != nil {
				t.Fatal(err)
			}
			dbtest.Exec(t, st, "CREATE TABLE throttle_control (lag INTEGER NOT NULL)", "INSERT INTO throttle_control VALUES (7)")
			b := schemachange.Backfill{Name: "test/backfill", Table: "users", BatchRows: 4,
				Set: map[string]string{"email_address": "lower(email)"}, Where: "email_address IS NULL",
				Probe: &datacopy.Probe{Name: "lag", Store: st, StoreName: "app", Query: "SELECT lag FROM throttle_control", Max: 5, Every: 20 * time.Millisecond}}
			var heldWith []int64 // rows done each time the probe held the backfill
			p, err := schemachange.RunBackfill(ctx, st, b, hclog.NewNullLogger(), func(p schemachange.Progress) {
				if p.Throttle != nil && p.Throttle.Throttled {
					heldWith = append(heldWith, p.Checkpoint.RowsDone)
					dbtest.Exec(t, st, "UPDATE throttle_control SET lag = 1")
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(heldWith) == 0 || heldWith[0] != 0 {
				t.Fatalf("the probe (lag 7 > 5) did not hold the backfill before its first batch: held at %v", heldWith)
			}
			if p.Updated != 9 || p.Throttle == nil || p.Throttle.Holds != 1 || p.Throttle.Throttled {
				t.Fatalf("updated %d, throttle %+v; want 9 rows, held once, no longer held", p.Updated, p.Throttle)
			}

			dbtest.Exec(t, st, "UPDATE users SET email_address = NULL")
			b.Name = "test/backfill-2"
			b.Probe = &datacopy.Probe{Name: "lag", Store: st, StoreName: "app", Query: "SELECT lag FROM no_such_table", Max: 5, Attempts: 2, Every: 10 * time.Millisecond}
			p, err = schemachange.RunBackfill(ctx, st, b, hclog.NewNullLogger(), nil)
			if !errors.Is(err, datacopy.ErrProbeFailed) {
				t.Fatalf("failing probe: %v, want ErrProbeFailed", err)
			}
			var filled int
			if err := st.DB.QueryRow("SELECT COUNT(*) FROM users WHERE email_address IS NOT NULL").Scan(&filled); err != nil {
				t.Fatal(err)
			}
			if p.Updated != 0 || filled != 0 {
				t.Fatalf("a backfill whose probe fails updated %d rows (%d filled)", p.Updated, filled)
			}
		})
	}
}

// A batch that meets a row another transaction holds waits at most the
// backfill's lock timeout, then gives up with a lock timeout (after its
// retries), rather than the engine's own default wait (InnoDB waits 50 s
// for a row lock whatever lock_wait_timeout says).
func TestBackfillBatchGivesUpOnAHeldRowLock(t *testing.T) {
	for _, e := range []datastore.Engine{datastore.Postgres, datastore.MySQL} {
		t.Run(string(e), func(t *testing.T) {
			ctx := context.Background()
			st := setupUsers(t, e, 5)
			if _, err := schemachange.Apply(ctx, st, renameChange(e, false), hclog.NewNullLogger()); err != nil {
				t.Fatal(err)
			}
			// Another connection holds row 3 in an open transaction.
			tx, err := st.DB.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			if _, err := tx.Exec("UPDATE users SET name = 'held' WHERE id = 3"); err != nil {
				t.Fatal(err)
			}
			b := schemachange.Backfill{Name: "test/backfill", Table: "users", BatchRows: 10,
				Set: map[string]string{"email_address": "email"}, LockTimeout: time.Second, Retries: 1, Backoff: time.Millisecond}
			// Two waits of 1 s are expected; the engines' defaults (InnoDB's
			// innodb_lock_wait_timeout is 50 s) would outlast this bound.
			const bound = 30 * time.Second
			bctx, cancel := context.WithTimeout(ctx, bound)
			defer cancel()
			_, err = schemachange.RunBackfill(bctx, st, b, hclog.NewNullLogger(), nil)
			if bctx.Err() != nil {
				t.Fatalf("the batch was still waiting for the held row after %s (want it to give up after its 1 s lock timeout); it returned %v", bound, err)
			}
			if err == nil || !st.IsLockTimeout(err) {
				t.Fatalf("backfill beside a held row lock: %v, want a lock timeout", err)
			}
		})
	}
}

// A narrowing backfill (BIGINT into INT) over a value that does not fit
// fails with a LossError that names the batch's keys and what to change,
// not only the engine's "out of range ... at row 20" (a row of the batch).
func TestBackfillThatWouldLoseDataNamesTheKeysAndTheFix(t *testing.T) {
	for _, e := range []datastore.Engine{datastore.Postgres, datastore.MySQL} {
		t.Run(string(e), func(t *testing.T) {
			ctx := context.Background()
			db := dbtest.New(t, e)
			dbtest.Exec(t, db.Store, "CREATE TABLE counters (site VARCHAR(20) NOT NULL, n INTEGER NOT NULL, hits BIGINT, hits_int INTEGER, PRIMARY KEY (site, n))",
				"INSERT INTO counters (site, n, hits) VALUES ('a', 1, 5), ('a', 2, 3000000000), ('b', 1, 7), ('b', 2, 8)")
			b := schemachange.Backfill{Name: "test/narrow", Table: "counters", BatchRows: 3,
				Set: map[string]string{"hits_int": "hits"}, Where: "hits_int IS NULL"}
			_, err := schemachange.RunBackfill(ctx, db.Store, b, hclog.NewNullLogger(), nil)
			var loss *schemachange.LossError
			if !errors.As(err, &loss) {
				t.Fatalf("want a LossError, got %v", err)
			}
			for _, want := range []string{
				"update batch of the rows from the first key up to (site, n) (b, 1)",
				"the change would lose data",
				"make the new column of counters wide enough for every value of its rule",
			} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
		})
	}
}
