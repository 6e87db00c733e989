package cdc

import (
	"context"
	"testing"
	"time"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

// The order a batch is applied in follows the target's foreign keys too,
// not only the source's. Reverse replication applies new's changes to
// legacy, whose keys are all there, while new may lack one: Pagila's copy
// under live writes left payment → rental off MariaDB (a payment copied
// before its rental arrived), and the rollback's drain then wrote payments
// (which sorts first) before their rentals into PostgreSQL, refused
// (payment_rental_id_fkey, SQLSTATE 23503) at every retry: the rollback
// was blocked.
func TestABatchFollowsTheTargetsForeignKeysTheSourceLacks(t *testing.T) {
	src, dst := dbtest.New(t, datastore.MySQL), dbtest.New(t, datastore.Postgres)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dbtest.Exec(t, src.Store,
		"CREATE TABLE rental (id integer PRIMARY KEY, note varchar(40))",
		"CREATE TABLE payment (id integer PRIMARY KEY, rental_id integer NOT NULL, amount decimal(5,2))")
	dbtest.Exec(t, dst.Store,
		"CREATE TABLE rental (id integer PRIMARY KEY, note varchar(40))",
		"CREATE TABLE payment (id integer PRIMARY KEY, rental_id integer NOT NULL REFERENCES rental (id), amount numeric(5,2))")
	o := runOpts(src, dst, captureName(t), MethodTriggers)
	o.Tables = []string{"payment", "rental"}
	if _, err := Setup(ctx, o.Options); err != nil {
		t.Fatalf("setup: %v", err)
	}
	t.Cleanup(func() { Teardown(context.Background(), o.Options) })
	dbtest.Exec(t, src.Store,
		"INSERT INTO rental VALUES (1, 'r1'), (2, 'r2')",
		"INSERT INTO payment VALUES (1, 1, 1.99), (2, 2, 2.99)")
	o.Until = Drained(time.Now())
	if _, err := Run(ctx, o, Checkpoint{}, nil); err != nil {
		t.Fatalf("run: %v", err)
	}
	dbtest.AssertSameRows(t, src.Store, dst.Store, "rental")
	dbtest.AssertSameRows(t, src.Store, dst.Store, "payment")
	// And deletes children first: the payment, then its rental.
	dbtest.Exec(t, src.Store, "DELETE FROM payment WHERE id = 1", "DELETE FROM rental WHERE id = 1")
	o.Until = Drained(time.Now())
	if _, err := Run(ctx, o, Checkpoint{}, nil); err != nil {
		t.Fatalf("run with deletes: %v", err)
	}
	dbtest.AssertSameRows(t, src.Store, dst.Store, "rental")
	dbtest.AssertSameRows(t, src.Store, dst.Store, "payment")
}
