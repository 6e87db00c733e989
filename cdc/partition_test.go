package cdc

import (
	"context"
	"testing"
	"time"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

// A partitioned PostgreSQL table (Pagila's payment) is captured by one
// trigger on the parent, which PostgreSQL clones onto every partition:
// changes made through a partition arrive, and the teardown drops the
// parent's trigger (the clones go with it) instead of failing on a clone
// ("cannot drop trigger … because trigger … on table payment requires it").
func TestAPartitionedTableIsCapturedAndTornDown(t *testing.T) {
	src, dst := dbtest.New(t, datastore.Postgres), dbtest.New(t, datastore.MySQL)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dbtest.Exec(t, src.Store,
		`CREATE TABLE payment (id integer NOT NULL, paid_at timestamptz NOT NULL, amount numeric(5,2) NOT NULL, PRIMARY KEY (paid_at, id)) PARTITION BY RANGE (paid_at)`,
		`CREATE TABLE payment_p1 PARTITION OF payment FOR VALUES FROM ('2022-01-01') TO ('2022-02-01')`,
		`CREATE TABLE payment_p2 PARTITION OF payment FOR VALUES FROM ('2022-02-01') TO ('2022-03-01')`,
		`INSERT INTO payment VALUES (1, '2022-01-05', 1.99), (2, '2022-02-05', 2.99)`)
	tbl, err := src.Store.Introspect(ctx, "payment")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := datastore.Provision(ctx, dst.Store, []*datastore.Table{tbl}, datastore.ProvisionOptions{Owner: "cdc-test"}); err != nil {
		t.Fatal(err)
	}
	o := RunOptions{
		Options: Options{Source: src.Store, SourceDSN: src.DSN, Name: captureName(t), Tables: []string{"payment"}, Method: MethodTriggers},
		Target:  dst.Store, Wait: 100 * time.Millisecond, LagEvery: 100 * time.Millisecond,
	}
	created, err := Setup(ctx, o.Options)
	if err != nil {
		t.Fatalf("setup: %v", err)
	}
	t.Cleanup(func() { Teardown(context.Background(), o.Options) })
	dbtest.Exec(t, src.Store,
		`INSERT INTO payment_p1 VALUES (3, '2022-01-06', 3.99)`,
		`UPDATE payment SET amount = 9.99 WHERE id = 2`,
		`DELETE FROM payment_p1 WHERE id = 1`)
	o.Until = Drained(time.Now())
	if _, err := Run(ctx, o, Checkpoint{}, nil); err != nil {
		t.Fatalf("run: %v", err)
	}
	var got string
	if err := dst.Store.DB.QueryRowContext(ctx, `SELECT GROUP_CONCAT(CONCAT(id, '=', amount) ORDER BY id) FROM payment`).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != "2=9.99,3=3.99" {
		t.Fatalf("target payment %q, want 2=9.99,3=3.99 (changes made through partitions)", got)
	}
	objs, err := Objects(ctx, src.Store, o.Name)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != len(created.Created) {
		t.Fatalf("objects %v, want those setup created %v (a partition's clone of the trigger is not one of ours)", objs, created.Created)
	}
	if _, err := Teardown(ctx, o.Options); err != nil {
		t.Fatalf("teardown: %v", err)
	}
	if left, err := Leftovers(ctx, src.Store); err != nil || len(left) != 0 {
		t.Fatalf("leftovers after teardown: %v (err %v)", left, err)
	}
}

// A PostgreSQL table with inheritance children (INHERITS, not partitions:
// jOOQ's Sakila payment, whose rules route each 2007 payment into
// payment_p2007_NN) is read with its children's rows, so the copy carries
// them; their changes are captured too, into the parent's changelog, and
// the teardown leaves no trigger on them. A new-user trial's payment
// inserted during the capture (payment_date 2007-02-15) was found
// missing_in_target by the reconcile.
func TestAnInheritanceChildsChangesAreCaptured(t *testing.T) {
	src, dst := dbtest.New(t, datastore.Postgres), dbtest.New(t, datastore.SQLite)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dbtest.Exec(t, src.Store,
		"CREATE TABLE payment (payment_id integer PRIMARY KEY, amount numeric(5,2))",
		"CREATE TABLE payment_2007 (CHECK (payment_id >= 100)) INHERITS (payment)",
		"CREATE TABLE payment_2007_02 () INHERITS (payment_2007)",
		"INSERT INTO payment VALUES (1, 1.00), (2, 2.00)",
		"INSERT INTO payment_2007 VALUES (100, 3.00)")
	tbl, err := src.Store.Introspect(ctx, "payment")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := datastore.Provision(ctx, dst.Store, []*datastore.Table{tbl}, datastore.ProvisionOptions{Owner: "cdc-test"}); err != nil {
		t.Fatal(err)
	}
	dbtest.Exec(t, dst.Store, "INSERT INTO payment VALUES (1, 1.00), (2, 2.00), (100, 3.00)")
	o := runOpts(src, dst, captureName(t), MethodTriggers)
	o.Tables = []string{"payment"}
	if _, err := Setup(ctx, o.Options); err != nil {
		t.Fatalf("setup: %v", err)
	}
	t.Cleanup(func() { Teardown(context.Background(), o.Options) })
	dbtest.Exec(t, src.Store,
		"INSERT INTO payment_2007 VALUES (101, 4.00)",
		"INSERT INTO payment_2007_02 VALUES (102, 5.00)",
		"UPDATE payment SET amount = 9.99 WHERE payment_id = 100",
		"DELETE FROM payment WHERE payment_id = 2")
	o.Until = Drained(time.Now())
	if _, err := Run(ctx, o, Checkpoint{}, nil); err != nil {
		t.Fatalf("run: %v", err)
	}
	dbtest.AssertSameRows(t, src.Store, dst.Store, "payment")
	if _, err := Teardown(ctx, o.Options); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := src.Store.DB.QueryRowContext(ctx, `SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
		WHERE c.relname LIKE 'payment_2007%' AND NOT t.tgisinternal`).Scan(&left); err != nil || left != 0 {
		t.Fatalf("%d triggers left on the children after teardown (%v)", left, err)
	}
}
