package reconcile

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"go.temporal.io/sdk/temporal"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

func specYAML(section string, shiftFirst bool) string {
	shift := ""
	if shiftFirst {
		shift = `
  - phase: shift-traffic
    hook: {run: {command: ["true"]}}`
	}
	return `name: rc
stores:
  legacy: {engine: postgres, dsn: {fromEnv: RC_LEGACY}}
  new: {engine: sqlite, dsn: {fromEnv: RC_NEW}}
phases:` + shift + `
  - phase: reconcile
    reconcile:
` + section
}

func TestSpecIsCheckedAndResolved(t *testing.T) {
	cases := []struct {
		name, section string
		shiftFirst    bool
		wantErr       string
		wantTruth     string
	}{
		{"minimal, forward before traffic moved", "      {from: legacy, to: new, tables: [items]}", false, "", DirectionForward},
		{"auto turns reverse after shift-traffic", "      {from: legacy, to: new, tables: [items]}", true, "", DirectionReverse},
		{"explicit direction wins", "      {from: legacy, to: new, tables: [items], direction: forward}", true, "", DirectionForward},
		{"full section", `      from: legacy
      to: new
      tables: ["orders_*", items]
      tolerance: {maxMismatched: 2, maxMissingPercent: 0.5}
      recheckAfter: 5s
      columns: {"items.price": {tolerance: 0.01}, "*.note": {trimRight: true}}
      where: {"*": "updated_at < '2024-01-01'"}
      updatedColumn: updated_at
      maxDifferences: 1000
      maxDuration: 10m`, false, "", DirectionForward},
		{"unknown store", "      {from: legacy, to: nowhere, tables: [items]}", false, `store "nowhere" is not in stores`, ""},
		{"no tables", "      {from: legacy, to: new}", false, "tables (line 7): is required", ""},
		{"bad pattern", "      {from: legacy, to: new, tables: [\"public.items\"]}", false, "schema-qualified", ""},
		{"bad direction", "      {from: legacy, to: new, tables: [items], direction: sideways}", false, "want auto, forward or reverse", ""},
		{"bad rule", "      {from: legacy, to: new, tables: [items], columns: {\"items.a\": {precision: h}}}", false, "want s, ms or us", ""},
		{"bad rule key", "      {from: legacy, to: new, tables: [items], columns: {price: {ignore: true}}}", false, "want table.column", ""},
		{"unknown field", "      {from: legacy, to: new, tables: [items], tolerence: {}}", false, "unknown field", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			spec, err := config.ParseSpec([]byte(specYAML(c.section, c.shiftFirst)))
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("want an error with %q, got %v", c.wantErr, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			s := spec.Phases[len(spec.Phases)-1].Driver.(*Spec)
			if s.Truth != c.wantTruth || s.FromStore.Engine != "postgres" || s.ToStore.DSN.FromEnv != "RC_NEW" {
				t.Fatalf("resolved truth %q, stores %+v %+v", s.Truth, s.FromStore, s.ToStore)
			}
			if spec.Phases[len(spec.Phases)-1].Driver.(config.Compensator).HasCompensation() {
				t.Fatal("a reconcile has nothing to compensate")
			}
		})
	}
}

// sqliteSpec returns a resolved section comparing items between two SQLite
// databases whose paths are in the environment.
func sqliteSpec(t *testing.T, tol string) (*Spec, dbtest.DB, dbtest.DB) {
	t.Helper()
	a, b := dbtest.New(t, datastore.SQLite), dbtest.New(t, datastore.SQLite)
	for _, db := range []dbtest.DB{a, b} {
		dbtest.Exec(t, db.Store, "CREATE TABLE items (id INTEGER PRIMARY KEY, label TEXT)")
		var vals []string
		for i := 1; i <= 500; i++ {
			vals = append(vals, fmt.Sprintf("(%d, 'item %d')", i, i))
		}
		dbtest.Exec(t, db.Store, "INSERT INTO items VALUES "+strings.Join(vals, ", "))
	}
	t.Setenv("RC_LEGACY", a.DSN)
	t.Setenv("RC_NEW", b.DSN)
	doc := strings.ReplaceAll(specYAML(fmt.Sprintf("      {from: legacy, to: new, tables: [items], threshold: 20%s}", tol), false),
		"engine: postgres", "engine: sqlite")
	spec, err := config.ParseSpec([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return spec.Phases[0].Driver.(*Spec), a, b
}

func do(t *testing.T, s *Spec) (activities.PhaseResult, error, []activities.Heartbeat) {
	t.Helper()
	var beats []activities.Heartbeat
	in := activities.PhaseInput{Migration: "rc", Phase: config.PhaseSpec{Name: "reconcile", Phase: "reconcile", Driver: s}}
	res, err := New(hclog.NewNullLogger()).Do(context.Background(), activities.ActionRun, in, activities.Heartbeat{},
		func(h activities.Heartbeat) { beats = append(beats, h) })
	return res, err, beats
}

func TestDoPassesEqualTablesAndFailsBeyondTolerance(t *testing.T) {
	cases := []struct {
		name    string
		tol     string
		change  []string
		wantErr bool
	}{
		{"equal tables pass", "", nil, false},
		{"a missing row fails at tolerance zero", "", []string{"DELETE FROM items WHERE id = 7"}, true},
		{"within a count tolerance", ", tolerance: {maxMissing: 1, maxMismatched: 1}",
			[]string{"DELETE FROM items WHERE id = 7", "UPDATE items SET label = 'x' WHERE id = 9"}, false},
		{"beyond a percentage", ", tolerance: {maxMismatchedPercent: 0.2}",
			[]string{"UPDATE items SET label = 'x' WHERE id IN (1, 2)"}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, _, b := sqliteSpec(t, c.tol)
			dbtest.Exec(t, b.Store, c.change...)
			res, err, beats := do(t, s)
			if (err != nil) != c.wantErr {
				t.Fatalf("error %v, want error: %v (summary %q)", err, c.wantErr, res.Summary)
			}
			if res.Records != 500 || !strings.Contains(res.Summary, "1 tables, 500 source rows") {
				t.Fatalf("result %+v", res)
			}
			if len(beats) == 0 || beats[len(beats)-1].Detail == "" || beats[len(beats)-1].Checkpoint == "" {
				t.Fatalf("no progress heartbeat with detail and checkpoint: %+v", beats)
			}
			if err != nil {
				var app *temporal.ApplicationError
				if !errors.As(err, &app) || app.Type() != ErrTypeDifferences || !app.NonRetryable() {
					t.Fatalf("want a non-retryable %s error, got %v", ErrTypeDifferences, err)
				}
				if !strings.Contains(res.Output, "key=") {
					t.Fatalf("the output should show sample keys:\n%s", res.Output)
				}
			}
		})
	}
}

func TestDoRefusesAMissingTableForGood(t *testing.T) {
	s, _, _ := sqliteSpec(t, "")
	s.Tables = []string{"nope"}
	_, err, _ := do(t, s)
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || !app.NonRetryable() || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("want a non-retryable error naming the table, got %v", err)
	}
	if p := New(hclog.NewNullLogger()).Preflight(context.Background(), nil, config.PhaseSpec{Driver: s}); len(p) != 1 || !strings.Contains(p[0], "nope") {
		t.Fatalf("preflight: %v", p)
	}
}

func TestReverseDirectionSwapsTheSides(t *testing.T) {
	s, _, b := sqliteSpec(t, "")
	dbtest.Exec(t, b.Store, "DELETE FROM items WHERE id = 3")
	s.Truth = DirectionReverse
	res, err, _ := do(t, s)
	if err == nil || !strings.Contains(res.Summary, "1 extra_in_target") || !strings.Contains(res.Summary, "truth: new") {
		t.Fatalf("reverse: %v / %s", err, res.Summary)
	}
}
