package reconcile

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

// allKinds has a column of each kind the record hash takes, all nullable.
const allKindsDDL = `CREATE TABLE allkinds (id bigint PRIMARY KEY, a smallint, b integer, c bigint, d numeric,
	e numeric(10,3), f real, g double precision, h boolean, i text, j varchar(20), k char(5), l uuid, m bytea,
	n date, o timestamp, p timestamptz)`

// allKindsRow is row i: every fourth row is all NULLs but the key.
func allKindsInsert(from, to int) string {
	return fmt.Sprintf(`INSERT INTO allkinds SELECT i, i %% 100, i, i * 1000003, i / 7.0, i / 8.0, i / 3.0, i / 9.0, i %% 2 = 0,
		'text ' || i, 'v' || i, 'c' || (i %% 100), md5(i::text)::uuid, decode(md5(i::text), 'hex'),
		date '2024-01-01' + i, timestamp '2024-01-01' + i * interval '1.5 second', timestamptz '2024-01-01 00:00:00+00' + i * interval '1 minute'
		FROM generate_series(%d, %d) i WHERE i %% 4 <> 0
		UNION ALL SELECT i, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
		FROM generate_series(%d, %d) i WHERE i %% 4 = 0`, from, to, from, to)
}

// Between two PostgreSQL databases with the same column types and no rule,
// rows are hashed over their typed values (each column's hash function): every
// kind, NULL against a value and a value against NULL, values swapped
// between two columns of a row and between two rows are found, named by
// column, and values equal in another representation (numeric trailing
// zeros, char padding) are not.
func TestRecordHashFindsEachDifference(t *testing.T) {
	a, b := dbtest.New(t, datastore.Postgres), dbtest.New(t, datastore.Postgres)
	for _, db := range []dbtest.DB{a, b} {
		dbtest.Exec(t, db.Store, allKindsDDL, allKindsInsert(1, 2000))
	}
	dbtest.Exec(t, b.Store,
		"UPDATE allkinds SET a = a + 1 WHERE id = 1",
		"UPDATE allkinds SET d = d + 0.000001 WHERE id = 2",
		"UPDATE allkinds SET f = f * 2 WHERE id = 3",
		"UPDATE allkinds SET h = NOT h WHERE id = 5",
		"UPDATE allkinds SET i = upper(i) WHERE id = 6",
		"UPDATE allkinds SET k = 'x' WHERE id = 7",
		"UPDATE allkinds SET l = md5('other')::uuid WHERE id = 9",
		"UPDATE allkinds SET m = '\\x00'::bytea WHERE id = 10",
		"UPDATE allkinds SET n = n + 1 WHERE id = 11",
		"UPDATE allkinds SET o = o + interval '1 microsecond' WHERE id = 13",
		"UPDATE allkinds SET p = p + interval '1 microsecond' WHERE id = 14",
		"UPDATE allkinds SET j = NULL WHERE id = 15",              // a value becomes NULL
		"UPDATE allkinds SET g = 0 WHERE id = 16",                 // NULL becomes a value
		"UPDATE allkinds SET b = c, c = b WHERE id = 17",          // swapped within the row (both int-like)
		"UPDATE allkinds SET a = 19 WHERE id = 18",                // swapped between rows 18 and 19 ...
		"UPDATE allkinds SET a = 18 WHERE id = 19",                // ... of the same bucket
		"UPDATE allkinds SET e = e * 1 WHERE id = 21",             // same value: not a difference
		"UPDATE allkinds SET k = rtrim(k) WHERE id = 22",          // char pads it again: not a difference
		"UPDATE allkinds SET d = d::numeric(30,20) WHERE id = 23", // trailing zeros: not a difference
	)
	rep := run(t, Options{Source: a.Store, Target: b.Store, Threshold: 40, Factor: 4,
		Tables: []TablePair{{Source: "allkinds", Target: "allkinds"}}})
	tr := rep.Tables[0]
	if !strings.Contains(tr.Method, "typed hashes") {
		t.Fatalf("method %q: want the record hash between equal PostgreSQL types", tr.Method)
	}
	got := map[string]string{}
	for _, d := range tr.Differences {
		got[d.Key[0]] = string(d.Class) + " " + strings.Join(d.Columns, ",")
	}
	want := map[string]string{
		"1": "mismatched a", "2": "mismatched d", "3": "mismatched f", "5": "mismatched h", "6": "mismatched i",
		"7": "mismatched k", "9": "mismatched l", "10": "mismatched m", "11": "mismatched n", "13": "mismatched o",
		"14": "mismatched p", "15": "mismatched j", "17": "mismatched b,c", "18": "mismatched a", "19": "mismatched a",
	}
	// Row 16 was all NULL (16 % 4 == 0): g from NULL to 0.
	want["16"] = "mismatched g"
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("differences:\n got %v\nwant %v\n%s", got, want, rep.Text())
	}
	if tr.SourceRows != 2000 || tr.TargetRows != 2000 {
		t.Errorf("counts %d/%d, want 2000/2000", tr.SourceRows, tr.TargetRows)
	}
}

// A case-insensitive collation says 'A' = 'a'; the check must not: text
// is hashed in the C collation.
func TestRecordHashIgnoresCaseInsensitiveCollations(t *testing.T) {
	a, b := dbtest.New(t, datastore.Postgres), dbtest.New(t, datastore.Postgres)
	for _, db := range []dbtest.DB{a, b} {
		if _, err := db.Store.DB.Exec(`CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false)`); err != nil {
			t.Skipf("no ICU collation on this server: %v", err)
		}
		dbtest.Exec(t, db.Store, `CREATE TABLE names (id int PRIMARY KEY, name text COLLATE ci)`,
			`INSERT INTO names SELECT i, 'name ' || i FROM generate_series(1, 500) i`)
	}
	dbtest.Exec(t, b.Store, `UPDATE names SET name = upper(name) WHERE id = 250`)
	rep := run(t, Options{Source: a.Store, Target: b.Store, Tables: []TablePair{{Source: "names", Target: "names"}}})
	tr := rep.Tables[0]
	if !strings.Contains(tr.Method, "typed hashes") {
		t.Fatalf("method %q", tr.Method)
	}
	if got := keysOf(&tr, Mismatched); fmt.Sprint(got) != "[250]" {
		t.Fatalf("mismatched %v, want [250] ('name 250' against 'NAME 250')\n%s", got, rep.Text())
	}
}

// Columns of different types, or under a rule, keep the canonical text.
func TestRecordHashOnlyForEqualTypesWithoutRules(t *testing.T) {
	a, b := dbtest.New(t, datastore.Postgres), dbtest.New(t, datastore.Postgres)
	dbtest.Exec(t, a.Store, `CREATE TABLE t1 (id int PRIMARY KEY, v varchar(20))`, `INSERT INTO t1 VALUES (1, 'x'), (2, 'y')`)
	dbtest.Exec(t, b.Store, `CREATE TABLE t1 (id int PRIMARY KEY, v text)`, `INSERT INTO t1 VALUES (1, 'x'), (2, 'y')`)
	tables := []TablePair{{Source: "t1", Target: "t1"}}
	for name, o := range map[string]Options{
		"types differ": {Source: a.Store, Target: b.Store, Tables: tables},
		"a rule":       {Source: a.Store, Target: a.Store, Tables: tables, Columns: map[string]ColumnRule{"t1.v": {TrimRight: true}}},
	} {
		tr := run(t, o).Tables[0]
		if !strings.Contains(tr.Method, "hashtextextended") || tr.Differing() != 0 {
			t.Errorf("%s: method %q, %d differences: want the canonical text hash and none", name, tr.Method, tr.Differing())
		}
	}
}

// The first pass (integer keys, no count) cuts the key span into buckets:
// differences on the first and last keys, on both sides of bucket edges,
// keys beyond either side's bounds, negative and sparse keys, are found,
// and the row counts come out exact.
func TestFirstPassFindsDifferencesAtBucketEdges(t *testing.T) {
	for _, p := range pairs {
		t.Run(string(p.src)+"-"+string(p.tgt), func(t *testing.T) {
			const n = 1200
			key := func(i int) int { // -100..999, then sparse up to 10^8
				if i < 1100 {
					return i - 100
				}
				return 1_000_000 * (i - 1099)
			}
			mk := func(e datastore.Engine) dbtest.DB {
				db := dbtest.New(t, e)
				dbtest.Exec(t, db.Store, itemsDDL(e, "items"))
				writeRows(t, db.Store, "items", 0, n, func(i int) []any { r := itemRow(i); r[0] = int64(key(i)); return r })
				return db
			}
			a, b := mk(p.src), mk(p.tgt)
			// Threshold 40: buckets of 10 keys' width over the span.
			dbtest.Exec(t, a.Store, "DELETE FROM items WHERE id IN (-100, 100000000)") // the first and last keys: extra
			dbtest.Exec(t, b.Store,
				"DELETE FROM items WHERE id IN (-99, 99000000)", // the keys after and before them: missing
				"UPDATE items SET label = 'changed' WHERE id IN (-1, 0, 199, 200, 201, 999)",
				"UPDATE items SET label = NULL WHERE id = 300",                                // a value becomes NULL
				"UPDATE items SET label = 'was null' WHERE id = 340",                          // NULL becomes a value (row 440)
				"INSERT INTO items (id, label) VALUES (-5000, 'below'), (200000000, 'above')") // beyond the source's bounds
			rep := run(t, Options{Source: a.Store, Target: b.Store, Threshold: 40, Factor: 4})
			tr := rep.Tables[0]
			got := fmt.Sprint(keysOf(&tr, MissingInTarget), keysOf(&tr, ExtraInTarget), keysOf(&tr, Mismatched))
			want := "[-99 99000000] [-100 -5000 100000000 200000000] [-1 0 199 200 201 300 340 999]"
			if got != want {
				t.Fatalf("got  %s\nwant %s\n%s", got, want, rep.Text())
			}
			if tr.SourceRows != n-2 || tr.TargetRows != n-2+2 {
				t.Errorf("counts %d/%d, want %d/%d", tr.SourceRows, tr.TargetRows, n-2, n)
			}
		})
	}
}

// Empty tables compare equal; against an empty side every row is missing
// or extra.
func TestEmptyTablesAndOneEmptySide(t *testing.T) {
	for _, p := range pairs {
		t.Run(string(p.src)+"-"+string(p.tgt), func(t *testing.T) {
			a, b := dbtest.New(t, p.src), dbtest.New(t, p.tgt)
			dbtest.Exec(t, a.Store, itemsDDL(p.src, "items"))
			dbtest.Exec(t, b.Store, itemsDDL(p.tgt, "items"))
			rep := run(t, Options{Source: a.Store, Target: b.Store})
			if tr := rep.Tables[0]; tr.Differing() != 0 || tr.SourceRows != 0 || tr.TargetRows != 0 || !tr.Complete {
				t.Fatalf("empty tables: %s", rep.Text())
			}
			writeRows(t, b.Store, "items", 1, 6, itemRow)
			tr := run(t, Options{Source: a.Store, Target: b.Store}).Tables[0]
			if got := fmt.Sprint(keysOf(&tr, ExtraInTarget)); got != "[1 2 3 4 5]" || tr.Differing() != 5 || tr.TargetRows != 5 {
				t.Errorf("empty source: extra %s (%d differences, %d target rows)", got, tr.Differing(), tr.TargetRows)
			}
			tr = run(t, Options{Source: b.Store, Target: a.Store}).Tables[0]
			if got := fmt.Sprint(keysOf(&tr, MissingInTarget)); got != "[1 2 3 4 5]" || tr.Differing() != 5 || tr.SourceRows != 5 {
				t.Errorf("empty target: missing %s (%d differences, %d source rows)", got, tr.Differing(), tr.SourceRows)
			}
		})
	}
}

// The first pass runs in Concurrency chunks of buckets at once: rows on
// both sides of a chunk's edge, and the first and last rows of the table,
// are found (3000 keys, threshold 40: 300 buckets of 10 keys, 3 chunks
// cut at keys 1001 and 2001).
func TestChunkedFirstPassFindsDifferencesAtChunkEdges(t *testing.T) {
	for _, p := range pairs {
		t.Run(string(p.src)+"-"+string(p.tgt), func(t *testing.T) {
			a, b := newItems(t, p.src, 3000), newItems(t, p.tgt, 3000)
			dbtest.Exec(t, b.Store,
				"UPDATE items SET label = 'changed' WHERE id IN (1, 1000, 1001, 2000, 2001, 3000)",
				"DELETE FROM items WHERE id IN (999, 2002)")
			rep := run(t, Options{Source: a.Store, Target: b.Store, Threshold: 40, Concurrency: 3})
			tr := rep.Tables[0]
			got := fmt.Sprint(keysOf(&tr, MissingInTarget), keysOf(&tr, ExtraInTarget), keysOf(&tr, Mismatched))
			if want := "[2002 999] [] [1 1000 1001 2000 2001 3000]"; got != want {
				t.Fatalf("got  %s\nwant %s\n%s", got, want, rep.Text())
			}
			if tr.SourceRows != 3000 || tr.TargetRows != 2998 {
				t.Errorf("counts %d/%d, want 3000/2998", tr.SourceRows, tr.TargetRows)
			}
		})
	}
}

// With MariaDB on a side rows are hashed by CRC-32 × CRC-32C: PostgreSQL
// renders the text, Go hashes it; MariaDB hashes its own. Two rows that
// swap values of the same length are found (two CRCs combined by
// exclusive or would cancel out: a CRC is affine), as is any change, and
// equal tables fetch no row (both sides hash the same bytes).
func TestCRCHashBetweenPostgresAndMariaDB(t *testing.T) {
	pg, my := dbtest.New(t, datastore.Postgres), dbtest.New(t, datastore.MySQL)
	dbtest.Exec(t, pg.Store, `CREATE TABLE orders (id int PRIMARY KEY, status varchar(10) NOT NULL, qty int, note text)`,
		`INSERT INTO orders SELECT i, (ARRAY['paid','void','sent'])[1 + i % 3], i % 7, CASE WHEN i % 5 = 0 THEN NULL ELSE 'n' || i END
			FROM generate_series(1, 3000) i`)
	dbtest.Exec(t, my.Store, `CREATE TABLE orders (id INT PRIMARY KEY, status VARCHAR(10) NOT NULL, qty INT, note TEXT)`,
		`INSERT INTO orders SELECT seq, ELT(1 + seq % 3, 'paid','void','sent'), seq % 7, IF(seq % 5 = 0, NULL, CONCAT('n', seq))
			FROM seq_1_to_3000`)
	for _, pair := range [][2]dbtest.DB{{pg, my}, {my, pg}} {
		o := Options{Source: pair[0].Store, Target: pair[1].Store, Threshold: 40, Factor: 4, Tables: []TablePair{{Source: "orders", Target: "orders"}}}
		rep := run(t, o)
		tr := rep.Tables[0]
		if !strings.Contains(tr.Method, "crc32·crc32c in Go over postgres canonical text") || !strings.Contains(tr.Method, "crc32·crc32c in mysql") {
			t.Fatalf("method %q: want CRC on both sides", tr.Method)
		}
		if rep.Differing() != 0 || tr.RowsFetched != 0 {
			t.Fatalf("equal tables: %d differences, %d rows fetched (the sides hash different bytes)\n%s", rep.Differing(), tr.RowsFetched, rep.Text())
		}
	}
	// Rows 13 and 14 ('void', 'sent') swap their status, rows 21 and 22
	// their qty (texts of the same length); row 20 loses its NULL note.
	dbtest.Exec(t, my.Store, "UPDATE orders SET status = IF(id = 13, 'sent', 'void') WHERE id IN (13, 14)",
		"UPDATE orders SET qty = IF(id = 21, 1, 0) WHERE id IN (21, 22)", "UPDATE orders SET note = 'x' WHERE id = 20")
	rep := run(t, Options{Source: pg.Store, Target: my.Store, Threshold: 40, Factor: 4, Tables: []TablePair{{Source: "orders", Target: "orders"}}})
	if got := strings.Join(keysOf(&rep.Tables[0], Mismatched), " "); got != "13 14 20 21 22" {
		t.Fatalf("mismatched %q, want 13 14 20 21 22\n%s", got, rep.Text())
	}
	// --portable-hash keeps MD5 on both.
	rep = run(t, Options{Source: pg.Store, Target: my.Store, PortableHash: true, Tables: []TablePair{{Source: "orders", Target: "orders"}}})
	if m := rep.Tables[0].Method; m != "checksums: md5 in postgres / md5 in mysql" {
		t.Fatalf("portable hash: method %q", m)
	}
}

// A goHash PostgreSQL side builds each row's canonical text in Go from
// PostgreSQL's own output of each column: byte for byte the text the SQL
// canonical rendering gives (the one MariaDB's side matches), on values at
// the edges — NULLs, infinities, BC dates, years past 9999, fractions of
// every length, numeric zeros and NaN, empty bytea — whatever the session's
// DateStyle, TimeZone and bytea_output.
func TestGoRenderedTextEqualsTheSQLCanonicalText(t *testing.T) {
	pg := dbtest.New(t, datastore.Postgres)
	dbtest.Exec(t, pg.Store, `CREATE TABLE edge (id int PRIMARY KEY, b boolean, d numeric, d2 numeric(10,3), u uuid, by bytea,
		dt date, ts timestamp, tz timestamptz, t text, c char(5), f double precision, j jsonb)`,
		`INSERT INTO edge VALUES
		(1, true, 12.3400, 1.5, 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', '\x00ff', '2024-01-31', '2024-01-01 00:00:01', '2024-05-06 09:08:07.123456+02', 'x', 'ab', 0.5, '{"b":1,"a":2}'),
		(2, false, 10.000, 0, NULL, '', '0044-03-15 BC', '0044-03-15 12:00:00.5 BC', '0001-01-01 00:00:00+00 BC', '', '', -1e300, 'null'),
		(3, NULL, 0.000, -0.5, NULL, NULL, 'infinity', 'infinity', '-infinity', NULL, NULL, NULL, NULL),
		(4, true, 'NaN', 99999.999, NULL, '\xdeadbeef', '-infinity', '-infinity', 'infinity', 'é 日本', 'é', 3.0, '[]'),
		(5, false, -7, 0.001, NULL, NULL, '10000-01-01', '10000-12-31 23:59:59.999999', '12000-01-01 00:00:00.01+05:30', 'a\tb', 'x', 1e-7, '1'),
		(6, NULL, 100, 12.120, NULL, NULL, '0999-01-01', '1999-12-31 23:59:59.12', '1999-12-31 23:59:59.000001-08', '\N', NULL, NULL, NULL)`)
	ctx := context.Background()
	tbl, err := pg.Store.Introspect(ctx, "edge")
	if err != nil {
		t.Fatal(err)
	}
	var cols []colPlan
	var types []datastore.Type
	var exprs []string
	for _, c := range tbl.Columns {
		cp := colPlan{name: c.Name, src: c.Type, tgt: c.Type}
		cp.fixedScale = c.Name == "d2" // as planTable sets it for numeric(10,3) on both sides
		cols, types, exprs = append(cols, cp), append(types, c.Type), append(exprs, pg.Store.Quote(c.Name))
	}
	sqlText := rowHashSQL(datastore.Postgres, exprs, cols, types, 6, false, hashCRC, nil)
	sel, how := pgGoColumns(exprs, cols, types, 6)
	rendered := 0
	for _, h := range how {
		if h != renderSQL {
			rendered++
		}
	}
	if rendered < 7 {
		t.Fatalf("only %d columns rendered in Go: %v", rendered, how)
	}
	sd := &side{goHow: how}
	conn, err := pg.Store.DB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		c := dc.(*stdlib.Conn).Conn()
		// A server whose defaults differ from what the renderings read.
		for _, set := range []string{"SET DateStyle = 'SQL, DMY'", "SET TimeZone = 'Asia/Kolkata'", "SET bytea_output = 'escape'"} {
			if _, err := c.Exec(ctx, set); err != nil {
				return err
			}
		}
		tx, err := c.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(ctx)
		for _, set := range pgOutputSettings {
			if _, err := tx.Exec(ctx, set); err != nil {
				return err
			}
		}
		rows, err := tx.Query(ctx, "SELECT id, "+sqlText+", "+strings.Join(sel, ", ")+" FROM edge ORDER BY 1", pgx.QueryResultFormats{pgx.TextFormatCode})
		if err != nil {
			return err
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			raw := rows.RawValues()
			n++
			// The SQL text has the MD5 path's marks (PostgreSQL text
			// cannot hold the CRC path's).
			want := strings.NewReplacer(colSep, crcColSep, nullMark, crcNullMark).Replace(string(raw[1]))
			if got := string(sd.goText(nil, raw[2:])); got != want {
				t.Errorf("row %s:\n  Go  %q\n  SQL %q", raw[0], got, want)
			}
		}
		if n != 6 {
			t.Errorf("%d rows", n)
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
}
