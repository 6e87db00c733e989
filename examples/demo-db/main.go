// Command demo-db is the live demo's database tool (examples/live-demo.yaml,
// scripts/demo.sh), so the demo needs no sqlite3 program:
//
//	demo-db seed FILE                     create the legacy shop database (100,000 rows)
//	demo-db compare FROM TO TABLE...      the reconcile check: every row equal, in key order
//	demo-db tables FILE                   the tables of a database and their row counts
//
// FILE, FROM and TO are SQLite database files. compare is run by the
// migration's reconcile hook: it prints `godwit:` progress lines, ends with a
// one-line summary (the phase's summary) and exits 1 when the two differ.
package main

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"reflect"
	"strings"
	"syscall"
	"time"

	"github.com/godwit/godwit/datastore"
)

//go:embed seed.sql
var seedSQL string

const usage = `usage:
  demo-db seed FILE
  demo-db compare FROM TO TABLE...
  demo-db tables FILE`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "demo-db:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	switch cmd, rest := args[0], args[1:]; {
	case cmd == "seed" && len(rest) == 1:
		return seed(ctx, rest[0], out)
	case cmd == "compare" && len(rest) >= 3:
		return compare(ctx, rest[0], rest[1], rest[2:], out)
	case cmd == "tables" && len(rest) == 1:
		return tables(ctx, rest[0], out)
	}
	return errors.New(usage)
}

// open opens a SQLite file; only seed may create one (SQLite would
// silently create an empty database for a mistyped path).
func open(ctx context.Context, file string, create bool) (*datastore.Store, error) {
	if _, err := os.Stat(file); err != nil && !create {
		return nil, fmt.Errorf("open %s: %w", file, err)
	}
	s, err := datastore.Open(ctx, datastore.SQLite, file)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", file, err)
	}
	return s, nil
}

// seed creates (or re-creates) the legacy shop tables in file.
func seed(ctx context.Context, file string, out io.Writer) error {
	s, err := open(ctx, file, true)
	if err != nil {
		return err
	}
	defer s.Close()
	for _, stmt := range strings.Split(seedSQL, ";\n") {
		if strings.TrimSpace(stripComments(stmt)) == "" {
			continue
		}
		if _, err := s.DB.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("seed %s: %w", file, err)
		}
	}
	return tables(ctx, file, out)
}

func stripComments(stmt string) string {
	var b strings.Builder
	for _, line := range strings.Split(stmt, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "--") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// tables prints every table of file with its row count.
func tables(ctx context.Context, file string, out io.Writer) error {
	s, err := open(ctx, file, false)
	if err != nil {
		return err
	}
	defer s.Close()
	names, err := s.ListTables(ctx)
	if err != nil {
		return fmt.Errorf("list tables of %s: %w", file, err)
	}
	if len(names) == 0 {
		fmt.Fprintf(out, "%s: no tables\n", file)
		return nil
	}
	for _, name := range names {
		n, err := s.Count(ctx, name)
		if err != nil {
			return fmt.Errorf("count %s: %w", name, err)
		}
		fmt.Fprintf(out, "%s: %-12s %7s rows\n", file, name, thousands(n))
	}
	return nil
}

// batchRows is how many rows compare reads from each side at a time.
const batchRows = 5000

// compare checks that every table holds the same rows in from and to:
// the same count, and row by row in primary-key order the same value in
// every column of from (matched by name).
func compare(ctx context.Context, fromFile, toFile string, names []string, out io.Writer) error {
	from, err := open(ctx, fromFile, false)
	if err != nil {
		return err
	}
	defer from.Close()
	to, err := open(ctx, toFile, false)
	if err != nil {
		return err
	}
	defer to.Close()

	var total, done int64
	for _, name := range names {
		n, err := from.Count(ctx, name)
		if err != nil {
			return fmt.Errorf("legacy: %w", err)
		}
		total += n
	}
	for _, name := range names {
		n, err := compareTable(ctx, from, to, name, func(rows int64) {
			fmt.Fprintf(out, "godwit:records=%d\ngodwit:progress=%d\n", done+rows, (done+rows)*100/max(total, 1))
		})
		if err != nil {
			return err
		}
		done += n
		fmt.Fprintf(out, "%s: %s rows, identical\n", name, thousands(n))
	}
	fmt.Fprintf(out, "new matches legacy: %d tables, %s rows, every row identical\n", len(names), thousands(done))
	return nil
}

// compareTable walks one table on both sides in key order and returns its
// row count, or an error naming the first difference.
func compareTable(ctx context.Context, from, to *datastore.Store, name string, progress func(rows int64)) (int64, error) {
	counts := [2]int64{}
	for i, s := range []*datastore.Store{from, to} {
		n, err := s.Count(ctx, name)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", [2]string{"legacy", "new"}[i], err)
		}
		counts[i] = n
	}
	if counts[0] != counts[1] {
		return 0, fmt.Errorf("%s: %s rows in legacy, %s in new", name, thousands(counts[0]), thousands(counts[1]))
	}
	ft, err := from.Introspect(ctx, name)
	if err != nil {
		return 0, err
	}
	tt, err := to.Introspect(ctx, name)
	if err != nil {
		return 0, err
	}
	// Read the target with the source's column order, so rows compare
	// column by column whatever order the target declares them in.
	tt, err = tt.Project(ft.ColumnNames())
	if err != nil {
		return 0, fmt.Errorf("%s: the new table lacks a column of legacy: %w", name, err)
	}
	var after []any
	var seen int64
	lastBeat := time.Now()
	for {
		want, err := from.ReadBatch(ctx, ft, after, batchRows, nil)
		if err != nil {
			return 0, fmt.Errorf("read %s from legacy: %w", name, err)
		}
		got, err := to.ReadBatch(ctx, tt, after, batchRows, nil)
		if err != nil {
			return 0, fmt.Errorf("read %s from new: %w", name, err)
		}
		if len(want) != len(got) {
			return 0, fmt.Errorf("%s: after row %d, legacy has %d more rows and new %d", name, seen, len(want), len(got))
		}
		for r := range want {
			for c, col := range ft.Columns {
				if !sameValue(want[r][c], got[r][c]) {
					return 0, fmt.Errorf("%s: row with key %v differs in column %s: legacy has %v, new has %v",
						name, key(ft, want[r]), col.Name, want[r][c], got[r][c])
				}
			}
		}
		seen += int64(len(want))
		if time.Since(lastBeat) > 500*time.Millisecond {
			progress(seen)
			lastBeat = time.Now()
		}
		if len(want) < batchRows {
			progress(seen)
			return seen, nil
		}
		after = key(ft, want[len(want)-1])
	}
}

func key(t *datastore.Table, row []any) []any {
	var k []any
	for _, i := range t.KeyIndexes() {
		k = append(k, row[i])
	}
	return k
}

// sameValue compares two canonical values (see datastore/values.go).
func sameValue(a, b any) bool {
	switch av := a.(type) {
	case time.Time:
		bv, ok := b.(time.Time)
		return ok && av.Equal(bv)
	case []byte:
		bv, ok := b.([]byte)
		return ok && bytes.Equal(av, bv)
	}
	return reflect.DeepEqual(a, b)
}

// thousands writes n with comma separators: 100,000.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
