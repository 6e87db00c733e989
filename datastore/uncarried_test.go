package datastore_test

import (
	"context"
	"strings"
	"testing"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

// Views and routines are not carried by provision; it names them (Sakila's
// actor_info view and film_in_stock procedure went without a word), but
// not Godwit's own objects nor PostgreSQL trigger functions, which go with
// the triggers named per table.
func TestViewsAndRoutinesAreNamedAsNotCarried(t *testing.T) {
	ctx := context.Background()
	ddl := map[datastore.Engine][]string{
		datastore.Postgres: {
			"CREATE TABLE actor (id int PRIMARY KEY, name text)",
			"CREATE VIEW actor_info AS SELECT id, name FROM actor",
			"CREATE FUNCTION inventory_in_stock(p int) RETURNS boolean LANGUAGE sql AS 'SELECT true'",
			"CREATE PROCEDURE film_in_stock(p int) LANGUAGE sql AS 'SELECT 1'",
			"CREATE FUNCTION last_updated() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$",
			"CREATE FUNCTION godwit_fn_m_actor() RETURNS int LANGUAGE sql AS 'SELECT 1'",
		},
		datastore.MySQL: {
			"CREATE TABLE actor (id INT PRIMARY KEY, name TEXT)",
			"CREATE VIEW actor_info AS SELECT id, name FROM actor",
			"CREATE FUNCTION inventory_in_stock(p INT) RETURNS BOOLEAN DETERMINISTIC RETURN TRUE",
			"CREATE PROCEDURE film_in_stock(p INT) SELECT 1",
			"CREATE FUNCTION godwit_fn_x() RETURNS INT DETERMINISTIC RETURN 1",
		},
		datastore.SQLite: {
			"CREATE TABLE actor (id INTEGER PRIMARY KEY, name TEXT)",
			"CREATE VIEW actor_info AS SELECT id, name FROM actor",
		},
	}
	want := map[datastore.Engine]string{
		datastore.Postgres: "view actor_info, function inventory_in_stock, procedure film_in_stock",
		datastore.MySQL:    "view actor_info, function inventory_in_stock, procedure film_in_stock",
		datastore.SQLite:   "view actor_info",
	}
	for _, engine := range dbtest.Engines {
		t.Run(string(engine), func(t *testing.T) {
			db := dbtest.New(t, engine)
			dbtest.Exec(t, db.Store, ddl[engine]...)
			objs, err := db.Store.UncarriedObjects(ctx)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			for _, o := range objs {
				got[o] = true
			}
			for _, w := range strings.Split(want[engine], ", ") {
				if !got[w] {
					t.Errorf("objects %q lack %q", objs, w)
				}
			}
			if len(objs) != len(strings.Split(want[engine], ", ")) {
				t.Errorf("objects %q, want exactly %s (no trigger function, nothing of Godwit's)", objs, want[engine])
			}
			note := datastore.UncarriedObjectsNote("legacy", objs)
			if !strings.HasPrefix(note, "store legacy: its views and routines are not carried") || !strings.Contains(note, "view actor_info") {
				t.Errorf("note %q", note)
			}
		})
	}
	if n := datastore.UncarriedObjectsNote("legacy", nil); n != "" {
		t.Errorf("a store without views or routines gets the note %q", n)
	}
	var many []string
	for i := 0; i < 15; i++ {
		many = append(many, "view v"+string(rune('a'+i)))
	}
	if n := datastore.UncarriedObjectsNote("legacy", many); !strings.HasSuffix(n, "view vl and 3 more") {
		t.Errorf("15 objects: %q, want the first 12 and \"and 3 more\"", n)
	}
}
