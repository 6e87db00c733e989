package cdc

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/godwit/godwit/cdc/cdctest"
	"github.com/godwit/godwit/datacopy"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/mapping"
)

// drain runs o until every change committed before now is applied and
// returns the changes it applied.
func drain(t *testing.T, ctx context.Context, o RunOptions) int64 {
	t.Helper()
	o.Until = Drained(time.Now())
	var applied int64
	if _, err := Run(ctx, o, Checkpoint{}, func(p Progress) { applied = p.AppliedThisRun }); err != nil {
		t.Fatalf("run %s: %v", o.Name, err)
	}
	return applied
}

// With a capture on each side (forward a → b, reverse b → a, as after a
// write switch), what one stream applies is not captured by the other:
// writes on a reach b and are not sent back, writes on b reach a and are
// not sent back, and both sides end equal. Both captures are set up before
// anything is applied, so an untagged write would be seen.
func TestAppliedChangesAreNotEchoed(t *testing.T) {
	cases := []struct {
		name string
		open func(t *testing.T) (a, b dbtest.DB)
	}{
		{"sqlite and postgres, triggers", func(t *testing.T) (dbtest.DB, dbtest.DB) {
			return dbtest.New(t, datastore.SQLite), dbtest.New(t, datastore.Postgres)
		}},
		{"mariadb and postgres, triggers", func(t *testing.T) (dbtest.DB, dbtest.DB) {
			return dbtest.New(t, datastore.MySQL), dbtest.New(t, datastore.Postgres)
		}},
		{"postgres logical and sqlite", func(t *testing.T) (dbtest.DB, dbtest.DB) {
			return cdctest.NewLogicalDB(t), dbtest.New(t, datastore.SQLite)
		}},
		{"mariadb and postgres logical", func(t *testing.T) (dbtest.DB, dbtest.DB) {
			return dbtest.New(t, datastore.MySQL), cdctest.NewLogicalDB(t)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, b := tc.open(t)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			tbl := seed(t, a.Store, b.Store, 300)
			fwd := runOpts(a, b, captureName(t), MethodAuto)
			rev := runOpts(b, a, captureName(t), MethodAuto)
			for _, o := range []RunOptions{fwd, rev} {
				if _, err := Setup(ctx, o.Options); err != nil {
					t.Fatalf("setup %s: %v", o.Name, err)
				}
				t.Cleanup(func() { Teardown(context.Background(), o.Options) })
			}
			if _, err := datacopy.Run(ctx, datacopy.Options{From: a.Store, To: b.Store, Tables: []string{"kitchen"}}, datacopy.Checkpoint{}, nil); err != nil {
				t.Fatal(err)
			}
			// The backfill's writes are not a stream's: drop what the
			// reverse capture saw of them.
			drain(t, ctx, rev)

			wa := &writer{s: a.Store, tbl: tbl}
			wa.write(t, 60)
			if n := drain(t, ctx, fwd); n == 0 {
				t.Fatal("the forward stream applied nothing")
			}
			dbtest.AssertSameRows(t, a.Store, b.Store, "kitchen")
			if n := drain(t, ctx, rev); n != 0 {
				t.Fatalf("the reverse capture recorded %d changes the forward stream applied: an echo", n)
			}

			tb, err := b.Store.Introspect(ctx, "kitchen")
			if err != nil {
				t.Fatal(err)
			}
			wb := &writer{s: b.Store, tbl: tb, step: 1000}
			wb.write(t, 60)
			if n := drain(t, ctx, rev); n == 0 {
				t.Fatal("the reverse stream applied nothing")
			}
			dbtest.AssertSameRows(t, b.Store, a.Store, "kitchen")
			if n := drain(t, ctx, fwd); n != 0 {
				t.Fatalf("the forward capture recorded %d changes the reverse stream applied: an echo", n)
			}
			dbtest.AssertSameRows(t, a.Store, b.Store, "kitchen")

			for _, o := range []RunOptions{fwd, rev} {
				if _, err := Teardown(ctx, o.Options); err != nil {
					t.Fatal(err)
				}
			}
			for _, s := range []*datastore.Store{a.Store, b.Store} {
				if left, err := Leftovers(ctx, s); err != nil || len(left) != 0 {
					t.Fatalf("leftovers in %s: %v (err %v)", s.Engine, left, err)
				}
			}
		})
	}
}

// Passed ends a run once everything committed before its time is applied,
// with newer changes pending or not; Drained also wants nothing pending.
func TestPassedAndDrained(t *testing.T) {
	since := time.Date(2024, 1, 1, 0, 0, 10, 0, time.UTC)
	cases := []struct {
		name          string
		lag           Lag
		passed, drain bool
	}{
		{"not measured yet", Lag{}, false, false},
		{"behind the start", Lag{Through: since.Add(-time.Second)}, false, false},
		{"past the start, newer changes pending", Lag{Through: since.Add(time.Second), Changes: 40}, true, false},
		{"past the start, nothing pending", Lag{Through: since}, true, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := Progress{Lag: c.lag}
			if got := Passed(since)(p); got != c.passed {
				t.Fatalf("Passed: got %v, want %v", got, c.passed)
			}
			if got := Drained(since)(p); got != c.drain {
				t.Fatalf("Drained: got %v, want %v", got, c.drain)
			}
		})
	}
}

// Reversed swaps the stores and names the other capture, keeping the
// tables and the run's settings.
func TestReversed(t *testing.T) {
	a, b := &datastore.Store{Engine: datastore.MySQL}, &datastore.Store{Engine: datastore.Postgres}
	o := RunOptions{Options: Options{Source: a, SourceDSN: "a-dsn", Name: "fwd", Tables: []string{"t"}, Method: MethodTriggers},
		Target: b, BatchChanges: 7, Until: func(Progress) bool { return true }}
	r := o.Reversed("rev", "b-dsn", nil)
	if r.Source != b || r.Target != a || r.SourceDSN != "b-dsn" || r.Name != "rev" || r.Method != MethodAuto ||
		r.BatchChanges != 7 || r.Until != nil || len(r.Tables) != 1 || r.Tables[0] != "t" || r.Mapped != nil {
		t.Fatalf("reversed: %+v", r)
	}

	// A mapped capture reverses through the inverse: the target tables
	// it names, not the forward mapping.
	o.Tables = []string{"order_line", "customer_account"}
	o.Mapped = map[string]mapping.Table{"order_line": {Source: "order_line", Target: "SalesLine"}}
	inverse := map[string]mapping.Table{"SalesLine": {Source: "SalesLine", Target: "order_line"}, "CustomerAccount": {Source: "CustomerAccount", Target: "customer_account"}}
	r = o.Reversed("rev", "b-dsn", inverse)
	if fmt.Sprint(r.Tables) != "[CustomerAccount SalesLine]" || r.Mapped["SalesLine"].Target != "order_line" || len(r.Mapped) != 2 {
		t.Fatalf("reversed through the inverse: tables %v, mapped %+v", r.Tables, r.Mapped)
	}
}
