package datacopy_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/godwit/godwit/datacopy"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/mapping"
	"github.com/godwit/godwit/mapping/mappingtest"
	"github.com/godwit/godwit/reconcile"
)

// A mapped copy's catch-up (PostgreSQL to MariaDB) re-copies the rows a
// writer changes while it runs through the mapping: the renamed and the
// computed columns follow, and a row the writer moves into the filter
// arrives; reconcile through the mapping then finds no difference.
func TestMappedCatchUpFollowsAWriter(t *testing.T) {
	ctx := context.Background()
	src, dst := dbtest.New(t, datastore.Postgres).Store, dbtest.New(t, datastore.MySQL).Store
	dbtest.Exec(t, src,
		`CREATE TABLE order_line (order_line_id bigint PRIMARY KEY, unit_price numeric(10,2), quantity int NOT NULL,
			legacy_note text, updated_at timestamp NOT NULL)`,
		`INSERT INTO order_line SELECT i, (i % 70) + (i % 100) / 100.0, i % 6, 'note ' || i, timestamp '2026-01-01' + i * interval '1 second'
			FROM generate_series(1, 3000) i`)
	dbtest.Exec(t, dst, salesLineDDL[datastore.MySQL])
	dbtest.Exec(t, dst, "ALTER TABLE SalesLine ADD COLUMN UpdatedAt DATETIME(6) NOT NULL")
	pairs, err := reconcile.ResolveMapped(ctx, src, mappingtest.SalesLine())
	if err != nil {
		t.Fatal(err)
	}
	mapped := map[string]mapping.Table{"order_line": *pairs[0].Map}

	// The writer raises prices and moves rows with quantity 0 into the
	// filter, each with a newer updated_at, until stopped.
	wctx, cancel := context.WithCancel(ctx)
	var written atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := int64(0); wctx.Err() == nil; i++ {
			id := i*6%3000 + 6 // multiples of 6: quantity 0, outside the filter until written
			if _, err := src.DB.ExecContext(wctx, `UPDATE order_line SET unit_price = unit_price + 1, quantity = 2,
				updated_at = timestamp '2026-06-01' + $1 * interval '1 millisecond' WHERE order_line_id = $2`, i, id); err != nil && wctx.Err() == nil {
				t.Errorf("writer: %v", err)
				return
			}
			written.Add(1)
		}
	}()
	var stopped atomic.Bool
	stop := func() { cancel(); wg.Wait() }
	opts := datacopy.Options{From: src, To: dst, Tables: []string{"order_line"}, Mapped: mapped, BatchRows: 100,
		CatchUp: &datacopy.CatchUp{Column: "updated_at", Overlap: -1, MaxLag: -1, MinRows: 1, MaxPasses: 10}}
	var waited atomic.Bool
	res, err := datacopy.Run(ctx, opts, datacopy.Checkpoint{}, func(p datacopy.Progress) {
		if !waited.Swap(true) {
			// The copy's first batch waits for the writer's first
			// writes: a copy faster than them exercised no catch-up.
			for deadline := time.Now().Add(10 * time.Second); written.Load() < 3 && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
			}
		}
		if p.Checkpoint.Tables["order_line"].Stage == datacopy.StageCatchUp && !stopped.Swap(true) {
			stop()
		}
	})
	stop()
	if err != nil {
		t.Fatal(err)
	}
	st := res.Checkpoint.Tables["order_line"]
	if written.Load() == 0 || st.CatchUpRows == 0 {
		t.Fatalf("writer wrote %d rows, catch-up re-copied %d: the test did not exercise catch-up", written.Load(), st.CatchUpRows)
	}
	rep, err := reconcile.Run(ctx, reconcile.Options{Source: src, Target: dst, Tables: pairs}, reconcile.Checkpoint{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Differing() != 0 {
		t.Fatalf("reconcile through the mapping after the catch-up (%d writes, %d re-copied):\n%s", written.Load(), st.CatchUpRows, rep.Text())
	}
	var moved int64
	if err := dst.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM SalesLine WHERE OrderLineId % 6 = 0").Scan(&moved); err != nil || moved == 0 {
		t.Errorf("rows moved into the filter on the target: %d (%v), want some", moved, err)
	}
}
