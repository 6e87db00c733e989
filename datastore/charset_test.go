package datastore_test

import (
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

// The text the charset tests copy: characters latin1 holds (é, ü), one
// only MySQL's latin1 (cp1252) holds (€ is 0x80 there, absent from
// ISO-8859-1), and the escapes LOAD DATA must keep.
var charsetTexts = []string{"café", "Müller ü", "5 € net", "tab\there\\back", "plain"}

// charsetBlob is binary with invalid UTF-8 (lone continuation and lead
// bytes, a lead byte before LOAD DATA's escape, tab and newline) and no NUL.
func charsetBlob(i int) []byte {
	return []byte{0xff, 0xfe, byte(i), 0xe0, '\\', 't', 0xc3, 0x28, '\t', 0xf0, '\n', 0x80, 0xe4}
}

// latin1Target creates, on a MySQL database, table cs with a latin1, a
// utf8mb4 and (withBlob) a BLOB column.
func latin1Target(t *testing.T, db dbtest.DB, withBlob bool) {
	t.Helper()
	blob := ""
	if withBlob {
		blob = ", b BLOB"
	}
	dbtest.Exec(t, db.Store, `CREATE TABLE cs (id BIGINT PRIMARY KEY, l VARCHAR(40) CHARACTER SET latin1,
		u VARCHAR(40) CHARACTER SET utf8mb4`+blob+`) DEFAULT CHARSET=utf8mb4`)
}

// assertLatin1Rows checks that cs on db reads back the texts (and blobs),
// and that the latin1 column holds latin1 bytes (é as E9, € as 80), not
// UTF-8 bytes read as latin1 characters.
func assertLatin1Rows(t *testing.T, db dbtest.DB, withBlob bool) {
	t.Helper()
	q := "SELECT id, l, u, HEX(l), '' FROM cs ORDER BY id"
	if withBlob {
		q = "SELECT id, l, u, HEX(l), HEX(b) FROM cs ORDER BY id"
	}
	rows, err := db.Store.DB.QueryContext(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id int
		var l, u, lhex, bhex string
		if err := rows.Scan(&id, &l, &u, &lhex, &bhex); err != nil {
			t.Fatal(err)
		}
		want := charsetTexts[id]
		if l != want || u != want {
			t.Errorf("row %d: latin1 %q, utf8mb4 %q; want %q in both", id, l, u, want)
		}
		if id == 0 && lhex != "636166E9" {
			t.Errorf("row 0: latin1 bytes %s, want 636166E9 (é as latin1 E9)", lhex)
		}
		if id == 2 && lhex != "352080206E6574" {
			t.Errorf("row 2: latin1 bytes %s, want 352080206E6574 (€ as cp1252 80)", lhex)
		}
		if withBlob && bhex != strings.ToUpper(hex.EncodeToString(charsetBlob(id))) {
			t.Errorf("row %d: blob %s, want %X", id, bhex, charsetBlob(id))
		}
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != len(charsetTexts) {
		t.Fatalf("%d rows, want %d", n, len(charsetTexts))
	}
}

// pgCharsetSource creates cs on a PostgreSQL database holding charsetTexts
// in l and u (and the blobs in b).
func pgCharsetSource(t *testing.T, withBlob bool) (dbtest.DB, *datastore.Table) {
	t.Helper()
	src := dbtest.New(t, datastore.Postgres)
	blob := ""
	if withBlob {
		blob = ", b bytea"
	}
	dbtest.Exec(t, src.Store, "CREATE TABLE cs (id bigint PRIMARY KEY, l text, u varchar(40)"+blob+")")
	ctx := context.Background()
	for i, s := range charsetTexts {
		var err error
		if withBlob {
			_, err = src.Store.DB.ExecContext(ctx, "INSERT INTO cs VALUES ($1, $2, $3, $4)", i, s, s, charsetBlob(i))
		} else {
			_, err = src.Store.DB.ExecContext(ctx, "INSERT INTO cs VALUES ($1, $2, $3)", i, s, s)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	s, err := src.Store.Introspect(ctx, "cs")
	if err != nil {
		t.Fatal(err)
	}
	return src, s
}

func introspect(t *testing.T, s *datastore.Store, name string) *datastore.Table {
	t.Helper()
	tbl, err := s.Introspect(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

// The direct load (PostgreSQL text COPY into LOAD DATA) declares its
// stream UTF-8, so a latin1 column stores é, ü and € as latin1 (cp1252)
// characters, not their UTF-8 bytes (read back as "cafÃ©").
func TestLoadDirectIntoLatin1Column(t *testing.T) {
	ctx := context.Background()
	src, s := pgCharsetSource(t, false)
	dst := dbtest.New(t, datastore.MySQL)
	latin1Target(t, dst, false)
	d := introspect(t, dst.Store, "cs")
	if !src.Store.CanLoadDirect(ctx, dst.Store, s, d, nil) {
		t.Fatal("CanLoadDirect = false, want true")
	}
	if _, err := src.Store.LoadDirect(ctx, dst.Store, s, d, nil, 100, nil); err != nil {
		t.Fatal(err)
	}
	assertLatin1Rows(t, dst, false)
}

// The decoded path (ReadBatch, WriteBatch's LOAD DATA) keeps text as
// characters in a latin1 column and a blob's bytes as they are, invalid
// UTF-8 included; so does the INSERT path and the change apply.
func TestWriteBatchIntoLatin1AndBlobColumns(t *testing.T) {
	ctx := context.Background()
	src, s := pgCharsetSource(t, true)
	rows, err := src.Store.ReadBatch(ctx, s, nil, 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"load data", "insert", "apply"} {
		t.Run(path, func(t *testing.T) {
			dst := dbtest.New(t, datastore.MySQL)
			latin1Target(t, dst, true)
			d := introspect(t, dst.Store, "cs")
			switch path {
			case "insert":
				datastore.ForceInsert(dst.Store)
				fallthrough
			case "load data":
				if err := dst.Store.WriteBatch(ctx, d, rows); err != nil {
					t.Fatal(err)
				}
			case "apply":
				var ms []datastore.Mutation
				for _, r := range rows {
					ms = append(ms, datastore.Mutation{Row: r})
				}
				if err := dst.Store.Apply(ctx, []datastore.TableMutations{{Table: d, Mutations: ms}}); err != nil {
					t.Fatal(err)
				}
			}
			assertLatin1Rows(t, dst, true)
		})
	}
}

// From SQLite too (the decoded path).
func TestWriteBatchFromSQLiteIntoLatin1Column(t *testing.T) {
	ctx := context.Background()
	src := dbtest.New(t, datastore.SQLite)
	dbtest.Exec(t, src.Store, "CREATE TABLE cs (id INTEGER PRIMARY KEY, l TEXT, u TEXT, b BLOB)")
	for i, s := range charsetTexts {
		if _, err := src.Store.DB.ExecContext(ctx, "INSERT INTO cs VALUES (?, ?, ?, ?)", i, s, s, charsetBlob(i)); err != nil {
			t.Fatal(err)
		}
	}
	s := introspect(t, src.Store, "cs")
	rows, err := src.Store.ReadBatch(ctx, s, nil, 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	dst := dbtest.New(t, datastore.MySQL)
	latin1Target(t, dst, true)
	if err := dst.Store.WriteBatch(ctx, introspect(t, dst.Store, "cs"), rows); err != nil {
		t.Fatal(err)
	}
	assertLatin1Rows(t, dst, true)
}

// A DSN asking for charset=latin1 does not make the driver's UTF-8 read
// as latin1: the connection is utf8mb4 whatever the DSN says.
func TestLatin1DSNCharsetStillWritesCharacters(t *testing.T) {
	ctx := context.Background()
	src, s := pgCharsetSource(t, true)
	rows, err := src.Store.ReadBatch(ctx, s, nil, 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	base := dbtest.New(t, datastore.MySQL)
	latin1Target(t, base, true)
	for _, param := range []string{"charset=latin1", "collation=latin1_swedish_ci"} {
		t.Run(param, func(t *testing.T) {
			dbtest.Exec(t, base.Store, "DELETE FROM cs")
			st, err := datastore.Open(ctx, datastore.MySQL, base.DSN+"?"+param)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			datastore.ForceInsert(st)
			if err := st.WriteBatch(ctx, introspect(t, st, "cs"), rows); err != nil {
				t.Fatal(err)
			}
			assertLatin1Rows(t, base, true)
		})
	}
}

// A character latin1 cannot hold ('中') fails the copy, naming table,
// column and the row's key, instead of storing '?' — on the direct and
// the decoded path.
func TestLatin1ColumnRefusesCharacterItCannotHold(t *testing.T) {
	ctx := context.Background()
	src := dbtest.New(t, datastore.Postgres)
	dbtest.Exec(t, src.Store, "CREATE TABLE cs (id bigint PRIMARY KEY, l text, u varchar(40))",
		"INSERT INTO cs VALUES (1, 'café', 'café'), (7, '中文', '中文'), (9, 'x', 'x')")
	s := introspect(t, src.Store, "cs")
	check := func(t *testing.T, dst dbtest.DB, err error) {
		t.Helper()
		if err == nil {
			t.Fatal("copy of '中' into a latin1 column succeeded, want an error")
		}
		t.Logf("error: %v", err)
		if !errors.Is(err, datastore.ErrBadValue) {
			t.Errorf("error does not wrap ErrBadValue: %v", err)
		}
		for _, want := range []string{"write cs", "column l", "key id=7", `"中文"`, "(latin1)", "CHARACTER SET utf8mb4"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
		var n int
		if err := dst.Store.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM cs").Scan(&n); err != nil || n != 0 {
			t.Errorf("target holds %d rows (%v), want none: the batch rolls back", n, err)
		}
	}
	t.Run("direct", func(t *testing.T) {
		dst := dbtest.New(t, datastore.MySQL)
		latin1Target(t, dst, false)
		d := introspect(t, dst.Store, "cs")
		_, err := src.Store.LoadDirect(ctx, dst.Store, s, d, nil, 100, nil)
		check(t, dst, err)
	})
	t.Run("decoded", func(t *testing.T) {
		dst := dbtest.New(t, datastore.MySQL)
		latin1Target(t, dst, false)
		rows, err := src.Store.ReadBatch(ctx, s, nil, 100, nil)
		if err != nil {
			t.Fatal(err)
		}
		check(t, dst, dst.Store.WriteBatch(ctx, introspect(t, dst.Store, "cs"), rows))
	})
	t.Run("insert", func(t *testing.T) {
		dst := dbtest.New(t, datastore.MySQL)
		latin1Target(t, dst, false)
		rows, err := src.Store.ReadBatch(ctx, s, nil, 100, nil)
		if err != nil {
			t.Fatal(err)
		}
		datastore.ForceInsert(dst.Store)
		check(t, dst, dst.Store.WriteBatch(ctx, introspect(t, dst.Store, "cs"), rows))
	})
	t.Run("apply", func(t *testing.T) {
		dst := dbtest.New(t, datastore.MySQL)
		latin1Target(t, dst, false)
		rows, err := src.Store.ReadBatch(ctx, s, nil, 100, nil)
		if err != nil {
			t.Fatal(err)
		}
		var ms []datastore.Mutation
		for _, r := range rows {
			ms = append(ms, datastore.Mutation{Row: r})
		}
		check(t, dst, dst.Store.Apply(ctx, []datastore.TableMutations{{Table: introspect(t, dst.Store, "cs"), Mutations: ms}}))
	})
}

// With blobs written in hex (a table with latin1 text and bytes), a key 0 in an
// AUTO_INCREMENT column stays 0: MariaDB reads it as "the next value"
// when the load has a SET clause, unless the key comes from a variable
// (the row then REPLACEd row 1 and one row was lost).
func TestLoadWithBlobKeepsKeyZero(t *testing.T) {
	ctx := context.Background()
	dst := dbtest.New(t, datastore.MySQL)
	dbtest.Exec(t, dst.Store, "CREATE TABLE z (id BIGINT AUTO_INCREMENT PRIMARY KEY, s TEXT CHARACTER SET latin1, b BLOB) DEFAULT CHARSET=utf8mb4")
	z := introspect(t, dst.Store, "z")
	rows := [][]any{{int64(0), "zero é", []byte{0xff, 0}}, {int64(1), "one", []byte{1}}, {int64(2), nil, nil}}
	if err := dst.Store.WriteBatch(ctx, z, rows); err != nil {
		t.Fatal(err)
	}
	var got []string
	r, err := dst.Store.DB.QueryContext(ctx, "SELECT CONCAT(id, ':', COALESCE(s, 'NULL'), ':', COALESCE(HEX(b), 'NULL')) FROM z ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for r.Next() {
		var s string
		if err := r.Scan(&s); err != nil {
			t.Fatal(err)
		}
		got = append(got, s)
	}
	if want := "0:zero é:FF00 1:one:01 2:NULL:NULL"; strings.Join(got, " ") != want {
		t.Fatalf("rows %q, want %q", strings.Join(got, " "), want)
	}
}

// A value its MySQL column cannot take (here a bigint beyond INT) stops the
// write on every path with the row's key, the value as the source had it,
// the column and what to do: before, the fast paths said only "Warning
// 1264: Out of range value for column 'n' at row 2".
func TestAValueTheColumnCannotTakeNamesItsRow(t *testing.T) {
	ctx := context.Background()
	src := dbtest.New(t, datastore.Postgres)
	dbtest.Exec(t, src.Store, "CREATE TABLE vt (id bigint PRIMARY KEY, n bigint, code text)",
		"INSERT INTO vt VALUES (1, 5, 'a'), (8, 9999999999, 'b'), (9, 7, 'c')")
	s := introspect(t, src.Store, "vt")
	target := func(t *testing.T) (dbtest.DB, *datastore.Table) {
		dst := dbtest.New(t, datastore.MySQL)
		dbtest.Exec(t, dst.Store, "CREATE TABLE vt (id BIGINT PRIMARY KEY, n INT, code VARCHAR(40))")
		return dst, introspect(t, dst.Store, "vt")
	}
	check := func(t *testing.T, dst dbtest.DB, err error) {
		t.Helper()
		if err == nil {
			t.Fatal("a value beyond INT was written, want an error")
		}
		t.Logf("error: %v", err)
		if !errors.Is(err, datastore.ErrBadValue) {
			t.Errorf("error does not wrap ErrBadValue: %v", err)
		}
		for _, want := range []string{"write vt", "column n", "row with key id=8", `"9999999999"`, "vt.n", "typeOverrides", "mapping"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error does not say %q", want)
			}
		}
		var n int
		if err := dst.Store.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM vt").Scan(&n); err != nil || n != 0 {
			t.Errorf("target holds %d rows (%v), want none: the batch rolls back", n, err)
		}
	}
	read := func(t *testing.T) [][]any {
		rows, err := src.Store.ReadBatch(ctx, s, nil, 100, nil)
		if err != nil {
			t.Fatal(err)
		}
		return rows
	}
	t.Run("direct", func(t *testing.T) {
		dst, d := target(t)
		_, err := src.Store.LoadDirect(ctx, dst.Store, s, d, nil, 100, nil)
		check(t, dst, err)
	})
	t.Run("decoded", func(t *testing.T) {
		dst, d := target(t)
		check(t, dst, dst.Store.WriteBatch(ctx, d, read(t)))
	})
	t.Run("insert", func(t *testing.T) {
		dst, d := target(t)
		datastore.ForceInsert(dst.Store)
		check(t, dst, dst.Store.WriteBatch(ctx, d, read(t)))
	})
	t.Run("apply", func(t *testing.T) {
		dst, d := target(t)
		var ms []datastore.Mutation
		for _, r := range read(t) {
			ms = append(ms, datastore.Mutation{Row: r})
		}
		check(t, dst, dst.Store.Apply(ctx, []datastore.TableMutations{{Table: d, Mutations: ms}}))
	})
}

// A PostgreSQL value another engine has no form for (an infinite
// timestamp) stops the read naming the row's key, not only the column.
func TestAnUnreadableValueNamesItsRow(t *testing.T) {
	src := dbtest.New(t, datastore.Postgres)
	dbtest.Exec(t, src.Store, "CREATE TABLE inf (id int PRIMARY KEY, ts timestamp)",
		"INSERT INTO inf VALUES (1, '2024-01-01'), (4, 'infinity')")
	_, err := src.Store.ReadBatch(context.Background(), introspect(t, src.Store, "inf"), nil, 100, nil)
	if err == nil || !strings.Contains(err.Error(), "read inf row with key id=4, column ts") || !strings.Contains(err.Error(), "PostgreSQL's infinite date or time") || !strings.Contains(err.Error(), "docs/mapping.md") {
		t.Fatalf("read: %v, want the row with key id=4 and its column named", err)
	}
}
