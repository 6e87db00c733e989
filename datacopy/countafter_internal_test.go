package datacopy

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/hashicorp/go-hclog"
	"golang.org/x/time/rate"
)

// A table whose count beside its backfill failed is counted again when
// its rows are in; if that count fails too, the rows the backfill copied
// are its total: the table is never done with an estimate (it was: a
// failed count left "about 200,000 rows" as the total of a table of
// 10,000), and a copy whose rows are all in does not fail for a figure of
// its progress.
func TestATableWhoseCountFailsEndsWithTheRowsItCopied(t *testing.T) {
	ctx := context.Background()
	src := dbtest.New(t, datastore.SQLite).Store
	dbtest.Exec(t, src, "CREATE TABLE s (id INTEGER PRIMARY KEY, v TEXT)", "INSERT INTO s VALUES (1, 'a'), (2, 'b')")
	tbl, err := src.Introspect(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	r := &run{opts: Options{From: src}, log: hclog.NewNullLogger()}

	// The count works: the exact total.
	p := &tablePlan{name: "s", table: "s", source: tbl, state: &TableCheckpoint{Stage: StageBackfill, RowsDone: 2, Total: 200000, TotalEstimated: true}}
	if err := r.countAfter(ctx, p, r.log); err != nil || p.state.Total != 2 || p.state.TotalEstimated {
		t.Fatalf("counted: total %d, estimated %v (%v); want 2, exact", p.state.Total, p.state.TotalEstimated, err)
	}

	// The count fails: the rows copied.
	p.state = &TableCheckpoint{Stage: StageBackfill, RowsDone: 10000, Total: 200000, TotalEstimated: true}
	if err := src.DB.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.countAfter(ctx, p, r.log); err != nil || p.state.Total != 10000 || p.state.TotalEstimated {
		t.Fatalf("count failed: total %d, estimated %v (%v); want the 10,000 rows copied, exact", p.state.Total, p.state.TotalEstimated, err)
	}

	// A cancelled copy stops, its total left as it was.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	p.state = &TableCheckpoint{Stage: StageBackfill, RowsDone: 10000, Total: 200000, TotalEstimated: true}
	if err := r.countAfter(cctx, p, r.log); err == nil || !p.state.TotalEstimated {
		t.Fatalf("cancelled: %v, estimated %v; want the cancellation and the estimate kept", err, p.state.TotalEstimated)
	}
}

// A direct batch grows to about DirectBatchTime at the last one's rate,
// at most sixteenfold (fourfold took five batches, three of them slower
// than the steady rate, to copy a 1M-row table), to DirectMaxRows, never
// below BatchRows; throttled, it stays at BatchRows.
func TestDirectBatchesGrowSixteenfoldAtMost(t *testing.T) {
	r := &run{opts: Options{BatchRows: 10_000, DirectBatchTime: time.Second}}
	for _, c := range []struct {
		limit int
		took  time.Duration
		want  int
	}{
		{10_000, 40 * time.Millisecond, 160_000},   // 250,000 at the rate: sixteenfold at most
		{160_000, 200 * time.Millisecond, 800_000}, // about a second at the rate
		{640_000, 300 * time.Millisecond, DirectMaxRows},
		{10_000, 5 * time.Second, 10_000}, // never below BatchRows
	} {
		if got := r.nextDirectLimit(c.limit, c.took); got != c.want {
			t.Errorf("nextDirectLimit(%d, %s) = %d, want %d", c.limit, c.took, got, c.want)
		}
	}
	r.limiter = rate.NewLimiter(1000, 10_000)
	if got := r.nextDirectLimit(10_000, time.Millisecond); got != 10_000 {
		t.Errorf("throttled: nextDirectLimit = %d, want BatchRows", got)
	}
}

// A large table (an estimated total) whose backfill ends before the copy
// has run for CountDelay is not counted — a COUNT(*) would scan it on the
// cores the copy uses — and the rows it copied are its exact total; a
// copy counting at once (CountDelay -1) counts it beside the backfill.
func TestAShortCopyIsNotCountedBesideItsBackfill(t *testing.T) {
	ctx := context.Background()
	src := dbtest.New(t, datastore.Postgres).Store
	dst := dbtest.New(t, datastore.Postgres).Store
	dbtest.Exec(t, src, `CREATE TABLE big (id bigint PRIMARY KEY, v text)`,
		`INSERT INTO big SELECT i, 'row ' || i FROM generate_series(1, 110000) i`, `ANALYZE big`,
		`INSERT INTO big SELECT i, 'row ' || i FROM generate_series(110001, 112000) i`)
	big, err := src.Introspect(ctx, "big")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := datastore.Provision(ctx, dst, []*datastore.Table{big}, datastore.ProvisionOptions{Owner: "test"}); err != nil {
		t.Fatal(err)
	}
	var counts atomic.Int32
	countStarted = func(string) { counts.Add(1) }
	defer func() { countStarted = nil }()
	copyWith := func(delay time.Duration) (int32, *TableCheckpoint) {
		t.Helper()
		dbtest.Exec(t, dst, "TRUNCATE big")
		counts.Store(0)
		res, err := Run(ctx, Options{From: src, To: dst, Tables: []string{"big"}, CountDelay: delay}, Checkpoint{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return counts.Load(), res.Checkpoint.Tables["big"]
	}
	n, st := copyWith(time.Hour)
	if n != 0 {
		t.Errorf("a copy that ended before CountDelay counted the table %d times", n)
	}
	if st.Total != 112000 || st.TotalEstimated || st.RowsDone != 112000 {
		t.Errorf("ended with total %d (estimated %v), %d rows done; want the 112000 it copied", st.Total, st.TotalEstimated, st.RowsDone)
	}
	n, st = copyWith(-1)
	if n != 1 {
		t.Errorf("counting at once, the table was counted %d times, want once", n)
	}
	if st.Total != 112000 || st.TotalEstimated {
		t.Errorf("counted at once: total %d (estimated %v), want 112000", st.Total, st.TotalEstimated)
	}
}
