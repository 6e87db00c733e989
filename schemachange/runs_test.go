package schemachange_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/schemachange"
)

// asRun is the change as run run of its migration applies it.
func asRun(c schemachange.Change, run string) schemachange.Change {
	c.Run = run
	return c
}

// An expand-only migration run again with the same script after an
// earlier run completed found that run's record and took the change as
// applied by itself: its rollback then ran the down script, undoing the
// schema change the earlier, completed run had made (and the application
// may depend on). A record is now its run's: the later run takes the
// change as in place without owning it, and its rollback leaves it,
// triggers and all; the earlier run's own retry and rollback still find
// it theirs.
func TestALaterRunNeverUndoesAChangeAnEarlierRunApplied(t *testing.T) {
	for _, e := range dbtest.Engines {
		t.Run(string(e), func(t *testing.T) {
			ctx := context.Background()
			log := hclog.NewNullLogger()
			st := setupUsers(t, e, 1)
			change := renameChange(e, true)
			change.Name = "rerun/expand"
			if _, err := schemachange.Apply(ctx, st, asRun(change, "run-1"), log); err != nil {
				t.Fatal(err)
			}
			want, wantTriggers := fmt.Sprint(columns(t, st, "users")), triggers(t, st)
			if res, err := schemachange.Apply(ctx, st, asRun(change, "run-1"), log); err != nil || !res.Already || res.OtherRun {
				t.Fatalf("the first run's retry: %+v, %v; want its own change, already applied", res, err)
			}

			res, err := schemachange.Apply(ctx, st, asRun(change, "run-2"), log)
			if err != nil || !res.Already || !res.OtherRun || res.OtherRunKey != "run-1" || res.Statements != 0 {
				t.Fatalf("the second run's expand: %+v, %v; want it found in place, run-1's", res, err)
			}
			res, err = schemachange.Rollback(ctx, st, asRun(change, "run-2"), log)
			if err != nil || !res.OtherRun || res.OtherRunKey != "run-1" || res.Statements != 0 || len(res.Triggers) != 0 {
				t.Fatalf("the second run's rollback: %+v, %v; want run-1's change left", res, err)
			}
			if got := fmt.Sprint(columns(t, st, "users")); got != want {
				t.Fatalf("the second run's rollback undid the first run's change: columns %s, want %s", got, want)
			}
			if n := triggers(t, st); n != wantTriggers {
				t.Fatalf("the second run's rollback left %d dual-write triggers of the first run's %d", n, wantTriggers)
			}
			if recs, err := schemachange.Records(ctx, st, "rerun/"); err != nil || len(recs) != 1 || recs[0].Run != "run-1" {
				t.Fatalf("records after the second run: %+v, %v; want the first run's", recs, err)
			}
			// Run again, the second run still does not take it over.
			if res, err := schemachange.Apply(ctx, st, asRun(change, "run-2"), log); err != nil || !res.OtherRun {
				t.Fatalf("the second run's expand after its rollback: %+v, %v", res, err)
			}

			// The first run's own rollback undoes it.
			res, err = schemachange.Rollback(ctx, st, asRun(change, "run-1"), log)
			if err != nil || res.OtherRun || res.Already || res.Statements != len(change.Down) {
				t.Fatalf("the first run's rollback: %+v, %v; want its down script run", res, err)
			}
			if got := fmt.Sprint(columns(t, st, "users")); got != "[email id name]" {
				t.Fatalf("after the first run's rollback: %s", got)
			}
			if n := triggers(t, st); n != 0 {
				t.Fatalf("%d triggers left after the first run's rollback", n)
			}
		})
	}
}

// A change another run left part way (MySQL/MariaDB: a statement refused,
// the run ended without its rollback) is refused, naming the run: taking
// it over would make this run's rollback undo what that run applied. The
// later run's rollback leaves it; the first run's still undoes it.
func TestALaterRunRefusesAChangeAnEarlierRunLeftPartWay(t *testing.T) {
	ctx := context.Background()
	log := hclog.NewNullLogger()
	st := setupUsers(t, datastore.MySQL, 1)
	change := schemachange.Change{Name: "rerun/partial",
		Up:   datastore.SplitScript(datastore.MySQL, "ALTER TABLE users ADD COLUMN email_address VARCHAR(200) NULL;\nALTER TABLE users ADD COLUMN age NOT_A_TYPE;"),
		Down: datastore.SplitScript(datastore.MySQL, "ALTER TABLE users DROP COLUMN age;\nALTER TABLE users DROP COLUMN email_address;")}
	if _, err := schemachange.Apply(ctx, st, asRun(change, "run-1"), log); err == nil {
		t.Fatal("the first run's apply succeeded")
	}
	_, err := schemachange.Apply(ctx, st, asRun(change, "run-2"), log)
	var other *schemachange.OtherRunError
	if !errors.As(err, &other) || other.Run != "run-1" || !strings.Contains(err.Error(), "left part way by another run of its migration (run run-1), with 1 statement of it applied") {
		t.Fatalf("the second run's apply: %v; want it refused, naming run-1", err)
	}
	if res, err := schemachange.Rollback(ctx, st, asRun(change, "run-2"), log); err != nil || !res.OtherRun {
		t.Fatalf("the second run's rollback: %+v, %v", res, err)
	}
	if got := fmt.Sprint(columns(t, st, "users")); got != "[email email_address id name]" {
		t.Fatalf("the second run's rollback undid the first run's statement: %s", got)
	}
	res, err := schemachange.Rollback(ctx, st, asRun(change, "run-1"), log)
	if err != nil || res.OtherRun || len(res.Skipped) != 1 {
		t.Fatalf("the first run's rollback: %+v, %v", res, err)
	}
	if got := fmt.Sprint(columns(t, st, "users")); got != "[email id name]" {
		t.Fatalf("after the first run's rollback: %s", got)
	}
}

// A record table from before records had a run gets the column, and its
// records stay the name's: a run without a key (one started before, whose
// retry or rollback comes after the upgrade) finds its change its own; a
// run with one finds it another run's.
func TestARecordTableFromBeforeRunsKeepsItsRecords(t *testing.T) {
	for _, e := range dbtest.Engines {
		t.Run(string(e), func(t *testing.T) {
			ctx := context.Background()
			log := hclog.NewNullLogger()
			st := setupUsers(t, e, 1)
			change := renameChange(e, false)
			if _, err := schemachange.Apply(ctx, st, change, log); err != nil {
				t.Fatal(err)
			}
			// The table as it was made before: no run column.
			dbtest.Exec(t, st, "ALTER TABLE "+st.Quote(schemachange.RecordTable)+" DROP COLUMN run_key")
			// Status and cleanup read it as it is (they change nothing).
			if recs, err := schemachange.Records(ctx, st, "test/"); err != nil || len(recs) != 1 || recs[0].Run != "" {
				t.Fatalf("records of the table from before runs: %+v, %v", recs, err)
			}
			if res, err := schemachange.Apply(ctx, st, asRun(change, "run-2"), log); err != nil || !res.OtherRun || res.OtherRunKey != "" {
				t.Fatalf("a run with a key: %+v, %v; want the change another run's", res, err)
			}
			if res, err := schemachange.Apply(ctx, st, change, log); err != nil || !res.Already || res.OtherRun {
				t.Fatalf("the retry of the run without a key: %+v, %v; want its own change, already applied", res, err)
			}
			res, err := schemachange.Rollback(ctx, st, change, log)
			if err != nil || res.OtherRun || res.Statements != len(change.Down) {
				t.Fatalf("the rollback of the run without a key: %+v, %v", res, err)
			}
			if got := fmt.Sprint(columns(t, st, "users")); got != "[email id name]" {
				t.Fatalf("after its rollback: %s", got)
			}
		})
	}
}
