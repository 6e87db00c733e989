package datastore_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

// deferDDL is a table with a key, a unique constraint, a unique index, a
// partial and a multi-column index, a comment and a foreign key of its own.
var deferDDL = []string{
	`CREATE TABLE parent (id int PRIMARY KEY)`,
	`CREATE TABLE acct (id bigint, code text NOT NULL, region int, balance int, parent_id int REFERENCES parent (id),
		CONSTRAINT acct_pk PRIMARY KEY (id), CONSTRAINT acct_code UNIQUE (code) DEFERRABLE)`,
	`CREATE UNIQUE INDEX acct_region_bal ON acct (region, balance) WHERE balance > 0`,
	`CREATE INDEX acct_region ON acct USING btree (region DESC, id) WITH (fillfactor = 70)`,
	`COMMENT ON TABLE acct IS 'the accounts, it''s said'`,
}

func acctRows(from, to int) [][]any {
	var rows [][]any
	for i := from; i < to; i++ {
		rows = append(rows, []any{int64(i), "c" + string(rune('a'+i%26)) + strings.Repeat("x", i), int64(i % 7), int64(i), nil})
	}
	return rows
}

func tableComment(t *testing.T, s *datastore.Store, table string) *string {
	t.Helper()
	var c *string
	if err := s.DB.QueryRow(`SELECT obj_description(to_regclass($1), 'pg_class')`, table).Scan(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

// An empty table loses its key, constraints and indexes for the load (the
// definitions in its comment), takes batches with no probe, and gets back
// exactly what it had, comment included.
func TestDeferIndexesRoundTrip(t *testing.T) {
	ctx := context.Background()
	dst := dbtest.New(t, datastore.Postgres).Store
	dbtest.Exec(t, dst, deferDDL...)
	before := dbtest.IndexShape(t, dst, "acct")
	view := introspect(t, dst, "acct")

	d, why, err := dst.DeferIndexes(ctx, "acct")
	if err != nil || d == nil {
		t.Fatalf("DeferIndexes: %v, %q", err, why)
	}
	if !reflect.DeepEqual(d.Key, []string{"id"}) || len(d.Indexes) != 4 || d.Indexes[0].Name != "acct_pk" {
		t.Fatalf("deferred %+v", d)
	}
	left := dbtest.IndexShape(t, dst, "acct")
	for _, l := range left {
		if !strings.Contains(l, "FOREIGN KEY") {
			t.Fatalf("after the deferral the table still has %s", l)
		}
	}
	got, err := dst.IndexesDeferred(ctx, "acct")
	if err != nil || !reflect.DeepEqual(got, d) {
		t.Fatalf("IndexesDeferred = %+v, %v; want %+v", got, err, d)
	}

	view.IndexesDeferred = true
	probes := datastore.Probes(dst)
	for _, b := range [][2]int{{0, 100}, {100, 200}} {
		if err := dst.WriteBatchIn(ctx, view, acctRows(b[0], b[1]), nil); err != nil {
			t.Fatal(err)
		}
	}
	if n := datastore.Probes(dst) - probes; n != 0 {
		t.Fatalf("%d empty-range probes on the table without its key, want none", n)
	}
	var building []string
	if err := dst.RestoreIndexes(ctx, "acct", d, func(i, n int, name string) { building = append(building, name) }); err != nil {
		t.Fatal(err)
	}
	if after := dbtest.IndexShape(t, dst, "acct"); !reflect.DeepEqual(after, before) {
		t.Fatalf("indexes after the load:\n%s\nwant\n%s", strings.Join(after, "\n"), strings.Join(before, "\n"))
	}
	if !reflect.DeepEqual(building, d.Names()) {
		t.Fatalf("built %v, want %v", building, d.Names())
	}
	if c := tableComment(t, dst, "acct"); c == nil || *c != "the accounts, it's said" {
		t.Fatalf("comment after the load = %v", c)
	}
	if got, err := dst.IndexesDeferred(ctx, "acct"); got != nil || err != nil {
		t.Fatalf("still deferred after the restore: %+v, %v", got, err)
	}
	if n, _ := dst.Count(ctx, "acct"); n != 200 {
		t.Fatalf("%d rows, want 200", n)
	}
}

// A restore after a crash that had built some indexes builds the rest; a
// duplicate names the index and the key and keeps the record.
func TestRestoreIndexesResumesAndNamesDuplicates(t *testing.T) {
	ctx := context.Background()
	dst := dbtest.New(t, datastore.Postgres).Store
	dbtest.Exec(t, dst, deferDDL...)
	before := dbtest.IndexShape(t, dst, "acct")
	d, _, err := dst.DeferIndexes(ctx, "acct")
	if err != nil || d == nil {
		t.Fatal(err)
	}
	// As if an earlier attempt had built two of them.
	dbtest.Exec(t, dst, d.Indexes[0].Statement("acct"), d.Indexes[3].Statement("acct"))
	dbtest.Exec(t, dst, `INSERT INTO acct (id, code) VALUES (1, 'a'), (2, 'b'), (3, 'a')`)
	err = dst.RestoreIndexes(ctx, "acct", d, nil)
	if !errors.Is(err, datastore.ErrDuplicateKey) || !datastore.IsPermanent(err) || !strings.Contains(err.Error(), "acct_code") || !strings.Contains(err.Error(), "(code)=(a)") {
		t.Fatalf("restore over a duplicate: %v", err)
	}
	if got, _ := dst.IndexesDeferred(ctx, "acct"); got == nil {
		t.Fatal("the failed restore lost the record of what to build")
	}
	dbtest.Exec(t, dst, `DELETE FROM acct WHERE id = 3`)
	if err := dst.RestoreIndexes(ctx, "acct", d, nil); err != nil {
		t.Fatal(err)
	}
	if after := dbtest.IndexShape(t, dst, "acct"); !reflect.DeepEqual(after, before) {
		t.Fatalf("indexes after the restore:\n%s\nwant\n%s", strings.Join(after, "\n"), strings.Join(before, "\n"))
	}
}

// What must keep its indexes keeps them, and says why.
func TestDeferIndexesRefuses(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name, setup, why string
	}{
		{"not empty", `INSERT INTO acct (id, code) VALUES (1, 'a')`, "not empty"},
		{"referenced by a foreign key", `CREATE TABLE child (id int PRIMARY KEY, acct_id bigint REFERENCES acct (id))`, "foreign key child_acct_id_fkey"},
		{"published", `CREATE PUBLICATION pgdefer_pub FOR TABLE acct`, "publication pgdefer_pub"},
		{"clustered", `CLUSTER acct USING acct_region`, "index acct_region"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dst := dbtest.New(t, datastore.Postgres).Store
			dbtest.Exec(t, dst, deferDDL...)
			dbtest.Exec(t, dst, c.setup)
			before := dbtest.IndexShape(t, dst, "acct")
			d, why, err := dst.DeferIndexes(ctx, "acct")
			if err != nil || d != nil || !strings.Contains(why, c.why) {
				t.Fatalf("DeferIndexes = %+v, %q, %v; want nothing deferred because %q", d, why, err, c.why)
			}
			if after := dbtest.IndexShape(t, dst, "acct"); !reflect.DeepEqual(after, before) {
				t.Fatalf("indexes changed: %v", after)
			}
		})
	}
}

// A resumed load removes what a batch committed after the checkpoint.
func TestDeleteAfterKey(t *testing.T) {
	ctx := context.Background()
	dst := dbtest.New(t, datastore.Postgres).Store
	dbtest.Exec(t, dst, `CREATE TABLE k (a int, b text, v int)`)
	dbtest.Exec(t, dst, `INSERT INTO k VALUES (1, 'x', 0), (2, 'a', 0), (2, 'b', 0), (2, 'c', 0), (3, 'a', 0)`)
	tbl := introspect(t, dst, "k")
	tbl.PrimaryKey = []string{"a", "b"}
	n, err := dst.DeleteAfterKey(ctx, tbl, []any{int64(2), "a"})
	if err != nil || n != 3 {
		t.Fatalf("deleted %d, %v; want 3", n, err)
	}
	if n, err = dst.DeleteAfterKey(ctx, tbl, nil); err != nil || n != 2 {
		t.Fatalf("deleted %d, %v; want the 2 left", n, err)
	}
}

// A deferred key is built with the memory its sort needs, not the
// server's default: on a connection whose maintenance_work_mem is the
// least PostgreSQL takes and that may write no temporary file, the build
// of a 100,000-row table's key succeeds (it spilled, and failed, before).
func TestRestoreIndexesSortsInMemory(t *testing.T) {
	ctx := context.Background()
	db := dbtest.New(t, datastore.Postgres)
	dbtest.Exec(t, db.Store, `CREATE TABLE big (id int PRIMARY KEY, filler char(84))`)
	d, _, err := db.Store.DeferIndexes(ctx, "big")
	if err != nil || d == nil {
		t.Fatal(err)
	}
	dbtest.Exec(t, db.Store, `INSERT INTO big SELECT i, '' FROM generate_series(1, 100000) i`)
	sep := "?"
	if strings.Contains(db.DSN, "?") {
		sep = "&"
	}
	tight, err := datastore.Open(ctx, datastore.Postgres, db.DSN+sep+"maintenance_work_mem=1MB&temp_file_limit=0")
	if err != nil {
		t.Fatal(err)
	}
	defer tight.Close()
	var mem string
	if err := tight.DB.QueryRow(`SHOW maintenance_work_mem`).Scan(&mem); err != nil || mem != "1MB" {
		t.Fatalf("the tight connection's maintenance_work_mem = %q, %v", mem, err)
	}
	if err := tight.RestoreIndexes(ctx, "big", d, nil); err != nil {
		t.Fatalf("restore: %v", err)
	}
	if err := tight.DB.QueryRow(`SHOW maintenance_work_mem`).Scan(&mem); err != nil || mem != "1MB" {
		t.Fatalf("after the build the pooled connection's maintenance_work_mem = %q, %v: the raise outlived its build", mem, err)
	}
	if got, _ := db.Store.IndexesDeferred(ctx, "big"); got != nil {
		t.Fatalf("still deferred: %+v", got)
	}
}
