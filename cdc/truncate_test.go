package cdc

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

// A TRUNCATE on a PostgreSQL source fires no row trigger: before, the
// triggers method never heard of it and the target kept every row the
// source had emptied (the logical method always got it). A statement
// trigger now records it, and the drain empties the target's table before
// the changes that came after: rows written before the TRUNCATE are gone,
// rows written after it arrive, and a TRUNCATE … CASCADE empties the
// children too.
func TestTruncateOnAPostgresSourceEmptiesTheTarget(t *testing.T) {
	for _, target := range []datastore.Engine{datastore.MySQL, datastore.SQLite} {
		t.Run(string(target), func(t *testing.T) {
			src, dst := dbtest.New(t, datastore.Postgres), dbtest.New(t, target)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			ddl := []string{
				"CREATE TABLE artist (id integer PRIMARY KEY, name varchar(40) NOT NULL)",
				"CREATE TABLE album (id integer PRIMARY KEY, artist_id integer NOT NULL REFERENCES artist (id), title varchar(40))",
				"CREATE TABLE staging (id integer PRIMARY KEY, v text)",
			}
			seedRows := []string{
				"INSERT INTO artist VALUES (1, 'a1'), (2, 'a2')",
				"INSERT INTO album VALUES (1, 1, 't1'), (2, 2, 't2')",
				"INSERT INTO staging VALUES (1, 'old'), (2, 'old'), (3, 'old')",
			}
			names := []string{"artist", "album", "staging"}
			mirrorTables(t, ctx, src.Store, dst.Store, names, ddl, seedRows)
			o := runOpts(src, dst, captureName(t), MethodTriggers)
			o.Tables = names
			if _, err := Setup(ctx, o.Options); err != nil {
				t.Fatalf("setup: %v", err)
			}
			t.Cleanup(func() { Teardown(context.Background(), o.Options) })
			dbtest.Exec(t, src.Store,
				"INSERT INTO staging VALUES (4, 'before')",
				"UPDATE staging SET v = 'changed' WHERE id = 1",
				"TRUNCATE staging",
				"INSERT INTO staging VALUES (1, 'after'), (5, 'after')",
				"TRUNCATE artist, album",
				"INSERT INTO artist VALUES (3, 'a3')",
				"INSERT INTO album VALUES (3, 3, 't3')")
			o.Until = Drained(time.Now())
			if _, err := Run(ctx, o, Checkpoint{}, nil); err != nil {
				t.Fatalf("run: %v", err)
			}
			for _, tbl := range names {
				dbtest.AssertSameRows(t, src.Store, dst.Store, tbl)
			}
			var n int
			if err := dst.Store.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM staging").Scan(&n); err != nil || n != 2 {
				t.Fatalf("staging on the target: %d rows (err %v), want the 2 written after the TRUNCATE", n, err)
			}
			// A TRUNCATE whose changelog entry is applied in a later batch
			// than the rows before it.
			dbtest.Exec(t, src.Store, "INSERT INTO staging VALUES (6, 'x')")
			o.Until = Drained(time.Now())
			if _, err := Run(ctx, o, Checkpoint{}, nil); err != nil {
				t.Fatalf("run: %v", err)
			}
			dbtest.Exec(t, src.Store, "TRUNCATE staging")
			o.Until = Drained(time.Now())
			if _, err := Run(ctx, o, Checkpoint{}, nil); err != nil {
				t.Fatalf("run: %v", err)
			}
			dbtest.AssertSameRows(t, src.Store, dst.Store, "staging")
		})
	}
}

// A parent table emptied and reloaded in one transaction, with children
// written against the new rows (pgbench's tables: TRUNCATE … CASCADE, the
// accounts loaded again, history rows referencing them). The batch gave
// each changelog an equal share of its room, and grew four times at a
// time when the target's foreign keys refused it, but the reloaded table
// never got more than its share: a child referencing an account beyond it
// was refused by every retry, and the replication stopped for good
// (found by a pgbench trial, PostgreSQL → MariaDB). The room the other
// tables leave goes to the tables with more changes than their share.
func TestAReloadedParentLargerThanItsShareOfABatchArrives(t *testing.T) {
	src, dst := dbtest.New(t, datastore.Postgres), dbtest.New(t, datastore.MySQL)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ddl := []string{
		"CREATE TABLE branch (bid integer PRIMARY KEY, balance integer)",
		"CREATE TABLE account (aid integer PRIMARY KEY, bid integer NOT NULL REFERENCES branch (bid), balance integer)",
		"CREATE TABLE history (hid integer PRIMARY KEY, aid integer NOT NULL REFERENCES account (aid), delta integer)",
	}
	seedRows := []string{
		"INSERT INTO branch VALUES (1, 0)",
		"INSERT INTO account VALUES (1, 1, 0), (2, 1, 0), (3, 1, 0)",
		"INSERT INTO history VALUES (1, 1, 5)",
	}
	names := []string{"branch", "account", "history"}
	tables := mirrorTables(t, ctx, src.Store, dst.Store, names, ddl, seedRows)
	if fk, err := datastore.CreateForeignKeys(ctx, dst.Store, tables); err != nil || len(fk.Carried) != 2 {
		t.Fatalf("foreign keys on the target: %+v, err %v; want 2 carried", fk, err)
	}
	o := runOpts(src, dst, captureName(t), MethodTriggers)
	o.Tables = names
	if _, err := Setup(ctx, o.Options); err != nil {
		t.Fatalf("setup: %v", err)
	}
	t.Cleanup(func() { Teardown(context.Background(), o.Options) })
	// More accounts than the widest batch's share of a table (BatchChanges
	// × maxGrowth / 3 tables), and history rows for the last of them.
	accounts := o.BatchChanges * maxGrowth / len(names) * 2
	dbtest.Exec(t, src.Store, fmt.Sprintf(`DO $$ BEGIN
		TRUNCATE account, history;
		INSERT INTO account SELECT g, 1, 0 FROM generate_series(1, %d) g;
		INSERT INTO history SELECT g, %d - g, g FROM generate_series(1, 20) g;
	END $$`, accounts, accounts))
	o.Until = Drained(time.Now())
	if _, err := Run(ctx, o, Checkpoint{}, nil); err != nil {
		t.Fatalf("run: %v", err)
	}
	for _, tbl := range names {
		dbtest.AssertSameRows(t, src.Store, dst.Store, tbl)
	}
}
