package cdc

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

// A target with the source's foreign keys (the copy carries them) takes a
// batch whatever the order the capture read its tables in: album sorts
// before artist, so without an order of its own the drain wrote a new
// album before its artist, was refused (SQLSTATE 23503), and every retry
// was refused the same way (found by a music-store trial, MariaDB →
// PostgreSQL through a mapping). Parents and children inserted together,
// deleted together, a child moved off a parent the batch deletes, and a
// child whose parent is beyond its table's share of the batch, and a child
// and its parent deleted while the drain reads all arrive.
func TestChangesApplyInAnOrderTheTargetsForeignKeysAccept(t *testing.T) {
	for _, pc := range []pair{pairs()[1], pairs()[2]} {
		t.Run(pc.name, func(t *testing.T) {
			src, dst := pc.open(t)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			tables := mirrorTables(t, ctx, src.Store, dst.Store, []string{"artist", "album"},
				[]string{"CREATE TABLE artist (id integer PRIMARY KEY, name varchar(40) NOT NULL)",
					"CREATE TABLE album (id integer PRIMARY KEY, artist_id integer NOT NULL REFERENCES artist (id), title varchar(40))"},
				[]string{"INSERT INTO artist VALUES (1, 'a1'), (2, 'a2'), (3, 'a3')",
					"INSERT INTO album VALUES (1, 1, 't1'), (2, 2, 't2'), (3, 3, 't3')"})
			if fks := tables[1].ForeignKeys; len(fks) != 1 {
				t.Fatalf("source album has foreign keys %+v, want 1", fks)
			}
			fk, err := datastore.CreateForeignKeys(ctx, dst.Store, tables)
			if err != nil || len(fk.Carried) != 1 {
				t.Fatalf("foreign keys on the target: %+v, err %v; want album's carried", fk, err)
			}
			o := runOpts(src, dst, captureName(t), pc.method)
			o.Tables = []string{"album", "artist"}
			if _, err := Setup(ctx, o.Options); err != nil {
				t.Fatalf("setup: %v", err)
			}
			t.Cleanup(func() { Teardown(context.Background(), o.Options) })
			dbtest.Exec(t, src.Store,
				// a parent and its child inserted together
				"INSERT INTO artist VALUES (10, 'a10')",
				"INSERT INTO album VALUES (10, 10, 't10')",
				// a child, then its parent, deleted
				"DELETE FROM album WHERE id = 1",
				"DELETE FROM artist WHERE id = 1",
				// a child moved to a new parent, the old one deleted
				"INSERT INTO artist VALUES (11, 'a11')",
				"UPDATE album SET artist_id = 11 WHERE id = 2",
				"DELETE FROM artist WHERE id = 2")
			o.Until = Drained(time.Now())
			if _, err := Run(ctx, o, Checkpoint{}, nil); err != nil {
				t.Fatalf("run: %v", err)
			}
			dbtest.AssertSameRows(t, src.Store, dst.Store, "artist")
			dbtest.AssertSameRows(t, src.Store, dst.Store, "album")

			// More new parents than their table's share of a batch (2 of
			// 4), then a child of the last: the batch holds the child and
			// not its parent, and is read again with more room.
			o.BatchChanges = 4
			dbtest.Exec(t, src.Store,
				"INSERT INTO artist VALUES (20, 'a20'), (21, 'a21'), (22, 'a22'), (23, 'a23'), (24, 'a24')",
				"INSERT INTO album VALUES (24, 24, 't24')")
			o.Until = Drained(time.Now())
			if _, err := Run(ctx, o, Checkpoint{}, nil); err != nil {
				t.Fatalf("run with a small batch: %v", err)
			}
			dbtest.AssertSameRows(t, src.Store, dst.Store, "artist")
			dbtest.AssertSameRows(t, src.Store, dst.Store, "album")

			// A child and its parent deleted between the reads of their
			// changelogs (album's, then artist's): the batch is one
			// snapshot, so it holds both deletes or neither.
			var once sync.Once
			afterTableRead = func(table string) {
				once.Do(func() {
					dbtest.Exec(t, src.Store, "DELETE FROM album WHERE id = 3", "DELETE FROM artist WHERE id = 3")
				})
			}
			t.Cleanup(func() { afterTableRead = nil })
			o.Until = Drained(time.Now().Add(time.Second))
			if _, err := Run(ctx, o, Checkpoint{}, nil); err != nil {
				t.Fatalf("run with deletes between two reads: %v", err)
			}
			dbtest.AssertSameRows(t, src.Store, dst.Store, "artist")
			dbtest.AssertSameRows(t, src.Store, dst.Store, "album")
		})
	}
}

// On a MySQL/MariaDB source a foreign key's action changes child rows
// without firing their triggers (InnoDB runs ON DELETE / ON UPDATE actions
// below the SQL layer). The parent's own capture triggers record the child
// rows an action touches (fkactions.go), so they reach a target that has
// the key with its action (the copy carries it) and one that has not
// (fanOut, ddl.fromFile): a parent's delete removes its CASCADE children,
// their children in turn, and a tree of one table three levels deep, and
// clears SET NULL references below them; a parent's key changed on the
// source keeps the children that followed it (ON UPDATE CASCADE) — before,
// the target's ON DELETE CASCADE removed them with the old key, and a
// target without the key kept every child the source had deleted.
func TestForeignKeyActionsOfAMariaDBSourceReachTheTarget(t *testing.T) {
	for _, carried := range []bool{true, false} {
		t.Run(fmt.Sprintf("foreign keys on the target %v", carried), func(t *testing.T) {
			src, dst := dbtest.New(t, datastore.MySQL), dbtest.New(t, datastore.Postgres)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			ddl := []string{
				"CREATE TABLE artist (id integer PRIMARY KEY, name varchar(40) NOT NULL)",
				"CREATE TABLE album (id integer PRIMARY KEY, artist_id integer NOT NULL REFERENCES artist (id) ON DELETE CASCADE ON UPDATE CASCADE, title varchar(40))",
				"CREATE TABLE track (id integer PRIMARY KEY, album_id integer REFERENCES album (id) ON DELETE SET NULL, name varchar(40))",
				// a child whose own key holds the reference
				"CREATE TABLE credit (artist_id integer NOT NULL REFERENCES artist (id) ON DELETE CASCADE ON UPDATE CASCADE, n integer NOT NULL, role varchar(20), PRIMARY KEY (artist_id, n))",
				"CREATE TABLE genre (id integer PRIMARY KEY, parent_id integer REFERENCES genre (id) ON DELETE CASCADE, name varchar(40))",
			}
			seedRows := []string{
				"INSERT INTO artist VALUES (1, 'a1'), (2, 'a2'), (3, 'a3')",
				"INSERT INTO album VALUES (1, 1, 't1'), (2, 1, 't2'), (3, 2, 't3'), (4, 3, 't4')",
				"INSERT INTO track VALUES (1, 1, 's1'), (2, 2, 's2'), (3, 3, 's3'), (4, NULL, 's4'), (5, 4, 's5')",
				"INSERT INTO credit VALUES (1, 1, 'vocals'), (3, 1, 'drums'), (3, 2, 'bass')",
				"INSERT INTO genre VALUES (1, NULL, 'rock'), (2, 1, 'metal'), (3, 2, 'doom'), (4, 3, 'funeral doom'), (5, NULL, 'jazz')",
			}
			names := []string{"artist", "album", "track", "credit", "genre"}
			tables := mirrorTables(t, ctx, src.Store, dst.Store, names, ddl, seedRows)
			if carried {
				fk, err := datastore.CreateForeignKeys(ctx, dst.Store, tables)
				if err != nil || len(fk.Carried) != 4 {
					t.Fatalf("foreign keys on the target: %+v, err %v; want 4 carried", fk, err)
				}
			}
			o := runOpts(src, dst, captureName(t), MethodTriggers)
			o.Tables = names
			if _, err := Setup(ctx, o.Options); err != nil {
				t.Fatalf("setup: %v", err)
			}
			t.Cleanup(func() { Teardown(context.Background(), o.Options) })
			dbtest.Exec(t, src.Store,
				// albums 1 and 2 and credit (1, 1) go with their artist;
				// tracks 1 and 2 lose their album
				"DELETE FROM artist WHERE id = 1",
				// artist 3's key changes: album 4 and credits (3, *) follow
				"UPDATE artist SET id = 30 WHERE id = 3",
				// a tree: metal, doom and funeral doom go with rock
				"DELETE FROM genre WHERE id = 1")
			o.Until = Drained(time.Now())
			if _, err := Run(ctx, o, Checkpoint{}, nil); err != nil {
				t.Fatalf("run: %v", err)
			}
			for _, tbl := range names {
				dbtest.AssertSameRows(t, src.Store, dst.Store, tbl)
			}
			// The drain confirmed every entry, the actions' own too.
			var n int
			for _, tbl := range names {
				var c int
				if err := src.Store.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+changelogName(o.Name, tbl)).Scan(&c); err != nil {
					t.Fatal(err)
				}
				n += c
			}
			if n != 0 {
				t.Fatalf("%d changelog entries left after the drain", n)
			}
		})
	}
}

// mirrorTables creates the tables of ddl on src with rows, provisions
// names (in that order) on dst and writes the same rows there: a target
// that holds what a copy would have put in it, without its foreign keys
// (datastore.CreateForeignKeys adds them). It returns the source tables.
func mirrorTables(t *testing.T, ctx context.Context, src, dst *datastore.Store, names, ddl, rows []string) []*datastore.Table {
	t.Helper()
	dbtest.Exec(t, src, append(append([]string(nil), ddl...), rows...)...)
	var tables []*datastore.Table
	for _, n := range names {
		tbl, err := src.Introspect(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		tables = append(tables, tbl)
	}
	if _, err := datastore.Provision(ctx, dst, tables, datastore.ProvisionOptions{Owner: "cdc-test"}); err != nil {
		t.Fatal(err)
	}
	dbtest.Exec(t, dst, rows...)
	return tables
}

// A parent's key change on a MariaDB source with ON UPDATE CASCADE moves
// its children (the parent's triggers record them, fkactions.go), so the
// batch holds the parent's old key (a delete), its new key (an upsert)
// and the children's upserts. The parent's deletes waited for every
// upsert (a child may be moved off a parent the batch deletes), so its new
// row was written while the old one still held its unique values: Sakila's
// rental (UNIQUE (rental_date, inventory_id, customer_id)) and store
// (UNIQUE (manager_staff_id)) stopped the replication for good on a
// duplicate key. Where every key from the children to the parent sets
// NULL on delete (payment.rental_id), the target accepts the parent's
// deletes first: the children it nulls get their new parent from their
// upserts. A SQLite target enforces no foreign key on Godwit's
// connections, so its deletes always go first.
func TestAKeyChangeOfAParentWithAUniqueIndexReachesTheTarget(t *testing.T) {
	for _, tc := range []struct {
		target   datastore.Engine
		onDelete string
	}{
		{datastore.Postgres, "SET NULL"},
		{datastore.SQLite, "SET NULL"},
		{datastore.SQLite, "RESTRICT"},
	} {
		t.Run(string(tc.target)+" "+tc.onDelete, func(t *testing.T) {
			src, dst := dbtest.New(t, datastore.MySQL), dbtest.New(t, tc.target)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			ddl := []string{
				"CREATE TABLE rental (id integer PRIMARY KEY, day date NOT NULL, item integer NOT NULL, UNIQUE KEY rental_day_item (day, item))",
				"CREATE TABLE payment (id integer PRIMARY KEY, rental_id integer REFERENCES rental (id) ON DELETE " + tc.onDelete + " ON UPDATE CASCADE, amount decimal(5,2) NOT NULL)",
			}
			seedRows := []string{
				"INSERT INTO rental VALUES (1, '2005-05-24', 1), (2, '2005-05-24', 2), (3, '2005-05-25', 1), (4, '2005-05-26', 1)",
				"INSERT INTO payment VALUES (1, 4, 2.99), (2, 2, 0.99), (3, 2, 4.99), (4, NULL, 1.00)",
			}
			names := []string{"rental", "payment"}
			tables := mirrorTables(t, ctx, src.Store, dst.Store, names, ddl, seedRows)
			if _, err := datastore.CreateForeignKeys(ctx, dst.Store, tables); err != nil {
				t.Fatal(err)
			}
			dbtest.Exec(t, dst.Store, "CREATE UNIQUE INDEX rental_day_item_on_target ON rental (day, item)")
			o := runOpts(src, dst, captureName(t), MethodTriggers)
			o.Tables = names
			if _, err := Setup(ctx, o.Options); err != nil {
				t.Fatalf("setup: %v", err)
			}
			t.Cleanup(func() { Teardown(context.Background(), o.Options) })
			stmts := []string{
				"UPDATE rental SET id = 90000 WHERE id = 2", // payments 2 and 3 follow
				"INSERT INTO payment VALUES (5, 90000, 3.99)",
			}
			if tc.onDelete == "SET NULL" {
				stmts = append(stmts, "DELETE FROM rental WHERE id = 4") // payment 1 loses its rental
			}
			dbtest.Exec(t, src.Store, stmts...)
			o.Until = Drained(time.Now())
			if _, err := Run(ctx, o, Checkpoint{}, nil); err != nil {
				t.Fatalf("run: %v", err)
			}
			for _, tbl := range names {
				dbtest.AssertSameRows(t, src.Store, dst.Store, tbl)
			}
		})
	}
}

// A parent's key change whose ON UPDATE CASCADE goes on through a child's
// key into a grandchild's (an order's lines keyed by (order, n), their
// allocations keyed by (order, n, m)). InnoDB changes the grandchildren
// below the SQL layer too. Before, only the first children were recorded:
// a target with the keys refused the old child's delete while its
// grandchildren still referenced it (NO ACTION: the replication stopped
// for good on SQLSTATE 23503) or deleted them with it (CASCADE: rows lost
// without an error).
func TestAKeyChangeCascadingThroughAChildsKeyReachesTheTarget(t *testing.T) {
	for _, onDelete := range []string{"NO ACTION", "CASCADE"} {
		t.Run(onDelete, func(t *testing.T) {
			src, dst := dbtest.New(t, datastore.MySQL), dbtest.New(t, datastore.Postgres)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			ddl := []string{
				"CREATE TABLE orders (id integer PRIMARY KEY, v varchar(10))",
				"CREATE TABLE line (order_id integer NOT NULL, n integer NOT NULL, PRIMARY KEY (order_id, n), FOREIGN KEY (order_id) REFERENCES orders (id) ON UPDATE CASCADE ON DELETE " + onDelete + ")",
				"CREATE TABLE alloc (order_id integer NOT NULL, n integer NOT NULL, m integer NOT NULL, PRIMARY KEY (order_id, n, m), FOREIGN KEY (order_id, n) REFERENCES line (order_id, n) ON UPDATE CASCADE ON DELETE " + onDelete + ")",
				"CREATE TABLE pick (order_id integer NOT NULL, n integer NOT NULL, m integer NOT NULL, k integer NOT NULL, PRIMARY KEY (order_id, n, m, k), FOREIGN KEY (order_id, n, m) REFERENCES alloc (order_id, n, m) ON UPDATE CASCADE ON DELETE " + onDelete + ")",
			}
			seedRows := []string{
				"INSERT INTO orders VALUES (1, 'a'), (2, 'b')",
				"INSERT INTO line VALUES (1, 1), (1, 2), (2, 1)",
				"INSERT INTO alloc VALUES (1, 1, 1), (1, 1, 2), (1, 2, 1), (2, 1, 1)",
				"INSERT INTO pick VALUES (1, 1, 1, 1), (1, 2, 1, 1), (2, 1, 1, 1)",
			}
			names := []string{"orders", "line", "alloc", "pick"}
			tables := mirrorTables(t, ctx, src.Store, dst.Store, names, ddl, seedRows)
			if fk, err := datastore.CreateForeignKeys(ctx, dst.Store, tables); err != nil || len(fk.Carried) != 3 {
				t.Fatalf("foreign keys on the target: %+v, err %v; want 3 carried", fk, err)
			}
			o := runOpts(src, dst, captureName(t), MethodTriggers)
			o.Tables = names
			if _, err := Setup(ctx, o.Options); err != nil {
				t.Fatalf("setup: %v", err)
			}
			t.Cleanup(func() { Teardown(context.Background(), o.Options) })
			dbtest.Exec(t, src.Store, "UPDATE orders SET id = 10 WHERE id = 1")
			o.Until = Drained(time.Now())
			if _, err := Run(ctx, o, Checkpoint{}, nil); err != nil {
				t.Fatalf("run: %v", err)
			}
			for _, tbl := range names {
				dbtest.AssertSameRows(t, src.Store, dst.Store, tbl)
			}
		})
	}
}

// A captured child of a parent that is not captured (a new-user trial
// carried Sakila's payment without rental, MariaDB → PostgreSQL) follows
// the parent's actions all the same: InnoDB moved payments to a rental's
// new key (ON UPDATE CASCADE) and nulled them on its delete (ON DELETE SET
// NULL) below the SQL layer, no trigger heard of it, and reconcile found
// payment.rental_id mismatched ("108098"≠"8098"). The parent gets the
// action triggers, no changelog, and teardown removes them.
func TestActionsOfAParentThatIsNotCapturedReachTheTarget(t *testing.T) {
	src, dst := dbtest.New(t, datastore.MySQL), dbtest.New(t, datastore.Postgres)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ddl := []string{
		"CREATE TABLE rental (id integer PRIMARY KEY, note varchar(20))",
		"CREATE TABLE payment (id integer PRIMARY KEY, rental_id integer REFERENCES rental (id) ON DELETE SET NULL ON UPDATE CASCADE, amount decimal(5,2))",
	}
	dbtest.Exec(t, src.Store, ddl...)
	dbtest.Exec(t, src.Store, "INSERT INTO rental VALUES (1, 'a'), (2, 'b'), (3, 'c')",
		"INSERT INTO payment VALUES (1, 1, 1.00), (2, 2, 2.00), (3, 3, 3.00), (4, 3, 4.00)")
	tbl, err := src.Store.Introspect(ctx, "payment")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := datastore.Provision(ctx, dst.Store, []*datastore.Table{tbl}, datastore.ProvisionOptions{Owner: "cdc-test"}); err != nil {
		t.Fatal(err)
	}
	dbtest.Exec(t, dst.Store, "INSERT INTO payment VALUES (1, 1, 1.00), (2, 2, 2.00), (3, 3, 3.00), (4, 3, 4.00)")
	o := runOpts(src, dst, captureName(t), MethodTriggers)
	o.Tables = []string{"payment"}
	if _, err := Setup(ctx, o.Options); err != nil {
		t.Fatalf("setup: %v", err)
	}
	t.Cleanup(func() { Teardown(context.Background(), o.Options) })
	dbtest.Exec(t, src.Store, "UPDATE rental SET id = 30 WHERE id = 3", "DELETE FROM rental WHERE id = 1")
	o.Until = Drained(time.Now())
	if _, err := Run(ctx, o, Checkpoint{}, nil); err != nil {
		t.Fatalf("run: %v", err)
	}
	dbtest.AssertSameRows(t, src.Store, dst.Store, "payment")
	if _, err := Teardown(ctx, o.Options); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := src.Store.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.TRIGGERS
		WHERE TRIGGER_SCHEMA = DATABASE() AND EVENT_OBJECT_TABLE = 'rental'`).Scan(&left); err != nil || left != 0 {
		t.Fatalf("%d triggers left on rental after teardown (%v)", left, err)
	}
}

// A delete the target's foreign keys refuse for good, because a table the
// capture does not carry references the row there, says what to repair:
// a new-user trial's reverse replication (actor deleted on new, legacy's
// film_actor still referencing it) stopped on a bare "Error 1451 (23000):
// Cannot delete or update a parent row" with no way forward named.
func TestARefusedDeleteNamesTheFix(t *testing.T) {
	src, dst := dbtest.New(t, datastore.Postgres), dbtest.New(t, datastore.MySQL)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dbtest.Exec(t, src.Store, "CREATE TABLE actor (id integer PRIMARY KEY, name varchar(20))", "INSERT INTO actor VALUES (5, 'a'), (6, 'b')")
	tbl, err := src.Store.Introspect(ctx, "actor")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := datastore.Provision(ctx, dst.Store, []*datastore.Table{tbl}, datastore.ProvisionOptions{Owner: "cdc-test"}); err != nil {
		t.Fatal(err)
	}
	dbtest.Exec(t, dst.Store, "INSERT INTO actor VALUES (5, 'a'), (6, 'b')",
		"CREATE TABLE film_actor (actor_id integer NOT NULL REFERENCES actor (id), film_id integer NOT NULL, PRIMARY KEY (actor_id, film_id))",
		"INSERT INTO film_actor VALUES (6, 1)")
	o := runOpts(src, dst, captureName(t), MethodTriggers)
	o.Tables = []string{"actor"}
	if _, err := Setup(ctx, o.Options); err != nil {
		t.Fatalf("setup: %v", err)
	}
	t.Cleanup(func() { Teardown(context.Background(), o.Options) })
	dbtest.Exec(t, src.Store, "DELETE FROM actor WHERE id = 6")
	o.Until = Drained(time.Now())
	_, err = Run(ctx, o, Checkpoint{}, nil)
	if err == nil || !datastore.IsForeignKeyViolation(err) || !strings.Contains(err.Error(), "by a table this capture does not carry") {
		t.Fatalf("run: %v; want the foreign key's refusal with what to repair", err)
	}
}
