package datacopy_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/godwit/godwit/datacopy"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

// BenchmarkCopyPostgresInKeyRanges copies a generated PostgreSQL table
// (GODWIT_BENCH_ROWS, default 400k rows of mixed types) into a fresh
// PostgreSQL table with only its primary key, through the direct path,
// once whole and once split into 4 key ranges copied 2 at a time
// (GODWIT_BENCH_CONCURRENCY), alternating GODWIT_BENCH_RUNS times each
// (medians count). The last line is "ratio: X" = split rows/s ÷ whole
// rows/s, both measured in this run. Run it with:
//
//	go test -run '^$' -bench CopyPostgresInKeyRanges -benchtime 1x ./datacopy/
func BenchmarkCopyPostgresInKeyRanges(b *testing.B) {
	rows := envInt("GODWIT_BENCH_ROWS", 400_000)
	runs := envInt("GODWIT_BENCH_RUNS", 1)
	conc := envInt("GODWIT_BENCH_CONCURRENCY", 2)
	ctx := context.Background()
	src := dbtest.New(b, datastore.Postgres).Store
	dst := dbtest.New(b, datastore.Postgres).Store
	dbtest.Exec(b, src, `CREATE TABLE bench (id bigint PRIMARY KEY, name varchar(40) NOT NULL, qty integer,
		price numeric(10,2), active boolean, created timestamptz, note text)`,
		fmt.Sprintf(`INSERT INTO bench SELECT g, 'customer ' || g, g %% 1000, (g %% 100000) + (g %% 100) / 100.0, g %% 3 = 0,
		timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second', repeat('n', 20 + g %% 20) FROM generate_series(1, %d) g`, rows),
		`ANALYZE bench`)
	fresh := func() {
		dbtest.Exec(b, dst, `DROP TABLE IF EXISTS bench`, `CREATE TABLE bench (id bigint PRIMARY KEY, name varchar(40) NOT NULL,
			qty integer, price numeric(10,2), active boolean, created timestamptz, note text)`)
	}
	copyOnce := func(opts datacopy.Options) float64 {
		fresh()
		start := time.Now()
		res, err := datacopy.Run(ctx, opts, datacopy.Checkpoint{}, nil)
		if err != nil {
			b.Fatal(err)
		}
		if res.Rows != int64(rows) {
			b.Fatalf("copied %d rows, want %d", res.Rows, rows)
		}
		return float64(res.Rows) / time.Since(start).Seconds()
	}
	base := datacopy.Options{From: src, To: dst, Tables: []string{"bench"}, BatchRows: 10_000, DriftCheckEvery: -1}
	split := base
	split.SplitRows, split.Concurrency = int64(rows/4), conc
	var whole, ranged []float64
	b.ResetTimer()
	for range b.N {
		for r := 0; r < runs; r++ {
			whole = append(whole, copyOnce(base))
			ranged = append(ranged, copyOnce(split))
		}
	}
	b.StopTimer()
	w, s := median(whole), median(ranged)
	fmt.Printf("rows: %d, runs: %d each\n", rows, len(whole))
	fmt.Printf("postgres→postgres whole table: %.0f rows/s\n", w)
	fmt.Printf("postgres→postgres 4 key ranges, %d at a time: %.0f rows/s\n", conc, s)
	fmt.Printf("ratio: %.2f\n", s/w)
}
