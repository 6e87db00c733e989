package reconcile

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

// items is a table every engine can hold: an integer key, a decimal, a
// float, a flag, a text and a timestamp.
func itemsDDL(e datastore.Engine, name string) string {
	switch e {
	case datastore.Postgres:
		return `CREATE TABLE ` + name + ` (id bigint PRIMARY KEY, price numeric(12,2), ratio double precision,
			active boolean, label varchar(64), at timestamptz)`
	case datastore.MySQL:
		return "CREATE TABLE " + name + " (id BIGINT PRIMARY KEY, price DECIMAL(12,4), ratio DOUBLE, " +
			"active TINYINT(1), label VARCHAR(64), at DATETIME(6)) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"
	}
	return `CREATE TABLE ` + name + ` (id INTEGER PRIMARY KEY, price DECIMAL_TEXT(12,2), ratio DOUBLE,
		active BOOLEAN, label VARCHAR(64), at TIMESTAMPTZ)`
}

func itemRow(i int) []any {
	var label any = fmt.Sprintf("item %d", i)
	if i%11 == 0 {
		label = nil
	}
	a := max(i, -i)
	return []any{int64(i), fmt.Sprintf("%d.%02d", a%1000, a%100), float64(i) / 3, i%2 == 0, label,
		time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * 1500 * time.Millisecond)}
}

// newItems creates table items with rows 1..n on a fresh database.
func newItems(t *testing.T, e datastore.Engine, n int) dbtest.DB {
	t.Helper()
	db := dbtest.New(t, e)
	dbtest.Exec(t, db.Store, itemsDDL(e, "items"))
	writeRows(t, db.Store, "items", 1, n+1, itemRow)
	return db
}

func writeRows(t *testing.T, s *datastore.Store, table string, from, to int, mk func(int) []any) {
	t.Helper()
	ctx := context.Background()
	tbl, err := s.Introspect(ctx, table)
	if err != nil {
		t.Fatal(err)
	}
	var rows [][]any
	for i := from; i < to; i++ {
		rows = append(rows, mk(i))
		if len(rows) == 2000 || i == to-1 {
			if err := s.WriteBatch(ctx, tbl, rows); err != nil {
				t.Fatal(err)
			}
			rows = rows[:0]
		}
	}
}

func run(t *testing.T, o Options) *Report {
	t.Helper()
	if o.Tables == nil {
		o.Tables = []TablePair{{Source: "items", Target: "items"}}
	}
	rep, err := Run(context.Background(), o, Checkpoint{})
	if err != nil {
		t.Fatalf("reconcile: %v", err)
	}
	return rep
}

func keysOf(t *TableReport, c Class) []string {
	var out []string
	for _, d := range t.Differences {
		if d.Class == c {
			out = append(out, strings.Join(d.Key, ","))
		}
	}
	sort.Strings(out)
	return out
}

var pairs = []struct{ src, tgt datastore.Engine }{
	{datastore.Postgres, datastore.MySQL},
	{datastore.MySQL, datastore.SQLite},
	{datastore.SQLite, datastore.Postgres},
	{datastore.Postgres, datastore.Postgres},
}

func TestEqualTablesAcrossEnginesNeedNoRowFetch(t *testing.T) {
	for _, p := range pairs {
		t.Run(string(p.src)+"-"+string(p.tgt), func(t *testing.T) {
			a, b := newItems(t, p.src, 3000), newItems(t, p.tgt, 3000)
			rep := run(t, Options{Source: a.Store, Target: b.Store, Threshold: 50})
			tr := rep.Tables[0]
			if rep.Differing() != 0 || !rep.Complete() {
				t.Fatalf("equal tables reported different: %s\n%s", rep.Summary(), rep.Text())
			}
			if tr.SourceRows != 3000 || tr.TargetRows != 3000 {
				t.Fatalf("counts %d/%d, want 3000", tr.SourceRows, tr.TargetRows)
			}
			// Equal canonical texts on both sides mean equal checksums at
			// the first level: not one row fetched.
			if tr.RowsFetched != 0 {
				t.Fatalf("fetched %d rows of equal tables (%s): the engines' canonical texts disagree", tr.RowsFetched, tr.Method)
			}
		})
	}
}

// The kitchen table holds every common kind, NULLs, unicode, bytes, large
// text, zoned timestamps and JSON; equal rows written to each engine must
// compare equal, with JSON hashed in Go across engines.
func TestKitchenValuesCompareEqualAcrossEngines(t *testing.T) {
	dbs := map[datastore.Engine]dbtest.DB{}
	for _, e := range dbtest.Engines {
		db := dbtest.New(t, e)
		dbtest.Exec(t, db.Store, dbtest.KitchenDDL(e, "kitchen")...)
		writeRows(t, db.Store, "kitchen", 0, 400, dbtest.KitchenRow)
		dbs[e] = db
	}
	for _, p := range pairs[:3] {
		for _, ignoreJSON := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s-%s-ignoreJSON=%v", p.src, p.tgt, ignoreJSON), func(t *testing.T) {
				o := Options{Source: dbs[p.src].Store, Target: dbs[p.tgt].Store, Threshold: 20,
					Tables: []TablePair{{Source: "kitchen", Target: "kitchen"}}}
				if ignoreJSON {
					o.Columns = map[string]ColumnRule{"kitchen.doc": {Ignore: true}}
				}
				rep := run(t, o)
				if rep.Tables[0].SourceRows != 400 || rep.Tables[0].TargetRows != 400 {
					t.Fatalf("kitchen counts: %s", rep.Summary())
				}
				if rep.Differing() != 0 {
					t.Fatalf("equal kitchen rows differ:\n%s", rep.Text())
				}
				if rep.Tables[0].RowsFetched != 0 {
					t.Fatalf("fetched %d rows (%s): canonical texts disagree", rep.Tables[0].RowsFetched, rep.Tables[0].Method)
				}
			})
		}
	}
}

// Values written differently in each engine's own SQL that mean the same.
func TestEqualValuesInDifferentRepresentations(t *testing.T) {
	pg := dbtest.New(t, datastore.Postgres)
	my := dbtest.New(t, datastore.MySQL)
	lite := dbtest.New(t, datastore.SQLite)
	dbtest.Exec(t, pg.Store,
		`CREATE TABLE r (id int PRIMARY KEY, amount numeric(10,3), flag boolean, at timestamptz, u uuid, doc jsonb, note text, f real)`,
		`INSERT INTO r VALUES (1, 1.500, true, '2024-05-06 09:08:07.123456+02', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', '{"b": 1, "a": [1, 2]}', 'x', 0.5),
			(2, 10, false, '2024-01-01 00:00:00+00', NULL, NULL, '', NULL)`)
	dbtest.Exec(t, my.Store,
		"CREATE TABLE r (id INT PRIMARY KEY, amount DECIMAL(12,5), flag TINYINT(1), at DATETIME(6), u CHAR(36), doc JSON, note TEXT, f FLOAT)",
		`INSERT INTO r VALUES (1, 1.5, 1, '2024-05-06 07:08:07.123456', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a":[1,2],"b":1}', 'x', 0.5),
			(2, 10.00000, 0, '2024-01-01 00:00:00', NULL, NULL, '', NULL)`)
	dbtest.Exec(t, lite.Store,
		`CREATE TABLE r (id INTEGER PRIMARY KEY, amount DECIMAL_TEXT(10,3), flag BOOLEAN, at TIMESTAMPTZ, u UUID, doc JSON, note TEXT, f REAL)`,
		`INSERT INTO r VALUES (1, '1.5', 1, '2024-05-06 07:08:07.123456+00:00', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{ "a": [1,2], "b": 1 }', 'x', 0.5),
			(2, '10.0', 0, '2024-01-01 00:00:00.000000+00:00', NULL, NULL, '', NULL)`)
	stores := []*datastore.Store{pg.Store, my.Store, lite.Store}
	for i, a := range stores {
		for j, b := range stores {
			if i == j {
				continue
			}
			rep := run(t, Options{Source: a, Target: b, Tables: []TablePair{{Source: "r", Target: "r"}}})
			if rep.Differing() != 0 {
				t.Errorf("%s vs %s: equal values differ:\n%s", a.Engine, b.Engine, rep.Text())
			}
		}
	}
	// The same rows, but a NULL against an empty string is a difference,
	// unless the column says they are the same.
	dbtest.Exec(t, my.Store, "UPDATE r SET note = NULL WHERE id = 2")
	rep := run(t, Options{Source: pg.Store, Target: my.Store, Tables: []TablePair{{Source: "r", Target: "r"}}})
	if got := keysOf(&rep.Tables[0], Mismatched); strings.Join(got, " ") != "2" || rep.Tables[0].MismatchedColumns["note"] != 1 {
		t.Fatalf("NULL vs '' not found as a mismatch of note on key 2: %v\n%s", got, rep.Text())
	}
	rep = run(t, Options{Source: pg.Store, Target: my.Store, Tables: []TablePair{{Source: "r", Target: "r"}},
		Columns: map[string]ColumnRule{"*.note": {EmptyIsNull: true}}})
	if rep.Differing() != 0 {
		t.Fatalf("emptyIsNull still differs:\n%s", rep.Text())
	}
}

// changeTarget makes differences of each class in the target's items and
// returns the keys it changed, by class.
func changeTarget(t *testing.T, s *datastore.Store, n int) map[Class][]string {
	t.Helper()
	q := func(e datastore.Engine, pg, other string) string {
		if e == datastore.Postgres {
			return pg
		}
		return other
	}
	dbtest.Exec(t, s,
		"DELETE FROM items WHERE id IN (1, 777, "+fmt.Sprint(n)+")",
		"UPDATE items SET label = 'changed' WHERE id IN (5, 1500)",
		q(s.Engine, "UPDATE items SET price = price + 0.01 WHERE id = 2999", "UPDATE items SET price = price + 0.01 WHERE id = 2999"),
		q(s.Engine, "UPDATE items SET active = NOT active WHERE id = 42", "UPDATE items SET active = 1 - active WHERE id = 42"),
	)
	writeRows(t, s, "items", n+1, n+3, itemRow) // extra at the end
	writeRows(t, s, "items", -5, -4, itemRow)   // extra before the start
	return map[Class][]string{
		MissingInTarget: {"1", fmt.Sprint(n), "777"},
		ExtraInTarget:   {"-5", fmt.Sprint(n + 1), fmt.Sprint(n + 2)},
		Mismatched:      {"1500", "2999", "42", "5"},
	}
}

func TestEachDifferenceClassFoundWithItsKeys(t *testing.T) {
	for _, p := range pairs[:3] {
		t.Run(string(p.src)+"-"+string(p.tgt), func(t *testing.T) {
			const n = 3000
			a, b := newItems(t, p.src, n), newItems(t, p.tgt, n)
			want := changeTarget(t, b.Store, n)
			rep := run(t, Options{Source: a.Store, Target: b.Store, Threshold: 40, Factor: 8})
			tr := rep.Tables[0]
			for _, c := range []Class{MissingInTarget, ExtraInTarget, Mismatched} {
				w := append([]string(nil), want[c]...)
				sort.Strings(w)
				if got := keysOf(&tr, c); strings.Join(got, " ") != strings.Join(w, " ") {
					t.Errorf("%s: got keys %v, want %v", c, got, w)
				}
			}
			cols := map[string]string{}
			for _, d := range tr.Differences {
				if d.Class == Mismatched {
					cols[d.Key[0]] = strings.Join(d.Columns, ",")
				}
			}
			wantCols := map[string]string{"5": "label", "1500": "label", "2999": "price", "42": "active"}
			for k, c := range wantCols {
				if cols[k] != c {
					t.Errorf("mismatched key %s: columns %q, want %q", k, cols[k], c)
				}
			}
			if tr.SourceRows != n || tr.TargetRows != n {
				t.Errorf("counts %d/%d, want %d/%d", tr.SourceRows, tr.TargetRows, n, n)
			}
			if tr.RowsFetched > 2*int64(len(want[Mismatched])+6)*40 {
				t.Errorf("fetched %d rows to find 10 differences (threshold 40)", tr.RowsFetched)
			}
			// The whole direction flips with the sides.
			rev := run(t, Options{Source: b.Store, Target: a.Store, Threshold: 40})
			if got := keysOf(&rev.Tables[0], ExtraInTarget); strings.Join(got, " ") != "1 3000 777" {
				t.Errorf("reversed: extra_in_target %v, want the keys missing before", got)
			}
		})
	}
}

func TestCompositeKeys(t *testing.T) {
	mk := func(e datastore.Engine) dbtest.DB {
		db := dbtest.New(t, e)
		ddl := "CREATE TABLE orders (region VARCHAR(8) NOT NULL, seq INT NOT NULL, total DECIMAL(10,2), PRIMARY KEY (region, seq))"
		dbtest.Exec(t, db.Store, ddl)
		writeRows(t, db.Store, "orders", 0, 4000, func(i int) []any {
			return []any{[]string{"eu", "us", "apac", "latam"}[i%4], int64(i / 4), fmt.Sprintf("%d.50", i)}
		})
		return db
	}
	for _, p := range pairs[:3] {
		t.Run(string(p.src)+"-"+string(p.tgt), func(t *testing.T) {
			a, b := mk(p.src), mk(p.tgt)
			dbtest.Exec(t, b.Store,
				"DELETE FROM orders WHERE region = 'us' AND seq = 500",
				"UPDATE orders SET total = 1 WHERE region = 'apac' AND seq = 10",
				"INSERT INTO orders VALUES ('eu', 5000, 3.00)")
			rep := run(t, Options{Source: a.Store, Target: b.Store, Threshold: 30, Factor: 4,
				Tables: []TablePair{{Source: "orders", Target: "orders"}}})
			tr := rep.Tables[0]
			got := fmt.Sprint(keysOf(&tr, MissingInTarget), keysOf(&tr, ExtraInTarget), keysOf(&tr, Mismatched))
			if want := "[us,500] [eu,5000] [apac,10]"; got != want {
				t.Fatalf("got %s, want %s\n%s", got, want, rep.Text())
			}
			if tr.RowsFetched > 6*30 {
				t.Errorf("fetched %d rows for 3 differences (threshold 30)", tr.RowsFetched)
			}
		})
	}
}

// One changed row among 100,000: bisection fetches a couple of ranges of at
// most Threshold rows, not the table.
func TestBisectionFindsOneChangedRowFetchingFewRows(t *testing.T) {
	pg := dbtest.New(t, datastore.Postgres)
	my := dbtest.New(t, datastore.MySQL)
	dbtest.Exec(t, pg.Store, itemsDDL(datastore.Postgres, "items"),
		`INSERT INTO items SELECT i, ((i % 1000) || '.' || lpad((i % 100)::text, 2, '0'))::numeric, i / 3.0, i % 2 = 0, 'item ' || i,
			'2024-01-01'::timestamptz + i * interval '1.5 second' FROM generate_series(1, 100000) i`)
	dbtest.Exec(t, my.Store, itemsDDL(datastore.MySQL, "items"),
		"INSERT INTO items SELECT seq, CONCAT(seq % 1000, '.', LPAD(seq % 100, 2, '0')), seq / 3.0e0, seq % 2 = 0, CONCAT('item ', seq), "+
			"TIMESTAMPADD(MICROSECOND, seq * 1500000, '2024-01-01') FROM seq_1_to_100000",
		"UPDATE items SET label = 'item 61234!' WHERE id = 61234")
	const threshold = 64
	rep := run(t, Options{Source: pg.Store, Target: my.Store, Threshold: threshold, Factor: 16})
	tr := rep.Tables[0]
	if got := keysOf(&tr, Mismatched); strings.Join(got, " ") != "61234" || tr.Differing() != 1 {
		t.Fatalf("want exactly key 61234 mismatched, got %v\n%s", got, rep.Text())
	}
	if tr.RowsFetched > 2*threshold {
		t.Fatalf("fetched %d rows to find one changed row (at most %d expected: one range per side)", tr.RowsFetched, 2*threshold)
	}
	t.Logf("100k rows: %d queries, %d rows fetched, %.2fs", tr.Checksums, tr.RowsFetched, tr.Seconds)
}

func TestToleranceAndPrecisionRules(t *testing.T) {
	a, b := newItems(t, datastore.Postgres, 500), newItems(t, datastore.MySQL, 500)
	dbtest.Exec(t, b.Store,
		"UPDATE items SET ratio = ratio + 0.004 WHERE id = 10",
		"UPDATE items SET ratio = ratio + 0.02 WHERE id = 20",
		"UPDATE items SET at = TIMESTAMPADD(MICROSECOND, 1500, at) WHERE id = 30")
	cases := []struct {
		name  string
		rules map[string]ColumnRule
		want  string
	}{
		{"exact", nil, "10 20 30"},
		{"tolerance 0.01 on ratio", map[string]ColumnRule{"items.ratio": {Tolerance: "0.01"}}, "20 30"},
		{"ratio ignored", map[string]ColumnRule{"items.ratio": {Ignore: true}}, "30"},
		{"at to the second", map[string]ColumnRule{"*.at": {Precision: "s"}, "items.ratio": {Tolerance: "0.05"}}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep := run(t, Options{Source: a.Store, Target: b.Store, Threshold: 20, Columns: c.rules})
			if got := strings.Join(keysOf(&rep.Tables[0], Mismatched), " "); got != c.want {
				t.Fatalf("mismatched %q, want %q\n%s", got, c.want, rep.Text())
			}
		})
	}
}

func TestBadRulesAreRefused(t *testing.T) {
	a, b := newItems(t, datastore.SQLite, 5), newItems(t, datastore.SQLite, 5)
	for name, rules := range map[string]map[string]ColumnRule{
		"tolerance on text": {"items.label": {Tolerance: "1"}},
		"rule on a key":     {"items.id": {Ignore: true}},
		"bad precision":     {"items.at": {Precision: "h"}},
		"bad key":           {"label": {Ignore: true}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Run(context.Background(), Options{Source: a.Store, Target: b.Store, Columns: rules,
				Tables: []TablePair{{Source: "items", Target: "items"}}}, Checkpoint{})
			if err == nil || !IsPermanent(err) {
				t.Fatalf("want a permanent error, got %v", err)
			}
		})
	}
}

func TestRecheckDropsDifferencesThatSettle(t *testing.T) {
	for _, settle := range []bool{true, false} {
		t.Run(fmt.Sprintf("settles=%v", settle), func(t *testing.T) {
			a, b := newItems(t, datastore.Postgres, 800), newItems(t, datastore.SQLite, 800)
			dbtest.Exec(t, b.Store, "UPDATE items SET label = 'stale' WHERE id IN (3, 400)", "DELETE FROM items WHERE id = 9")
			o := Options{Source: a.Store, Target: b.Store, Threshold: 30, RecheckAfter: 50 * time.Millisecond,
				Tables: []TablePair{{Source: "items", Target: "items"}}}
			if settle {
				// The replication catches up while the check waits.
				o.beforeRecheck = func() { writeRows(t, b.Store, "items", 1, 801, itemRow) }
			}
			rep, err := Run(context.Background(), o, Checkpoint{})
			if err != nil {
				t.Fatal(err)
			}
			tr := rep.Tables[0]
			if tr.Rechecked != 3 {
				t.Fatalf("rechecked %d keys, want 3", tr.Rechecked)
			}
			want := int64(3)
			if settle {
				want = 0
			}
			if tr.Differing() != want || tr.Resolved != 3-want {
				t.Fatalf("after recheck %d differences (%d resolved), want %d\n%s", tr.Differing(), tr.Resolved, want, rep.Text())
			}
		})
	}
}

func TestWhereBoundKeepsRowsInFlightOut(t *testing.T) {
	a, b := newItems(t, datastore.MySQL, 1000), newItems(t, datastore.Postgres, 1000)
	// Rows written after the bound (in flight) differ; they are not counted.
	writeRows(t, a.Store, "items", 2000, 2010, itemRow)
	dbtest.Exec(t, b.Store, "UPDATE items SET label = 'newer' WHERE id > 990")
	rep := run(t, Options{Source: a.Store, Target: b.Store, Where: map[string]string{"items": "id <= 990"}})
	if rep.Differing() != 0 || rep.Tables[0].SourceRows != 990 {
		t.Fatalf("bounded check: %s", rep.Summary())
	}
	rep = run(t, Options{Source: a.Store, Target: b.Store})
	if rep.Tables[0].Missing != 10 || rep.Tables[0].Mismatched != 10 {
		t.Fatalf("unbounded check should see the rows in flight: %s", rep.Summary())
	}
}

// Rows written while the check runs (dated after it began by the updated
// column) are in flight: neither missing nor mismatched.
func TestRowsWrittenDuringTheCheckAreInFlight(t *testing.T) {
	a, b := newItems(t, datastore.Postgres, 1000), newItems(t, datastore.MySQL, 1000)
	later := time.Now().Add(time.Hour).UTC()
	writeRows(t, a.Store, "items", 2001, 2011, func(i int) []any { r := itemRow(i); r[5] = later; return r })
	writeRows(t, a.Store, "items", 5, 6, func(i int) []any { r := itemRow(i); r[4] = "renamed"; r[5] = later; return r })
	dbtest.Exec(t, b.Store, "UPDATE items SET label = 'stale' WHERE id = 7")
	for _, c := range []struct {
		column string
		want   string
	}{
		{"at", "0 missing_in_target, 0 extra_in_target, 1 mismatched"},
		{"", "10 missing_in_target, 0 extra_in_target, 2 mismatched"},
	} {
		rep := run(t, Options{Source: a.Store, Target: b.Store, Threshold: 16, UpdatedColumn: c.column})
		if !strings.Contains(rep.Summary(), c.want) {
			t.Fatalf("updatedColumn %q: %s, want %s", c.column, rep.Summary(), c.want)
		}
	}
	_, err := Run(context.Background(), Options{Source: a.Store, Target: b.Store, UpdatedColumn: "label",
		Tables: []TablePair{{Source: "items", Target: "items"}}}, Checkpoint{})
	if !IsPermanent(err) || !strings.Contains(err.Error(), "no timestamp column") {
		t.Fatalf("a text column as updatedColumn: %v", err)
	}
}

func TestLimitsStopTheCheckWithAReason(t *testing.T) {
	a, b := newItems(t, datastore.Postgres, 2000), newItems(t, datastore.MySQL, 2000)
	dbtest.Exec(t, b.Store, "UPDATE items SET label = 'x' WHERE id % 20 = 0") // 100 differences
	rep := run(t, Options{Source: a.Store, Target: b.Store, Threshold: 10, MaxDifferences: 5, Concurrency: 1})
	if rep.Complete() || !strings.Contains(rep.Stopped, "maxDifferences (5)") {
		t.Fatalf("want a stop at 5 differences, got stopped=%q complete=%v", rep.Stopped, rep.Complete())
	}
	if n := rep.Differing(); n < 5 || n >= 100 {
		t.Fatalf("%d differences reported after stopping at 5", n)
	}
	if fails := (Tolerance{MaxMismatched: 1000}).Check(rep); len(fails) == 0 || !strings.Contains(fails[0], "incomplete") {
		t.Fatalf("an incomplete check must fail the gate: %v", fails)
	}
	rep = run(t, Options{Source: a.Store, Target: b.Store, Threshold: 10, MaxDuration: time.Nanosecond})
	if rep.Complete() || !strings.Contains(rep.Stopped, "maxDuration") {
		t.Fatalf("want a stop at the time limit, got %q", rep.Stopped)
	}
}

func TestResumeSkipsTablesInTheCheckpoint(t *testing.T) {
	a, b := newItems(t, datastore.SQLite, 100), newItems(t, datastore.SQLite, 100)
	cp := Checkpoint{Done: []TableReport{{Table: "items", SourceRows: 7, TargetRows: 7, Complete: true}}}
	rep, err := Run(context.Background(), Options{Source: a.Store, Target: b.Store,
		Tables: []TablePair{{Source: "items", Target: "items"}}}, cp)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Tables[0].SourceRows != 7 {
		t.Fatalf("a table in the checkpoint was compared again: %+v", rep.Tables[0])
	}
	got, err := DecodeCheckpoint(cp.Encode())
	if err != nil || len(got.Done) != 1 || got.Done[0].SourceRows != 7 {
		t.Fatalf("checkpoint round trip: %+v %v", got, err)
	}
}

func TestProgressReportsTablesAndCheckpoint(t *testing.T) {
	a, b := newItems(t, datastore.SQLite, 300), newItems(t, datastore.SQLite, 300)
	var last Progress
	calls := 0
	run(t, Options{Source: a.Store, Target: b.Store, Progress: func(p Progress) { last = p; calls++ }})
	if calls == 0 || last.TablesDone != 1 || last.Percent != 100 || len(last.Checkpoint.Done) != 1 {
		t.Fatalf("last progress %+v after %d calls", last, calls)
	}
	if !strings.Contains(last.Detail, "1 of 1 table compared") {
		t.Fatalf("detail %q", last.Detail)
	}
}

// Text keys in a case-insensitive MySQL collation sort otherwise than in
// PostgreSQL's C.UTF-8: ranges disagree, yet no key is misreported.
func TestTextKeysInDifferentCollations(t *testing.T) {
	pg, my := dbtest.New(t, datastore.Postgres), dbtest.New(t, datastore.MySQL)
	dbtest.Exec(t, pg.Store, `CREATE TABLE tags (name varchar(20) COLLATE "C" PRIMARY KEY, n int)`)
	dbtest.Exec(t, my.Store, "CREATE TABLE tags (name VARCHAR(20) PRIMARY KEY, n INT) COLLATE utf8mb4_unicode_ci")
	mk := func(i int) []any {
		prefix := []string{"a", "B", "c", "D", "_", "é"}[i%6]
		return []any{fmt.Sprintf("%s%05d", prefix, i), int64(i)}
	}
	for _, db := range []dbtest.DB{pg, my} {
		writeRows(t, db.Store, "tags", 0, 3000, mk)
	}
	rep := run(t, Options{Source: pg.Store, Target: my.Store, Threshold: 20, Factor: 4, Tables: []TablePair{{Source: "tags", Target: "tags"}}})
	if rep.Differing() != 0 {
		t.Fatalf("equal tables in different collations differ:\n%s", rep.Text())
	}
	dbtest.Exec(t, my.Store, "DELETE FROM tags WHERE name = 'D00003'", "UPDATE tags SET n = -1 WHERE name = 'a00000'")
	rep = run(t, Options{Source: pg.Store, Target: my.Store, Threshold: 20, Factor: 4, Tables: []TablePair{{Source: "tags", Target: "tags"}}})
	tr := rep.Tables[0]
	if got := fmt.Sprint(keysOf(&tr, MissingInTarget), keysOf(&tr, ExtraInTarget), keysOf(&tr, Mismatched)); got != "[D00003] [] [a00000]" {
		t.Fatalf("got %s\n%s", got, rep.Text())
	}
}

// A CHAR(n) column between two engines: PostgreSQL returns its padding,
// MySQL/MariaDB strip it, SQLite keeps what was written. The padding is
// not a difference (a pgbench_accounts copied to MariaDB compared equal),
// a changed value still is.
func TestFixedCharPaddingIsNoDifferenceAcrossEngines(t *testing.T) {
	for _, p := range [][2]datastore.Engine{{datastore.Postgres, datastore.MySQL}, {datastore.MySQL, datastore.Postgres}, {datastore.Postgres, datastore.SQLite}} {
		t.Run(string(p[0])+"-"+string(p[1]), func(t *testing.T) {
			var dbs [2]dbtest.DB
			for i, e := range p {
				dbs[i] = dbtest.New(t, e)
				dbtest.Exec(t, dbs[i].Store, "CREATE TABLE acc (id INTEGER PRIMARY KEY, filler CHAR(10), name VARCHAR(10))",
					"INSERT INTO acc VALUES (1, 'ab', 'x'), (2, '', 'y'), (3, NULL, 'z'), (4, 'same', 'w')")
			}
			o := Options{Source: dbs[0].Store, Target: dbs[1].Store, Tables: []TablePair{{Source: "acc", Target: "acc"}}}
			if rep := run(t, o); rep.Differing() != 0 {
				t.Fatalf("padding reported as a difference: %s\n%s", rep.Summary(), rep.Text())
			}
			dbtest.Exec(t, dbs[1].Store, "UPDATE acc SET filler = 'samf' WHERE id = 4")
			rep := run(t, o)
			if got := keysOf(&rep.Tables[0], Mismatched); strings.Join(got, ",") != "4" {
				t.Fatalf("mismatched keys %v, want [4]\n%s", got, rep.Text())
			}
		})
	}
}

// A finding shows a date key as its day and a timestamp without time zone
// without one, on every engine: `key=2024-01-03,2024-01-03 10:00:00.5,c`,
// not `2024-01-03T00:00:00Z,2024-01-03T10:00:00.5Z,c`.
func TestDateAndTimestampKeysReadAsTheirValues(t *testing.T) {
	mk := func(e datastore.Engine) dbtest.DB {
		db := dbtest.New(t, e)
		ts := map[datastore.Engine]string{datastore.Postgres: "timestamp(6)", datastore.MySQL: "DATETIME(6)", datastore.SQLite: "TIMESTAMP"}[e]
		dbtest.Exec(t, db.Store, "CREATE TABLE visits (day DATE NOT NULL, at "+ts+" NOT NULL, who VARCHAR(8) NOT NULL, n INT, PRIMARY KEY (day, at, who))")
		writeRows(t, db.Store, "visits", 0, 40, func(i int) []any {
			day := time.Date(2024, 1, 1+i, 0, 0, 0, 0, time.UTC)
			return []any{day, day.Add(10*time.Hour + 500*time.Millisecond), fmt.Sprintf("w%d", i), int64(i)}
		})
		return db
	}
	for _, p := range pairs {
		t.Run(string(p.src)+"-"+string(p.tgt), func(t *testing.T) {
			a, b := mk(p.src), mk(p.tgt)
			dbtest.Exec(t, b.Store, "DELETE FROM visits WHERE who = 'w2'", "UPDATE visits SET n = 99 WHERE who = 'w30'")
			rep := run(t, Options{Source: a.Store, Target: b.Store, Threshold: 8, Factor: 4,
				Tables: []TablePair{{Source: "visits", Target: "visits"}}})
			tr := rep.Tables[0]
			got := fmt.Sprint(keysOf(&tr, MissingInTarget), keysOf(&tr, Mismatched))
			if want := "[2024-01-03,2024-01-03 10:00:00.5,w2] [2024-01-31,2024-01-31 10:00:00.5,w30]"; got != want {
				t.Fatalf("got %s, want %s\n%s", got, want, rep.Text())
			}
		})
	}
}
