package cdc

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

// A target with the source's foreign keys (the copy carries them) takes a
// batch whatever the order the capture read its tables in: album sorts
// before artist, so without an order of its own the drain wrote a new
// album before its artist, was refused (SQLSTATE 23503), and every retry
// was refused the same way (found by a music-store trial, MariaDB →
// PostgreSQL through a mapping). Parents and children inserted together,
// deleted together, a child moved off a parent the batch deletes, and a
// child whose parent is beyond its table's share of the batch, and a child
// and its parent deleted while the drain reads all arrive.
func TestChangesApplyInAnOrderTheTargetsForeignKeysAccept(t *testing.T) {
	for _, pc := range []pair{pairs()[1], pairs()[2]} {
		t.Run(pc.name, func(t *testing.T) {
			src, dst := pc.open(t)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			dbtest.Exec(t, src.Store,
				"CREATE TABLE artist (id integer PRIMARY KEY, name varchar(40) NOT NULL)",
				"CREATE TABLE album (id integer PRIMARY KEY, artist_id integer NOT NULL REFERENCES artist (id), title varchar(40))",
				"INSERT INTO artist VALUES (1, 'a1'), (2, 'a2'), (3, 'a3')",
				"INSERT INTO album VALUES (1, 1, 't1'), (2, 2, 't2'), (3, 3, 't3')")
			var tables []*datastore.Table
			for _, n := range []string{"artist", "album"} {
				tbl, err := src.Store.Introspect(ctx, n)
				if err != nil {
					t.Fatal(err)
				}
				if n == "album" && len(tbl.ForeignKeys) != 1 {
					t.Fatalf("source album has foreign keys %+v, want 1", tbl.ForeignKeys)
				}
				tables = append(tables, tbl)
			}
			if _, err := datastore.Provision(ctx, dst.Store, tables, datastore.ProvisionOptions{Owner: "cdc-test"}); err != nil {
				t.Fatal(err)
			}
			dbtest.Exec(t, dst.Store,
				"INSERT INTO artist VALUES (1, 'a1'), (2, 'a2'), (3, 'a3')",
				"INSERT INTO album VALUES (1, 1, 't1'), (2, 2, 't2'), (3, 3, 't3')")
			fk, err := datastore.CreateForeignKeys(ctx, dst.Store, tables)
			if err != nil || len(fk.Carried) != 1 {
				t.Fatalf("foreign keys on the target: %+v, err %v; want album's carried", fk, err)
			}
			o := runOpts(src, dst, captureName(t), pc.method)
			o.Tables = []string{"album", "artist"}
			if _, err := Setup(ctx, o.Options); err != nil {
				t.Fatalf("setup: %v", err)
			}
			t.Cleanup(func() { Teardown(context.Background(), o.Options) })
			dbtest.Exec(t, src.Store,
				// a parent and its child inserted together
				"INSERT INTO artist VALUES (10, 'a10')",
				"INSERT INTO album VALUES (10, 10, 't10')",
				// a child, then its parent, deleted
				"DELETE FROM album WHERE id = 1",
				"DELETE FROM artist WHERE id = 1",
				// a child moved to a new parent, the old one deleted
				"INSERT INTO artist VALUES (11, 'a11')",
				"UPDATE album SET artist_id = 11 WHERE id = 2",
				"DELETE FROM artist WHERE id = 2")
			o.Until = Drained(time.Now())
			if _, err := Run(ctx, o, Checkpoint{}, nil); err != nil {
				t.Fatalf("run: %v", err)
			}
			dbtest.AssertSameRows(t, src.Store, dst.Store, "artist")
			dbtest.AssertSameRows(t, src.Store, dst.Store, "album")

			// More new parents than their table's share of a batch (2 of
			// 4), then a child of the last: the batch holds the child and
			// not its parent, and is read again with more room.
			o.BatchChanges = 4
			dbtest.Exec(t, src.Store,
				"INSERT INTO artist VALUES (20, 'a20'), (21, 'a21'), (22, 'a22'), (23, 'a23'), (24, 'a24')",
				"INSERT INTO album VALUES (24, 24, 't24')")
			o.Until = Drained(time.Now())
			if _, err := Run(ctx, o, Checkpoint{}, nil); err != nil {
				t.Fatalf("run with a small batch: %v", err)
			}
			dbtest.AssertSameRows(t, src.Store, dst.Store, "artist")
			dbtest.AssertSameRows(t, src.Store, dst.Store, "album")

			// A child and its parent deleted between the reads of their
			// changelogs (album's, then artist's): the batch is one
			// snapshot, so it holds both deletes or neither.
			var once sync.Once
			afterTableRead = func(table string) {
				once.Do(func() {
					dbtest.Exec(t, src.Store, "DELETE FROM album WHERE id = 3", "DELETE FROM artist WHERE id = 3")
				})
			}
			t.Cleanup(func() { afterTableRead = nil })
			o.Until = Drained(time.Now().Add(time.Second))
			if _, err := Run(ctx, o, Checkpoint{}, nil); err != nil {
				t.Fatalf("run with deletes between two reads: %v", err)
			}
			dbtest.AssertSameRows(t, src.Store, dst.Store, "artist")
			dbtest.AssertSameRows(t, src.Store, dst.Store, "album")
		})
	}
}
