package datastore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

func TestRoundTripKeepsEveryValue(t *testing.T) {
	for _, engine := range dbtest.Engines {
		t.Run(string(engine), func(t *testing.T) {
			ctx := context.Background()
			db := dbtest.New(t, engine)
			dbtest.Exec(t, db.Store, dbtest.KitchenDDL(engine, "kitchen")...)
			tbl, err := db.Store.Introspect(ctx, "kitchen")
			if err != nil {
				t.Fatal(err)
			}
			want := dbtest.KitchenRows(0, 50)
			if err := db.Store.WriteBatch(ctx, tbl, want); err != nil {
				t.Fatal(err)
			}
			// The same batch again: an upsert, not a second copy.
			if err := db.Store.WriteBatch(ctx, tbl, want); err != nil {
				t.Fatalf("second write of the same batch: %v", err)
			}
			_, got := dbtest.ReadAll(t, db.Store, "kitchen")
			if len(got) != len(want) {
				t.Fatalf("read %d rows, wrote %d", len(got), len(want))
			}
			for r := range want {
				for c := range want[r] {
					if !dbtest.SameValue(want[r][c], got[r][c]) {
						t.Fatalf("row %d column %s: wrote %#v, read %#v", r, tbl.Columns[c].Name, want[r][c], got[r][c])
					}
				}
			}
			n, err := db.Store.Count(ctx, "kitchen")
			if err != nil || n != 50 {
				t.Fatalf("count = %d, %v; want 50", n, err)
			}
		})
	}
}

func TestIntrospectReadsShape(t *testing.T) {
	for _, engine := range dbtest.Engines {
		t.Run(string(engine), func(t *testing.T) {
			db := dbtest.New(t, engine)
			dbtest.Exec(t, db.Store, dbtest.KitchenDDL(engine, "kitchen")...)
			tbl, err := db.Store.Introspect(context.Background(), "kitchen")
			if err != nil {
				t.Fatal(err)
			}
			wantKinds := map[string]datastore.Kind{
				"small": datastore.KindSmallInt, "price": datastore.KindDecimal, "big_num": datastore.KindDecimal,
				"ratio": datastore.KindDouble, "active": datastore.KindBool, "name": datastore.KindVarchar,
				"note": datastore.KindText, "data": datastore.KindBytes, "born": datastore.KindDate,
				"created": datastore.KindTimestamp, "doc": datastore.KindJSON,
			}
			for col, kind := range wantKinds {
				c := tbl.Column(col)
				if c == nil || c.Type.Kind != kind {
					t.Errorf("column %s: got %+v, want kind %s", col, c, kind)
				}
			}
			if p := tbl.Column("price").Type; p.Precision != 12 || p.Scale != 2 {
				t.Errorf("price type = %s, want decimal(12,2)", p)
			}
			if l := tbl.Column("name").Type.Length; l != 100 {
				t.Errorf("name length = %d, want 100", l)
			}
			if strings.Join(tbl.PrimaryKey, ",") != "id" {
				t.Errorf("primary key = %v, want [id]", tbl.PrimaryKey)
			}
			if tbl.Column("qty").Nullable || !tbl.Column("note").Nullable {
				t.Errorf("nullability: qty %v (want false), note %v (want true)", tbl.Column("qty").Nullable, tbl.Column("note").Nullable)
			}
			if d := tbl.Column("name").Default; d == nil || d.Kind != datastore.DefaultLiteral || d.Value != "anon" {
				t.Errorf("name default = %+v, want literal anon", d)
			}
			if d := tbl.Column("updated_at").Default; d == nil || d.Kind != datastore.DefaultNow {
				t.Errorf("updated_at default = %+v, want now", d)
			}
			idx := map[string]datastore.Index{}
			for _, i := range tbl.Indexes {
				idx[i.Name] = i
			}
			if u := idx["kitchen_name_id"]; !u.Unique || strings.Join(u.Columns, ",") != "name,id" {
				t.Errorf("unique index kitchen_name_id = %+v", u)
			}
			if u, ok := idx["kitchen_updated"]; !ok || u.Unique {
				t.Errorf("index kitchen_updated = %+v (present %v)", u, ok)
			}
		})
	}
}

func TestCompositeKeyPaginates(t *testing.T) {
	ddl := map[datastore.Engine]string{
		datastore.SQLite:   `CREATE TABLE order_lines (order_id INTEGER NOT NULL, line TEXT NOT NULL, qty INTEGER, PRIMARY KEY (order_id, line))`,
		datastore.Postgres: `CREATE TABLE order_lines (order_id integer NOT NULL, line varchar(20) NOT NULL, qty integer, PRIMARY KEY (order_id, line))`,
		datastore.MySQL:    "CREATE TABLE order_lines (order_id INT NOT NULL, line VARCHAR(20) NOT NULL, qty INT, PRIMARY KEY (order_id, line)) COLLATE=utf8mb4_bin",
	}
	for _, engine := range dbtest.Engines {
		t.Run(string(engine), func(t *testing.T) {
			ctx := context.Background()
			db := dbtest.New(t, engine)
			dbtest.Exec(t, db.Store, ddl[engine])
			tbl, err := db.Store.Introspect(ctx, "order_lines")
			if err != nil {
				t.Fatal(err)
			}
			var rows [][]any
			for o := 1; o <= 7; o++ {
				for _, l := range []string{"a", "B", "b", "c"} {
					rows = append(rows, []any{int64(o), l, int64(o * 10)})
				}
			}
			if err := db.Store.WriteBatch(ctx, tbl, rows); err != nil {
				t.Fatal(err)
			}
			// Pages of 3 must visit every row once, in key order.
			var seen []string
			var after []any
			for {
				page, err := db.Store.ReadBatch(ctx, tbl, after, 3, nil)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range page {
					seen = append(seen, fmt.Sprint(r[0], "/", r[1]))
				}
				if len(page) < 3 {
					break
				}
				last := page[len(page)-1]
				after = []any{last[0], last[1]}
			}
			// Every row exactly once ("B" and "b" are distinct keys everywhere).
			unique := map[string]bool{}
			for _, k := range seen {
				unique[k] = true
			}
			if len(seen) != len(rows) || len(unique) != len(rows) {
				t.Fatalf("pagination saw %d rows (%d distinct), want %d: %v", len(seen), len(unique), len(rows), seen)
			}
		})
	}
}

func TestMatchTables(t *testing.T) {
	names := []string{"customers", "orders_2023", "orders_2024", "orders_archive", "users"}
	tests := []struct {
		name     string
		patterns []string
		want     string
		wantErr  error
	}{
		{"glob with star", []string{"orders_*"}, "orders_2023,orders_2024,orders_archive", nil},
		{"glob with class", []string{"orders_202[34]"}, "orders_2023,orders_2024", nil},
		{"question mark", []string{"user?"}, "users", nil},
		{"negated class as documented", []string{"orders_[!0-9]*"}, "orders_archive", nil},
		{"negated class leaving one table out", []string{"[!o]*"}, "customers,users", nil},
		{"literal and glob without duplicates", []string{"users", "u*", "customers"}, "customers,users", nil},
		{"unknown literal table", []string{"userz"}, "", datastore.ErrUnknownTable},
		{"glob matching nothing", []string{"invoices_*"}, "", datastore.ErrUnknownTable},
		{"SQL LIKE percent", []string{"orders_%"}, "", datastore.ErrBadPattern},
		{"unbalanced bracket", []string{"orders_[12"}, "", datastore.ErrBadPattern},
		{"schema-qualified", []string{"public.orders"}, "", datastore.ErrBadPattern},
		{"empty pattern", []string{""}, "", datastore.ErrBadPattern},
		{"no patterns", nil, "", datastore.ErrBadPattern},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := datastore.MatchTables(names, tt.patterns)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if !datastore.IsPermanent(err) {
					t.Errorf("%v is not permanent", err)
				}
				return
			}
			if err != nil || strings.Join(got, ",") != tt.want {
				t.Fatalf("got %v, %v; want %s", got, err, tt.want)
			}
		})
	}
}

func TestResolveAndIntrospectUnknownTable(t *testing.T) {
	for _, engine := range dbtest.Engines {
		t.Run(string(engine), func(t *testing.T) {
			ctx := context.Background()
			db := dbtest.New(t, engine)
			dbtest.Exec(t, db.Store, dbtest.KitchenDDL(engine, "orders_1")...)
			dbtest.Exec(t, db.Store, dbtest.KitchenDDL(engine, "orders_2")...)
			got, err := db.Store.ResolveTables(ctx, []string{"orders_*"})
			if err != nil || strings.Join(got, ",") != "orders_1,orders_2" {
				t.Fatalf("resolve orders_* = %v, %v", got, err)
			}
			_, err = db.Store.Introspect(ctx, "missing")
			if !errors.Is(err, datastore.ErrUnknownTable) || !strings.Contains(err.Error(), "missing") {
				t.Fatalf("introspect missing: err = %v, want ErrUnknownTable naming it", err)
			}
			_, err = db.Store.ResolveTables(ctx, []string{"orders_%"})
			if !errors.Is(err, datastore.ErrBadPattern) {
				t.Fatalf("resolve orders_%%: err = %v, want ErrBadPattern", err)
			}
		})
	}
}

func TestOpenBadInput(t *testing.T) {
	tests := []struct {
		name    string
		engine  datastore.Engine
		dsn     string
		wantErr error
		secret  string
	}{
		{"unknown engine", "oracle", "x", datastore.ErrUnknownEngine, ""},
		{"bad mysql DSN", datastore.MySQL, "not a dsn", datastore.ErrBadDSN, ""},
		{"bad postgres DSN", datastore.Postgres, "postgres://u:s3cret@[::1", datastore.ErrBadDSN, "s3cret"},
		// An unencoded '@' then '/' in the password made the host "Owl" and the
		// database "77zq@127.0.0.1:5432/x": the connection error printed both.
		{"postgres password with an unencoded @ and /", datastore.Postgres, "postgres://u:Pg@Owl/77zq@127.0.0.1:5432/x", datastore.ErrBadDSN, "Owl"},
		{"postgres password with an unencoded ? and @", datastore.Postgres, "postgres://u:Pg@Owl?77zq@127.0.0.1:5432/x", datastore.ErrBadDSN, "Owl"},
		{"postgres password with an unencoded /", datastore.Postgres, "postgres://u:Pg/Owl77zq@127.0.0.1:5432/x", datastore.ErrBadDSN, "Owl"},
		{"wrong mysql password", datastore.MySQL, "root:wr0ngpass@tcp(127.0.0.1:3306)/", datastore.ErrAccessDenied, "wr0ngpass"},
		{"empty sqlite path", datastore.SQLite, "", datastore.ErrBadDSN, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := datastore.Open(context.Background(), tt.engine, tt.dsn)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.secret != "" && strings.Contains(err.Error(), tt.secret) {
				t.Fatalf("error echoes the password: %v", err)
			}
		})
	}
}

func TestEngineSaysWhetherItsDDLIsTransactional(t *testing.T) {
	for _, c := range []struct {
		engine datastore.Engine
		want   bool
	}{
		{datastore.Postgres, true},
		{datastore.SQLite, true},
		{datastore.MySQL, false}, // MySQL/MariaDB DDL commits at once
		{datastore.Engine("oracle"), false},
	} {
		if got := c.engine.TransactionalDDL(); got != c.want {
			t.Errorf("%s: TransactionalDDL() = %v, want %v", c.engine, got, c.want)
		}
	}
}

func TestLiteralSelectsExactlyTheName(t *testing.T) {
	names := []string{"a*b", "axb", "order items", "v1.2", "50%"}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			got, err := datastore.MatchTables(names, []string{datastore.Literal(name)})
			if err != nil || len(got) != 1 || got[0] != name {
				t.Fatalf("Literal(%q) = %q selects %v, %v; want only the table", name, datastore.Literal(name), got, err)
			}
		})
	}
	if err := datastore.ValidatePattern("order items"); !errors.Is(err, datastore.ErrBadPattern) {
		t.Errorf("an unescaped space is still refused (a typo such as \"orders, items\"): %v", err)
	}
	if err := datastore.ValidatePattern(`order\ items`); err != nil {
		t.Errorf("an escaped space names a table: %v", err)
	}
}
