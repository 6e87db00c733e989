package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/migration"
)

// A mapped migration from PostgreSQL (snake_case) to MariaDB (PascalCase)
// on the dev server: validate, provision, copy and reconcile all through
// one mapping with a names rule, a rename, a drop, a computed column and a
// filter. The run completes and reconcile finds no difference.
func TestMappedMigrationCompletes(t *testing.T) {
	t.Parallel()
	src, dst := dbtest.New(t, datastore.Postgres), dbtest.New(t, datastore.MySQL)
	dbtest.Exec(t, src.Store,
		`CREATE TABLE customer_account (customer_account_id int PRIMARY KEY, full_name text NOT NULL, legacy_code varchar(8))`,
		`CREATE TABLE order_line (order_line_id bigint PRIMARY KEY,
			customer_account_id int NOT NULL REFERENCES customer_account (customer_account_id),
			unit_price numeric(10,2) NOT NULL, quantity int NOT NULL, legacy_note text)`,
		`CREATE INDEX order_line_customer ON order_line (customer_account_id)`,
		`INSERT INTO customer_account SELECT i, 'Customer ' || i, 'C' || i FROM generate_series(1, 50) i`,
		`INSERT INTO order_line SELECT i, i % 50 + 1, (i % 90) + (i % 100) / 100.0, i % 5, 'note ' || i FROM generate_series(1, 2000) i`)
	r := newDataRun(t, "it-mapped", src, dst, `  - phase: validate
    hook:
      run: {command: ["true"]}
  - phase: provision
    provision: {mapping: shop}
  - phase: copy
    copy: {mapping: shop, batchRows: 300}
  - phase: reconcile
    reconcile: {mapping: shop, threshold: 50}
mappings:
  shop:
    from: legacy
    to: new
    names: PascalCase
    tables:
      customer_account:
        drop: [legacy_code]
      order_line:
        to: SalesLine
        columns: {unit_price: Price}
        drop: [legacy_note]
        add:
          LineTotal: {expr: "unit_price * quantity", type: "decimal(12,2)"}
        where: "quantity > 0"
`)
	out, err := godwit(t, "validate", "-f", r.spec)
	require.NoError(t, err, out)
	r.start()
	final, err := r.result()
	require.NoError(t, err, "%+v", final)
	require.Equal(t, migration.StatusCompleted, final.Status)
	require.Contains(t, final.Phases[1].Summary, "created 2 tables in new: CustomerAccount, SalesLine")
	require.Equal(t, int64(50+1600), final.Phases[2].Records, "the filter leaves quantity 0 out")
	require.Contains(t, final.Phases[3].Summary, "0 missing_in_target, 0 extra_in_target, 0 mismatched")

	ctx := context.Background()
	require.Equal(t, []string{"CustomerAccount", "SalesLine"}, tablesOf(t, dst.Store))
	sl, err := dst.Store.Introspect(ctx, "SalesLine")
	require.NoError(t, err)
	require.Equal(t, []string{"OrderLineId", "CustomerAccountId", "Price", "Quantity", "LineTotal"}, sl.ColumnNames())
	require.Equal(t, []string{"OrderLineId"}, sl.PrimaryKey)
	require.Len(t, sl.ForeignKeys, 1)
	require.Equal(t, "CustomerAccount", sl.ForeignKeys[0].RefTable)
	var total string
	require.NoError(t, dst.Store.DB.QueryRowContext(ctx, "SELECT CAST(LineTotal AS CHAR) FROM SalesLine WHERE OrderLineId = 7").Scan(&total))
	require.Equal(t, "14.14", total, "7.07 × 2, computed by the source")

	// The same mapping in the CLI's own check.
	out, err = godwit(t, "reconcile", "-f", r.spec)
	require.NoError(t, err, out)
	require.True(t, strings.Contains(out, "order_line→SalesLine"), out)
	fmt.Fprintln(testWriter{t}, out)
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }
