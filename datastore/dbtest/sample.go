package dbtest

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/godwit/godwit/datastore"
)

// SampleTables are the tables of the sample shop database, parents first.
var SampleTables = []string{"customers", "products", "orders", "order_lines"}

// SampleForeignKeys are the sample's foreign keys as "table(columns) →
// parent(columns) ON DELETE … ON UPDATE …" (DescribeForeignKeys), as
// seen on a database that has been through the engines: InnoDB's
// RESTRICT is NO ACTION, so a MySQL source or target has no RESTRICT.
func SampleForeignKeys(through ...datastore.Engine) []string {
	out := append([]string(nil), sampleForeignKeys...)
	for _, e := range through {
		if e == datastore.MySQL {
			for i := range out {
				out[i] = strings.ReplaceAll(out[i], "RESTRICT", "NO ACTION")
			}
		}
	}
	return out
}

// sampleForeignKeys: a self-reference, a composite one and cascading actions.
var sampleForeignKeys = []string{
	"customers(referred_by) → customers(id) ON DELETE SET NULL ON UPDATE NO ACTION",
	"order_lines(order_id) → orders(id) ON DELETE CASCADE ON UPDATE CASCADE",
	"order_lines(sku, variant) → products(sku, variant) ON DELETE RESTRICT ON UPDATE NO ACTION",
	"orders(customer_id) → customers(id) ON DELETE CASCADE ON UPDATE NO ACTION",
}

// DescribeForeignKeys renders tables' foreign keys as SampleForeignKeys
// does, sorted, names aside (they may differ between engines).
func DescribeForeignKeys(tables ...*datastore.Table) []string {
	var out []string
	norm := func(a string) string {
		if a == "" {
			return "NO ACTION"
		}
		return a
	}
	for _, t := range tables {
		for _, fk := range t.ForeignKeys {
			d := fmt.Sprintf("%s(%s) → %s(%s) ON DELETE %s ON UPDATE %s", t.Name, strings.Join(fk.Columns, ", "),
				fk.RefTable, strings.Join(fk.RefColumns, ", "), norm(fk.OnDelete), norm(fk.OnUpdate))
			if fk.Deferrable != "" {
				d += " DEFERRABLE INITIALLY " + fk.Deferrable
			}
			out = append(out, d)
		}
	}
	sortStrings(out)
	return out
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// SampleDDL creates the sample shop database in the engine's own DDL:
// customers (accented names, a self-reference), products (a composite
// key), orders (numeric(10,2) totals, timestamps with and without a
// fraction) and order_lines (a composite foreign key).
func SampleDDL(engine datastore.Engine) []string {
	switch engine {
	case datastore.Postgres:
		return []string{
			`CREATE TABLE customers (id integer PRIMARY KEY, name text NOT NULL, city varchar(60),
				referred_by integer REFERENCES customers (id) ON DELETE SET NULL)`,
			`CREATE TABLE products (sku varchar(20), variant integer, name text NOT NULL, price numeric(10,2) NOT NULL,
				PRIMARY KEY (sku, variant))`,
			`CREATE TABLE orders (id bigint PRIMARY KEY, customer_id integer NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
				total numeric(10,2) NOT NULL, placed_at timestamp NOT NULL)`,
			`CREATE TABLE order_lines (order_id bigint REFERENCES orders (id) ON DELETE CASCADE ON UPDATE CASCADE,
				line integer, sku varchar(20) NOT NULL, variant integer NOT NULL, qty integer NOT NULL,
				PRIMARY KEY (order_id, line),
				CONSTRAINT order_lines_product_fkey FOREIGN KEY (sku, variant) REFERENCES products (sku, variant) ON DELETE RESTRICT)`,
		}
	case datastore.MySQL:
		return []string{
			"CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(100) NOT NULL, city VARCHAR(60), referred_by INT, " +
				"CONSTRAINT customers_referred_by_fkey FOREIGN KEY (referred_by) REFERENCES customers (id) ON DELETE SET NULL) " +
				"DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
			"CREATE TABLE products (sku VARCHAR(20), variant INT, name VARCHAR(100) NOT NULL, price DECIMAL(10,2) NOT NULL, " +
				"PRIMARY KEY (sku, variant)) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
			"CREATE TABLE orders (id BIGINT PRIMARY KEY, customer_id INT NOT NULL, total DECIMAL(10,2) NOT NULL, placed_at DATETIME NOT NULL, " +
				"CONSTRAINT orders_customer_id_fkey FOREIGN KEY (customer_id) REFERENCES customers (id) ON DELETE CASCADE) " +
				"DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
			"CREATE TABLE order_lines (order_id BIGINT, line INT, sku VARCHAR(20) NOT NULL, variant INT NOT NULL, qty INT NOT NULL, " +
				"PRIMARY KEY (order_id, line), " +
				"CONSTRAINT order_lines_order_id_fkey FOREIGN KEY (order_id) REFERENCES orders (id) ON DELETE CASCADE ON UPDATE CASCADE, " +
				"CONSTRAINT order_lines_product_fkey FOREIGN KEY (sku, variant) REFERENCES products (sku, variant) ON DELETE RESTRICT) " +
				"DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
		}
	}
	return nil
}

// SampleData fills the sample (in any engine: plain INSERTs). Totals run
// from 0.50 to 998.73 so that comparing them as text gives other answers
// than as numbers; a third of the timestamps have a fraction.
func SampleData() []string {
	names := []string{"Zoë Ångström", "José Müller", "Ærøskøbing Ltd", "Renée O'Brien", "Łukasz Żółć", "Ana", "Björk", "Chloé"}
	var stmts []string
	var cust []string
	for i := 1; i <= 40; i++ {
		ref := "NULL"
		if i > 1 && i%3 != 0 {
			ref = fmt.Sprint((i*7)%(i-1) + 1)
		}
		cust = append(cust, fmt.Sprintf("(%d, '%s %d', 'Zürich', %s)", i, strings.ReplaceAll(names[i%len(names)], "'", "''"), i, ref))
	}
	stmts = append(stmts, "INSERT INTO customers (id, name, city, referred_by) VALUES "+strings.Join(cust, ", "))
	var prod []string
	for i := 1; i <= 10; i++ {
		for v := 1; v <= 2; v++ {
			prod = append(prod, fmt.Sprintf("('SKU-%02d', %d, 'Crème brûlée n°%d', %d.%02d)", i, v, i, i*3+v, (i*17+v)%100))
		}
	}
	stmts = append(stmts, "INSERT INTO products (sku, variant, name, price) VALUES "+strings.Join(prod, ", "))
	var ord, lines []string
	for i := 1; i <= 300; i++ {
		total := fmt.Sprintf("%d.%02d", (i*i*37)%999, (i*13)%100)
		if i%4 == 1 { // small totals: as text "9.05" > "10"
			total = fmt.Sprintf("%d.%02d", i%10, i%100)
		}
		if i%25 == 0 {
			total = "12.30" // the same total many times, for WHERE total = 12.30
		}
		if i == 7 {
			total = "0.50"
		}
		frac := ""
		if i%3 == 0 {
			frac = fmt.Sprintf(".%06d", i*1234%1000000)
		}
		at := fmt.Sprintf("2024-%02d-%02d %02d:%02d:00%s", 1+i%6, 1+i%28, i%24, (i*7)%60, frac)
		if i%50 == 0 {
			at = "2024-02-01 10:00:00" // a literal a user would type
		}
		ord = append(ord, fmt.Sprintf("(%d, %d, %s, '%s')", i, 1+i%40, total, at))
		for l := 1; l <= 1+i%3; l++ {
			lines = append(lines, fmt.Sprintf("(%d, %d, 'SKU-%02d', %d, %d)", i, l, 1+(i+l)%10, 1+l%2, l*2))
		}
	}
	stmts = append(stmts, "INSERT INTO orders (id, customer_id, total, placed_at) VALUES "+strings.Join(ord, ", "))
	stmts = append(stmts, "INSERT INTO order_lines (order_id, line, sku, variant, qty) VALUES "+strings.Join(lines, ", "))
	return stmts
}

// SampleQueries are the queries whose answers must be the same on a
// source and on its copy (docs/data-plane.md, SQLite types): comparisons
// with literals, MIN, MAX, ORDER BY, COUNT and SUM on a decimal and a
// timestamp column. Sums are rounded to the column's scale: SQLite adds
// NUMERIC(p,s) values as float64.
var SampleQueries = []string{
	"SELECT COUNT(*) FROM orders WHERE total > 10",
	"SELECT COUNT(*) FROM orders WHERE total = 12.30",
	"SELECT COUNT(*) FROM orders WHERE total < 100.5",
	"SELECT MIN(total), MAX(total) FROM orders",
	"SELECT ROUND(SUM(total), 2) FROM orders",
	"SELECT id FROM orders ORDER BY total, id",
	"SELECT COUNT(*) FROM orders WHERE placed_at > '2024-03-01 00:00:00'",
	"SELECT COUNT(*) FROM orders WHERE placed_at = '2024-02-01 10:00:00'",
	"SELECT MIN(placed_at), MAX(placed_at) FROM orders",
	"SELECT id FROM orders ORDER BY placed_at, id",
	"SELECT COUNT(*) FROM orders",
	"SELECT MIN(price), MAX(price), COUNT(*) FROM products WHERE price >= 9.5",
	"SELECT name FROM customers WHERE name LIKE 'Zoë%' ORDER BY id",
}

// Answers runs each query and renders its rows engine-neutrally: numbers
// without trailing fractional zeros (12.30 and 12.3 are one answer),
// timestamps as 2006-01-02 15:04:05 with a fraction only if not zero.
func Answers(t testing.TB, s *datastore.Store, queries []string) []string {
	t.Helper()
	var out []string
	for _, q := range queries {
		rows, err := s.DB.Query(q)
		if err != nil {
			t.Fatalf("%s: %s: %v", s.Engine, q, err)
		}
		cols, _ := rows.Columns()
		var lines []string
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatalf("%s: %s: %v", s.Engine, q, err)
			}
			cells := make([]string, len(vals))
			for i, v := range vals {
				cells[i] = neutral(v)
			}
			lines = append(lines, strings.Join(cells, " | "))
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%s: %s: %v", s.Engine, q, err)
		}
		rows.Close()
		out = append(out, q+" → "+strings.Join(lines, ", "))
	}
	return out
}

func neutral(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case time.Time:
		return x.Format("2006-01-02 15:04:05.999999")
	case []byte:
		return neutral(string(x))
	case float64:
		return neutral(strconv.FormatFloat(x, 'f', -1, 64))
	case string:
		if r, ok := new(big.Rat).SetString(x); ok {
			s := r.FloatString(10)
			return strings.TrimRight(strings.TrimRight(s, "0"), ".")
		}
		if tm, err := time.Parse("2006-01-02 15:04:05.999999999", x); err == nil {
			return neutral(tm)
		}
		return x
	}
	return fmt.Sprint(v)
}
