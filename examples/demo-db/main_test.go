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

// seeded returns a seeded demo database and a byte-for-byte copy of it
// (seeding twice would differ: the rows carry the time they were made).
func seeded(t *testing.T) (legacy, target string) {
	t.Helper()
	dir := t.TempDir()
	legacy, target = filepath.Join(dir, "legacy.db"), filepath.Join(dir, "new.db")
	require.NoError(t, run(context.Background(), []string{"seed", legacy}, &bytes.Buffer{}))
	b, err := os.ReadFile(legacy)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(target, b, 0o644))
	return legacy, target
}

func exec(t *testing.T, file, stmt string) {
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
			"UPDATE order_lines SET note = 'x' WHERE order_id = 20000 AND line = 1",
			"order_lines: row with key [20000 1] differs in column note: legacy has line 40000, new has x"},
		{"a NULL where legacy has a value differs",
			"UPDATE customers SET name = NULL WHERE id = 7",
			"customers: row with key [7] differs in column name: legacy has Customer 7, new has <nil>"},
		{"a missing row is counted", "DELETE FROM orders WHERE id = 30000", "orders: 30,000 rows in legacy, 29,999 in new"},
		{"a missing table is reported", "DROP TABLE order_lines", "new: count order_lines"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			legacy, target := seeded(t)
			if tc.change != "" {
				exec(t, target, tc.change)
			}
			var out bytes.Buffer
			err := run(context.Background(), []string{"compare", legacy, target, "customers", "orders", "order_lines"}, &out)
			if tc.want == "" {
				require.NoError(t, err)
				require.Contains(t, out.String(), "godwit:records=100000\n")
				require.True(t, strings.HasSuffix(out.String(), "new matches legacy: 3 tables, 100,000 rows, every row identical\n"), out.String())
				return
			}
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestTablesAndMissingFiles(t *testing.T) {
	legacy, _ := seeded(t)
	var out bytes.Buffer
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
