package datastore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

// A key the copy left off because of an orphan is recorded; retried while
// the orphan is there it is reported (count, example, fix) and stays
// recorded; once the parent is there it is added, also when an earlier
// attempt died after adding it and before checking the rows, and a further
// retry has nothing to do.
func TestPendingForeignKeysAreRetriedIdempotently(t *testing.T) {
	for _, to := range []datastore.Engine{datastore.Postgres, datastore.MySQL} {
		t.Run("postgres to "+string(to), func(t *testing.T) {
			ctx := context.Background()
			dst, fks, err := orphanCopied(t, to)
			if err != nil {
				t.Fatal(err)
			}
			if len(fks.Pending) != 1 || fks.Pending[0].Table != "orders" || fks.Pending[0].FK.RefTable != "customers" {
				t.Fatalf("the orphan's key is pending: %+v", fks)
			}
			if err := datastore.RecordPendingForeignKeys(ctx, dst, "m1", dbtest.SampleTables, fks.Pending); err != nil {
				t.Fatal(err)
			}
			if other, err := datastore.PendingForeignKeys(ctx, dst, "m2"); err != nil || len(other) != 0 {
				t.Fatalf("another migration has none: %v %v", other, err)
			}

			r, err := datastore.RetryPendingForeignKeys(ctx, dst, "m1")
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Carried) != 0 || len(r.Failed) != 1 || !strings.Contains(r.Failed[0], "1 row of orders references a missing row of customers (e.g. customer_id=777)") ||
				!strings.Contains(r.Failed[0], "then add the key: ALTER TABLE") {
				t.Fatalf("the orphan is reported with its count, an example and the fix: %+v", r)
			}
			if p, _ := datastore.PendingForeignKeys(ctx, dst, "m1"); len(p) != 1 {
				t.Fatalf("still recorded: %v", p)
			}

			// The parent arrives (change capture); an attempt adds the key
			// and dies before checking the rows.
			dbtest.Exec(t, dst, "INSERT INTO customers (id, name) VALUES (777, 'late')")
			fk := fks.Pending[0].FK
			add := "ALTER TABLE orders ADD CONSTRAINT " + datastore.ForeignKeyName("orders", fk) + " FOREIGN KEY (customer_id) REFERENCES customers (id)"
			if to == datastore.Postgres {
				dbtest.Exec(t, dst, add+" NOT VALID")
			} else {
				dbtest.Exec(t, dst, add)
			}
			for attempt := 1; attempt <= 2; attempt++ {
				r, err = datastore.RetryPendingForeignKeys(ctx, dst, "m1")
				if err != nil {
					t.Fatal(err)
				}
				if attempt == 1 && (len(r.Carried) != 1 || len(r.Failed) != 0) || attempt == 2 && r.Summary() != "" {
					t.Fatalf("attempt %d: %+v", attempt, r)
				}
			}
			orders, err := dst.Introspect(ctx, "orders")
			if err != nil {
				t.Fatal(err)
			}
			if len(orders.ForeignKeys) != 1 {
				t.Fatalf("one key on orders: %+v", orders.ForeignKeys)
			}
			if to == datastore.Postgres {
				var valid bool
				if err := dst.DB.QueryRowContext(ctx, "SELECT convalidated FROM pg_constraint WHERE conname = $1", datastore.ForeignKeyName("orders", fk)).Scan(&valid); err != nil || !valid {
					t.Fatalf("the key is validated: %v %v", valid, err)
				}
			}
			if _, err := datastore.DropProvisioned(ctx, dst, "m1"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A key the target refuses for another reason than its rows (InnoDB has
// no ON DELETE SET DEFAULT) is reported as today and not recorded for a
// retry: nothing later would make the target accept it.
func TestAKeyRefusedForAnotherReasonIsNotPending(t *testing.T) {
	ctx := context.Background()
	src := dbtest.New(t, datastore.Postgres)
	dbtest.Exec(t, src.Store, "CREATE TABLE parent (id integer PRIMARY KEY)",
		"CREATE TABLE child (id integer PRIMARY KEY, parent_id integer DEFAULT 0 REFERENCES parent (id) ON DELETE SET DEFAULT)",
		"INSERT INTO parent VALUES (0), (1)", "INSERT INTO child VALUES (1, 1)")
	var tables []*datastore.Table
	for _, n := range []string{"parent", "child"} {
		tb, err := src.Store.Introspect(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		tables = append(tables, tb)
	}
	dst := dbtest.New(t, datastore.MySQL).Store
	if _, err := datastore.Provision(ctx, dst, tables, datastore.ProvisionOptions{Owner: "m1"}); err != nil {
		t.Fatal(err)
	}
	copyAll(t, src.Store, dst, tables)
	fks, err := datastore.CreateForeignKeys(ctx, dst, tables)
	if err != nil {
		t.Fatal(err)
	}
	if len(fks.NotCarried) != 1 || !strings.Contains(fks.NotCarried[0], "SET DEFAULT") || len(fks.Pending) != 0 {
		t.Fatalf("refused, reported, not pending: %+v", fks)
	}
}

// The record table goes once the last key it held is added: a run whose
// keys all went on left an empty godwit_pending_foreign_keys in the user's
// database. Another run's records keep it (and stay), and that run's
// retry, adding its key, drops it.
func TestPendingForeignKeysTableIsDroppedOnceEmpty(t *testing.T) {
	for _, to := range []datastore.Engine{datastore.Postgres, datastore.MySQL} {
		t.Run("postgres to "+string(to), func(t *testing.T) {
			ctx := context.Background()
			dst, fks, err := orphanCopied(t, to)
			if err != nil || len(fks.Pending) != 1 {
				t.Fatalf("the orphan's key is pending: %+v %v", fks, err)
			}
			// Two runs' records (the second's as a run into the same
			// database would make them).
			for _, owner := range []string{"m1", "m2"} {
				if err := datastore.RecordPendingForeignKeys(ctx, dst, owner, dbtest.SampleTables, fks.Pending); err != nil {
					t.Fatal(err)
				}
			}
			recordTable := func() bool {
				t.Helper()
				var n int
				err := dst.DB.QueryRowContext(ctx, "SELECT count(*) FROM godwit_pending_foreign_keys").Scan(&n)
				if err != nil && !dst.IsMissingObject(err) {
					t.Fatal(err)
				}
				return err == nil
			}
			dbtest.Exec(t, dst, "INSERT INTO customers (id, name) VALUES (777, 'late')")
			r, err := datastore.RetryPendingForeignKeys(ctx, dst, "m1")
			if err != nil || len(r.Carried) != 1 {
				t.Fatalf("m1's key is added: %+v %v", r, err)
			}
			if !recordTable() {
				t.Fatal("the record table went while m2 still had a record in it")
			}
			if p, err := datastore.PendingForeignKeys(ctx, dst, "m2"); err != nil || len(p) != 1 {
				t.Fatalf("m2's record is kept: %v %v", p, err)
			}
			// m2's retry finds the key on (an attempt that died after
			// adding it counts as added) and empties the table.
			if r, err = datastore.RetryPendingForeignKeys(ctx, dst, "m2"); err != nil || len(r.Carried) != 1 {
				t.Fatalf("m2's key counts as added: %+v %v", r, err)
			}
			if recordTable() {
				t.Fatal("the emptied record table is still in the target")
			}
			if r, err = datastore.RetryPendingForeignKeys(ctx, dst, "m1"); err != nil || r.Summary() != "" {
				t.Fatalf("a further retry has nothing to do: %+v %v", r, err)
			}
			// A copy recording again creates it again.
			if err := datastore.RecordPendingForeignKeys(ctx, dst, "m3", dbtest.SampleTables, fks.Pending); err != nil || !recordTable() {
				t.Fatalf("recorded again: %v", err)
			}
			if err := datastore.RecordPendingForeignKeys(ctx, dst, "m3", dbtest.SampleTables, nil); err != nil {
				t.Fatal(err)
			}
			if recordTable() {
				t.Fatal("a copy whose records all went emptied the table and left it")
			}
		})
	}
}

// The drop of the emptied record table races with another run recording
// its keys: a record being written while the table is found empty must
// not go with it (its key would never be retried). The check and the drop
// wait for the other run's transaction, so its record and the table stay.
func TestPendingForeignKeysTableIsNotDroppedUnderAnotherRunsRecord(t *testing.T) {
	for _, to := range []datastore.Engine{datastore.Postgres, datastore.MySQL} {
		t.Run("postgres to "+string(to), func(t *testing.T) {
			ctx := context.Background()
			dst, fks, err := orphanCopied(t, to)
			if err != nil || len(fks.Pending) != 1 {
				t.Fatalf("the orphan's key is pending: %+v %v", fks, err)
			}
			if err := datastore.RecordPendingForeignKeys(ctx, dst, "m1", dbtest.SampleTables, fks.Pending); err != nil {
				t.Fatal(err)
			}
			dbtest.Exec(t, dst, "INSERT INTO customers (id, name) VALUES (777, 'late')")

			// Another run's record, written but not committed yet.
			tx, err := dst.DB.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			if _, err := tx.ExecContext(ctx, "INSERT INTO godwit_pending_foreign_keys (owner, table_name, fk_name, fk) VALUES ('m9', 'orders', 'k', '{}')"); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() {
				_, err := datastore.RetryPendingForeignKeys(ctx, dst, "m1")
				done <- err
			}()
			time.Sleep(500 * time.Millisecond)
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if p, err := datastore.PendingForeignKeys(ctx, dst, "m9"); err != nil || len(p) != 1 {
				t.Fatalf("the other run's record is kept: %v %v", p, err)
			}
			if p, err := datastore.PendingForeignKeys(ctx, dst, "m1"); err != nil || len(p) != 0 {
				t.Fatalf("m1's key was added and its record removed: %v %v", p, err)
			}
		})
	}
}

// orphanCopied copies the sample database from PostgreSQL to a fresh
// database of engine to, its orders holding an orphan (customer 777, its
// key dropped on the source), provisioned for run m1, and creates the
// target's foreign keys: the orders key is left off, pending.
func orphanCopied(t *testing.T, to datastore.Engine) (*datastore.Store, datastore.ForeignKeyResult, error) {
	t.Helper()
	ctx := context.Background()
	src, tables := sampleSource(t, datastore.Postgres)
	dbtest.Exec(t, src.Store, "ALTER TABLE orders DROP CONSTRAINT orders_customer_id_fkey",
		"INSERT INTO orders VALUES (9999, 777, 1.00, '2024-01-01 00:00:00')")
	dst := dbtest.New(t, to).Store
	if _, err := datastore.Provision(ctx, dst, tables, datastore.ProvisionOptions{Owner: "m1"}); err != nil {
		t.Fatal(err)
	}
	copyAll(t, src.Store, dst, tables)
	fks, err := datastore.CreateForeignKeys(ctx, dst, tables)
	return dst, fks, err
}
