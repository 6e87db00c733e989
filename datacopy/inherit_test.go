package datacopy_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/godwit/godwit/datacopy"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

// TestAnInheritingChildListedWithItsParentIsRefused copies Sakila's payment
// with a child table holding rows (payment_p2007_01 INHERITS payment): the
// parent's reads include the child's rows, so copying both wrote them twice
// on the target (in payment, where nothing links them, and in the child)
// while reconcile compared equal counts. Provision and copy now refuse.
func TestAnInheritingChildListedWithItsParentIsRefused(t *testing.T) {
	ctx := context.Background()
	src := dbtest.New(t, datastore.Postgres)
	dbtest.Exec(t, src.Store,
		`CREATE TABLE payment (payment_id integer PRIMARY KEY, amount numeric(5,2))`,
		`CREATE TABLE payment_p2007_01 (PRIMARY KEY (payment_id)) INHERITS (payment)`,
		`INSERT INTO payment VALUES (1, 1.50)`,
		`INSERT INTO payment_p2007_01 VALUES (2, 2.50)`)
	var tables []*datastore.Table
	for _, n := range []string{"payment", "payment_p2007_01"} {
		tb, err := src.Store.Introspect(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		tables = append(tables, tb)
	}
	dst := dbtest.New(t, datastore.Postgres)
	_, err := datastore.Provision(ctx, dst.Store, tables, datastore.ProvisionOptions{Owner: "m1"})
	if !errors.Is(err, datastore.ErrInheritedRows) || !datastore.IsPermanent(err) || !strings.Contains(err.Error(), "leave payment_p2007_01 out of tables") {
		t.Fatalf("provision of a parent and its child: want a permanent ErrInheritedRows saying what to leave out, got %v", err)
	}
	// The target's tables exist (made by hand): the copy refuses by itself.
	dbtest.Exec(t, dst.Store,
		`CREATE TABLE payment (payment_id integer PRIMARY KEY, amount numeric(5,2))`,
		`CREATE TABLE payment_p2007_01 (payment_id integer PRIMARY KEY, amount numeric(5,2))`)
	_, err = datacopy.Run(ctx, datacopy.Options{From: src.Store, To: dst.Store, Tables: []string{"payment*"}, BatchRows: 100}, datacopy.Checkpoint{}, nil)
	if !errors.Is(err, datastore.ErrInheritedRows) {
		t.Fatalf("copy of a parent and its child: want ErrInheritedRows, got %v", err)
	}
	_, rows := dbtest.ReadAll(t, dst.Store, "payment")
	if len(rows) != 0 {
		t.Fatalf("the refused copy wrote %d rows", len(rows))
	}
	// The parent alone carries every row.
	if _, err := datacopy.Run(ctx, datacopy.Options{From: src.Store, To: dst.Store, Tables: []string{"payment"}, BatchRows: 100}, datacopy.Checkpoint{}, nil); err != nil {
		t.Fatal(err)
	}
	if _, rows := dbtest.ReadAll(t, dst.Store, "payment"); len(rows) != 2 {
		t.Fatalf("payment alone copied %d rows, want 2 (its own and its child's)", len(rows))
	}
}
