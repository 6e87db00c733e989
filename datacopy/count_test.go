package datacopy_test

import (
	"context"
	"testing"
	"time"

	"github.com/godwit/godwit/datacopy"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

// The exact count of a table is only progress: an unthrottled copy takes
// it beside the copy, so its first batch commits while the count is still
// held back, and the result still carries the exact total. A run resumed
// from a checkpoint taken before the count came in counts again.
func TestCopyDoesNotWaitForItsCount(t *testing.T) {
	for _, engines := range [][2]datastore.Engine{{datastore.Postgres, datastore.Postgres}, {datastore.SQLite, datastore.SQLite}} {
		t.Run(string(engines[0])+"-"+string(engines[1]), func(t *testing.T) {
			ctx := context.Background()
			const n = 3000
			src, dst := setup(t, engines[0], engines[1], n)
			// The count is held until the first batch's checkpoint has been
			// reported.
			reported, release := make(chan struct{}), make(chan struct{})
			held := func() {
				select {
				case <-reported:
				case <-time.After(20 * time.Second):
					t.Error("no batch committed while the count was held: the copy waited for its count")
				}
				<-release
			}
			opts := datacopy.Options{From: src, To: dst, Tables: []string{"kitchen"}, BatchRows: 500}
			var midway datacopy.Checkpoint
			go func() { <-reported; close(release) }()
			res, err := datacopy.Run(ctx, datacopy.WithBeforeCount(opts, held), datacopy.Checkpoint{}, func(p datacopy.Progress) {
				if p.RowsDone > 0 && midway.Tables == nil {
					midway = p.Checkpoint
					close(reported)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			dbtest.AssertSameRows(t, src, dst, "kitchen")
			if st := res.Checkpoint.Tables["kitchen"]; st.RowsDone != n || st.Total != n {
				t.Fatalf("checkpoint %+v, want %d of %d rows", st, n, n)
			}
			// The checkpoint of the first batch, taken while the count was
			// held, has no total: a run resumed from it counts again.
			if st := midway.Tables["kitchen"]; st == nil || st.Total != 0 || st.RowsDone == 0 {
				t.Fatalf("checkpoint after the first batch = %+v, want rows done and no total yet", st)
			}
			res, err = datacopy.Run(ctx, opts, midway, nil)
			if err != nil {
				t.Fatal(err)
			}
			if st := res.Checkpoint.Tables["kitchen"]; st.RowsDone != n || st.Total != n {
				t.Fatalf("resumed checkpoint %+v, want %d of %d rows", st, n, n)
			}
			dbtest.AssertSameRows(t, src, dst, "kitchen")
		})
	}
}
