package datacopy_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/godwit/godwit/datacopy"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

// On the PostgreSQL → PostgreSQL direct path the batches grow past
// BatchRows; one stopped in the middle of its COPY (held there by a key
// another transaction is inserting into the target) leaves nothing of
// itself behind, the checkpoint stays at the last committed batch, and
// the copy resumed from it ends with exactly the source's rows.
func TestDirectBatchesGrowAndAStopMidCopyResumesExactly(t *testing.T) {
	ctx := context.Background()
	const n, blockAt = 20000, 15000
	src, dst := setup(t, datastore.Postgres, datastore.Postgres, n)

	// An uncommitted row with key blockAt on the target: the copy's COPY
	// waits on it when it reaches that key, with the rows before it sent.
	blocker, err := dst.DB.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer blocker.Rollback()
	if _, err := blocker.ExecContext(ctx, `INSERT INTO kitchen (id) VALUES ($1)`, blockAt); err != nil {
		t.Fatal(err)
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		// Stop the copy once its COPY is waiting on the blocker.
		for runCtx.Err() == nil {
			var waiting bool
			err := dst.DB.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
				WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'COPY%')`).Scan(&waiting)
			if err == nil && waiting {
				cancel()
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	opts := datacopy.Options{From: src, To: dst, Tables: []string{"kitchen"}, BatchRows: 100}
	reports := 0
	res, err := datacopy.Run(runCtx, opts, datacopy.Checkpoint{}, func(datacopy.Progress) { reports++ })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled (the copy should have waited on the blocker)", err)
	}
	st := res.Checkpoint.Tables["kitchen"]
	if st.Stage != datacopy.StageBackfill || st.RowsDone >= blockAt || len(st.LastKey) != 1 {
		t.Fatalf("checkpoint after the stop = %+v, want the backfill before key %d", st, blockAt)
	}
	// Batches of 100 would have made RowsDone/100 reports; they grew
	// (100, then 1,600: sixteenfold, the rate allowing far more).
	if st.RowsDone < 1700 || int64(reports) >= st.RowsDone/100 {
		t.Fatalf("%d rows done in %d reports: the batches did not grow past BatchRows", st.RowsDone, reports)
	}
	if err := blocker.Rollback(); err != nil {
		t.Fatal(err)
	}
	got, err := dst.Count(ctx, "kitchen")
	if err != nil {
		t.Fatal(err)
	}
	if got != st.RowsDone {
		t.Fatalf("target holds %d rows after the stop, want the %d committed ones: the stopped batch left rows", got, st.RowsDone)
	}

	res, err = datacopy.Run(ctx, opts, res.Checkpoint, nil)
	if err != nil {
		t.Fatal(err)
	}
	dbtest.AssertSameRows(t, src, dst, "kitchen")
	if st := res.Checkpoint.Tables["kitchen"]; st.RowsDone != n || st.Total != n {
		t.Fatalf("after the resume: %+v, want rowsDone = total = %d", st, n)
	}
}
