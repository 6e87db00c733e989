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
