package datacopy_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/godwit/godwit/datacopy"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

var linesDDL = map[datastore.Engine]string{
	datastore.SQLite:   `CREATE TABLE order_lines (order_id INTEGER NOT NULL, line VARCHAR(20) NOT NULL, qty INTEGER, PRIMARY KEY (order_id, line))`,
	datastore.Postgres: `CREATE TABLE order_lines (order_id integer NOT NULL, line varchar(20) NOT NULL, qty integer, PRIMARY KEY (order_id, line))`,
	datastore.MySQL:    "CREATE TABLE order_lines (order_id INT NOT NULL, line VARCHAR(20) NOT NULL, qty INT, PRIMARY KEY (order_id, line)) COLLATE=utf8mb4_bin",
}

// setup creates a source of the engine with the kitchen table (n rows) and
// the composite-key order_lines table, and a target of the other engine on
// which both are provisioned.
func setup(t *testing.T, from, to datastore.Engine, n int) (src, dst *datastore.Store) {
	t.Helper()
	ctx := context.Background()
	s := dbtest.New(t, from).Store
	d := dbtest.New(t, to).Store
	dbtest.Exec(t, s, dbtest.KitchenDDL(from, "kitchen")...)
	dbtest.Exec(t, s, linesDDL[from])
	kitchen, err := s.Introspect(ctx, "kitchen")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i += 1000 {
		if err := s.WriteBatch(ctx, kitchen, dbtest.KitchenRows(i, min(i+1000, n))); err != nil {
			t.Fatal(err)
		}
	}
	lines, err := s.Introspect(ctx, "order_lines")
	if err != nil {
		t.Fatal(err)
	}
	var rows [][]any
	for o := 1; o <= 150; o++ {
		for _, l := range []string{"A", "a", "b", "ä"} {
			rows = append(rows, []any{int64(o), l, int64(o)})
		}
	}
	if err := s.WriteBatch(ctx, lines, rows); err != nil {
		t.Fatal(err)
	}
	if _, err := datastore.Provision(ctx, d, []*datastore.Table{kitchen, lines}, datastore.ProvisionOptions{Owner: "test", DeferIndexes: true}); err != nil {
		t.Fatalf("provision %s→%s: %v", from, to, err)
	}
	return s, d
}

func TestCopyBetweenEngines(t *testing.T) {
	pairs := [][2]datastore.Engine{
		{datastore.SQLite, datastore.Postgres},
		{datastore.Postgres, datastore.MySQL},
		{datastore.MySQL, datastore.SQLite},
		{datastore.Postgres, datastore.Postgres},
		{datastore.MySQL, datastore.Postgres},
		{datastore.Postgres, datastore.SQLite},
		{datastore.SQLite, datastore.MySQL},
	}
	for _, pair := range pairs {
		from, to := pair[0], pair[1]
		t.Run(string(from)+"→"+string(to), func(t *testing.T) {
			src, dst := setup(t, from, to, 1234)
			var last datacopy.Progress
			reports := 0
			res, err := datacopy.Run(context.Background(), datacopy.Options{
				From: src, To: dst, Tables: []string{"kitchen", "order_*"}, BatchRows: 100, Concurrency: 2,
				DirectBatchTime: -1, // batches of 100 on every path, for the count of reports
			}, datacopy.Checkpoint{}, func(p datacopy.Progress) { last = p; reports++ })
			if err != nil {
				t.Fatal(err)
			}
			dbtest.AssertSameRows(t, src, dst, "kitchen")
			dbtest.AssertSameRows(t, src, dst, "order_lines")
			if res.Rows != 1234+600 {
				t.Errorf("result rows = %d, want %d", res.Rows, 1234+600)
			}
			for name, st := range res.Checkpoint.Tables {
				if st.Stage != datacopy.StageDone || st.RowsDone != st.Total {
					t.Errorf("%s: checkpoint %+v, want done with rowsDone = total", name, st)
				}
			}
			if last.RowsDone != 1834 || last.Total != 1834 || last.ETA != 0 {
				t.Errorf("last progress: %d of %d, ETA %v; want 1834 of 1834, ETA 0", last.RowsDone, last.Total, last.ETA)
			}
			if reports < 19 {
				t.Errorf("%d progress reports, want at least one per batch (19)", reports)
			}
		})
	}
}

// TestResumeAfterCancelLosesAndDoublesNothing stops a copy mid-table, then
// resumes it from an older checkpoint than the last one (as when a process
// dies after a batch committed but before its checkpoint was saved).
func TestResumeAfterCancelLosesAndDoublesNothing(t *testing.T) {
	for _, pair := range [][2]datastore.Engine{{datastore.Postgres, datastore.MySQL}, {datastore.SQLite, datastore.Postgres}, {datastore.MySQL, datastore.SQLite}} {
		t.Run(string(pair[0])+"→"+string(pair[1]), func(t *testing.T) {
			src, dst := setup(t, pair[0], pair[1], 3000)
			ctx, cancel := context.WithCancel(context.Background())
			var saved [][]byte // checkpoints as a driver would persist them
			opts := datacopy.Options{From: src, To: dst, Tables: []string{"kitchen"}, BatchRows: 100}
			res, err := datacopy.Run(ctx, opts, datacopy.Checkpoint{}, func(p datacopy.Progress) {
				b, _ := json.Marshal(p.Checkpoint)
				saved = append(saved, b)
				if p.RowsDone >= 1000 {
					cancel()
				}
			})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
			st := res.Checkpoint.Tables["kitchen"]
			if st.Stage != datacopy.StageBackfill || st.RowsDone != 1000 || len(st.LastKey) != 1 {
				t.Fatalf("checkpoint after cancel = %+v, want backfill at 1000 rows", st)
			}
			n, _ := dst.Count(context.Background(), "kitchen")
			if n != 1000 {
				t.Fatalf("target holds %d rows after the stop, want 1000 (the stop is at a batch boundary)", n)
			}
			// Resume from three batches back: those rows are sent again.
			resume, err := datacopy.ParseCheckpoint(saved[len(saved)-4])
			if err != nil {
				t.Fatal(err)
			}
			res, err = datacopy.Run(context.Background(), opts, resume, nil)
			if err != nil {
				t.Fatal(err)
			}
			dbtest.AssertSameRows(t, src, dst, "kitchen")
			if st := res.Checkpoint.Tables["kitchen"]; st.RowsDone != 3000 || st.Total != 3000 {
				t.Fatalf("after resume: %+v, want rowsDone = total = 3000", st)
			}
		})
	}
}

func TestCatchUpCopiesRowsChangedDuringBackfill(t *testing.T) {
	for _, withCatchUp := range []bool{true, false} {
		t.Run(fmt.Sprintf("catchUp=%v", withCatchUp), func(t *testing.T) {
			ctx := context.Background()
			src, dst := setup(t, datastore.SQLite, datastore.Postgres, 500)
			kitchen, _ := src.Introspect(ctx, "kitchen")
			watermark := dbtest.KitchenBase.Add(499 * time.Second)
			changed := false
			opts := datacopy.Options{From: src, To: dst, Tables: []string{"kitchen"}, BatchRows: 100}
			if withCatchUp {
				opts.CatchUp = &datacopy.CatchUp{Column: "updated_at", Overlap: time.Minute}
			}
			res, err := datacopy.Run(ctx, opts, datacopy.Checkpoint{}, func(p datacopy.Progress) {
				if changed || p.RowsDone < 200 {
					return
				}
				changed = true
				// While the backfill is at row 200: update rows it has passed,
				// insert rows below its cursor, and commit one "late" with a
				// timestamp older than the watermark (inside the overlap).
				var rows [][]any
				for _, id := range []int{5, 150} {
					r := dbtest.KitchenRow(id)
					r[7] = fmt.Sprintf("changed-%d", id)
					r[14] = watermark.Add(10 * time.Second)
					rows = append(rows, r)
				}
				late := dbtest.KitchenRow(20)
				late[7] = "late commit"
				late[14] = watermark.Add(-30 * time.Second)
				rows = append(rows, late)
				for id := -3; id < 0; id++ {
					r := dbtest.KitchenRow(-id)
					r[0] = int64(id)
					r[7] = fmt.Sprintf("inserted %d", id)
					r[14] = watermark.Add(20 * time.Second)
					rows = append(rows, r)
				}
				if err := src.WriteBatch(ctx, kitchen, rows); err != nil {
					t.Errorf("change source: %v", err)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			if !changed {
				t.Fatal("the source was never changed during the copy")
			}
			if !withCatchUp {
				// The control: without catch-up the target must miss the changes.
				_, got := dbtest.ReadAll(t, dst, "kitchen")
				if len(got) != 500 {
					t.Fatalf("without catch-up the target has %d rows, want the 500 of the backfill", len(got))
				}
				return
			}
			dbtest.AssertSameRows(t, src, dst, "kitchen")
			st := res.Checkpoint.Tables["kitchen"]
			if st.CatchUpRows < 6 {
				t.Errorf("catch-up copied %d rows, want at least the 6 changed", st.CatchUpRows)
			}
		})
	}
}

// afterFirstBatch calls cancel at the first progress with rows done: the
// first report of a run, before any batch, says what the target held.
func afterFirstBatch(cancel func()) func(datacopy.Progress) {
	return func(p datacopy.Progress) {
		if p.RowsDone > 0 {
			cancel()
		}
	}
}

func TestThrottleStopsOnCancel(t *testing.T) {
	src, dst := setup(t, datastore.SQLite, datastore.SQLite, 1000)
	ctx, cancel := context.WithCancel(context.Background())
	// 1 row/s with batches of 100: the second batch would wait 100 s.
	res, err := datacopy.Run(ctx, datacopy.Options{From: src, To: dst, Tables: []string{"kitchen"}, BatchRows: 100, RowsPerSecond: 1},
		datacopy.Checkpoint{}, afterFirstBatch(cancel))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if st := res.Checkpoint.Tables["kitchen"]; st.RowsDone != 100 {
		t.Fatalf("rows done = %d, want the first batch (100) only", st.RowsDone)
	}
}

func TestThrottledRateAndETAUseTheLimit(t *testing.T) {
	src, dst := setup(t, datastore.SQLite, datastore.SQLite, 1000)
	ctx, cancel := context.WithCancel(context.Background())
	// 10 rows/s with batches of 100: the first batch goes through at once
	// (the limiter's burst), the other 900 rows take 90 s.
	var first *datacopy.Progress
	_, err := datacopy.Run(ctx, datacopy.Options{From: src, To: dst, Tables: []string{"kitchen"}, BatchRows: 100, RowsPerSecond: 10},
		datacopy.Checkpoint{}, func(p datacopy.Progress) {
			if first == nil && p.RowsDone > 0 {
				first = &p
				cancel()
			}
		})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if first == nil {
		t.Fatal("no progress with rows done was reported before the cancel")
	}
	if first.RowsPerSecond > 10 || first.RowsPerSecond <= 0 {
		t.Errorf("rows/s after the first batch = %.0f, want at most the limit (10)", first.RowsPerSecond)
	}
	if left := time.Duration(first.Total-first.RowsDone) * time.Second / 10; first.ETA < left {
		t.Errorf("ETA with %d of %d rows done = %s, want at least %s at the limit", first.RowsDone, first.Total, first.ETA, left)
	}
	for _, tp := range first.Tables {
		if tp.RowsPerSecond > 10 {
			t.Errorf("table %s rows/s = %.0f, want at most the limit (10)", tp.Table, tp.RowsPerSecond)
		}
	}
}

// A copy resumed from its checkpoint (after a pause, a retry or `godwit
// throttle`) reports the rows the target already holds before it writes a
// batch of its own: a throttled copy's status did not show them until then.
func TestResumedCopyReportsItsCheckpointBeforeItsFirstBatch(t *testing.T) {
	src, dst := setup(t, datastore.SQLite, datastore.SQLite, 1000)
	opts := datacopy.Options{From: src, To: dst, Tables: []string{"kitchen"}, BatchRows: 100, RowsPerSecond: 10}
	ctx, cancel := context.WithCancel(context.Background())
	var held int64
	res, err := datacopy.Run(ctx, opts, datacopy.Checkpoint{}, func(p datacopy.Progress) {
		if p.RowsDone > 0 {
			held = p.RowsDone
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) || held == 0 {
		t.Fatalf("first run: err = %v, rows done %d; want a cancel after the first batch", err, held)
	}

	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	var first *datacopy.Progress
	_, err = datacopy.Run(ctx, opts, res.Checkpoint, func(p datacopy.Progress) {
		if first == nil {
			first = &p
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("resumed run: err = %v, want context.Canceled", err)
	}
	if first == nil {
		t.Fatal("the resumed run reported no progress")
	}
	if first.RowsDone != held || len(first.Tables) != 1 || first.Tables[0].RowsDone != held || first.Tables[0].Total != 1000 {
		t.Errorf("first progress of the resumed run: %d rows done, tables %+v; want the %d rows of its checkpoint (of 1000), before a batch of its own",
			first.RowsDone, first.Tables, held)
	}
}

func TestBadInputIsPermanentAndWritesNothing(t *testing.T) {
	ctx := context.Background()
	src, dst := setup(t, datastore.SQLite, datastore.Postgres, 10)
	dbtest.Exec(t, src, `CREATE TABLE nokey (a INTEGER, b TEXT)`, `CREATE TABLE only_source (id INTEGER PRIMARY KEY)`)
	tests := []struct {
		name    string
		tables  []string
		catchUp *datacopy.CatchUp
		wantErr error
		wantMsg string
	}{
		{"unknown table", []string{"kitchen", "nope"}, nil, datastore.ErrUnknownTable, `"nope"`},
		{"pattern matching nothing", []string{"invoice_*"}, nil, datastore.ErrUnknownTable, "invoice_*"},
		{"bad pattern", []string{"kitchen%"}, nil, datastore.ErrBadPattern, "kitchen%"},
		{"table without primary key", []string{"kitchen", "nokey"}, nil, datastore.ErrNoPrimaryKey, "nokey"},
		{"table missing on the target", []string{"kitchen", "only_source"}, nil, datastore.ErrUnknownTable, "provision it first"},
		{"unknown catch-up column", []string{"kitchen"}, &datacopy.CatchUp{Column: "changed_at"}, datastore.ErrShapeMismatch, "changed_at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := datacopy.Run(ctx, datacopy.Options{From: src, To: dst, Tables: tt.tables, CatchUp: tt.catchUp}, datacopy.Checkpoint{}, nil)
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("err = %v, want %v mentioning %q", err, tt.wantErr, tt.wantMsg)
			}
			if !datastore.IsPermanent(err) {
				t.Errorf("%v is not permanent", err)
			}
			if n, _ := dst.Count(ctx, "kitchen"); n != 0 {
				t.Errorf("target kitchen has %d rows after a refused copy", n)
			}
		})
	}
}

func TestSequenceMovedPastCopiedKeys(t *testing.T) {
	ctx := context.Background()
	// SQLite's INTEGER PRIMARY KEY becomes an identity column on PostgreSQL.
	src, dst := setup(t, datastore.SQLite, datastore.Postgres, 300)
	if _, err := datacopy.Run(ctx, datacopy.Options{From: src, To: dst, Tables: []string{"kitchen"}}, datacopy.Checkpoint{}, nil); err != nil {
		t.Fatal(err)
	}
	var id int64
	if err := dst.DB.QueryRowContext(ctx, `INSERT INTO kitchen (qty) VALUES (1) RETURNING id`).Scan(&id); err != nil {
		t.Fatalf("first insert after the copy: %v", err)
	}
	if id != 300 {
		t.Fatalf("new row got id %d, want 300 (past the copied 0..299)", id)
	}
}
