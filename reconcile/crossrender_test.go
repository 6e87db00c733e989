package reconcile

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

// Floats between PostgreSQL and MariaDB: PostgreSQL (and Go) turn a
// double into a decimal at 15 significant digits (a real at 6) before
// rounding to FloatDecimals; MariaDB's CAST kept 17 digits or a float's
// exact binary value (1234.5677 as 1234.567749), so every range holding
// such a value hashed differently and was fetched. Equal tables fetch
// nothing either way, and a change in the last kept digit is found.
func TestFloatsBetweenPostgresAndMariaDBFetchNoRow(t *testing.T) {
	pg, my := dbtest.New(t, datastore.Postgres), dbtest.New(t, datastore.MySQL)
	const vals = `(1, 1234.5678, 0.6666666666666666), (2, 123456789, 9007199254740992), (3, 0.1, 0.1), (4, -0.0, -0.0),
		(5, 1e-7, 1.5e-7), (6, 3.4e38, 1e15), (7, -2.25, -684082.3050457321), (8, NULL, 123456789.12345679),
		(9, 0.5, NULL), (10, 7.0e-5, 2.5e-6), (11, -99999.99, 1e-12), (12, 42, 0.333333333333333333)`
	var doubles []string // (id, d) of each row
	for _, r := range strings.Split(vals, "),") {
		f := strings.Split(strings.Trim(r, " \n\t()"), ", ")
		doubles = append(doubles, "("+f[0]+", "+f[2]+")")
	}
	dbtest.Exec(t, pg.Store, `CREATE TABLE floats (id int PRIMARY KEY, f real, d double precision)`, `INSERT INTO floats VALUES `+vals)
	dbtest.Exec(t, my.Store, `CREATE TABLE floats (id INT PRIMARY KEY, f FLOAT, d DOUBLE)`, `INSERT INTO floats VALUES `+vals)
	tables := []TablePair{{Source: "floats", Target: "floats"}}
	for _, pair := range [][2]dbtest.DB{{pg, my}, {my, pg}} {
		for _, portable := range []bool{false, true} {
			rep := run(t, Options{Source: pair[0].Store, Target: pair[1].Store, Tables: tables, PortableHash: portable})
			if tr := rep.Tables[0]; rep.Differing() != 0 || tr.RowsFetched != 0 {
				t.Errorf("%s → %s (%s): %d differences, %d rows fetched: the sides render floats differently\n%s",
					pair[0].Store.Engine, pair[1].Store.Engine, tr.Method, rep.Differing(), tr.RowsFetched, rep.Text())
			}
		}
	}
	// SQLite's side is hashed in Go (canonText): MariaDB's doubles render
	// as it does.
	lite := dbtest.New(t, datastore.SQLite)
	dbtest.Exec(t, lite.Store, `CREATE TABLE floats (id INTEGER PRIMARY KEY, d DOUBLE)`, `INSERT INTO floats VALUES `+strings.Join(doubles, ", "))
	dbtest.Exec(t, my.Store, `CREATE TABLE doubles AS SELECT id, d FROM floats`, `ALTER TABLE doubles ADD PRIMARY KEY (id)`)
	for _, portable := range []bool{false, true} {
		rep := run(t, Options{Source: my.Store, Target: lite.Store, Tables: []TablePair{{Source: "doubles", Target: "floats"}}, PortableHash: portable})
		if tr := rep.Tables[0]; rep.Differing() != 0 || tr.RowsFetched != 0 {
			t.Errorf("mysql → sqlite (%s): %d differences, %d rows fetched\n%s", tr.Method, rep.Differing(), tr.RowsFetched, rep.Text())
		}
	}
	// Under a tolerance each side hashes round(x / tolerance): of the
	// same digits too.
	tolerant := map[string]ColumnRule{"floats.f": {Tolerance: "0.5"}, "floats.d": {Tolerance: "0.001"}}
	for _, pair := range [][2]dbtest.DB{{pg, my}, {my, pg}} {
		rep := run(t, Options{Source: pair[0].Store, Target: pair[1].Store, Tables: tables, Columns: tolerant})
		if tr := rep.Tables[0]; rep.Differing() != 0 || tr.RowsFetched != 0 {
			t.Errorf("%s → %s with tolerances: %d differences, %d rows fetched\n%s",
				pair[0].Store.Engine, pair[1].Store.Engine, rep.Differing(), tr.RowsFetched, rep.Text())
		}
	}
	// A zero is not NULL, under a tolerance or not.
	dbtest.Exec(t, my.Store, "UPDATE floats SET f = 0 WHERE id = 8", "UPDATE floats SET d = 0 WHERE id = 9")
	for _, cols := range []map[string]ColumnRule{nil, tolerant} {
		rep := run(t, Options{Source: pg.Store, Target: my.Store, Tables: tables, Columns: cols})
		if got := strings.Join(keysOf(&rep.Tables[0], Mismatched), " "); got != "8 9" {
			t.Fatalf("tolerances %v: mismatched %q, want 8 9 (NULL against 0)\n%s", cols != nil, got, rep.Text())
		}
	}
	dbtest.Exec(t, my.Store, "UPDATE floats SET f = NULL WHERE id = 8", "UPDATE floats SET d = NULL WHERE id = 9")
	// A change in the sixth decimal of a double, and of a real's sixth
	// significant digit, are found.
	dbtest.Exec(t, my.Store, "UPDATE floats SET d = 0.6666676 WHERE id = 1", "UPDATE floats SET f = 1234.56 WHERE id = 2")
	rep := run(t, Options{Source: pg.Store, Target: my.Store, Tables: tables})
	if got := strings.Join(keysOf(&rep.Tables[0], Mismatched), " "); got != "1 2" {
		t.Fatalf("mismatched %q, want 1 2\n%s", got, rep.Text())
	}
}

// A PostgreSQL char(n) is hashed without its padding (its ::text, like
// MariaDB's CHAR on read) but was read padded when fetched: every row of
// a range fetched because of one difference was reported mismatched on
// its char column ('abc       ' against 'abc'), and a char(n) key padded
// on one side only was missing and extra. Fetched rows are compared as
// they were hashed.
func TestCharPaddingIsNotADifferenceInFetchedRows(t *testing.T) {
	pg, my := dbtest.New(t, datastore.Postgres), dbtest.New(t, datastore.MySQL)
	dbtest.Exec(t, pg.Store, `CREATE TABLE codes (code char(6) PRIMARY KEY, name char(10), qty int)`,
		`INSERT INTO codes SELECT 'k' || i, CASE WHEN i % 4 = 0 THEN NULL ELSE 'n' || i END, i FROM generate_series(1, 300) i`)
	dbtest.Exec(t, my.Store, `CREATE TABLE codes (code CHAR(6) PRIMARY KEY, name CHAR(10), qty INT)`,
		`INSERT INTO codes SELECT CONCAT('k', seq), IF(seq % 4 = 0, NULL, CONCAT('n', seq)), seq FROM seq_1_to_300`)
	tables := []TablePair{{Source: "codes", Target: "codes"}}
	for _, pair := range [][2]dbtest.DB{{pg, my}, {my, pg}} {
		rep := run(t, Options{Source: pair[0].Store, Target: pair[1].Store, Tables: tables})
		if rep.Differing() != 0 || rep.Tables[0].RowsFetched != 0 {
			t.Fatalf("equal tables: %d differences, %d rows fetched\n%s", rep.Differing(), rep.Tables[0].RowsFetched, rep.Text())
		}
	}
	// One change: its range (every row, under the threshold) is fetched.
	dbtest.Exec(t, my.Store, "UPDATE codes SET qty = 0 WHERE code = 'k7'", "UPDATE codes SET name = 'n8 ' WHERE code = 'k9'")
	for _, pair := range [][2]dbtest.DB{{pg, my}, {my, pg}} {
		rep := run(t, Options{Source: pair[0].Store, Target: pair[1].Store, Tables: tables})
		tr := rep.Tables[0]
		if got := strings.Join(keysOf(&tr, Mismatched), " "); got != "k7 k9" || rep.Differing() != 2 {
			t.Fatalf("%s → %s: mismatched %q (%d differences), want k7 k9\n%s", pair[0].Store.Engine, pair[1].Store.Engine, got, rep.Differing(), rep.Text())
		}
	}
}

// A uuid's canonical text is lower case, "a CHAR(36) copy may be upper
// case" (docs/reconcile.md): a PostgreSQL uuid against a MariaDB CHAR(36)
// holding it in upper case is equal, as is a PostgreSQL text holding an
// upper-case uuid against MariaDB's UUID, with no row fetched; a changed
// uuid is still found. Both were reported mismatched.
func TestUUIDAgainstUpperCaseCharIsEqual(t *testing.T) {
	pg, my := dbtest.New(t, datastore.Postgres), dbtest.New(t, datastore.MySQL)
	// Version 4, variant 8: MariaDB's UUID type takes RFC 4122 values only.
	dbtest.Exec(t, pg.Store, `CREATE FUNCTION v4(h text) RETURNS text IMMUTABLE LANGUAGE sql AS $$ SELECT overlay(overlay(h placing '4' from 13) placing '8' from 17) $$`)
	dbtest.Exec(t, my.Store, `CREATE FUNCTION v4(h CHAR(32)) RETURNS CHAR(32) DETERMINISTIC RETURN INSERT(INSERT(h, 13, 1, '4'), 17, 1, '8')`)
	dbtest.Exec(t, pg.Store, `CREATE TABLE tokens (id int PRIMARY KEY, u uuid, t text)`,
		`INSERT INTO tokens SELECT i, CASE WHEN i % 5 = 0 THEN NULL ELSE v4(md5(i::text))::uuid END, upper(v4(md5('t' || i))::uuid::text)
			FROM generate_series(1, 400) i`)
	dbtest.Exec(t, my.Store, `CREATE TABLE tokens (id INT PRIMARY KEY, u CHAR(36), t UUID)`,
		`INSERT INTO tokens SELECT seq, IF(seq % 5 = 0, NULL, UPPER(CAST(CAST(v4(MD5(seq)) AS UUID) AS CHAR))), CAST(v4(MD5(CONCAT('t', seq))) AS UUID)
			FROM seq_1_to_400`)
	tables := []TablePair{{Source: "tokens", Target: "tokens"}}
	for _, pair := range [][2]dbtest.DB{{pg, my}, {my, pg}} {
		for _, portable := range []bool{false, true} {
			rep := run(t, Options{Source: pair[0].Store, Target: pair[1].Store, Tables: tables, PortableHash: portable})
			if rep.Differing() != 0 || rep.Tables[0].RowsFetched != 0 {
				t.Fatalf("%s → %s: %d differences, %d rows fetched\n%s", pair[0].Store.Engine, pair[1].Store.Engine,
					rep.Differing(), rep.Tables[0].RowsFetched, rep.Text())
			}
		}
	}
	dbtest.Exec(t, my.Store, "UPDATE tokens SET u = UPPER(CAST(UUID() AS CHAR)) WHERE id = 7", "UPDATE tokens SET t = UUID() WHERE id = 9")
	rep := run(t, Options{Source: pg.Store, Target: my.Store, Tables: tables})
	if got := strings.Join(keysOf(&rep.Tables[0], Mismatched), " "); got != "7 9" || rep.Differing() != 2 {
		t.Fatalf("mismatched %q, want 7 9\n%s", got, rep.Text())
	}
}

// to_char drops the era and is NULL for infinity, and the Go rendering
// of PostgreSQL's output did the same: a date of 44 BC hashed as 44 AD,
// an infinite one as NULL, so a MariaDB copy that lost the era or wrote
// NULL for infinity passed the check with either hash. Both are found now
// (an infinite value, which no other engine holds, is refused by name
// when its row is fetched).
func TestBCAndInfiniteDatesAreNotHiddenFromMariaDB(t *testing.T) {
	pg, my := dbtest.New(t, datastore.Postgres), dbtest.New(t, datastore.MySQL)
	dbtest.Exec(t, pg.Store, `CREATE TABLE era (id int PRIMARY KEY, d date, ts timestamp, tz timestamptz)`,
		`INSERT INTO era SELECT i, date '2024-01-01' + i, timestamp '2024-01-01' + i * interval '1 hour', timestamptz '2024-01-01 00:00:00+00' + i * interval '1 hour'
			FROM generate_series(1, 100) i`)
	dbtest.Exec(t, my.Store, `CREATE TABLE era (id INT PRIMARY KEY, d DATE, ts DATETIME(6), tz DATETIME(6))`,
		`INSERT INTO era SELECT seq, DATE '2024-01-01' + INTERVAL seq DAY, TIMESTAMP '2024-01-01 00:00:00' + INTERVAL seq HOUR, TIMESTAMP '2024-01-01 00:00:00' + INTERVAL seq HOUR
			FROM seq_1_to_100`)
	dbtest.Exec(t, pg.Store, `UPDATE era SET d = '0044-03-15 BC' WHERE id = 10`, `UPDATE era SET ts = '0044-03-15 12:00:00 BC' WHERE id = 20`,
		`UPDATE era SET tz = '0044-03-15 12:00:00+00 BC' WHERE id = 30`)
	dbtest.Exec(t, my.Store, `UPDATE era SET d = '0044-03-15' WHERE id = 10`, `UPDATE era SET ts = '0044-03-15 12:00:00' WHERE id = 20`,
		`UPDATE era SET tz = '0044-03-15 12:00:00' WHERE id = 30`)
	tables := []TablePair{{Source: "era", Target: "era"}}
	for _, portable := range []bool{false, true} {
		rep := run(t, Options{Source: pg.Store, Target: my.Store, Tables: tables, PortableHash: portable})
		if got := strings.Join(keysOf(&rep.Tables[0], Mismatched), " "); got != "10 20 30" || rep.Differing() != 3 {
			t.Fatalf("portable %v: mismatched %q, want 10 20 30 (BC against AD)\n%s", portable, got, rep.Text())
		}
	}
	dbtest.Exec(t, pg.Store, `UPDATE era SET d = 'infinity' WHERE id = 50`)
	dbtest.Exec(t, my.Store, `UPDATE era SET d = NULL WHERE id = 50`)
	for _, portable := range []bool{false, true} {
		_, err := Run(context.Background(), Options{Source: pg.Store, Target: my.Store, Tables: tables, PortableHash: portable}, Checkpoint{})
		if err == nil || !strings.Contains(err.Error(), "infinity") {
			t.Fatalf("portable %v: infinity against NULL: err %v, want the infinite value refused by name", portable, err)
		}
	}
}

// Under the CRC hash a text holding the MD5 path's marks — 0x1f between
// columns, 0x1e for NULL, as MARC records and ASCII-delimited data hold
// them — neither moves a column boundary nor stands for NULL: a value
// moved across the boundary and a text that is exactly 0x1e against NULL
// are found, MariaDB against PostgreSQL, MariaDB and SQLite, both ways.
// (With the old marks both rows hashed equal: no range differed, nothing
// was fetched.)
func TestControlCharactersInTextDoNotHideDifferences(t *testing.T) {
	ddl := map[datastore.Engine]string{
		datastore.Postgres: "CREATE TABLE marc (id int PRIMARY KEY, a text, b varchar(20))",
		datastore.MySQL:    "CREATE TABLE marc (id INT PRIMARY KEY, a TEXT, b VARCHAR(20)) DEFAULT CHARSET=utf8mb4",
		datastore.SQLite:   "CREATE TABLE marc (id INTEGER PRIMARY KEY, a TEXT, b VARCHAR(20))",
	}
	mk := func(e datastore.Engine, moved bool) dbtest.DB {
		db := dbtest.New(t, e)
		dbtest.Exec(t, db.Store, ddl[e])
		writeRows(t, db.Store, "marc", 1, 300, func(i int) []any {
			switch {
			case i == 7 && !moved:
				return []any{int64(i), "245\x1fa", "Title"}
			case i == 7:
				return []any{int64(i), "245", "a\x1fTitle"} // the same bytes with 0x1f joining the columns
			case i == 9 && !moved:
				return []any{int64(i), nil, "x"}
			case i == 9:
				return []any{int64(i), "\x1e", "x"} // the old NULL mark as a value
			}
			return []any{int64(i), "field\x1e" + strings.Repeat("z", i%5), "v"}
		})
		return db
	}
	for _, other := range []datastore.Engine{datastore.Postgres, datastore.MySQL, datastore.SQLite} {
		t.Run("mysql-"+string(other), func(t *testing.T) {
			my, o := mk(datastore.MySQL, false), mk(other, true)
			for _, pair := range [][2]dbtest.DB{{my, o}, {o, my}} {
				rep := run(t, Options{Source: pair[0].Store, Target: pair[1].Store, Threshold: 16, Factor: 4,
					Tables: []TablePair{{Source: "marc", Target: "marc"}}})
				tr := rep.Tables[0]
				if !strings.Contains(tr.Method, "crc32") {
					t.Fatalf("method %q: want the CRC hash", tr.Method)
				}
				if got := strings.Join(keysOf(&tr, Mismatched), " "); got != "7 9" || tr.Differing() != 2 {
					t.Fatalf("mismatched %q, want 7 9\n%s", got, rep.Text())
				}
			}
		})
	}
}

// A PostgreSQL side hashed in Go computes each row's bucket from its key,
// not from a column PostgreSQL computes: the two must agree on every key,
// negative ones (SQL's integer division truncates toward zero) and those
// at the ends of a bucket included, or rows would be summed into the
// wrong bucket and equal tables differ.
func TestABucketFromTheKeyIsTheOnePostgresComputes(t *testing.T) {
	pg := dbtest.New(t, datastore.Postgres)
	for _, b := range []bucketing{{arith: true, lo: 1, width: 64}, {arith: true, lo: -1000, width: 7}, {arith: true, lo: 5, width: 1}} {
		var keys []int64
		for k := int64(-1100); k <= 1100; k += 13 {
			keys = append(keys, k, b.lo+k, b.lo+b.width*3-1, b.lo+b.width*3)
		}
		for _, k := range keys {
			if b.lo < 0 && k < b.lo {
				continue
			}
			var want int64
			err := pg.Store.DB.QueryRow("SELECT ($1::bigint - $2::bigint) / $3::bigint", k, b.lo, b.width).Scan(&want)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := b.bucketOf([]byte(strconv.FormatInt(k, 10)))
			if !ok || got != want {
				t.Fatalf("key %d, lo %d, width %d: bucket %d (ok %v), PostgreSQL says %d", k, b.lo, b.width, got, ok, want)
			}
		}
	}
	if _, ok := (bucketing{arith: true, lo: 10, width: 3}).bucketOf([]byte("x")); ok {
		t.Error("a key that is not a number has a bucket")
	}
}

// Across PostgreSQL and MariaDB, on keys from negative to positive, equal
// tables are equal and each planted difference is found, also in buckets
// a key's sign puts side by side.
func TestCrossEngineDiffOverNegativeKeysFindsEachDifference(t *testing.T) {
	pg, my := dbtest.New(t, datastore.Postgres), dbtest.New(t, datastore.MySQL)
	dbtest.Exec(t, pg.Store, `CREATE TABLE acct (id bigint PRIMARY KEY, v text)`,
		`INSERT INTO acct SELECT i, 'v' || i FROM generate_series(-5000, 5000) i`)
	dbtest.Exec(t, my.Store, `CREATE TABLE acct (id BIGINT PRIMARY KEY, v TEXT)`,
		`INSERT INTO acct SELECT CAST(seq AS SIGNED) - 5001, CONCAT('v', CAST(seq AS SIGNED) - 5001) FROM seq_1_to_10001`)
	tables := []TablePair{{Source: "acct", Target: "acct"}}
	rep := run(t, Options{Source: pg.Store, Target: my.Store, Tables: tables})
	if tr := rep.Tables[0]; rep.Differing() != 0 || tr.RowsFetched != 0 || !strings.Contains(tr.Method, "in Go") {
		t.Fatalf("equal tables: %d differences, %d rows fetched, method %q\n%s", rep.Differing(), tr.RowsFetched, tr.Method, rep.Text())
	}
	dbtest.Exec(t, my.Store, "UPDATE acct SET v = 'x' WHERE id IN (-4999, -1, 0, 1, 4321)", "DELETE FROM acct WHERE id IN (-64, 64)")
	dbtest.Exec(t, pg.Store, "DELETE FROM acct WHERE id = -5000", "INSERT INTO acct VALUES (5001, 'v5001')")
	rep = run(t, Options{Source: pg.Store, Target: my.Store, Tables: tables})
	tr := &rep.Tables[0]
	for class, want := range map[Class]string{Mismatched: "-1 -4999 0 1 4321", MissingInTarget: "-64 5001 64", ExtraInTarget: "-5000"} {
		if got := strings.Join(keysOf(tr, class), " "); got != want {
			t.Errorf("%s: %q, want %q\n%s", class, got, want, rep.Text())
		}
	}
}

// A PostgreSQL side hashed in Go reads the whole table's first pass in
// parts of its pages, not of its keys: each part sums rows of any bucket,
// so the parts' merged checksums must be those of one read by key, on a
// table whose rows are nowhere near key order on disk (inserted shuffled,
// then some updated, which moves them to other pages).
func TestChecksumsReadByPagesAreThoseReadByKeys(t *testing.T) {
	ctx := context.Background()
	pg, my := dbtest.New(t, datastore.Postgres), dbtest.New(t, datastore.MySQL)
	dbtest.Exec(t, pg.Store, `CREATE TABLE shuffled (id bigint PRIMARY KEY, v text, n numeric(8,2))`,
		`INSERT INTO shuffled SELECT i, repeat('v', i % 50) || i, i / 7.0 FROM generate_series(-3000, 20000) i ORDER BY md5(i::text)`,
		`UPDATE shuffled SET v = v || '.' WHERE id % 97 = 0`, `ANALYZE shuffled`)
	dbtest.Exec(t, my.Store, `CREATE TABLE shuffled (id BIGINT PRIMARY KEY, v TEXT, n DECIMAL(8,2))`)
	o := (&Options{Source: pg.Store, Target: my.Store}).withDefaults()
	tc, err := planTable(ctx, &o, TablePair{Source: "shuffled", Target: "shuffled"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	subs, bucket := tc.intSplit(-3000, 20001, 23001)
	for _, parts := range []int{2, 3, 7} {
		starts, err := tc.src.pageParts(ctx, bucket, parts)
		if err != nil {
			t.Fatal(err)
		}
		if len(starts) != parts-1 {
			t.Fatalf("%d parts: starts %v; a PostgreSQL side hashed in Go should be read by pages", parts, starts)
		}
		paged, err := tc.src.pagedChecksums(ctx, bucket, starts, len(subs))
		if err != nil {
			t.Fatal(err)
		}
		keyed, err := tc.src.checksums(ctx, keyRange{}, bucket, len(subs), true)
		if err != nil {
			t.Fatal(err)
		}
		var rows int64
		for i := range keyed {
			rows += paged[i].Count
			if paged[i] != keyed[i] {
				t.Fatalf("%d parts, bucket %d: by pages %+v, by keys %+v", parts, i, paged[i], keyed[i])
			}
		}
		if rows != 23001 {
			t.Fatalf("%d parts: %d rows summed, want 23001", parts, rows)
		}
	}
	// The target side (MariaDB, hashed in SQL) is read by keys.
	if starts, err := tc.tgt.pageParts(ctx, bucket, 2); err != nil || starts != nil {
		t.Fatalf("MariaDB side: starts %v, %v; want none", starts, err)
	}
	// And end to end: equal, then each planted difference found.
	dbtest.Exec(t, my.Store, `INSERT INTO shuffled SELECT CAST(seq AS SIGNED) - 3001, CONCAT(REPEAT('v', MOD(CAST(seq AS SIGNED) - 3001, 50)), CAST(seq AS SIGNED) - 3001,
		IF(MOD(CAST(seq AS SIGNED) - 3001, 97) = 0, '.', '')), (CAST(seq AS SIGNED) - 3001) / 7.0 FROM seq_1_to_23001`)
	tables := []TablePair{{Source: "shuffled", Target: "shuffled"}}
	if rep := run(t, Options{Source: pg.Store, Target: my.Store, Tables: tables}); rep.Differing() != 0 || rep.Tables[0].RowsFetched != 0 {
		t.Fatalf("equal tables: %d differences, %d rows fetched\n%s", rep.Differing(), rep.Tables[0].RowsFetched, rep.Text())
	}
	dbtest.Exec(t, my.Store, "UPDATE shuffled SET n = n + 0.01 WHERE id IN (-2999, 0, 19999)")
	dbtest.Exec(t, pg.Store, "UPDATE shuffled SET v = 'moved' WHERE id = 12345")
	rep := run(t, Options{Source: pg.Store, Target: my.Store, Tables: tables})
	if got := strings.Join(keysOf(&rep.Tables[0], Mismatched), " "); got != "-2999 0 12345 19999" {
		t.Fatalf("mismatched %q, want -2999 0 12345 19999\n%s", got, rep.Text())
	}
}

// Between two PostgreSQL databases each side sums its buckets itself
// (GROUP BY): read by parts of its pages, the parts' sums (integers of
// either sign, beyond 64 bits) are added up to what one read by keys
// sums, with column rules (the canonical text) or without (the record
// hash), and differences are found end to end.
func TestGroupedChecksumsReadByPagesAreThoseReadByKeys(t *testing.T) {
	ctx := context.Background()
	a, b := dbtest.New(t, datastore.Postgres), dbtest.New(t, datastore.Postgres)
	for _, db := range []dbtest.DB{a, b} {
		dbtest.Exec(t, db.Store, `CREATE TABLE shuffled (id bigint PRIMARY KEY, v text, n numeric(8,2))`,
			`INSERT INTO shuffled SELECT i, repeat('v', i % 50) || i, i / 7.0 FROM generate_series(-3000, 20000) i ORDER BY md5(i::text)`,
			`UPDATE shuffled SET v = v || '.' WHERE id % 97 = 0`, `ANALYZE shuffled`)
	}
	for _, cols := range []map[string]ColumnRule{nil, {"shuffled.v": {TrimRight: true}}} {
		o := (&Options{Source: a.Store, Target: b.Store, Columns: cols}).withDefaults()
		tc, err := planTable(ctx, &o, TablePair{Source: "shuffled", Target: "shuffled"}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if !tc.src.inDB || tc.src.goHash {
			t.Fatalf("rules %v: the PostgreSQL side is not summed by PostgreSQL (%s)", cols, tc.method())
		}
		subs, bucket := tc.intSplit(-3000, 20001, 23001)
		for _, parts := range []int{2, 5} {
			starts, err := tc.src.pageParts(ctx, bucket, parts)
			if err != nil || len(starts) != parts-1 {
				t.Fatalf("rules %v, %d parts: starts %v, %v", cols, parts, starts, err)
			}
			paged, err := tc.src.pagedChecksums(ctx, bucket, starts, len(subs))
			if err != nil {
				t.Fatal(err)
			}
			keyed, err := tc.src.checksums(ctx, keyRange{}, bucket, len(subs), true)
			if err != nil {
				t.Fatal(err)
			}
			for i := range keyed {
				if paged[i] != keyed[i] {
					t.Fatalf("rules %v, %d parts, bucket %d: by pages %+v, by keys %+v", cols, parts, i, paged[i], keyed[i])
				}
			}
		}
	}
	tables := []TablePair{{Source: "shuffled", Target: "shuffled"}}
	if rep := run(t, Options{Source: a.Store, Target: b.Store, Tables: tables}); rep.Differing() != 0 {
		t.Fatalf("equal tables: %d differences\n%s", rep.Differing(), rep.Text())
	}
	dbtest.Exec(t, b.Store, "UPDATE shuffled SET n = n + 0.01 WHERE id IN (-2999, 0, 19999)", "DELETE FROM shuffled WHERE id = 777")
	rep := run(t, Options{Source: a.Store, Target: b.Store, Tables: tables})
	if got := strings.Join(keysOf(&rep.Tables[0], Mismatched), " ") + " / " + strings.Join(keysOf(&rep.Tables[0], MissingInTarget), " "); got != "-2999 0 19999 / 777" {
		t.Fatalf("mismatched / missing %q, want -2999 0 19999 / 777\n%s", got, rep.Text())
	}
}

func TestMergeChecksumsAddsSumsOfAnySize(t *testing.T) {
	got, err := mergeChecksums([][]checksum{{{Count: 2, Sum: "-9223372036854775808"}, {Count: 0, Sum: "0"}},
		{{Count: 3, Sum: "-9223372036854775808"}, {Count: 1, Sum: "18446744073709551615"}}}, false)
	if err != nil {
		t.Fatal(err)
	}
	if want := []checksum{{Count: 5, Sum: "-18446744073709551616"}, {Count: 1, Sum: "18446744073709551615"}}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if _, err := mergeChecksums([][]checksum{{{Sum: "1.5"}}}, false); err == nil {
		t.Fatal("a sum that is not an integer was merged")
	}
}
