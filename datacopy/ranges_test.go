package datacopy_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"

	"github.com/godwit/godwit/datacopy"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

var rangePairs = [][2]datastore.Engine{
	{datastore.Postgres, datastore.Postgres},
	{datastore.Postgres, datastore.MySQL},
	{datastore.SQLite, datastore.Postgres},
}

// TestSplitTableCopiedInRangesInsideOneRun splits both tables (kitchen on
// its integer key, order_lines on the leading column of its composite
// key) and copies the ranges side by side in one run.
func TestSplitTableCopiedInRangesInsideOneRun(t *testing.T) {
	for _, pair := range rangePairs {
		t.Run(string(pair[0])+"→"+string(pair[1]), func(t *testing.T) {
			src, dst := setup(t, pair[0], pair[1], 1234)
			var last datacopy.Progress
			res, err := datacopy.Run(context.Background(), datacopy.Options{
				From: src, To: dst, Tables: []string{"kitchen", "order_lines"},
				BatchRows: 50, Concurrency: 4, SplitRows: 200,
			}, datacopy.Checkpoint{}, func(p datacopy.Progress) { last = p })
			if err != nil {
				t.Fatal(err)
			}
			dbtest.AssertSameRows(t, src, dst, "kitchen")
			dbtest.AssertSameRows(t, src, dst, "order_lines")
			entries := map[string]int{}
			for key, st := range res.Checkpoint.Tables {
				if st.Range == nil || st.Table == "" {
					t.Errorf("entry %s = %+v, want a key range of its table", key, st)
					continue
				}
				if st.Stage != datacopy.StageDone || st.RowsDone != st.Total {
					t.Errorf("range %s: %+v, want done with rowsDone = total", key, st)
				}
				entries[st.Table]++
			}
			// 1234 rows by 200: 7 ranges; 600 lines (4 per order) by 200: 3.
			if entries["kitchen"] != 7 || entries["order_lines"] != 3 {
				t.Errorf("ranges per table = %v, want kitchen 7, order_lines 3", entries)
			}
			if len(last.Tables) != 2 {
				t.Fatalf("progress lists %d tables, want 2 (ranges add up to their table): %+v", len(last.Tables), last.Tables)
			}
			for _, tp := range last.Tables {
				want := int64(1234)
				if tp.Table == "order_lines" {
					want = 600
				}
				if tp.RowsDone != want || tp.Total != want || tp.Stage != datacopy.StageDone || tp.RangesDone != tp.Ranges {
					t.Errorf("progress of %s = %+v, want %d of %d rows, every range done", tp.Table, tp, want, want)
				}
			}
		})
	}
}

// TestRangeUnitsSharedByWorkers plans the ranges as a fanned-out phase does
// and copies each as its own run, all at once (as units on several
// workers would), with a catch-up pass each.
func TestRangeUnitsSharedByWorkers(t *testing.T) {
	for _, pair := range rangePairs {
		t.Run(string(pair[0])+"→"+string(pair[1]), func(t *testing.T) {
			ctx := context.Background()
			src, dst := setup(t, pair[0], pair[1], 1500)
			for _, table := range []string{"kitchen", "order_lines"} {
				tbl, err := src.Introspect(ctx, table)
				if err != nil {
					t.Fatal(err)
				}
				ranges, n, err := datacopy.PlanRanges(ctx, src, tbl, 300)
				if err != nil {
					t.Fatal(err)
				}
				if len(ranges) < 2 {
					t.Fatalf("%s (%d rows) planned as %d ranges, want several", table, n, len(ranges))
				}
				var wg sync.WaitGroup
				var copied int64
				var mu sync.Mutex
				for i := range ranges {
					unit := datacopy.Unit(table, &ranges[i])
					name, rg, err := datacopy.ParseUnit(unit)
					if err != nil || name != table {
						t.Fatalf("parse unit %q: %s, %v", unit, name, err)
					}
					wg.Add(1)
					go func() {
						defer wg.Done()
						res, err := datacopy.Run(ctx, datacopy.Options{From: src, To: dst, Tables: []string{name}, Range: rg,
							BatchRows: 40, CatchUp: &datacopy.CatchUp{Column: catchUpColumn(table), MaxPasses: 1}}, datacopy.Checkpoint{}, nil)
						if err != nil {
							t.Errorf("unit %s: %v", unit, err)
							return
						}
						mu.Lock()
						copied += res.Checkpoint.Tables[unit].RowsDone
						mu.Unlock()
					}()
				}
				wg.Wait()
				dbtest.AssertSameRows(t, src, dst, table)
				if copied != n {
					t.Errorf("%s: the units' backfills copied %d rows, want each of the %d once", table, copied, n)
				}
			}
		})
	}
}

func catchUpColumn(table string) string {
	if table == "order_lines" {
		return "qty"
	}
	return "updated_at"
}

// TestSplitCopyResumesEachRangeFromItsCheckpoint stops a split copy, then
// resumes it from an older checkpoint (a worker killed after batches
// committed but before their heartbeat): the ranges planned first are kept
// and the target ends with exactly the source's rows.
func TestSplitCopyResumesEachRangeFromItsCheckpoint(t *testing.T) {
	for _, pair := range [][2]datastore.Engine{{datastore.Postgres, datastore.Postgres}, {datastore.SQLite, datastore.Postgres}, {datastore.Postgres, datastore.MySQL}} {
		t.Run(string(pair[0])+"→"+string(pair[1]), func(t *testing.T) {
			src, dst := setup(t, pair[0], pair[1], 2000)
			ctx, cancel := context.WithCancel(context.Background())
			var saved [][]byte
			// Fixed batches (no growth on the direct path): many checkpoints.
			opts := datacopy.Options{From: src, To: dst, Tables: []string{"kitchen"}, BatchRows: 50, Concurrency: 3, SplitRows: 500, DirectBatchTime: -1}
			_, err := datacopy.Run(ctx, opts, datacopy.Checkpoint{}, func(p datacopy.Progress) {
				b, _ := json.Marshal(p.Checkpoint)
				saved = append(saved, b)
				if p.RowsDone >= 900 {
					cancel()
				}
			})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
			// A stale checkpoint, several batches behind the last one, from
			// when several ranges had started (which ranges run first
			// depends on the machine's timing).
			var resume datacopy.Checkpoint
			started := 0
			for i := len(saved) - 4; i >= 0 && started < 2; i-- {
				if resume, err = datacopy.ParseCheckpoint(saved[i]); err != nil {
					t.Fatal(err)
				}
				started = 0
				for _, st := range resume.Tables {
					// Begun or finished: on a loaded machine the ranges
					// may run one after another.
					if len(st.LastKey) > 0 || st.Stage == datacopy.StageDone {
						started++
					}
				}
			}
			if len(resume.Tables) != 4 || started < 2 {
				t.Fatalf("checkpoint to resume from has %d ranges, %d started; want 4, several started", len(resume.Tables), started)
			}
			opts.SplitRows = 300 // a changed setting must not re-plan ranges already planned
			res, err := datacopy.Run(context.Background(), opts, resume, nil)
			if err != nil {
				t.Fatal(err)
			}
			dbtest.AssertSameRows(t, src, dst, "kitchen")
			var done int64
			for key := range resume.Tables {
				st := res.Checkpoint.Tables[key]
				if st == nil || st.Stage != datacopy.StageDone {
					t.Fatalf("range %s after resume: %+v, want done", key, st)
				}
				done += st.RowsDone
			}
			if len(res.Checkpoint.Tables) != 4 || done != 2000 {
				t.Fatalf("after resume: %d ranges, %d rows done; want the same 4 ranges and 2000 rows", len(res.Checkpoint.Tables), done)
			}
		})
	}
}

// TestRangePlanOfSmallTables: an empty table and one at the threshold are
// not split; a leading key value shared by more rows than a range holds
// stays in one range.
func TestRangePlanOfSmallTables(t *testing.T) {
	ctx := context.Background()
	src, _ := setup(t, datastore.Postgres, datastore.SQLite, 400)
	dbtest.Exec(t, src, `CREATE TABLE empty_t (id bigint PRIMARY KEY)`)
	for _, tt := range []struct {
		table      string
		split      int64
		wantRanges int
	}{
		{"empty_t", 10_000, 0},
		{"kitchen", 400, 0},
		{"kitchen", 399, 2},
		{"kitchen", 100, 4},
		// 4 lines per order: ranges of 2 rows cannot cut an order.
		{"order_lines", 2, 150},
	} {
		tbl, err := src.Introspect(ctx, tt.table)
		if err != nil {
			t.Fatal(err)
		}
		ranges, _, err := datacopy.PlanRanges(ctx, src, tbl, tt.split)
		if err != nil {
			t.Fatal(err)
		}
		if len(ranges) != tt.wantRanges {
			t.Errorf("%s split by %d: %d ranges %v, want %d", tt.table, tt.split, len(ranges), ranges, tt.wantRanges)
		}
		if len(ranges) > 0 && (ranges[0].From != nil || ranges[len(ranges)-1].To != nil) {
			t.Errorf("%s: the first range must start open and the last end open: %v", tt.table, ranges)
		}
		var sum int64
		for i := range ranges {
			kr, err := ranges[i].KeyRange(tbl)
			if err != nil {
				t.Fatal(err)
			}
			n, err := src.CountRange(ctx, tbl, kr)
			if err != nil {
				t.Fatal(err)
			}
			sum += n
		}
		if total, _ := src.Count(ctx, tt.table); len(ranges) > 0 && sum != total {
			t.Errorf("%s: the ranges hold %d rows, the table %d", tt.table, sum, total)
		}
	}
}

func TestUnitRoundTrip(t *testing.T) {
	s := func(v string) *string { return &v }
	for _, tt := range []struct {
		table string
		r     *datacopy.Range
		want  string
	}{
		{"orders", nil, "orders"},
		{"orders", &datacopy.Range{To: s("1000")}, "orders [, 1000)"},
		{"orders", &datacopy.Range{From: s("1000"), To: s("2000")}, "orders [1000, 2000)"},
		{"orders", &datacopy.Range{From: s("2000")}, "orders [2000, )"},
		{"my table", &datacopy.Range{From: s(""), To: s("a, b)")}, "my table ['', a%2C+b%29)"},
		{"events", &datacopy.Range{From: s("2024-03-02T11:00:00Z")}, "events [2024-03-02T11%3A00%3A00Z, )"},
		{"quotes", &datacopy.Range{From: s("''")}, "quotes [%27%27, )"},
	} {
		u := datacopy.Unit(tt.table, tt.r)
		if u != tt.want {
			t.Errorf("Unit(%s, %v) = %q, want %q", tt.table, tt.r, u, tt.want)
		}
		table, r, err := datacopy.ParseUnit(u)
		if err != nil || table != tt.table || datacopy.Unit(table, r) != u {
			t.Errorf("ParseUnit(%q) = %q, %v, %v", u, table, r, err)
		}
		if (r == nil) != (tt.r == nil) || (r != nil && (!sameBound(r.From, tt.r.From) || !sameBound(r.To, tt.r.To))) {
			t.Errorf("ParseUnit(%q) range = %v, want %v", u, r, tt.r)
		}
	}
	if _, _, err := datacopy.ParseUnit("orders [1000)"); err == nil {
		t.Error("a range without two bounds parsed")
	}
}

func sameBound(a, b *string) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

// TestSequencePastKeysAfterRangesFinishOutOfOrder copies the ranges of a
// table with an identity key as separate runs, the highest range first:
// the sequence ends past the highest key, whichever range finished last.
func TestSequencePastKeysAfterRangesFinishOutOfOrder(t *testing.T) {
	ctx := context.Background()
	src, dst := setup(t, datastore.SQLite, datastore.Postgres, 900)
	tbl, _ := src.Introspect(ctx, "kitchen")
	ranges, _, err := datacopy.PlanRanges(ctx, src, tbl, 300)
	if err != nil || len(ranges) != 3 {
		t.Fatalf("plan: %v, %v", ranges, err)
	}
	for i := len(ranges) - 1; i >= 0; i-- {
		if _, err := datacopy.Run(ctx, datacopy.Options{From: src, To: dst, Tables: []string{"kitchen"}, Range: &ranges[i]}, datacopy.Checkpoint{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	var id int64
	if err := dst.DB.QueryRowContext(ctx, `INSERT INTO kitchen (qty) VALUES (1) RETURNING id`).Scan(&id); err != nil {
		t.Fatalf("first insert after the copy: %v", err)
	}
	if id != 900 {
		t.Fatalf("new row got id %d, want 900 (past the copied 0..899)", id)
	}
}

// TestThrottleIsSharedByTheRanges: at 1 row/s with a burst of one batch,
// the first committed batch empties the bucket for every range, so a stop
// at that moment leaves exactly one batch copied (a bucket per range would
// let each range's first batch through).
func TestThrottleIsSharedByTheRanges(t *testing.T) {
	src, dst := setup(t, datastore.SQLite, datastore.SQLite, 1000)
	ctx, cancel := context.WithCancel(context.Background())
	res, err := datacopy.Run(ctx, datacopy.Options{From: src, To: dst, Tables: []string{"kitchen"}, BatchRows: 100,
		SplitRows: 250, Concurrency: 4, RowsPerSecond: 1}, datacopy.Checkpoint{}, afterFirstBatch(cancel))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	var done int64
	for _, st := range res.Checkpoint.Tables {
		done += st.RowsDone
	}
	if len(res.Checkpoint.Tables) != 4 || done != 100 {
		t.Fatalf("%d ranges, %d rows done; want 4 ranges and the first batch (100) only", len(res.Checkpoint.Tables), done)
	}
	if n, _ := dst.Count(context.Background(), "kitchen"); n != 100 {
		t.Fatalf("target holds %d rows, want 100", n)
	}
}
