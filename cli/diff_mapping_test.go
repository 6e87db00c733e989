package cli

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

// shopSample builds a small shop in PostgreSQL in snake_case and loads the
// same rows, independently, into MariaDB in PascalCase; DSNs in MAP_A and
// MAP_B.
func shopSample(t *testing.T) (pg, my dbtest.DB) {
	t.Helper()
	pg, my = dbtest.New(t, datastore.Postgres), dbtest.New(t, datastore.MySQL)
	dbtest.Exec(t, pg.Store,
		`CREATE TABLE customer_account (customer_account_id int PRIMARY KEY, full_name text NOT NULL, created_on date, balance numeric(10,2))`,
		`CREATE TABLE order_line (order_line_id bigint PRIMARY KEY, customer_account_id int NOT NULL, unit_price numeric(10,2), quantity int, shipped boolean)`)
	dbtest.Exec(t, my.Store,
		"CREATE TABLE CustomerAccount (CustomerAccountId INT PRIMARY KEY, FullName VARCHAR(100) NOT NULL, CreatedOn DATE, Balance DECIMAL(10,2))",
		"CREATE TABLE OrderLine (OrderLineId BIGINT PRIMARY KEY, CustomerAccountId INT NOT NULL, UnitPrice DECIMAL(10,2), Quantity INT, Shipped TINYINT(1))")
	var customers, lines []string
	for i := 1; i <= 40; i++ {
		customers = append(customers, fmt.Sprintf("(%d, 'Customer %d', '2024-%02d-%02d', %d.%02d)", i, i, i%12+1, i%28+1, i*10, i%100))
	}
	for i := 1; i <= 300; i++ {
		lines = append(lines, fmt.Sprintf("(%d, %d, %d.%02d, %d, %s)", i, i%40+1, i%90, i%100, i%5+1, []string{"true", "false"}[i%2]))
	}
	dbtest.Exec(t, pg.Store, "INSERT INTO customer_account VALUES "+strings.Join(customers, ", "),
		"INSERT INTO order_line VALUES "+strings.Join(lines, ", "))
	dbtest.Exec(t, my.Store, "INSERT INTO CustomerAccount VALUES "+strings.Join(customers, ", "),
		"INSERT INTO OrderLine VALUES "+strings.Join(lines, ", "))
	t.Setenv("MAP_A", pg.DSN)
	t.Setenv("MAP_B", my.DSN)
	return pg, my
}

func TestDiffThroughANamesRule(t *testing.T) {
	_, my := shopSample(t)
	diff := func(table string, extra ...string) []string {
		return append([]string{"diff", "--from-engine", "postgres", "--from-dsn-env", "MAP_A", "--from-table", table,
			"--to-engine", "mysql", "--to-dsn-env", "MAP_B"}, extra...)
	}
	for _, table := range []string{"customer_account", "order_line"} {
		out, _, err := run(t, noDial(t), diff(table, "--names", "PascalCase")...)
		require.NoError(t, err, out)
		require.Contains(t, out, "0 missing_in_target, 0 extra_in_target, 0 mismatched", out)
	}

	// Without the rule the names do not meet.
	out, _, err := run(t, noDial(t), diff("order_line", "--to-table", "OrderLine")...)
	require.Error(t, err, out)

	dbtest.Exec(t, my.Store, "UPDATE OrderLine SET UnitPrice = UnitPrice + 1, Quantity = 0 WHERE OrderLineId = 42")
	out, _, err = run(t, noDial(t), diff("order_line", "--names", "PascalCase")...)
	require.Equal(t, 2, exitCode(err), out)
	require.Contains(t, out, "mismatched         key=42 columns=UnitPrice,Quantity")

	// A hand rename beats the rule; --to-table names the other table.
	dbtest.Exec(t, my.Store, "ALTER TABLE OrderLine RENAME TO SalesLine", "ALTER TABLE SalesLine CHANGE UnitPrice Price DECIMAL(10,2)")
	out, _, err = run(t, noDial(t), diff("order_line", "--names", "PascalCase", "--to-table", "SalesLine", "--map-column", "unit_price=Price")...)
	require.Equal(t, 2, exitCode(err), out)
	require.Contains(t, out, "mismatched         key=42 columns=Price,Quantity")

	// Mistakes are named.
	_, _, err = run(t, noDial(t), diff("order_line", "--names", "Pascal")...)
	require.ErrorContains(t, err, `names rule "Pascal" is not known`)
	_, _, err = run(t, noDial(t), diff("order_line", "--map-column", "unit_prise=Price", "--to-table", "SalesLine")...)
	require.ErrorContains(t, err, `column unit_prise is not in source table order_line (did you mean "unit_price"?)`)
	// A column the target names otherwise: named by its source name too,
	// with the target's columns left over and the flag that maps it.
	_, _, err = run(t, noDial(t), diff("order_line", "--names", "PascalCase", "--to-table", "SalesLine")...)
	require.ErrorContains(t, err, "column UnitPrice (source column unit_price) is not in MAP_B's SalesLine; columns of SalesLine nothing is mapped to: Price (")
	require.ErrorContains(t, err, "--map-column unit_price=COLUMN in godwit diff")
	_, _, err = run(t, noDial(t), diff("order_line", "--names", "PascalCase", "--to-table", "SalesLine", "--map-column", "unit_price=Prize")...)
	require.ErrorContains(t, err, `column Prize (source column unit_price) is not in MAP_B's SalesLine (did you mean "Price"?)`)
	_, _, err = run(t, noDial(t), diff("order_line", "--names", "PascalCase", "--to-table", "SalesLin", "--map-column", "unit_price=Price")...)
	require.ErrorContains(t, err, `MAP_B: introspect: no such table: "SalesLin" (did you mean "SalesLine"?) (it has CustomerAccount, SalesLine)`)
	_, _, err = run(t, noDial(t), diff("order_line", "--map-column", "unit_price")...)
	require.ErrorContains(t, err, "want SRC=DST")
	_, _, err = run(t, noDial(t), diff("order_line", "--names", "PascalCase", "--where", "quantity > 0")...)
	require.ErrorContains(t, err, "--where with --names or --map-column is not supported yet")
}

func TestReconcileCommandThroughASpecMapping(t *testing.T) {
	_, my := shopSample(t)
	spec := writeSpec(t, `name: rc-map
stores:
  legacy: {engine: postgres, dsn: {fromEnv: MAP_A}}
  new: {engine: mysql, dsn: {fromEnv: MAP_B}}
mappings:
  shop:
    from: legacy
    to: new
    names: PascalCase
    tables:
      customer_account: {}
      order_line: {}
phases:
  - phase: reconcile
    name: verify
    reconcile: {mapping: shop}
`)
	out, _, err := run(t, noDial(t), "reconcile", "-f", spec)
	require.NoError(t, err, out)
	require.Contains(t, out, "customer_account→CustomerAccount")
	require.Contains(t, out, "0 missing_in_target, 0 extra_in_target, 0 mismatched")
	dbtest.Exec(t, my.Store, "UPDATE CustomerAccount SET FullName = 'x' WHERE CustomerAccountId = 7")
	out, _, err = run(t, noDial(t), "reconcile", "-f", spec)
	require.Equal(t, 2, exitCode(err), out)
	require.Contains(t, out, "mismatched         key=7 columns=FullName")
}
