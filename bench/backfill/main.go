// Command backfill is the backfill benchmark (issue 20): it builds a
// PostgreSQL table of GODWIT_BENCH_ROWS rows (default 1,000,000) with an
// empty new column, fills it with Godwit's batched backfill
// (schemachange.RunBackfill: keyset batches by primary key, one short
// transaction each with its checkpoint, unthrottled) and, alternating in
// the same run on a freshly built copy of the same table, with the
// reference: one `UPDATE users SET email_address = lower(email) WHERE
// email_address IS NULL`. Each measure starts on a table just built,
// vacuumed and analyzed, after a CHECKPOINT. It prints the medians in
// rows/s and, last, "ratio: X" (reference time ÷ backfill time; the goal is
// at least 0.7). The database it creates is dropped at the end.
//
//	go run ./bench/backfill            # or: bench/backfill.sh
//
// Flags: -rows, -runs (each side, medians count), -batch (batchRows).
// Needs PostgreSQL on 127.0.0.1:5432 (or GODWIT_TEST_POSTGRES, an admin
// DSN). Not part of the normal test run.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"net/url"
	"os"
	"sort"
	"strconv"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/schemachange"
)

func main() {
	rows := flag.Int("rows", envInt("GODWIT_BENCH_ROWS", 1_000_000), "rows in the table")
	runs := flag.Int("runs", 3, "runs of each side (medians count)")
	batch := flag.Int("batch", schemachange.DefaultBatchRows, "the backfill's batchRows")
	flag.Parse()
	if err := run(context.Background(), *rows, *runs, *batch); err != nil {
		fmt.Fprintln(os.Stderr, "bench/backfill:", err)
		os.Exit(1)
	}
}

func envInt(k string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(k)); err == nil && v > 0 {
		return v
	}
	return def
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

const reference = "UPDATE users SET email_address = lower(email) WHERE email_address IS NULL"

func run(ctx context.Context, n, runs, batch int) error {
	admin := envOr("GODWIT_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
	u, err := url.Parse(admin)
	if err != nil {
		return fmt.Errorf("GODWIT_TEST_POSTGRES: %w", err)
	}
	pg, err := datastore.Open(ctx, datastore.Postgres, admin)
	if err != nil {
		return fmt.Errorf("PostgreSQL is not reachable: %w", err)
	}
	defer pg.Close()
	var r [4]byte
	_, _ = rand.Read(r[:])
	name := "godwit_benchbf_" + hex.EncodeToString(r[:])
	if _, err := pg.DB.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	defer pg.DB.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") //nolint:errcheck
	u.Path = "/" + name
	st, err := datastore.Open(ctx, datastore.Postgres, u.String())
	if err != nil {
		return fmt.Errorf("open %s: %w", name, err)
	}
	defer st.Close()

	var refSecs, bfSecs []float64
	var batches int
	for i := 0; i < runs; i++ {
		if err := build(ctx, st, n); err != nil {
			return err
		}
		start := time.Now()
		res, err := st.DB.ExecContext(ctx, reference)
		if err != nil {
			return fmt.Errorf("reference: %w", err)
		}
		refSecs = append(refSecs, time.Since(start).Seconds())
		if got, _ := res.RowsAffected(); got != int64(n) {
			return fmt.Errorf("the reference updated %d rows of %d", got, n)
		}

		if err := build(ctx, st, n); err != nil {
			return err
		}
		bf := schemachange.Backfill{Name: fmt.Sprintf("bench/backfill-%d", i), Table: "users",
			Set: map[string]string{"email_address": "lower(email)"}, Where: "email_address IS NULL", BatchRows: batch}
		start = time.Now()
		p, err := schemachange.RunBackfill(ctx, st, bf, hclog.NewNullLogger(), nil)
		if err != nil {
			return fmt.Errorf("backfill: %w", err)
		}
		bfSecs = append(bfSecs, time.Since(start).Seconds())
		if p.Updated != int64(n) {
			return fmt.Errorf("the backfill updated %d rows of %d", p.Updated, n)
		}
		if err := check(ctx, st); err != nil {
			return err
		}
		batches = p.Batches
		fmt.Printf("run %d: reference %.2fs, backfill %.2fs\n", i+1, refSecs[i], bfSecs[i])
	}
	ref, bf := median(refSecs), median(bfSecs)
	fmt.Printf("%d rows, PostgreSQL, medians of %d runs:\n", n, runs)
	fmt.Printf("  reference (one UPDATE … SET email_address = lower(email)): %.2fs (%.0f rows/s)\n", ref, float64(n)/ref)
	fmt.Printf("  backfill (Godwit, batchRows %d, %d batches, unthrottled): %.2fs (%.0f rows/s)\n", batch, batches, bf, float64(n)/bf)
	fmt.Printf("ratio: %.2f\n", ref/bf)
	return nil
}

// build makes a fresh users table of n rows (about 90 bytes each) whose
// new column is empty, vacuumed and analyzed, and checkpoints, so each
// measure starts from the same state.
func build(ctx context.Context, st *datastore.Store, n int) error {
	for _, q := range []string{
		"DROP TABLE IF EXISTS users",
		"DROP TABLE IF EXISTS " + schemachange.RecordTable,
		`CREATE TABLE users (id bigint PRIMARY KEY, email varchar(200) NOT NULL, name text, email_address varchar(200))`,
		fmt.Sprintf(`INSERT INTO users (id, email, name) SELECT i, 'User' || i || '@Example.com', 'user ' || i || ' ' || md5(i::text)
			FROM generate_series(1, %d) i`, n),
		"VACUUM ANALYZE users",
		"CHECKPOINT",
	} {
		if _, err := st.DB.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%.60s: %w", q, err)
		}
	}
	return nil
}

// check fails when a row's new column differs from its rule.
func check(ctx context.Context, st *datastore.Store) error {
	var bad int64
	if err := st.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM users WHERE email_address IS DISTINCT FROM lower(email)").Scan(&bad); err != nil {
		return err
	}
	if bad > 0 {
		return fmt.Errorf("%d rows were not backfilled", bad)
	}
	return nil
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}
