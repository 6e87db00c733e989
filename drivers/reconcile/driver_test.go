package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
		{"unknown store", "      {from: legacy, to: nowhere, tables: [items]}", false, `to (line 8): "nowhere" is not one of the spec's stores (the spec has legacy, new): add it under stores: or fix the name`, ""},
		{"store typo", "      {from: legacy, to: nwe, tables: [items]}", false, `"nwe" is not one of the spec's stores (did you mean "new"?)`, ""},
		{"no tables", "      {from: legacy, to: new}", false, "tables (line 7): is required", ""},
		{"bad pattern", "      {from: legacy, to: new, tables: [\"public.items\"]}", false, "schema-qualified", ""},
		{"bad direction", "      {from: legacy, to: new, tables: [items], direction: sideways}", false, "want auto, forward or reverse", ""},
		{"bad rule", "      {from: legacy, to: new, tables: [items], columns: {\"items.a\": {precision: h}}}", false, "want s, ms or us", ""},
		{"bad rule key", "      {from: legacy, to: new, tables: [items], columns: {price: {ignore: true}}}", false, "want table.column", ""},
		{"unknown field", "      {from: legacy, to: new, tables: [items], tolerence: {}}", false, "unknown field", ""},
		{"repair as a flag", "      {from: legacy, to: new, tables: [items], repair: true}", false, "", DirectionForward},
		{"repair with deletes", "      {from: legacy, to: new, tables: [items], repair: {deleteExtra: true}}", false, "", DirectionForward},
		{"repair with an unknown field", "      {from: legacy, to: new, tables: [items], repair: {deleteExtras: true}}", false, `unknown field "deleteExtras"`, ""},
		{"repair not a bool", "      {from: legacy, to: new, tables: [items], repair: sometimes}", false, "want true, false", ""},
		{"deleteExtra with repair off", "      {from: legacy, to: new, tables: [items], repair: {enabled: false, deleteExtra: true}}", false, "deleteExtra needs the repair enabled", ""},
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
	d := New(hclog.NewNullLogger())
	d.StateDir = t.TempDir()
	res, err := d.Do(context.Background(), activities.ActionRun, in, activities.Heartbeat{},
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
			if res.Records != 500 || !strings.Contains(res.Summary, "1 table, 500 source rows") {
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

func TestRepairSpecForms(t *testing.T) {
	for section, want := range map[string]Repair{
		"repair: true":                 {Enabled: true},
		"repair: false":                {},
		"repair: {deleteExtra: true}":  {Enabled: true, DeleteExtra: true},
		"repair: {deleteExtra: false}": {Enabled: true},
	} {
		spec, err := config.ParseSpec([]byte(specYAML("      {from: legacy, to: new, tables: [items], "+section+"}", false)))
		if err != nil {
			t.Fatalf("%s: %v", section, err)
		}
		if got := spec.Phases[0].Driver.(*Spec).Repair; got != want {
			t.Errorf("%s: decoded %+v, want %+v", section, got, want)
		}
	}
}

func TestDoRepairsAndPassesOnlyWhenTheRecheckIsClean(t *testing.T) {
	change := []string{"DELETE FROM items WHERE id = 7", "UPDATE items SET label = 'x' WHERE id = 9",
		"INSERT INTO items VALUES (900, 'extra')"}
	cases := []struct {
		name    string
		repair  Repair
		wantErr string
		want    string
	}{
		{"repair without deletes leaves the extra row to the gate", Repair{Enabled: true}, "1 extra_in_target, tolerance 0",
			"repaired: 2 rows re-copied, 0 deleted, 1 still differing"},
		{"repair with deletes passes", Repair{Enabled: true, DeleteExtra: true}, "",
			"repaired: 2 rows re-copied, 1 deleted, 0 still differing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, _, b := sqliteSpec(t, "")
			s.Repair = c.repair
			dbtest.Exec(t, b.Store, change...)
			res, err, _ := do(t, s)
			if c.wantErr == "" && err != nil || c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
				t.Fatalf("error %v, want %q", err, c.wantErr)
			}
			if !strings.Contains(res.Summary, c.want) || !strings.Contains(res.Output, "repaired:") {
				t.Fatalf("summary %q, want %q; output:\n%s", res.Summary, c.want, res.Output)
			}
		})
	}
}

func TestDoWritesTheFullListToAFile(t *testing.T) {
	s, _, b := sqliteSpec(t, "")
	dbtest.Exec(t, b.Store, "DELETE FROM items WHERE id % 10 = 0") // 50 missing: beyond the 10 sampled
	res, err, _ := do(t, s)
	if err == nil {
		t.Fatal("50 missing rows passed the gate")
	}
	path := res.Outputs[OutputReportFile]
	if path == "" || !strings.Contains(res.Output, path) {
		t.Fatalf("the result does not name the report file: outputs %v\n%s", res.Outputs, res.Output)
	}
	if got := res.Outputs[OutputDifferences]; got != "50" {
		t.Fatalf("outputs %v: %s = %q, want the 50 missing rows counted", res.Outputs, OutputDifferences, got)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var full FullReport
	if err := json.Unmarshal(raw, &full); err != nil {
		t.Fatal(err)
	}
	tr := full.Report.Tables[0]
	if full.Passed || full.Phase != "reconcile" || len(full.Failures) == 0 {
		t.Fatalf("verdict in the file: %+v", full)
	}
	keys := map[string]bool{}
	for _, d := range tr.Differences {
		if d.Class == "missing_in_target" {
			keys[d.Key[0]] = true
		}
	}
	for i := 10; i <= 500; i += 10 {
		if !keys[fmt.Sprint(i)] {
			t.Fatalf("key %d is not in the file's list (%d keys)", i, len(keys))
		}
	}
	if len(tr.Samples) >= 50 {
		t.Fatalf("samples are not bounded: %d", len(tr.Samples))
	}

	// The spec's reportFile wins over the state directory.
	s.ReportFile = filepath.Join(t.TempDir(), "mine.json")
	res, _, _ = do(t, s)
	if res.Outputs[OutputReportFile] != s.ReportFile {
		t.Fatalf("report file %q, want the spec's %q", res.Outputs[OutputReportFile], s.ReportFile)
	}
	if _, err := os.Stat(s.ReportFile); err != nil {
		t.Fatal(err)
	}
}

func TestReportPathDefaults(t *testing.T) {
	t.Setenv(StateDirEnv, "/var/lib/godwit")
	if got := ReportPath(&Spec{}, "", "m1", "verify/copy"); got != "/var/lib/godwit/reconcile/m1/verify_copy.json" {
		t.Fatalf("from the environment: %s", got)
	}
	if got := ReportPath(&Spec{}, "/srv/state", "m1", "verify"); got != "/srv/state/reconcile/m1/verify.json" {
		t.Fatalf("from the driver: %s", got)
	}
}

func TestDoFailsAStoppedCheckNamingTheLimit(t *testing.T) {
	s, _, b := sqliteSpec(t, ", tolerance: {maxMismatched: 1000}, maxDifferences: 2, concurrency: 1")
	dbtest.Exec(t, b.Store, "UPDATE items SET label = 'x' WHERE id % 25 = 0") // 20 differences
	res, err, _ := do(t, s)
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != ErrTypeDifferences || !app.NonRetryable() {
		t.Fatalf("want a non-retryable %s error, got %v", ErrTypeDifferences, err)
	}
	for _, want := range []string{"the check is incomplete: maxDifferences (2) reached", "INCOMPLETE: maxDifferences (2) reached"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if !strings.Contains(res.Output, "items (incomplete)") {
		t.Errorf("the output does not mark the table incomplete:\n%s", res.Output)
	}
}

// A mapped check that runs reverse (asked, or auto after a traffic phase)
// compares through the mapping's inverse: a mapping that has one passes
// validate; one with a filter is refused, naming the rule and what to do.
func TestAMappedReverseCheckNeedsAnInvertibleMapping(t *testing.T) {
	mapped := func(where string, shiftFirst bool, direction string) error {
		doc := specYAML("      {mapping: shop"+direction+"}", shiftFirst) + `
mappings:
  shop:
    from: legacy
    to: new
    names: PascalCase
    tables:
      order_line: {columns: {unit_price: Price}` + where + `}
`
		_, err := config.ParseSpec([]byte(doc))
		return err
	}
	if err := mapped("", true, ""); err != nil {
		t.Fatalf("an invertible mapping after a traffic phase: %v", err)
	}
	if err := mapped(`, where: "quantity > 0"`, false, ""); err != nil {
		t.Fatalf("a filtered mapping checked forward: %v", err)
	}
	for _, tc := range []struct {
		shiftFirst bool
		direction  string
		why        string
	}{{true, "", "auto, after a traffic phase: the writes have moved to new"}, {false, ", direction: reverse", "direction: reverse"}} {
		err := mapped(`, where: "quantity > 0"`, tc.shiftFirst, tc.direction)
		if err == nil {
			t.Fatalf("%s: a filtered mapping checked reverse passed validate", tc.why)
		}
		for _, want := range []string{"is reverse (" + tc.why + ")", "compares new against legacy through the inverse of mapping shop", "mappings.shop.tables.order_line.where",
			"remove the filter (a migration captures a source store once, through one mapping", "; or set direction: forward"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %q does not say %q", tc.why, err, want)
			}
		}
		// Advice that cannot be followed: a filter has no inverse to give,
		// and a table in a mapping of its own would need a second capture
		// of legacy, which a spec cannot have.
		for _, not := range []string{"give the rule its inverse", "a mapping of its own"} {
			if strings.Contains(err.Error(), not) {
				t.Errorf("%s: error %q says %q", tc.why, err, not)
			}
		}
	}
}
