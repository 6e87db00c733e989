package datastore_test

import (
	"context"
	"errors"
	"reflect"
	"sort"
	"testing"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

func tableNames(t *testing.T, s *datastore.Store) []string {
	t.Helper()
	names, err := s.ListTables(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	return names
}

func TestRetireRenamesDropsOrKeepsAndRepeats(t *testing.T) {
	for _, engine := range dbtest.Engines {
		t.Run(string(engine), func(t *testing.T) {
			ctx := context.Background()
			db := dbtest.New(t, engine)
			dbtest.Exec(t, db.Store, "CREATE TABLE orders (id INTEGER PRIMARY KEY)", "CREATE TABLE order_lines (id INTEGER PRIMARY KEY)",
				"CREATE TABLE users (id INTEGER PRIMARY KEY)", "INSERT INTO orders VALUES (1)")
			opts := datastore.RetireOptions{Tables: []string{"order*"}, Mode: datastore.RetireRename}

			res, err := datastore.Retire(ctx, db.Store, opts)
			if err != nil {
				t.Fatal(err)
			}
			if want := map[string]string{"orders": "orders_retired", "order_lines": "order_lines_retired"}; !reflect.DeepEqual(res.Done, want) {
				t.Fatalf("renamed %v, want %v", res.Done, want)
			}
			if got, want := tableNames(t, db.Store), []string{"order_lines_retired", "orders_retired", "users"}; !reflect.DeepEqual(got, want) {
				t.Fatalf("tables %v, want %v", got, want)
			}
			// A retry finds the work done and changes nothing.
			res, err = datastore.Retire(ctx, db.Store, opts)
			if err != nil || len(res.Done) != 0 || !reflect.DeepEqual(res.Already, []string{"order_lines", "orders"}) {
				t.Fatalf("repeat: %+v, %v; want nothing new, both already done", res, err)
			}
			// Renamed back, with the data.
			back, err := datastore.Unretire(ctx, db.Store, opts)
			if err != nil || !reflect.DeepEqual(back, []string{"order_lines", "orders"}) {
				t.Fatalf("unretire = %v, %v", back, err)
			}
			if n, err := db.Store.Count(ctx, "orders"); err != nil || n != 1 {
				t.Fatalf("orders has %d rows (%v) after renaming back, want 1", n, err)
			}

			res, err = datastore.Retire(ctx, db.Store, datastore.RetireOptions{Tables: []string{"users"}, Mode: datastore.RetireKeep})
			if err != nil || res.Done["users"] != "users" {
				t.Fatalf("keep: %+v, %v", res, err)
			}
			res, err = datastore.Retire(ctx, db.Store, datastore.RetireOptions{Tables: []string{"order_lines"}, Mode: datastore.RetireDrop})
			if err != nil || !reflect.DeepEqual(res.Done, map[string]string{"order_lines": ""}) {
				t.Fatalf("drop: %+v, %v", res, err)
			}
			if got, want := tableNames(t, db.Store), []string{"orders", "users"}; !reflect.DeepEqual(got, want) {
				t.Fatalf("tables %v, want %v", got, want)
			}
		})
	}
}

func TestRetireRefusesBadInput(t *testing.T) {
	ctx := context.Background()
	db := dbtest.New(t, datastore.SQLite)
	dbtest.Exec(t, db.Store, "CREATE TABLE orders (id INTEGER PRIMARY KEY)", "CREATE TABLE orders_old (id INTEGER PRIMARY KEY)")
	cases := []struct {
		name string
		opts datastore.RetireOptions
		want error
	}{
		{"nothing matches", datastore.RetireOptions{Tables: []string{"invoices"}}, datastore.ErrUnknownTable},
		{"new name taken", datastore.RetireOptions{Tables: []string{"orders"}, RenameTo: "{table}_old"}, datastore.ErrTableExists},
		{"pattern without {table}", datastore.RetireOptions{Tables: []string{"orders"}, RenameTo: "old"}, datastore.ErrBadPattern},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := datastore.Retire(ctx, db.Store, tc.opts); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if got := tableNames(t, db.Store); !reflect.DeepEqual(got, []string{"orders", "orders_old"}) {
				t.Fatalf("tables changed: %v", got)
			}
		})
	}
}
