package reconcile

import (
	"strings"
	"testing"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

func TestRepairFixesEachClass(t *testing.T) {
	// Each engine is the repaired target once.
	for _, p := range pairs[:3] {
		for _, deleteExtra := range []bool{true, false} {
			name := string(p.src) + "-" + string(p.tgt)
			if deleteExtra {
				name += "-deleteExtra"
			}
			t.Run(name, func(t *testing.T) {
				const n = 3000
				a, b := newItems(t, p.src, n), newItems(t, p.tgt, n)
				want := changeTarget(t, b.Store, n)
				o := Options{Source: a.Store, Target: b.Store, Threshold: 40, Repair: true, DeleteExtra: deleteExtra}
				rep := run(t, o)
				tr := rep.Tables[0]
				rr := tr.Repair
				if rr == nil {
					t.Fatalf("no repair report: %s", rep.Summary())
				}
				// What was found is still reported as found.
				if tr.Missing != 3 || tr.Extra != 3 || tr.Mismatched != 4 {
					t.Fatalf("found %d/%d/%d, want 3/3/4: %s", tr.Missing, tr.Extra, tr.Mismatched, rep.Summary())
				}
				if rr.Upserted != int64(len(want[MissingInTarget])+len(want[Mismatched])) {
					t.Errorf("upserted %d rows, want 7", rr.Upserted)
				}
				if rr.Unfixed != 0 || rr.Missing != 0 || rr.Mismatched != 0 {
					t.Errorf("repair left differences: %+v\n%s", rr, rep.Text())
				}
				again := run(t, Options{Source: a.Store, Target: b.Store, Threshold: 40})
				if deleteExtra {
					if rr.Deleted != 3 || rr.Extra != 0 || !rr.Clean() {
						t.Errorf("deleted %d, extra still %d: want 3 deleted and none left", rr.Deleted, rr.Extra)
					}
					if fails := (Tolerance{}).Check(rep); fails != nil {
						t.Errorf("a clean repair must pass the gate: %v", fails)
					}
					if again.Differing() != 0 {
						t.Errorf("a fresh check after the repair: %s", again.Summary())
					}
					return
				}
				// Without deleteExtra the extra rows stay and count.
				if rr.Deleted != 0 || rr.ExtraKept != 3 || rr.Extra != 3 {
					t.Errorf("deleted %d, kept %d, extra after %d: want 0, 3, 3", rr.Deleted, rr.ExtraKept, rr.Extra)
				}
				fails := (Tolerance{}).Check(rep)
				if len(fails) != 1 || !strings.Contains(fails[0], "3 extra_in_target") {
					t.Errorf("kept extras must meet the extra tolerance: %v", fails)
				}
				if fails := (Tolerance{MaxExtra: 3}).Check(rep); fails != nil {
					t.Errorf("within the extra tolerance after repair: %v", fails)
				}
				if got := keysOf(&again.Tables[0], ExtraInTarget); again.Differing() != 3 || len(got) != 3 {
					t.Errorf("a fresh check after the repair: %s", again.Summary())
				}
				if !strings.Contains(rep.Text(), "3 extra kept (deleteExtra is off)") {
					t.Errorf("the report does not say extras were kept:\n%s", rep.Text())
				}
			})
		}
	}
}

func TestRepairIsNotDoneOnAStoppedCheck(t *testing.T) {
	a, b := newItems(t, pairs[0].src, 3000), newItems(t, pairs[0].tgt, 3000)
	changeTarget(t, b.Store, 3000)
	rep := run(t, Options{Source: a.Store, Target: b.Store, Threshold: 10, MaxDifferences: 2, Concurrency: 1, Repair: true})
	if rep.Complete() || rep.Tables[0].Repair != nil {
		t.Fatalf("a check stopped at a limit repaired: %s", rep.Summary())
	}
	if again := run(t, Options{Source: a.Store, Target: b.Store}); again.Differing() != 10 {
		t.Fatalf("the target changed after a stopped check: %s", again.Summary())
	}
}

// TestRepairRespectsTheTargetsForeignKeys: a film moved out of the copied
// rows on the source (its actor links with it) is extra on the target, and
// one moved in is missing, links included. Each table was repaired on its
// own as its check ended: the film's delete was refused while its links
// were still there ("violates foreign key constraint"), and a link's
// insert before its film. Deletes now run children first, upserts
// parents first, once every check is over.
func TestRepairRespectsTheTargetsForeignKeys(t *testing.T) {
	for _, engine := range []datastore.Engine{datastore.Postgres, datastore.MySQL} {
		t.Run(string(engine), func(t *testing.T) {
			src, dst := dbtest.New(t, engine), dbtest.New(t, engine)
			for _, db := range []dbtest.DB{src, dst} {
				dbtest.Exec(t, db.Store,
					"CREATE TABLE film (film_id INT PRIMARY KEY, title VARCHAR(50))",
					"CREATE TABLE film_actor (actor_id INT, film_id INT, PRIMARY KEY (actor_id, film_id), "+
						"CONSTRAINT fk_film FOREIGN KEY (film_id) REFERENCES film (film_id))")
			}
			dbtest.Exec(t, src.Store,
				"INSERT INTO film VALUES (1, 'A'), (3, 'C')",
				"INSERT INTO film_actor VALUES (1, 1), (1, 3), (2, 3)")
			dbtest.Exec(t, dst.Store,
				"INSERT INTO film VALUES (1, 'A'), (4, 'D')",
				"INSERT INTO film_actor VALUES (1, 1), (1, 4), (2, 4)")
			// film_actor first: its check may end, and repair, before film's.
			tables := []TablePair{{Source: "film_actor", Target: "film_actor"}, {Source: "film", Target: "film"}}
			rep := run(t, Options{Source: src.Store, Target: dst.Store, Tables: tables, Repair: true, DeleteExtra: true, Concurrency: 1})
			for _, tr := range rep.Tables {
				if tr.Repair == nil || !tr.Repair.Clean() {
					t.Errorf("%s: repair %+v\n%s", tr.Table, tr.Repair, rep.Text())
				}
			}
			if again := run(t, Options{Source: src.Store, Target: dst.Store, Tables: tables}); again.Differing() != 0 {
				t.Fatalf("after the repair:\n%s", again.Text())
			}
		})
	}
}

// TestACheckpointListsATableOnlyOnceRepaired: the repairs wait for every
// check (TestRepairRespectsTheTargetsForeignKeys), so a checkpoint taken
// in between must not list a checked but unrepaired table as done: a
// check resumed from it would skip the table's repair.
func TestACheckpointListsATableOnlyOnceRepaired(t *testing.T) {
	a, b := newItems(t, pairs[0].src, 300), newItems(t, pairs[0].tgt, 300)
	changeTarget(t, b.Store, 300)
	var done []TableReport
	o := Options{Source: a.Store, Target: b.Store, Repair: true, DeleteExtra: true,
		Progress: func(p Progress) { done = append(done, p.Checkpoint.Done...) }}
	if rep := run(t, o); rep.Tables[0].Repair == nil || !rep.Tables[0].Repair.Clean() {
		t.Fatalf("repair: %s", rep.Summary())
	}
	if len(done) == 0 {
		t.Fatal("no checkpoint listed the table as done")
	}
	for _, d := range done {
		if d.Repair == nil {
			t.Fatalf("a checkpoint listed %s as done before its repair", d.Table)
		}
	}
}
