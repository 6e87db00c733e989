package dbtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/godwit/godwit/datastore"
)

// KitchenDDL creates table name with one column of each common kind, in the
// engine's own native DDL (as a user of that engine would write it).
func KitchenDDL(engine datastore.Engine, name string) []string {
	switch engine {
	case datastore.Postgres:
		return []string{
			`CREATE TABLE ` + name + ` (id bigint PRIMARY KEY, small smallint, qty integer NOT NULL DEFAULT 0,
				price numeric(12,2), big_num numeric(30,10), ratio double precision, active boolean NOT NULL DEFAULT true,
				name varchar(100) NOT NULL DEFAULT 'anon', note text, data bytea, born date, created timestamp,
				seen timestamptz, doc jsonb, updated_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP)`,
			`CREATE INDEX ` + name + `_updated ON ` + name + ` (updated_at)`,
			`CREATE UNIQUE INDEX ` + name + `_name_id ON ` + name + ` (name, id)`,
		}
	case datastore.MySQL:
		return []string{
			"CREATE TABLE " + name + " (id BIGINT PRIMARY KEY, small SMALLINT, qty INT NOT NULL DEFAULT 0, " +
				"price DECIMAL(12,2), big_num DECIMAL(30,10), ratio DOUBLE, active TINYINT(1) NOT NULL DEFAULT 1, " +
				"name VARCHAR(100) NOT NULL DEFAULT 'anon', note LONGTEXT, data LONGBLOB, born DATE, created DATETIME(6), " +
				"seen TIMESTAMP(6) NULL, doc JSON, updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), " +
				"KEY " + name + "_updated (updated_at), UNIQUE KEY " + name + "_name_id (name, id)) " +
				"DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
		}
	default:
		return []string{
			`CREATE TABLE ` + name + ` (id INTEGER PRIMARY KEY, small SMALLINT, qty INTEGER NOT NULL DEFAULT 0,
				price DECIMAL(12,2), big_num DECIMAL_TEXT(30,10), ratio REAL, active BOOLEAN NOT NULL DEFAULT 1,
				name VARCHAR(100) NOT NULL DEFAULT 'anon', note TEXT, data BLOB, born DATE, created TIMESTAMP,
				seen TIMESTAMPTZ, doc JSON, updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)`,
			`CREATE INDEX ` + name + `_updated ON ` + name + ` (updated_at)`,
			`CREATE UNIQUE INDEX ` + name + `_name_id ON ` + name + ` (name, id)`,
		}
	}
}

// KitchenBase is the updated_at of kitchen row 0; row i is i seconds later.
var KitchenBase = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// KitchenRow is row i of a kitchen table, in canonical values and column
// order: NULLs, unicode, quotes, bytes with 0 and 255, 20-digit decimals,
// microsecond timestamps with a zone, JSON, one large text.
func KitchenRow(i int) []any {
	null := func(every int, v any) any {
		if i%every == 0 {
			return nil
		}
		return v
	}
	note := strings.Repeat("x", i%50) + "\n\ttab ✓"
	if i == 3 {
		note = strings.Repeat("large text ", 10000)
	}
	return []any{
		int64(i),
		null(7, int64(i%300-150)),
		int64(i * 3),
		fmt.Sprintf("%d.%02d", i*37%100000, i%100),
		fmt.Sprintf("1234567890123456%04d.%010d", i%10000, i),
		float64(i) / 7,
		i%2 == 0,
		fmt.Sprintf("name-%d ünïcødé '\"\\", i),
		null(5, note),
		null(6, []byte{0, 1, 2, 255, byte(i)}),
		time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i),
		time.Date(2023, 1, 2, 3, 4, 5, 123456000, time.UTC).Add(time.Duration(i) * time.Second),
		time.Date(2024, 5, 6, 7, 8, 9, 654321000, time.FixedZone("", 2*3600)).Add(time.Duration(i) * time.Minute).UTC(),
		null(4, fmt.Sprintf(`{"i": %d, "tags": ["a", "b"], "nested": {"ok": true, "s": "é"}}`, i)),
		KitchenBase.Add(time.Duration(i) * time.Second),
	}
}

// KitchenRows is rows from..to-1.
func KitchenRows(from, to int) [][]any {
	rows := make([][]any, 0, to-from)
	for i := from; i < to; i++ {
		rows = append(rows, KitchenRow(i))
	}
	return rows
}

// ReadAll reads a whole table in key order through ReadBatch.
func ReadAll(t testing.TB, s *datastore.Store, table string) (*datastore.Table, [][]any) {
	t.Helper()
	ctx := context.Background()
	tbl, err := s.Introspect(ctx, table)
	if err != nil {
		t.Fatalf("read all %s: %v", table, err)
	}
	var all [][]any
	var after []any
	for {
		rows, err := s.ReadBatch(ctx, tbl, after, 1000, nil)
		if err != nil {
			t.Fatalf("read all %s: %v", table, err)
		}
		all = append(all, rows...)
		if len(rows) < 1000 {
			return tbl, all
		}
		last := rows[len(rows)-1]
		after = nil
		for _, i := range tbl.KeyIndexes() {
			after = append(after, last[i])
		}
	}
}

// AssertSameRows checks that two stores hold the same rows in table: the
// same keys (none missing, none doubled) and equal values column by column
// (compared by meaning: decimals as numbers, JSON as documents, times as
// instants).
func AssertSameRows(t testing.TB, want, got *datastore.Store, table string) {
	t.Helper()
	wt, wrows := ReadAll(t, want, table)
	gt, grows := ReadAll(t, got, table)
	if len(wrows) != len(grows) {
		t.Fatalf("%s: %d rows in %s, %d in %s", table, len(wrows), want.Engine, len(grows), got.Engine)
	}
	for r := range wrows {
		for ci, c := range wt.Columns {
			gc := gt.Column(c.Name)
			if gc == nil {
				t.Fatalf("%s: column %s missing in %s", table, c.Name, got.Engine)
			}
			gi := indexOf(gt, c.Name)
			if !SameValue(wrows[r][ci], grows[r][gi]) {
				t.Fatalf("%s row %d column %s: %s has %#v, %s has %#v", table, r, c.Name, want.Engine, wrows[r][ci], got.Engine, grows[r][gi])
			}
		}
	}
	if err := checkAscendingKeys(gt, grows); err != nil {
		t.Fatalf("%s in %s: %v", table, got.Engine, err)
	}
}

func checkAscendingKeys(t *datastore.Table, rows [][]any) error {
	seen := map[string]bool{}
	for _, r := range rows {
		var key []string
		for _, i := range t.KeyIndexes() {
			key = append(key, fmt.Sprint(r[i]))
		}
		k := strings.Join(key, "\x00")
		if seen[k] {
			return fmt.Errorf("key %v appears twice", key)
		}
		seen[k] = true
	}
	return nil
}

func indexOf(t *datastore.Table, name string) int {
	for i, c := range t.Columns {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// SameValue compares two canonical values by meaning.
func SameValue(a, b any) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	switch x := a.(type) {
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	case string:
		y, ok := b.(string)
		if !ok {
			return false
		}
		if x == y {
			return true
		}
		if rx, ok := new(big.Rat).SetString(x); ok {
			if ry, ok := new(big.Rat).SetString(y); ok {
				return rx.Cmp(ry) == 0
			}
		}
		var jx, jy any
		if json.Unmarshal([]byte(x), &jx) == nil && json.Unmarshal([]byte(y), &jy) == nil {
			return reflect.DeepEqual(jx, jy)
		}
		return false
	}
	return reflect.DeepEqual(a, b)
}

// IndexShape lists a PostgreSQL table's indexes (pg_indexes.indexdef) and
// constraints (name and pg_get_constraintdef), sorted: two tables built
// alike list the same lines.
func IndexShape(t testing.TB, s *datastore.Store, table string) []string {
	t.Helper()
	rows, err := s.DB.QueryContext(context.Background(), `
		SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = $1
		UNION ALL
		SELECT 'constraint ' || conname || ' ' || pg_get_constraintdef(k.oid) FROM pg_constraint k
		JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = current_schema() AND c.relname = $1 ORDER BY 1`, table)
	if err != nil {
		t.Fatalf("dbtest: indexes of %s: %v", table, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatalf("dbtest: indexes of %s: %v", table, err)
		}
		out = append(out, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("dbtest: indexes of %s: %v", table, err)
	}
	return out
}
