package datacopy_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/godwit/godwit/datacopy"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

// BenchmarkCopySQLiteToPostgres copies a generated SQLite table (200k rows of
// mixed types, about 100 bytes each; GODWIT_BENCH_ROWS to change) into a
// fresh PostgreSQL table with only its primary key, through datacopy.Run,
// and in the same run through a naive reference: one prepared INSERT per
// row, committed every 5000 rows. Runs alternate (GODWIT_BENCH_RUNS each,
// default 1; medians count). The last line is "ratio: X" = datacopy rows/s ÷
// reference rows/s. Run it with:
//
//	go test -run '^$' -bench CopySQLiteToPostgres -benchtime 1x ./datacopy/
func BenchmarkCopySQLiteToPostgres(b *testing.B) {
	rows := envInt("GODWIT_BENCH_ROWS", 200000)
	runs := envInt("GODWIT_BENCH_RUNS", 1)
	ctx := context.Background()
	src := dbtest.New(b, datastore.SQLite).Store
	dst := dbtest.New(b, datastore.Postgres).Store
	dbtest.Exec(b, src, `CREATE TABLE bench (id INTEGER PRIMARY KEY, name VARCHAR(40) NOT NULL, qty INTEGER,
		price DECIMAL_TEXT(10,2), active BOOLEAN, created TIMESTAMP, note TEXT)`)
	tbl, err := src.Introspect(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < rows; i += 10000 {
		batch := make([][]any, 0, 10000)
		for j := i; j < min(i+10000, rows); j++ {
			batch = append(batch, []any{int64(j), fmt.Sprintf("customer %d", j), int64(j % 1000),
				fmt.Sprintf("%d.%02d", j%100000, j%100), j%3 == 0, base.Add(time.Duration(j) * time.Second),
				strings.Repeat("n", 20+j%20)})
		}
		if err := src.WriteBatch(ctx, tbl, batch); err != nil {
			b.Fatal(err)
		}
	}
	fresh := func() {
		dbtest.Exec(b, dst, `DROP TABLE IF EXISTS bench`, `CREATE TABLE bench (id bigint PRIMARY KEY, name varchar(40) NOT NULL,
			qty bigint, price numeric(10,2), active boolean, created timestamp, note text)`)
	}
	var ours, ref []float64
	b.ResetTimer()
	for range b.N {
		for r := 0; r < runs; r++ {
			fresh()
			start := time.Now()
			res, err := datacopy.Run(ctx, datacopy.Options{From: src, To: dst, Tables: []string{"bench"}, BatchRows: 5000}, datacopy.Checkpoint{}, nil)
			if err != nil {
				b.Fatal(err)
			}
			ours = append(ours, float64(res.Rows)/time.Since(start).Seconds())

			fresh()
			start = time.Now()
			n, err := naiveCopy(ctx, src, dst)
			if err != nil {
				b.Fatal(err)
			}
			ref = append(ref, float64(n)/time.Since(start).Seconds())
		}
	}
	b.StopTimer()
	o, r := median(ours), median(ref)
	b.ReportMetric(o, "rows/s")
	fmt.Printf("rows: %d, runs: %d each\n", rows, len(ours))
	fmt.Printf("datacopy sqlite→postgres: %.0f rows/s\n", o)
	fmt.Printf("reference (row-by-row INSERT): %.0f rows/s\n", r)
	fmt.Printf("ratio: %.2f\n", o/r)
}

// naiveCopy is the reference: read every row, insert them one by one.
func naiveCopy(ctx context.Context, src, dst *datastore.Store) (int, error) {
	rows, err := src.DB.QueryContext(ctx, `SELECT id, name, qty, price, active, created, note FROM bench ORDER BY id`)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	tx, err := dst.DB.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	for rows.Next() {
		var id, qty int64
		var name, price, note string
		var active bool
		var created time.Time
		if err := rows.Scan(&id, &name, &qty, &price, &active, &created, &note); err != nil {
			return n, err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO bench VALUES ($1, $2, $3, $4, $5, $6, $7)`, id, name, qty, price, active, created, note); err != nil {
			return n, err
		}
		n++
		if n%5000 == 0 {
			if err := tx.Commit(); err != nil {
				return n, err
			}
			if tx, err = dst.DB.BeginTx(ctx, nil); err != nil {
				return n, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	return n, tx.Commit()
}

func median(xs []float64) float64 {
	sort.Float64s(xs)
	return xs[len(xs)/2]
}

func envInt(k string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(k)); err == nil && v > 0 {
		return v
	}
	return def
}
