package schemachange_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/schemachange"
)

// An insert by new code, which writes only the new column, into a table
// whose old column has a default (Sakila's film.rental_rate DEFAULT 4.99)
// finds the old column holding its default, not NULL: the trigger must
// still take the old column from the new one, or the two diverge (price
// 4.99, price_cents 199). Old code's inserts, and one that writes both,
// keep working as before.
func TestInsertLeavingAColumnAtItsDefaultFollowsTheOther(t *testing.T) {
	for _, e := range []datastore.Engine{datastore.Postgres, datastore.MySQL} {
		t.Run(string(e), func(t *testing.T) {
			db := dbtest.New(t, e)
			st := db.Store
			dbtest.Exec(t, st, "CREATE TABLE prices (id INTEGER NOT NULL PRIMARY KEY, price NUMERIC(4,2) NOT NULL DEFAULT 4.99, note VARCHAR(20))")
			c := schemachange.Change{
				Name: "test/expand",
				Up:   datastore.SplitScript(e, "ALTER TABLE prices ADD COLUMN price_cents INTEGER;"),
				DualWrite: map[string][]datastore.DualWriteRule{"prices": {
					{Column: "price_cents", Expr: "price * 100"},
					{Column: "price", Expr: "price_cents / 100.0"},
				}},
			}
			if _, err := schemachange.Apply(context.Background(), st, c, hclog.NewNullLogger()); err != nil {
				t.Fatal(err)
			}
			dbtest.Exec(t, st,
				"INSERT INTO prices (id, price_cents) VALUES (1, 199)", // new code
				"INSERT INTO prices (id, price) VALUES (2, 2.49)",      // old code
				"INSERT INTO prices (id, note) VALUES (3, 'neither')",  // both at their defaults
				"INSERT INTO prices (id, price, price_cents) VALUES (4, 3.00, 300)")
			want := map[int]string{1: "1.99 199", 2: "2.49 249", 3: "4.99 499", 4: "3.00 300"}
			for id, w := range want {
				var price string
				var cents int
				q := fmt.Sprintf("SELECT price, price_cents FROM prices WHERE id = %d", id)
				if err := st.DB.QueryRow(q).Scan(&price, &cents); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
				if got := fmt.Sprintf("%s %d", price, cents); got != w {
					t.Errorf("row %d: price, price_cents = %s, want %s", id, got, w)
				}
			}
		})
	}
}
