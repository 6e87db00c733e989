package datacopy_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/godwit/godwit/datacopy"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

// writer updates source rows one at a time, each with a newer updated_at,
// until stopped; written says how many so far.
func startWriter(t *testing.T, src *datastore.Store) (stop, written func() int64) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	kitchen, err := src.Introspect(ctx, "kitchen")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			r := dbtest.KitchenRow(i * 7 % 500)
			r[7] = fmt.Sprintf("written %d", i)
			r[14] = dbtest.KitchenBase.Add(time.Hour + time.Duration(i)*time.Millisecond)
			if err := src.WriteBatch(ctx, kitchen, [][]any{r}); err != nil && ctx.Err() == nil {
				t.Errorf("writer: %v", err)
				return
			}
			n.Add(1)
			time.Sleep(time.Millisecond)
		}
	}()
	return func() int64 { cancel(); wg.Wait(); return n.Load() }, n.Load
}

// Catch-up repeats passes while a writer changes the source: once the
// writer stops, a pass finds few rows and the target ends equal to the
// source; a writer that never stops is cut off at maxPasses.
func TestCatchUpRepeatsWhileAWriterRuns(t *testing.T) {
	cases := []struct {
		name       string
		from       datastore.Engine
		stopWriter bool // after the first catch-up pass
		maxPasses  int
	}{
		{"postgres writer stops", datastore.Postgres, true, 10},
		{"sqlite writer stops", datastore.SQLite, true, 10},
		{"postgres writer never stops", datastore.Postgres, false, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			src, dst := setup(t, tc.from, datastore.Postgres, 500)
			stop, soFar := startWriter(t, src)
			// A writer that never stops is cut off by maxPasses alone (no
			// count rule, which a slow machine's writer could satisfy).
			minRows := int64(2)
			if !tc.stopWriter {
				minRows = -1
			}
			var stopped, waited atomic.Bool
			opts := datacopy.Options{From: src, To: dst, Tables: []string{"kitchen"}, BatchRows: 50,
				CatchUp: &datacopy.CatchUp{Column: "updated_at", Overlap: -1,
					MaxLag: -1, MinRows: minRows, MaxPasses: tc.maxPasses}}
			res, err := datacopy.Run(ctx, opts, datacopy.Checkpoint{}, func(p datacopy.Progress) {
				if !waited.Swap(true) {
					// The first batch waits for the writer's first rows: a
					// copy faster than them would exercise no catch-up.
					for deadline := time.Now().Add(10 * time.Second); soFar() == 0 && time.Now().Before(deadline); {
						time.Sleep(time.Millisecond)
					}
				}
				st := p.Checkpoint.Tables["kitchen"]
				// Stop the writer once catch-up is under way: the pass then
				// running finds the rows written so far, and the next one
				// finds none (on a loaded machine the writer may have
				// written too little in one pass to make a second one).
				if tc.stopWriter && st.Stage == datacopy.StageCatchUp && !stopped.Swap(true) {
					stop()
				}
			})
			written := stop()
			if err != nil {
				t.Fatal(err)
			}
			st := res.Checkpoint.Tables["kitchen"]
			if written == 0 || st.CatchUpRows == 0 {
				t.Fatalf("writer wrote %d rows, catch-up re-copied %d: the test did not exercise catch-up", written, st.CatchUpRows)
			}
			if !tc.stopWriter {
				if st.CatchUpPasses != tc.maxPasses {
					t.Fatalf("%d catch-up passes, want maxPasses = %d", st.CatchUpPasses, tc.maxPasses)
				}
				return
			}
			if st.CatchUpPasses < 1 || st.CatchUpPasses > tc.maxPasses {
				t.Fatalf("%d catch-up passes, want 1..%d", st.CatchUpPasses, tc.maxPasses)
			}
			dbtest.AssertSameRows(t, src, dst, "kitchen")
		})
	}
}
