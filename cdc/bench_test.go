package cdc

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

// BenchmarkTriggerOverhead measures what the change triggers cost the
// source's writers: the same single-row transactions (half inserts, a
// third updates, a sixth deletes; GODWIT_BENCH_CHANGES of them, 2000 by
// default), 100 per transaction and then one per transaction, on a table without triggers, then on one with them, in the
// same run. It prints the rates, the batched ratio, and last `ratio: X`
// for one change per transaction (with ÷ without; 1 is free).
//
//	go test -run '^$' -bench TriggerOverhead -benchtime 1x ./cdc/
func BenchmarkTriggerOverhead(b *testing.B) {
	n := 2000
	if v, err := strconv.Atoi(os.Getenv("GODWIT_BENCH_CHANGES")); err == nil && v > 0 {
		n = v
	}
	for _, engine := range dbtest.Engines {
		b.Run(string(engine), func(b *testing.B) {
			db := dbtest.New(b, engine)
			ctx := context.Background()
			ddl := "CREATE TABLE %s (id BIGINT PRIMARY KEY, qty INTEGER NOT NULL, name VARCHAR(100) NOT NULL)"
			dbtest.Exec(b, db.Store, fmt.Sprintf(ddl, "plain"), fmt.Sprintf(ddl, "captured"))
			o := Options{Source: db.Store, SourceDSN: db.DSN, Name: fmt.Sprintf("bench%d", time.Now().UnixNano()%1e9),
				Tables: []string{"captured"}, Method: MethodTriggers}
			if _, err := Setup(ctx, o); err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { Teardown(context.Background(), o) })
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				// 100 changes per transaction: the commit's fsync no longer
				// hides the triggers' own cost.
				bw, bt := alternate(b, db.Store, n, 100, 10*i)
				fmt.Printf("%s, 100 changes per transaction: without triggers %.0f changes/s, with %.0f changes/s, ratio (batched): %.2f\n", engine, bw, bt, bt/bw)
				without, with := alternate(b, db.Store, n/4, 1, 10*i+5)
				fmt.Printf("%s, one change per transaction: without triggers %.0f changes/s, with %.0f changes/s\nratio: %.2f\n", engine, without, with, with/without)
			}
		})
	}
}

// writeLoad runs n single-row changes, per transactions of perTx, and
// returns changes/s.
func writeLoad(b *testing.B, s *datastore.Store, table string, n, perTx, round int) float64 {
	ctx := context.Background()
	ph := s.Placeholder
	ins := "INSERT INTO " + table + " (id, qty, name) VALUES (" + ph(1) + ", " + ph(2) + ", " + ph(3) + ")"
	upd := "UPDATE " + table + " SET qty = qty + 1 WHERE id = " + ph(1)
	del := "DELETE FROM " + table + " WHERE id = " + ph(1)
	base := int64(round) * int64(n) * 10
	start := time.Now()
	next := base
	for i := 0; i < n; i += perTx {
		tx, err := s.DB.BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		for j := i; j < min(i+perTx, n); j++ {
			switch j % 6 {
			case 0, 2, 4:
				next++
				_, err = tx.ExecContext(ctx, ins, next, j, "name-"+strconv.Itoa(j))
			case 1, 3:
				_, err = tx.ExecContext(ctx, upd, next)
			case 5:
				_, err = tx.ExecContext(ctx, del, next-1)
			}
			if err != nil {
				b.Fatalf("%s: %v", table, err)
			}
		}
		if err := tx.Commit(); err != nil {
			b.Fatalf("%s: %v", table, err)
		}
	}
	return float64(n) / time.Since(start).Seconds()
}

// alternate runs the load three times on each table, alternating which
// goes first (the machine is shared: noise and warm-up hit both), and
// returns the median rates without and with triggers.
func alternate(b *testing.B, s *datastore.Store, n, perTx, round int) (without, with float64) {
	var ws, ts []float64
	for r := 0; r < 3; r++ {
		if r%2 == 0 {
			ws = append(ws, writeLoad(b, s, "plain", n, perTx, round+r))
			ts = append(ts, writeLoad(b, s, "captured", n, perTx, round+r))
		} else {
			ts = append(ts, writeLoad(b, s, "captured", n, perTx, round+r))
			ws = append(ws, writeLoad(b, s, "plain", n, perTx, round+r))
		}
	}
	return median(ws), median(ts)
}

func median(xs []float64) float64 {
	sort.Float64s(xs)
	return xs[len(xs)/2]
}
