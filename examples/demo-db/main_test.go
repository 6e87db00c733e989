package main

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/datastore"
)

// fixture returns a small database (two tables, one with a composite key
// and more rows than one compare batch) and a byte-for-byte copy of it.
func fixture(t *testing.T) (legacy, target string) {
	t.Helper()
	dir := t.TempDir()
	legacy, target = filepath.Join(dir, "legacy.db"), filepath.Join(dir, "new.db")
	s, err := datastore.Open(context.Background(), datastore.SQLite, legacy)
	require.NoError(t, err)
	for _, stmt := range []string{
		"CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, vip BOOLEAN NOT NULL DEFAULT 0)",
		"CREATE TABLE order_lines (order_id INTEGER NOT NULL, line INTEGER NOT NULL, note TEXT, PRIMARY KEY (order_id, line))",
		"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100) INSERT INTO customers SELECT i, 'Customer ' || i, i % 10 = 0 FROM n",
		"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 6000) INSERT INTO order_lines SELECT (i + 1) / 2, i % 2 + 1, 'line ' || i FROM n",
	} {
		_, err := s.DB.Exec(stmt)
		require.NoError(t, err, stmt)
	}
	require.NoError(t, s.Close())
	b, err := os.ReadFile(legacy)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(target, b, 0o644))
	return legacy, target
}

func execSQL(t *testing.T, file, stmt string) {
	t.Helper()
	s, err := datastore.Open(context.Background(), datastore.SQLite, file)
	require.NoError(t, err)
	defer s.Close()
	var res sql.Result
	res, err = s.DB.Exec(stmt)
	require.NoError(t, err)
	if n, _ := res.RowsAffected(); n == 0 && !strings.HasPrefix(stmt, "DROP") {
		t.Fatalf("%s changed nothing", stmt)
	}
}

func TestCompare(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change string // applied to the target; "" leaves it equal
		want   string // the error; "" for success
	}{
		{"equal databases match", "", ""},
		{"a changed value is named with its key and column",
			"UPDATE order_lines SET note = 'x' WHERE order_id = 2600 AND line = 1",
			"order_lines: row with key [2600 1] differs in column note: legacy has line 5200, new has x"},
		{"a NULL where legacy has a value differs",
			"UPDATE customers SET name = NULL WHERE id = 7",
			"customers: row with key [7] differs in column name: legacy has Customer 7, new has <nil>"},
		{"a missing row is counted", "DELETE FROM order_lines WHERE order_id = 1 AND line = 2", "order_lines: 6,000 rows in legacy, 5,999 in new"},
		{"a missing table is reported", "DROP TABLE order_lines", "new: count order_lines"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			legacy, target := fixture(t)
			if tc.change != "" {
				execSQL(t, target, tc.change)
			}
			var out bytes.Buffer
			err := run(context.Background(), []string{"compare", legacy, target, "customers", "order_lines"}, &out)
			if tc.want == "" {
				require.NoError(t, err)
				require.Contains(t, out.String(), "godwit:records=6100\ngodwit:progress=100\n")
				require.True(t, strings.HasSuffix(out.String(), "new matches legacy: 2 tables, 6,100 rows, every row identical\n"), out.String())
				return
			}
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestSeedAndTables seeds the demo's database (once: it is 100,000 rows).
func TestSeedAndTables(t *testing.T) {
	legacy := filepath.Join(t.TempDir(), "legacy.db")
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"seed", legacy}, &out))
	out.Reset()
	require.NoError(t, run(context.Background(), []string{"tables", legacy}, &out))
	require.Equal(t, []string{"customers     10,000 rows", "order_lines   60,000 rows", "orders        30,000 rows"},
		tableLines(out.String(), legacy))

	missing := filepath.Join(t.TempDir(), "missing.db")
	err := run(context.Background(), []string{"compare", legacy, missing, "customers"}, &out)
	require.ErrorContains(t, err, "no such file", "compare must not create an empty database for a mistyped path")
	require.NoFileExists(t, missing)
}

func tableLines(out, file string) []string {
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		lines = append(lines, strings.TrimPrefix(l, file+": "))
	}
	return lines
}
