package copy_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	copydriver "github.com/godwit/godwit/drivers/copy"
	"github.com/godwit/godwit/drivers/provision"
)

// BenchmarkCopyDriverSQLiteToPostgres copies GODWIT_BENCH_ROWS (default
// 1,000,000) generated rows of about 100 bytes from SQLite into a fresh
// PostgreSQL table with only its primary key, through the provision and
// copy drivers (heartbeats and checkpoints included; no Temporal), and in
// the same run loads the same rows with `psql \copy ... from` a CSV file
// into another fresh table: the raw reference. It prints both in rows/s
// and, last, `ratio: X` (drivers ÷ reference). Run it with bench/copy.sh.
func BenchmarkCopyDriverSQLiteToPostgres(b *testing.B) {
	rows := 1_000_000
	if v := os.Getenv("GODWIT_BENCH_ROWS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatalf("GODWIT_BENCH_ROWS: %v", err)
		}
		rows = n
	}
	psql, err := exec.LookPath("psql")
	if err != nil {
		b.Fatal("the reference needs psql in PATH")
	}
	ctx := context.Background()
	src := dbtest.New(b, datastore.SQLite)
	csv := filepath.Join(b.TempDir(), "rows.csv")
	seedBench(b, src, rows, csv)
	var godwitRate, refRate float64
	for i := 0; i < b.N; i++ {
		dst := dbtest.New(b, datastore.Postgres)
		spec := benchSpec(b, src, dst)
		if _, err := provision.New(logger()).Do(ctx, activities.ActionRun, input(spec, 0), activities.Heartbeat{}, func(activities.Heartbeat) {}); err != nil {
			b.Fatal(err)
		}
		beats := 0
		start := time.Now()
		res, err := copydriver.New(logger()).Do(ctx, activities.ActionRun, input(spec, 1), activities.Heartbeat{}, func(activities.Heartbeat) { beats++ })
		if err != nil {
			b.Fatal(err)
		}
		godwitRate = float64(res.Records) / time.Since(start).Seconds()
		if res.Records != int64(rows) {
			b.Fatalf("copied %d rows, want %d", res.Records, rows)
		}

		ref := dbtest.New(b, datastore.Postgres)
		dbtest.Exec(b, ref.Store, "CREATE TABLE bench (id bigint PRIMARY KEY, name varchar(60) NOT NULL, amount numeric(12,2), created timestamptz, note text)")
		start = time.Now()
		out, err := exec.Command(psql, ref.DSN, "-c", `\copy bench from '`+csv+`' csv`).CombinedOutput()
		if err != nil {
			b.Fatalf("psql \\copy: %v: %s", err, out)
		}
		refRate = float64(rows) / time.Since(start).Seconds()
		fmt.Printf("rows: %d, heartbeats: %d\n", rows, beats)
	}
	fmt.Printf("godwit provision+copy drivers, sqlite -> postgres: %.0f rows/s\n", godwitRate)
	fmt.Printf("reference psql \\copy from CSV into postgres: %.0f rows/s\n", refRate)
	fmt.Printf("ratio: %.2f\n", godwitRate/refRate)
}

func benchSpec(b *testing.B, src, dst dbtest.DB) *configSpec {
	b.Helper()
	dir := b.TempDir()
	write := func(n, s string) string {
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			b.Fatal(err)
		}
		return p
	}
	return mustParse(b, fmt.Sprintf(`name: bench
stores:
  legacy: {engine: sqlite, dsn: {fromFile: %s}}
  new: {engine: postgres, dsn: {fromFile: %s}}
phases:
  - phase: provision
    provision: {from: legacy, to: new, tables: [bench]}
  - phase: copy
    copy: {from: legacy, to: new, tables: [bench], batchRows: 5000}
`, write("legacy", src.DSN), write("new", dst.DSN)))
}

// seedBench fills the SQLite table bench and writes the same rows as CSV.
func seedBench(b *testing.B, db dbtest.DB, rows int, csvPath string) {
	b.Helper()
	dbtest.Exec(b, db.Store, "CREATE TABLE bench (id INTEGER PRIMARY KEY, name VARCHAR(60) NOT NULL, amount DECIMAL(12,2), created TIMESTAMPTZ, note TEXT)")
	ctx := context.Background()
	t, err := db.Store.Introspect(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	f, err := os.Create(csvPath)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	batch := make([][]any, 0, 5000)
	var csv strings.Builder
	for i := 1; i <= rows; i++ {
		name := fmt.Sprintf("customer %08d", i)
		amount := fmt.Sprintf("%d.%02d", i%100000, i%100)
		created := base.Add(time.Duration(i) * time.Second)
		note := fmt.Sprintf("order note %d with some text to fill the row up", i)
		batch = append(batch, []any{int64(i), name, amount, created, note})
		fmt.Fprintf(&csv, "%d,%s,%s,%s,%s\n", i, name, amount, created.Format("2006-01-02 15:04:05+00"), note)
		if len(batch) == cap(batch) || i == rows {
			if err := db.Store.WriteBatch(ctx, t, batch); err != nil {
				b.Fatal(err)
			}
			if _, err := f.WriteString(csv.String()); err != nil {
				b.Fatal(err)
			}
			batch, csv = batch[:0], strings.Builder{}
		}
	}
}
