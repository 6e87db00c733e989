package datacopy_test

import (
	"context"
	"strings"
	"testing"

	"github.com/godwit/godwit/datacopy"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

// A copy from PostgreSQL into a MariaDB table whose columns are latin1,
// utf8mb4 and BLOB keeps the characters (é, ü, and €, which MySQL's
// latin1 — cp1252 — holds as 0x80) and the blob's bytes (invalid UTF-8
// included), on the direct path (no blob: bytea is not loaded direct)
// and on the decoded one; a character latin1 cannot hold fails the copy,
// permanently, naming table, column and key, and stores nothing.
func TestCopyIntoLatin1Columns(t *testing.T) {
	ctx := context.Background()
	texts := []string{"café", "Müller ü", "5 € net", "tab\there\\", "x"}
	blob := []byte{0xff, 0xfe, 0xe0, '\\', 'N', 0xc3, 0x28, '\t', 0xf0, '\n', 0x80}
	for _, tc := range []struct {
		name     string
		noDirect bool
		blob     bool
	}{{"direct", false, false}, {"decoded", true, true}} {
		t.Run(tc.name, func(t *testing.T) {
			src := dbtest.New(t, datastore.Postgres)
			dst := dbtest.New(t, datastore.MySQL)
			srcBlob, dstBlob := "", ""
			if tc.blob {
				srcBlob, dstBlob = ", b bytea", ", b BLOB"
			}
			dbtest.Exec(t, src.Store, "CREATE TABLE t1 (id bigint PRIMARY KEY, l text, u text"+srcBlob+")")
			dbtest.Exec(t, dst.Store, "CREATE TABLE t1 (id BIGINT PRIMARY KEY, l VARCHAR(40) CHARACTER SET latin1, u TEXT CHARACTER SET utf8mb4"+dstBlob+") DEFAULT CHARSET=utf8mb4")
			for i, s := range texts {
				if _, err := src.Store.DB.ExecContext(ctx, "INSERT INTO t1 (id, l, u) VALUES ($1, $2, $3)", i, s, s); err != nil {
					t.Fatal(err)
				}
			}
			if tc.blob {
				if _, err := src.Store.DB.ExecContext(ctx, "UPDATE t1 SET b = $1", blob); err != nil {
					t.Fatal(err)
				}
			}
			opts := datacopy.Options{From: src.Store, To: dst.Store, Tables: []string{"t1"}, NoDirect: tc.noDirect, BatchRows: 2}
			if _, err := datacopy.Run(ctx, opts, datacopy.Checkpoint{}, nil); err != nil {
				t.Fatal(err)
			}
			rows, err := dst.Store.DB.QueryContext(ctx, "SELECT id, l, u, HEX(l), COALESCE(HEX(b), '') FROM t1 ORDER BY id")
			if !tc.blob {
				rows, err = dst.Store.DB.QueryContext(ctx, "SELECT id, l, u, HEX(l), '' FROM t1 ORDER BY id")
			}
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for rows.Next() {
				var id int
				var l, u, lhex, bhex string
				if err := rows.Scan(&id, &l, &u, &lhex, &bhex); err != nil {
					t.Fatal(err)
				}
				if l != texts[id] || u != texts[id] {
					t.Errorf("row %d: latin1 %q, utf8mb4 %q; want %q", id, l, u, texts[id])
				}
				if id == 2 && lhex != "352080206E6574" {
					t.Errorf("latin1 bytes of %q: %s, want 352080206E6574", texts[id], lhex)
				}
				if tc.blob && bhex != "FFFEE05C4EC32809F00A80" {
					t.Errorf("row %d: blob %s, want FFFEE05C4EC32809F00A80", id, bhex)
				}
				n++
			}
			rows.Close()
			if n != len(texts) {
				t.Fatalf("%d rows copied, want %d", n, len(texts))
			}

			dbtest.Exec(t, dst.Store, "DELETE FROM t1")
			dbtest.Exec(t, src.Store, "UPDATE t1 SET l = 'Beijing 北京' WHERE id = 3")
			_, err = datacopy.Run(ctx, opts, datacopy.Checkpoint{}, nil)
			if err == nil {
				t.Fatal("copy of 北京 into a latin1 column succeeded, want an error")
			}
			if !datastore.IsPermanent(err) {
				t.Errorf("error is not permanent: %v", err)
			}
			for _, want := range []string{"t1", "column l", "key id=3", "latin1"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			var got int
			if err := dst.Store.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM t1 WHERE id = 3").Scan(&got); err != nil || got != 0 {
				t.Errorf("row 3 stored (%d, %v), want not", got, err)
			}
		})
	}
}
