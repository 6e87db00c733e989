package datacopy_test

import (
	"context"
	"errors"
	"testing"

	"github.com/godwit/godwit/datacopy"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

// A large table is counted beside its backfill, not before it: the first
// progress carries the planner's estimate (here stale: rows were added
// after the last ANALYZE), the table ends with the exact count, and a copy
// stopped before the count came in counts again when it resumes.
func TestALargeTableIsCountedBesideItsCopy(t *testing.T) {
	ctx := context.Background()
	src, dst := dbtest.New(t, datastore.Postgres).Store, dbtest.New(t, datastore.Postgres).Store
	dbtest.Exec(t, src, `CREATE TABLE big (id bigint PRIMARY KEY, v text)`,
		`INSERT INTO big SELECT i, 'row ' || i FROM generate_series(1, 120000) i`, `ANALYZE big`,
		`INSERT INTO big SELECT i, 'row ' || i FROM generate_series(120001, 125000) i`)
	est, err := src.EstimateCount(ctx, "big")
	if err != nil || est == 125000 || est < 100000 {
		t.Fatalf("estimate %d (%v): want the stale one", est, err)
	}
	big, err := src.Introspect(ctx, "big")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := datastore.Provision(ctx, dst, []*datastore.Table{big}, datastore.ProvisionOptions{Owner: "test"}); err != nil {
		t.Fatal(err)
	}
	opts := datacopy.Options{From: src, To: dst, Tables: []string{"big"}, BatchRows: 1000}

	// Stopped at the first progress: its checkpoint holds the estimate.
	cctx, cancel := context.WithCancel(ctx)
	var first *datacopy.Progress
	res, err := datacopy.Run(cctx, opts, datacopy.Checkpoint{}, func(p datacopy.Progress) {
		if first == nil {
			first = &p
			cancel()
		}
	})
	cancel()
	if !errors.Is(err, context.Canceled) || first == nil {
		t.Fatalf("first run: %v", err)
	}
	if first.Total != est {
		t.Fatalf("first progress: total %d, want the estimate %d (the exact count waits for no one)", first.Total, est)
	}
	st := res.Checkpoint.Tables["big"]
	if st == nil {
		t.Fatal("no checkpoint for big")
	}
	if st.TotalEstimated && st.Total != est {
		t.Fatalf("checkpoint: total %d estimated, want %d", st.Total, est)
	}

	// Resumed (with the estimate if the count had not come in), and
	// from scratch: each ends with the exact count.
	for name, cp := range map[string]datacopy.Checkpoint{"resumed": res.Checkpoint, "fresh": {}} {
		if name == "fresh" {
			dbtest.Exec(t, dst, "TRUNCATE big")
		}
		out, err := datacopy.Run(ctx, opts, cp, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		st := out.Checkpoint.Tables["big"]
		if st.Total != 125000 || st.TotalEstimated || st.RowsDone != 125000 || out.Tables[0].Total != 125000 {
			t.Fatalf("%s: table ended with total %d (estimated %v), %d rows done; want the exact 125000", name, st.Total, st.TotalEstimated, st.RowsDone)
		}
	}
}

// A large table waiting for its turn (concurrency 1) is counted while the
// table before it copies, not when its own backfill starts: its total
// (here an estimate four times too large, the table having shrunk since
// the last ANALYZE) is exact long before it starts, and the copy's total
// and ETA with it.
func TestAQueuedLargeTableIsCountedBeforeItsTurn(t *testing.T) {
	ctx := context.Background()
	src, dst := dbtest.New(t, datastore.Postgres).Store, dbtest.New(t, datastore.Postgres).Store
	dbtest.Exec(t, src,
		`CREATE TABLE a_first (id bigint PRIMARY KEY, v text)`,
		`INSERT INTO a_first SELECT i, 'row ' || i FROM generate_series(1, 110000) i`, `ANALYZE a_first`,
		`CREATE TABLE b_shrunk (id bigint PRIMARY KEY, v text) WITH (autovacuum_enabled = false)`,
		`INSERT INTO b_shrunk SELECT i, 'row ' || i FROM generate_series(1, 120000) i`, `ANALYZE b_shrunk`,
		`DELETE FROM b_shrunk WHERE id > 30000`)
	var tables []*datastore.Table
	for _, name := range []string{"a_first", "b_shrunk"} {
		tbl, err := src.Introspect(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		tables = append(tables, tbl)
	}
	if _, err := datastore.Provision(ctx, dst, tables, datastore.ProvisionOptions{Owner: "test"}); err != nil {
		t.Fatal(err)
	}
	var estimated, exactWhileWaiting bool
	// CountDelay -1: counted from the start, as a copy that runs for
	// longer than CountDelay is.
	_, err := datacopy.Run(ctx, datacopy.Options{From: src, To: dst, Tables: []string{"a_first", "b_shrunk"}, BatchRows: 1000, Concurrency: 1, CountDelay: -1},
		datacopy.Checkpoint{}, func(p datacopy.Progress) {
			var a, b datacopy.TableProgress
			for _, tp := range p.Tables {
				switch tp.Table {
				case "a_first":
					a = tp
				case "b_shrunk":
					b = tp
				}
			}
			estimated = estimated || b.TotalEstimated
			if a.Stage == datacopy.StageBackfill && a.RowsDone > 0 && b.RowsDone == 0 && !b.TotalEstimated && b.Total == 30000 {
				exactWhileWaiting = true
			}
		})
	if err != nil {
		t.Fatal(err)
	}
	if !estimated {
		t.Fatal("b_shrunk never showed its estimate: the test does not test the count beside the copy")
	}
	if !exactWhileWaiting {
		t.Fatal("b_shrunk kept its estimate until its own backfill started: want it counted while a_first copies")
	}
}
