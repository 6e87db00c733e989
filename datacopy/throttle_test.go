package datacopy_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/godwit/godwit/datacopy"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

var controlDDL = map[datastore.Engine]string{
	datastore.SQLite:   "CREATE TABLE throttle_ctl (id INTEGER PRIMARY KEY, lag DOUBLE NOT NULL)",
	datastore.Postgres: "CREATE TABLE throttle_ctl (id integer PRIMARY KEY, lag double precision NOT NULL)",
	datastore.MySQL:    "CREATE TABLE throttle_ctl (id INT PRIMARY KEY, lag DOUBLE NOT NULL)",
}

// setLag sets the control row the probe reads.
func setLag(t *testing.T, s *datastore.Store, lag string) {
	t.Helper()
	if _, err := s.DB.ExecContext(context.Background(), "UPDATE throttle_ctl SET lag = "+lag+" WHERE id = 1"); err != nil {
		t.Fatalf("set lag: %v", err)
	}
}

// TestProbeHoldsAndResumesTheCopy raises the probe's value over its
// maximum after three batches: the copy must stop writing (the target
// keeps exactly those rows while the probe is over), report the throttle,
// and go on to an exact copy once the value drops.
func TestProbeHoldsAndResumesTheCopy(t *testing.T) {
	for _, pair := range [][2]datastore.Engine{{datastore.Postgres, datastore.MySQL}, {datastore.MySQL, datastore.Postgres}, {datastore.Postgres, datastore.Postgres}} {
		t.Run(string(pair[0])+"→"+string(pair[1]), func(t *testing.T) {
			ctx := context.Background()
			src, dst := setup(t, pair[0], pair[1], 1000)
			dbtest.Exec(t, src, controlDDL[pair[0]], "INSERT INTO throttle_ctl VALUES (1, 0.5)")
			probe := &datacopy.Probe{Name: "replication_lag", Store: src, StoreName: "legacy",
				Query: "SELECT lag FROM throttle_ctl WHERE id = 1", Max: 5, Every: -1} // probe before every batch
			raised, heldReports := false, 0
			var heldCounts []int64
			var raisedAt int64 // the rows written when the probe went over
			var last datacopy.Progress
			_, err := datacopy.Run(ctx, datacopy.Options{From: src, To: dst, Tables: []string{"kitchen"}, BatchRows: 100, Probe: probe,
				// Batches of 100 on every path: a direct batch grown sixteenfold
				// would take the rest of the 1,000 rows before the probe goes over.
				DirectBatchTime: -1},
				datacopy.Checkpoint{}, func(p datacopy.Progress) {
					last = p
					switch {
					case !raised && p.RowsDone >= 300:
						raised, raisedAt = true, p.RowsDone
						setLag(t, src, "12.3")
					case p.Throttle != nil && p.Throttle.Throttled:
						heldReports++
						n, err := dst.Count(ctx, "kitchen")
						if err != nil {
							t.Errorf("count while held: %v", err)
						}
						heldCounts = append(heldCounts, n)
						if heldReports == 3 {
							setLag(t, src, "1")
						}
					}
				})
			if err != nil {
				t.Fatal(err)
			}
			if heldReports < 3 {
				t.Fatalf("%d reports while throttled, want 3 (the copy was never held)", heldReports)
			}
			for _, n := range heldCounts {
				// The copy may be past 300 rows when the probe goes over: what
				// counts is that nothing more is written from then on.
				if n != raisedAt {
					t.Errorf("target held %d rows while throttled, want the %d written when the probe went over (no write while it is over its maximum): %v", n, raisedAt, heldCounts)
					break
				}
			}
			dbtest.AssertSameRows(t, src, dst, "kitchen")
			th := last.Throttle
			if th == nil || th.Throttled || th.Value != 1 || th.Max != 5 || th.Holds != 1 || th.Probe != "replication_lag" {
				t.Errorf("last throttle status = %+v, want replication_lag at 1 (max 5), held once, not throttled", th)
			}
		})
	}
}

// TestProbeThatFailsStopsTheCopy: a probe whose query errors is retried,
// then the copy fails with ErrProbeFailed naming the probe, its store and
// the database's error, before writing a row.
func TestProbeThatFailsStopsTheCopy(t *testing.T) {
	for _, engine := range []datastore.Engine{datastore.Postgres, datastore.MySQL} {
		t.Run(string(engine), func(t *testing.T) {
			ctx := context.Background()
			src, dst := setup(t, engine, datastore.SQLite, 300)
			probe := &datacopy.Probe{Name: "replication_lag", Store: src, StoreName: "legacy",
				Query: "SELECT lag FROM no_such_control", Max: 5, Attempts: 2}
			_, err := datacopy.Run(ctx, datacopy.Options{From: src, To: dst, Tables: []string{"kitchen"}, BatchRows: 100, Probe: probe},
				datacopy.Checkpoint{}, nil)
			if !errors.Is(err, datacopy.ErrProbeFailed) {
				t.Fatalf("err = %v, want ErrProbeFailed", err)
			}
			for _, want := range []string{"copy kitchen", "probe replication_lag on store legacy failed 2 times in a row", "no_such_control"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			if n, _ := dst.Count(ctx, "kitchen"); n != 0 {
				t.Errorf("target holds %d rows, want 0: the probe is asked before the first write", n)
			}
		})
	}
}

// TestQueryNumber: what a probe query may return, on each engine.
func TestQueryNumber(t *testing.T) {
	tests := []struct {
		name, query string
		want        float64
		err         string
	}{
		{"an integer", "SELECT 3", 3, ""},
		{"a decimal", "SELECT 12.25", 12.25, ""},
		{"a numeric text", "SELECT '7.5'", 7.5, ""},
		{"NULL is refused", "SELECT NULL", 0, "returned NULL"},
		{"text is refused", "SELECT 'lagging'", 0, `returned "lagging", not a number`},
		{"two columns are refused", "SELECT 1, 2", 0, "returns 2 columns"},
		{"no row is refused", "SELECT lag FROM throttle_ctl WHERE id = 99", 0, "returned no row"},
		{"two rows are refused", "SELECT lag FROM throttle_ctl", 0, "more than one row"},
	}
	for _, engine := range dbtest.Engines {
		s := dbtest.New(t, engine).Store
		dbtest.Exec(t, s, controlDDL[engine], "INSERT INTO throttle_ctl VALUES (1, 1)", "INSERT INTO throttle_ctl VALUES (2, 2)")
		for _, tt := range tests {
			t.Run(string(engine)+"/"+tt.name, func(t *testing.T) {
				v, err := datacopy.QueryNumber(context.Background(), s, tt.query)
				if tt.err != "" {
					if err == nil || !strings.Contains(err.Error(), tt.err) {
						t.Fatalf("err = %v, want one saying %q", err, tt.err)
					}
					return
				}
				if err != nil || v != tt.want {
					t.Fatalf("= %v, %v; want %v", v, err, tt.want)
				}
			})
		}
	}
}
