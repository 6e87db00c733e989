package datastore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

// An upsert passes a row through the table's BEFORE INSERT triggers even
// when the row exists and is only updated, and stores what they set:
// Sakila's customer_create_date reset legacy's create dates to the time a
// reverse replication applied an update. Apply updates the rows that
// exist; a new row still goes through the triggers, as any insert would.
func TestApplyKeepsAnExistingRowOutOfItsInsertTriggers(t *testing.T) {
	ctx := context.Background()
	for _, e := range []datastore.Engine{datastore.Postgres, datastore.MySQL} {
		t.Run(string(e), func(t *testing.T) {
			db := dbtest.New(t, e)
			switch e {
			case datastore.Postgres:
				dbtest.Exec(t, db.Store, `CREATE TABLE customer (id int PRIMARY KEY, name text, created timestamp)`,
					`CREATE FUNCTION customer_create_date() RETURNS trigger AS $$ BEGIN NEW.created := '2000-01-01'; RETURN NEW; END $$ LANGUAGE plpgsql`,
					`CREATE TRIGGER customer_create_date BEFORE INSERT ON customer FOR EACH ROW EXECUTE FUNCTION customer_create_date()`,
					`CREATE TRIGGER customer_audit AFTER INSERT ON customer FOR EACH ROW EXECUTE FUNCTION customer_create_date()`)
			default:
				dbtest.Exec(t, db.Store, `CREATE TABLE customer (id INT PRIMARY KEY, name TEXT, created DATETIME)`,
					`CREATE TRIGGER customer_create_date BEFORE INSERT ON customer FOR EACH ROW SET NEW.created = '2000-01-01'`)
			}
			dbtest.Exec(t, db.Store, `INSERT INTO customer VALUES (1, 'keep', '2020-05-05 10:00:00'), (2, 'keep', '2020-05-05 10:00:00')`)
			dbtest.Exec(t, db.Store, `UPDATE customer SET created = '2020-05-05 10:00:00'`)
			tb, err := db.Store.Introspect(ctx, "customer")
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(tb.InsertTriggers) != "[customer_create_date]" {
				t.Fatalf("insert triggers %v, want [customer_create_date] (skipped: %v)", tb.InsertTriggers, tb.Skipped)
			}
			// Through a projection, as change capture applies.
			proj, err := tb.Project([]string{"id", "name", "created"})
			if err != nil {
				t.Fatal(err)
			}
			when := time.Date(2020, 5, 5, 10, 0, 0, 0, time.UTC)
			err = db.Store.Apply(ctx, []datastore.TableMutations{{Table: proj, Mutations: []datastore.Mutation{
				{Row: []any{int64(1), "keep", when}},    // unchanged
				{Row: []any{int64(2), "renamed", when}}, // updated
				{Row: []any{int64(3), "new", when}},     // inserted: through the trigger
			}}})
			if err != nil {
				t.Fatal(err)
			}
			rows, err := db.Store.DB.QueryContext(ctx, `SELECT id, name, created FROM customer ORDER BY id`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var got []string
			for rows.Next() {
				var id int
				var name string
				var created time.Time
				if err := rows.Scan(&id, &name, &created); err != nil {
					t.Fatal(err)
				}
				got = append(got, fmt.Sprintf("%d %s %s", id, name, created.Format("2006-01-02 15:04")))
			}
			want := "[1 keep 2020-05-05 10:00 2 renamed 2020-05-05 10:00 3 new 2000-01-01 00:00]"
			if fmt.Sprint(got) != want {
				t.Fatalf("rows %v, want %v", got, want)
			}
		})
	}
}
