package datastore_test

import (
	"context"
	"strings"
	"testing"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

// sampleSource creates the sample shop database on engine and returns
// its introspected tables, parents first.
func sampleSource(t *testing.T, engine datastore.Engine) (dbtest.DB, []*datastore.Table) {
	t.Helper()
	src := dbtest.New(t, engine)
	dbtest.Exec(t, src.Store, dbtest.SampleDDL(engine)...)
	dbtest.Exec(t, src.Store, dbtest.SampleData()...)
	var tables []*datastore.Table
	for _, n := range dbtest.SampleTables {
		tb, err := src.Store.Introspect(context.Background(), n)
		if err != nil {
			t.Fatal(err)
		}
		tables = append(tables, tb)
	}
	return src, tables
}

// copyAll copies every row of the tables (no foreign keys on the way).
func copyAll(t *testing.T, from, to *datastore.Store, tables []*datastore.Table) {
	t.Helper()
	for _, tb := range tables {
		_, rows := dbtest.ReadAll(t, from, tb.Name)
		dst, err := to.Introspect(context.Background(), tb.Name)
		if err != nil {
			t.Fatal(err)
		}
		if err := to.WriteBatch(context.Background(), dst, rows); err != nil {
			t.Fatalf("copy %s: %v", tb.Name, err)
		}
	}
}

// TestForeignKeysAreIntrospectedOnEveryEngine reads a self-reference, a
// composite key and ON DELETE / ON UPDATE actions from each engine.
func TestForeignKeysAreIntrospectedOnEveryEngine(t *testing.T) {
	for _, engine := range []datastore.Engine{datastore.Postgres, datastore.MySQL} {
		t.Run(string(engine), func(t *testing.T) {
			_, tables := sampleSource(t, engine)
			if got, want := dbtest.DescribeForeignKeys(tables...), dbtest.SampleForeignKeys(engine); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("foreign keys:\n got %q\nwant %q", got, want)
			}
		})
	}
	t.Run("sqlite", func(t *testing.T) {
		db := dbtest.New(t, datastore.SQLite)
		dbtest.Exec(t, db.Store,
			`CREATE TABLE p (a TEXT, b INTEGER, PRIMARY KEY (a, b))`,
			`CREATE TABLE c (id INTEGER PRIMARY KEY, up INTEGER REFERENCES c ON DELETE SET NULL,
				a TEXT, b INTEGER, FOREIGN KEY (a, b) REFERENCES p (a, b) ON UPDATE CASCADE)`)
		c, err := db.Store.Introspect(context.Background(), "c")
		if err != nil {
			t.Fatal(err)
		}
		want := []string{
			"c(a, b) → p(a, b) ON DELETE NO ACTION ON UPDATE CASCADE",
			"c(up) → c(id) ON DELETE SET NULL ON UPDATE NO ACTION", // no columns named: the parent's key
		}
		if got := dbtest.DescribeForeignKeys(c); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("foreign keys:\n got %q\nwant %q", got, want)
		}
	})
}

// TestForeignKeysAfterTheCopy provisions the sample on each target
// engine, copies it, creates the foreign keys (twice: a retried activity
// finds them there), reports an orphan row instead of failing, and drops
// everything on rollback.
func TestForeignKeysAfterTheCopy(t *testing.T) {
	for _, to := range dbtest.Engines {
		t.Run("postgres to "+string(to), func(t *testing.T) {
			ctx := context.Background()
			src, tables := sampleSource(t, datastore.Postgres)
			// An orphan, as a source with a NOT VALID constraint may hold.
			dbtest.Exec(t, src.Store, "ALTER TABLE orders DROP CONSTRAINT orders_customer_id_fkey",
				"INSERT INTO orders VALUES (9999, 777, 1.00, '2024-01-01 00:00:00')",
				"ALTER TABLE orders ADD CONSTRAINT orders_customer_id_fkey FOREIGN KEY (customer_id) REFERENCES customers (id) ON DELETE CASCADE NOT VALID")
			dst := dbtest.New(t, to).Store
			res, err := datastore.Provision(ctx, dst, tables, datastore.ProvisionOptions{Owner: "m1"})
			if err != nil {
				t.Fatal(err)
			}
			if to == datastore.SQLite {
				if len(res.ForeignKeys.Carried) != 4 {
					t.Fatalf("SQLite declares the 4 foreign keys in CREATE TABLE: %+v", res.ForeignKeys)
				}
			} else if res.ForeignKeysLater != 4 || len(res.ForeignKeys.Carried) != 0 {
				t.Fatalf("provision leaves the 4 foreign keys for after the copy: %+v", res)
			}
			copyAll(t, src.Store, dst, tables)
			for attempt := 1; attempt <= 2; attempt++ {
				fks, err := datastore.CreateForeignKeys(ctx, dst, tables)
				if err != nil {
					t.Fatalf("attempt %d: %v", attempt, err)
				}
				sum := fks.Summary()
				if len(fks.Carried) != 3 || !strings.Contains(sum, "orders_customer_id_fkey") {
					t.Fatalf("attempt %d: want 3 carried and orders_customer_id_fkey reported: %s", attempt, sum)
				}
				if to == datastore.SQLite && (len(fks.Violated) != 1 || !strings.Contains(fks.Violated[0], "1 rows of orders")) {
					t.Fatalf("attempt %d: SQLite reports the orphan from foreign_key_check: %s", attempt, sum)
				}
				if to != datastore.SQLite && (len(fks.NotCarried) != 1 || !strings.Contains(fks.NotCarried[0], "violate") && !strings.Contains(fks.NotCarried[0], "refused")) {
					t.Fatalf("attempt %d: the orphan keeps the constraint off, and says why: %s", attempt, sum)
				}
			}
			orders, err := dst.Introspect(ctx, "orders")
			if err != nil {
				t.Fatal(err)
			}
			if to != datastore.SQLite && len(orders.ForeignKeys) != 0 {
				t.Fatalf("a constraint the rows violate is not left behind: %+v", orders.ForeignKeys)
			}
			dropped, err := datastore.DropProvisioned(ctx, dst, "m1")
			if err != nil || len(dropped) != 4 {
				t.Fatalf("rollback: dropped %v, %v", dropped, err)
			}
		})
	}
}

// TestRollbackDropsForeignKeysFirst: two tables that reference each other
// cannot be dropped one after the other while their constraints hold; the
// compensation drops the constraints first.
func TestRollbackDropsForeignKeysFirst(t *testing.T) {
	ctx := context.Background()
	src := dbtest.New(t, datastore.Postgres)
	dbtest.Exec(t, src.Store, "CREATE TABLE a (id integer PRIMARY KEY, b_id integer)",
		"CREATE TABLE b (id integer PRIMARY KEY, a_id integer REFERENCES a (id))",
		"ALTER TABLE a ADD CONSTRAINT a_b_fkey FOREIGN KEY (b_id) REFERENCES b (id)")
	var tables []*datastore.Table
	for _, n := range []string{"a", "b"} {
		tb, err := src.Store.Introspect(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		tables = append(tables, tb)
	}
	for _, to := range []datastore.Engine{datastore.Postgres, datastore.MySQL} {
		t.Run(string(to), func(t *testing.T) {
			dst := dbtest.New(t, to).Store
			res, err := datastore.Provision(ctx, dst, tables, datastore.ProvisionOptions{Owner: "m1", ForeignKeysNow: true})
			if err != nil || len(res.ForeignKeys.Carried) != 2 {
				t.Fatalf("provision with foreign keys now: %+v, %v", res.ForeignKeys, err)
			}
			dropped, err := datastore.DropProvisioned(ctx, dst, "m1")
			if err != nil || len(dropped) != 2 {
				t.Fatalf("rollback of a cycle: dropped %v, %v", dropped, err)
			}
		})
	}
}

// TestMySQLForeignKeysAreAddedInPlace: on MySQL/MariaDB a foreign key is
// added without rebuilding its table (with foreign_key_checks on, InnoDB
// copies the whole table under a write lock: 22 s for a million rows
// here), and the rows already there are still checked: a row whose
// parent is missing keeps the constraint off, and later writes of any
// session are refused by the constraints that were added.
func TestMySQLForeignKeysAreAddedInPlace(t *testing.T) {
	ctx := context.Background()
	src, tables := sampleSource(t, datastore.Postgres)
	dst := dbtest.New(t, datastore.MySQL).Store
	if _, err := datastore.Provision(ctx, dst, tables, datastore.ProvisionOptions{Owner: "m1"}); err != nil {
		t.Fatal(err)
	}
	copyAll(t, src.Store, dst, tables)
	// An orphan in one child table only (its constraint must stay off).
	dbtest.Exec(t, dst, "INSERT INTO orders VALUES (9999, 777, 1.00, '2024-01-01 00:00:00')")
	tableIDs := func() map[string]int64 {
		rows, err := dst.DB.QueryContext(ctx, `SELECT SUBSTRING_INDEX(NAME, '/', -1), TABLE_ID FROM information_schema.INNODB_SYS_TABLES
			WHERE NAME LIKE CONCAT(DATABASE(), '/%')`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		ids := map[string]int64{}
		for rows.Next() {
			var n string
			var id int64
			if err := rows.Scan(&n, &id); err != nil {
				t.Fatal(err)
			}
			ids[n] = id
		}
		return ids
	}
	before := tableIDs()
	fks, err := datastore.CreateForeignKeys(ctx, dst, tables)
	if err != nil {
		t.Fatal(err)
	}
	if len(fks.Carried) != 3 || len(fks.NotCarried) != 1 || !strings.Contains(fks.NotCarried[0], "orders_customer_id_fkey: copied rows violate it: a row of orders references a missing row of customers") {
		t.Fatalf("want 3 carried and the orphan's constraint not carried, saying why: %s", fks.Summary())
	}
	after := tableIDs()
	if len(before) == 0 {
		t.Fatal("no InnoDB table ids read")
	}
	for n, id := range before {
		if after[n] != id {
			t.Errorf("table %s was rebuilt to add its foreign keys (InnoDB table id %d → %d)", n, id, after[n])
		}
	}
	orders, err := dst.Introspect(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	if len(orders.ForeignKeys) != 0 {
		t.Fatalf("the violated constraint is not left behind: %+v", orders.ForeignKeys)
	}
	// The checks are back on for every pooled session: a carried
	// constraint refuses an orphan.
	for i := 0; i < 4; i++ {
		if _, err := dst.DB.ExecContext(ctx, "INSERT INTO order_lines VALUES (424242, 1, 'no-such-sku', 1, 1)"); err == nil {
			t.Fatal("an order line for a missing order and product was accepted: a session with foreign_key_checks off went back to the pool")
		}
	}
}

// ON DELETE SET NULL on a NOT NULL column (PostgreSQL and SQLite accept it;
// such a delete then fails on the column) is refused by InnoDB: before, the
// whole constraint was left off a MySQL target with the server's message.
// It is carried as NO ACTION there, which refuses the same deletes, and
// said so; a nullable column keeps SET NULL.
func TestSetNullOnANotNullColumnIsCarriedAsNoActionOnMySQL(t *testing.T) {
	ctx := context.Background()
	src := dbtest.New(t, datastore.Postgres)
	dbtest.Exec(t, src.Store,
		"CREATE TABLE lang (id int PRIMARY KEY)",
		`CREATE TABLE film (id int PRIMARY KEY, lang_id int NOT NULL REFERENCES lang (id) ON DELETE SET NULL ON UPDATE CASCADE,
			orig_id int REFERENCES lang (id) ON DELETE SET NULL)`,
		"INSERT INTO lang VALUES (1), (2)", "INSERT INTO film VALUES (10, 1, 2)")
	var tables []*datastore.Table
	for _, n := range []string{"lang", "film"} {
		tb, err := src.Store.Introspect(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		tables = append(tables, tb)
	}
	dst := dbtest.New(t, datastore.MySQL)
	if _, err := datastore.Provision(ctx, dst.Store, tables, datastore.ProvisionOptions{Owner: "m1"}); err != nil {
		t.Fatal(err)
	}
	dbtest.Exec(t, dst.Store, "INSERT INTO lang VALUES (1), (2)", "INSERT INTO film VALUES (10, 1, 2)")
	fks, err := datastore.CreateForeignKeys(ctx, dst.Store, tables)
	if err != nil {
		t.Fatal(err)
	}
	if len(fks.NotCarried) != 0 || len(fks.Carried) != 2 {
		t.Fatalf("carried %v, not carried %v: want both carried", fks.Carried, fks.NotCarried)
	}
	if len(fks.Changed) != 1 || !strings.Contains(fks.Changed[0], "ON DELETE SET NULL on NOT NULL column lang_id is NO ACTION here") ||
		!strings.Contains(fks.Summary(), "1 with another action") {
		t.Errorf("changed %q, summary %q: want the NOT NULL one named", fks.Changed, fks.Summary())
	}
	rules := map[string]string{}
	rows, err := dst.Store.DB.QueryContext(ctx, `SELECT k.COLUMN_NAME, CONCAT(r.DELETE_RULE, '/', r.UPDATE_RULE)
		FROM information_schema.REFERENTIAL_CONSTRAINTS r JOIN information_schema.KEY_COLUMN_USAGE k
		ON k.CONSTRAINT_SCHEMA = r.CONSTRAINT_SCHEMA AND k.CONSTRAINT_NAME = r.CONSTRAINT_NAME
		WHERE r.CONSTRAINT_SCHEMA = DATABASE()`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var col, rule string
		if err := rows.Scan(&col, &rule); err != nil {
			t.Fatal(err)
		}
		rules[col] = rule
	}
	if rules["lang_id"] != "NO ACTION/CASCADE" && rules["lang_id"] != "RESTRICT/CASCADE" || rules["orig_id"] != "SET NULL/NO ACTION" && rules["orig_id"] != "SET NULL/RESTRICT" {
		t.Errorf("rules on the target %v: want lang_id NO ACTION on delete (CASCADE on update), orig_id SET NULL", rules)
	}
	if _, err := dst.Store.DB.ExecContext(ctx, "DELETE FROM lang WHERE id = 1"); err == nil {
		t.Error("deleting a language a film needs succeeded on the target; the source refuses it")
	}
}
