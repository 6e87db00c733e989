package datastore_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

func TestParseDDL(t *testing.T) {
	script := `-- the shop's tables; a ';' in a comment
CREATE TABLE customers (id integer PRIMARY KEY, note text DEFAULT 'a; b');
/* orders
   come next; */
create table "Orders" (id bigint primary key);
CREATE UNIQUE INDEX IF NOT EXISTS customers_note ON customers (note);
ALTER TABLE customers ADD COLUMN body text DEFAULT $$x;y$$;
CREATE INDEX ON "Orders" (id)
`
	got, err := datastore.ParseDDL(datastore.Postgres, script)
	if err != nil {
		t.Fatal(err)
	}
	type brief struct {
		Line  int
		Kind  datastore.StatementKind
		Table string
	}
	var b []brief
	for _, s := range got {
		b = append(b, brief{s.Line, s.Kind, s.Table})
	}
	want := []brief{{2, datastore.CreateTable, "customers"}, {5, datastore.CreateTable, "Orders"},
		{6, datastore.CreateIndex, "customers"}, {7, datastore.AlterTable, "customers"}, {8, datastore.CreateIndex, "Orders"}}
	if !reflect.DeepEqual(b, want) {
		t.Errorf("statements = %+v\nwant %+v", b, want)
	}
	if !strings.HasSuffix(got[3].SQL, "$$x;y$$") {
		t.Errorf("a dollar-quoted ';' split the statement: %q", got[3].SQL)
	}

	refused := []struct{ name, script, want string }{
		{"drop", "CREATE TABLE a (id int PRIMARY KEY);\nDROP TABLE b", "statement 2 (line 2): is not a CREATE TABLE, CREATE INDEX or ALTER TABLE statement: only CREATE TABLE, CREATE INDEX and ALTER TABLE"},
		{"insert", "INSERT INTO a VALUES (1)", "statement 1 (line 1): is not a CREATE TABLE"},
		{"view", "CREATE VIEW v AS SELECT 1", "statement 1 (line 1): is not a CREATE TABLE"},
		// A file that is not DDL (a password file) is never quoted.
		{"not sql at all", "root:hunter2-pw:0:0:root:/root:/bin/bash\n", "statement 1 (line 1): is not a CREATE TABLE"},
		{"temporary table", "CREATE TEMPORARY TABLE a (id int)", "a temporary table vanishes"},
		{"schema-qualified", "CREATE TABLE public.a (id int)", `"public" is qualified with a schema`},
		{"concurrent index", "CREATE INDEX CONCURRENTLY i ON a (id)", "CONCURRENTLY cannot run inside the transaction"},
		{"empty", "-- nothing\n", "no statement in it"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			_, err := datastore.ParseDDL(datastore.Postgres, tt.script)
			if !errors.Is(err, datastore.ErrBadDDL) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrBadDDL saying %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "root:") {
				t.Fatalf("err = %v quotes the file", err)
			}
		})
	}
}

// shopDDL is the source tables, on SQLite.
var shopDDL = []string{
	"CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
	"CREATE TABLE orders (id INTEGER NOT NULL, line INTEGER NOT NULL, customer_id INTEGER, total DECIMAL(10,2), PRIMARY KEY (id, line))",
	"INSERT INTO customers VALUES (1, 'Ann'), (2, 'Bő')",
	"INSERT INTO orders VALUES (1, 1, 1, 9.99), (1, 2, 1, 0.01), (2, 1, 2, NULL)",
}

// scripts are target DDL scripts per engine: good creates both tables
// (its own types, an extra nullable column, an index); failing fails at
// its third statement of four, after creating both tables.
var scripts = map[datastore.Engine]struct{ good, failing string }{
	datastore.Postgres: {
		good: `CREATE TABLE customers (id bigint PRIMARY KEY, name varchar(100) NOT NULL, tier text);
CREATE TABLE orders (id bigint, line integer, customer_id bigint REFERENCES customers (id), total numeric(12,2), PRIMARY KEY (id, line));
CREATE INDEX orders_by_customer ON orders (customer_id);`,
		failing: `CREATE TABLE customers (id bigint PRIMARY KEY, name text NOT NULL);
CREATE TABLE orders (id bigint, line integer, customer_id bigint, total numeric(12,2), PRIMARY KEY (id, line));
CREATE INDEX orders_by_nothing ON orders (no_such_column);
CREATE INDEX orders_by_customer ON orders (customer_id);`,
	},
	datastore.MySQL: {
		good: "CREATE TABLE customers (id BIGINT PRIMARY KEY, name VARCHAR(100) NOT NULL, tier TEXT) COLLATE=utf8mb4_bin;\n" +
			"CREATE TABLE orders (id BIGINT, line INT, customer_id BIGINT, total DECIMAL(12,2), PRIMARY KEY (id, line)) COLLATE=utf8mb4_bin;\n" +
			"ALTER TABLE orders ADD INDEX orders_by_customer (customer_id);",
		failing: "CREATE TABLE customers (id BIGINT PRIMARY KEY, name TEXT NOT NULL);\n" +
			"CREATE TABLE orders (id BIGINT, line INT, customer_id BIGINT, total DECIMAL(12,2), PRIMARY KEY (id, line));\n" +
			"CREATE INDEX orders_by_nothing ON orders (no_such_column);\n" +
			"CREATE INDEX orders_by_customer ON orders (customer_id);",
	},
	datastore.SQLite: {
		good: `CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, tier TEXT);
CREATE TABLE orders (id INTEGER NOT NULL, line INTEGER NOT NULL, customer_id INTEGER, total DECIMAL_TEXT(12,2), PRIMARY KEY (id, line));
CREATE INDEX orders_by_customer ON orders (customer_id);`,
		failing: `CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE orders (id INTEGER NOT NULL, line INTEGER NOT NULL, customer_id INTEGER, total TEXT, PRIMARY KEY (id, line));
CREATE INDEX orders_by_nothing ON orders (no_such_column);
CREATE INDEX orders_by_customer ON orders (customer_id);`,
	},
}

func shop(t *testing.T) (*datastore.Store, []*datastore.Table) {
	t.Helper()
	src := dbtest.New(t, datastore.SQLite).Store
	dbtest.Exec(t, src, shopDDL...)
	var tables []*datastore.Table
	for _, n := range []string{"customers", "orders"} {
		tb, err := src.Introspect(context.Background(), n)
		if err != nil {
			t.Fatal(err)
		}
		tables = append(tables, tb)
	}
	return src, tables
}

func listTables(t *testing.T, s *datastore.Store) string {
	t.Helper()
	names, err := s.ListTables(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(names, ",")
}

// TestProvisionFromDDLCreatesRecordsAndDropsOnlyThat: a good script creates
// the tables, recorded (a retry finds them, the drop removes exactly
// them), and the rows copy into them.
func TestProvisionFromDDLCreatesRecordsAndDropsOnlyThat(t *testing.T) {
	for _, engine := range dbtest.Engines {
		t.Run(string(engine), func(t *testing.T) {
			ctx := context.Background()
			src, tables := shop(t)
			dst := dbtest.New(t, engine).Store
			dbtest.Exec(t, dst, "CREATE TABLE theirs (id INTEGER PRIMARY KEY)")
			opts := datastore.ProvisionOptions{Owner: "m1"}
			res, err := datastore.ProvisionFromDDL(ctx, dst, tables, scripts[engine].good, "shop.sql", opts)
			if err != nil || strings.Join(res.Created, ",") != "customers,orders" {
				t.Fatalf("provision = %+v, %v", res, err)
			}
			orders, err := dst.Introspect(ctx, "orders")
			if err != nil || len(orders.Indexes) != 1 {
				t.Fatalf("orders on the target: %+v, %v; want the script's index", orders, err)
			}
			for _, tb := range tables {
				rows, err := src.ReadBatch(ctx, tb, nil, 100, nil)
				if err != nil {
					t.Fatal(err)
				}
				view, err := mustIntrospect(t, dst, tb.Name).Project(tb.ColumnNames())
				if err != nil {
					t.Fatal(err)
				}
				if err := dst.WriteBatch(ctx, view, rows); err != nil {
					t.Fatalf("write into the script's %s: %v", tb.Name, err)
				}
				dbtest.AssertSameRows(t, src, dst, tb.Name)
			}
			res, err = datastore.ProvisionFromDDL(ctx, dst, tables, scripts[engine].good, "shop.sql", opts)
			if err != nil || len(res.Created) != 0 || strings.Join(res.Already, ",") != "customers,orders" {
				t.Fatalf("retry = %+v, %v; want both already there", res, err)
			}
			dropped, err := datastore.DropProvisioned(ctx, dst, "m1")
			if err != nil || strings.Join(dropped, ",") != "customers,orders" {
				t.Fatalf("drop = %v, %v", dropped, err)
			}
			if got := listTables(t, dst); got != "theirs" {
				t.Fatalf("tables left = %s, want theirs only", got)
			}
		})
	}
}

// TestProvisionFromDDLLeavesNothingHalfApplied: a script whose third
// statement fails leaves no table and no record, on every engine (one
// transaction on PostgreSQL and SQLite; dropped again on MySQL).
func TestProvisionFromDDLLeavesNothingHalfApplied(t *testing.T) {
	for _, engine := range dbtest.Engines {
		t.Run(string(engine), func(t *testing.T) {
			ctx := context.Background()
			_, tables := shop(t)
			dst := dbtest.New(t, engine).Store
			_, err := datastore.ProvisionFromDDL(ctx, dst, tables, scripts[engine].failing, "shop.sql", datastore.ProvisionOptions{Owner: "m1"})
			if err == nil || !strings.Contains(err.Error(), "provision from shop.sql: statement 3 of 4 (line 3) failed") {
				t.Fatalf("err = %v, want statement 3 of 4 named", err)
			}
			if !strings.Contains(err.Error(), "no_such_column") {
				t.Errorf("err = %v, want the database's reason", err)
			}
			if engine == datastore.MySQL && !strings.Contains(err.Error(), "the tables the statements before it created were dropped (customers, orders)") {
				t.Errorf("err = %v, want it to say what was dropped", err)
			}
			if got := listTables(t, dst); got != "" {
				t.Fatalf("tables left after the failed script: %s", got)
			}
			if d, err := datastore.DropProvisioned(ctx, dst, "m1"); err != nil || len(d) != 0 {
				t.Fatalf("records left after the failed script: %v, %v", d, err)
			}
		})
	}
}

// TestProvisionFromDDLRefusals: a script that creates a table not listed,
// misses a listed one, touches another table, or creates a table that
// does not fit the source is refused, with nothing left behind.
func TestProvisionFromDDLRefusals(t *testing.T) {
	both := func(customers, orders string) string {
		return fmt.Sprintf("CREATE TABLE customers (%s);\nCREATE TABLE orders (%s);", customers, orders)
	}
	okOrders := "id INTEGER NOT NULL, line INTEGER NOT NULL, customer_id INTEGER, total DECIMAL(12,2), PRIMARY KEY (id, line)"
	cases := []struct {
		name   string
		script string
		want   []string
		err    error
	}{
		{"a table not in tables", both("id INTEGER PRIMARY KEY, name TEXT NOT NULL", okOrders) + "\nCREATE TABLE audit (id INTEGER PRIMARY KEY);",
			[]string{"statement 3 (line 3) creates table audit, which is not in tables (customers, orders)"}, datastore.ErrBadDDL},
		{"a listed table not created", "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL);",
			[]string{"table orders is in tables but the script does not create it"}, datastore.ErrBadDDL},
		{"another table altered", both("id INTEGER PRIMARY KEY, name TEXT NOT NULL", okOrders) + "\nALTER TABLE theirs ADD COLUMN x INTEGER;",
			[]string{"statement 3 (line 3) is ALTER TABLE on theirs, which the script has not created before it"}, datastore.ErrBadDDL},
		{"a source column missing, another key, an unfillable column", both("id INTEGER PRIMARY KEY, full_name TEXT",
			"id INTEGER NOT NULL, line INTEGER NOT NULL, customer_id INTEGER, total DECIMAL(12,2), region TEXT NOT NULL, PRIMARY KEY (id)"),
			[]string{`table customers lacks the source's column "name" (it has id, full_name)`,
				"table orders has primary key (id) where the source has (id, line)",
				`has column "region" NOT NULL without a default`, "the tables it created were dropped"}, datastore.ErrShapeMismatch},
	}
	for _, engine := range dbtest.Engines {
		for _, tc := range cases {
			t.Run(string(engine)+"/"+tc.name, func(t *testing.T) {
				ctx := context.Background()
				_, tables := shop(t)
				dst := dbtest.New(t, engine).Store
				dbtest.Exec(t, dst, "CREATE TABLE theirs (id INTEGER PRIMARY KEY)")
				_, err := datastore.ProvisionFromDDL(ctx, dst, tables, tc.script, "shop.sql", datastore.ProvisionOptions{Owner: "m1"})
				if !errors.Is(err, tc.err) || !datastore.IsPermanent(err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				for _, w := range tc.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("err = %v\nwant it to say %q", err, w)
					}
				}
				if got := listTables(t, dst); got != "theirs" {
					t.Fatalf("tables left = %s, want theirs only", got)
				}
			})
		}
	}
}

// TestProvisionFromDDLRefusesATableInTheWay: a listed table that exists
// and is not this owner's is refused before any statement runs.
func TestProvisionFromDDLRefusesATableInTheWay(t *testing.T) {
	ctx := context.Background()
	_, tables := shop(t)
	dst := dbtest.New(t, datastore.Postgres).Store
	dbtest.Exec(t, dst, "CREATE TABLE orders (id integer PRIMARY KEY)")
	_, err := datastore.ProvisionFromDDL(ctx, dst, tables, scripts[datastore.Postgres].good, "shop.sql", datastore.ProvisionOptions{Owner: "m1"})
	if !errors.Is(err, datastore.ErrTableExists) || !strings.Contains(err.Error(), "provision orders") {
		t.Fatalf("err = %v, want ErrTableExists naming orders", err)
	}
	if got := listTables(t, dst); got != "orders" {
		t.Fatalf("tables = %s, want the pre-existing orders only", got)
	}
}

func mustIntrospect(t *testing.T, s *datastore.Store, name string) *datastore.Table {
	t.Helper()
	tb, err := s.Introspect(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return tb
}
