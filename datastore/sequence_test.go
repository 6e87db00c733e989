package datastore_test

import (
	"context"
	"testing"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

// A key whose default is nextval of a sequence no column owns (Pagila's
// actor_actor_id_seq, made by CREATE SEQUENCE and named in the DEFAULT)
// has no pg_get_serial_sequence: SyncAutoIncrement moved nothing, and the
// first insert after rows written with their keys collided. The sequence
// is found from the default.
func TestSyncAutoIncrementMovesASequenceNamedByTheDefault(t *testing.T) {
	ctx := context.Background()
	s := dbtest.New(t, datastore.Postgres).Store
	dbtest.Exec(t, s, `CREATE SEQUENCE "Actor seq" START 1000`,
		`CREATE TABLE actor (actor_id integer DEFAULT nextval('"Actor seq"'::regclass) PRIMARY KEY, name text)`,
		`CREATE TABLE owned (id serial PRIMARY KEY, name text)`,
		`INSERT INTO actor VALUES (1000, 'a'), (1001, 'b'), (1500, 'written with its key')`,
		`INSERT INTO owned VALUES (1, 'a'), (7, 'written with its key')`)
	for _, c := range []struct {
		table string
		want  int
	}{{"actor", 1501}, {"owned", 8}} {
		tbl, err := s.Introspect(ctx, c.table)
		if err != nil {
			t.Fatal(err)
		}
		if err := datastore.SyncAutoIncrement(ctx, s, tbl); err != nil {
			t.Fatalf("%s: %v", c.table, err)
		}
		var id int
		if err := s.DB.QueryRowContext(ctx, `INSERT INTO `+c.table+` (name) VALUES ('next') RETURNING `+tbl.PrimaryKey[0]).Scan(&id); err != nil {
			t.Fatalf("%s: first insert after the sync: %v", c.table, err)
		}
		if id != c.want {
			t.Errorf("%s: new row got key %d, want %d", c.table, id, c.want)
		}
	}
}
