package integration

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/migration"
)

// bigMappedShop is mappedShop with 30,000 order lines, enough for key
// ranges of 10,000 (splitRows' least).
func bigMappedShop(t *testing.T) (src, dst dbtest.DB) {
	t.Helper()
	src, dst = mappedShop(t)
	dbtest.Exec(t, src.Store,
		`INSERT INTO order_line SELECT i, i % 50 + 1, (i % 90) + (i % 100) / 100.0, i % 5, 'note ' || i FROM generate_series(2001, 30000) i`)
	return src, dst
}

// A mapped copy from PostgreSQL to MariaDB split into key ranges, inside
// one activity (splitRows with concurrency) and as one activity per range
// (splitRows with fanOut): every range goes through the mapping (renames,
// drops, the computed column, the filter), the indexes are created once,
// and the mapped reconcile finds no difference.
func TestMappedCopySplitAndFannedOut(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ name, copy, units string }{
		{"split", "concurrency: 2", ""},
		{"fanned-out", "fanOut: 2", "4 of 4 units done, 0 running"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			src, dst := bigMappedShop(t)
			phases := `  - phase: provision
    provision: {mapping: shop, deferIndexes: true}
  - phase: copy
    copy: {mapping: shop, batchRows: 1000, splitRows: 10000, splitStreams: 8, createIndexes: true, ` + c.copy + `}
  - phase: reconcile
    reconcile: {mapping: shop, threshold: 50}
`
			r := newDataRun(t, "it-mapped-"+c.name, src, dst, phases+shopMapping)
			r.start()
			final, err := r.result()
			require.NoError(t, err, "%+v", final)
			require.Equal(t, migration.StatusCompleted, final.Status)
			require.Equal(t, int64(50+24_000), final.Phases[1].Records, "the filter leaves quantity 0 out of every range")
			if c.units != "" {
				require.Equal(t, c.units, final.Phases[1].Step, "customer_account and order_line's three ranges")
				require.Contains(t, final.Phases[1].Summary, "order_line [, 10001): copied 8,000 rows of 1 table from legacy to new in 1 key range")
			} else {
				require.Contains(t, final.Phases[1].Summary, "in 3 key ranges")
			}
			require.Contains(t, final.Phases[2].Summary, "0 missing_in_target, 0 extra_in_target, 0 mismatched")

			ctx := context.Background()
			n, err := dst.Store.Count(ctx, "SalesLine")
			require.NoError(t, err)
			require.Equal(t, int64(24_000), n)
			var total string
			require.NoError(t, dst.Store.DB.QueryRowContext(ctx, "SELECT CAST(LineTotal AS CHAR) FROM SalesLine WHERE OrderLineId = 29999").Scan(&total))
			require.Equal(t, "119.96", total, "29.99 × 4, computed by the source in the last range")
			sl, err := dst.Store.Introspect(ctx, "SalesLine")
			require.NoError(t, err)
			require.Equal(t, []string{"OrderLineId", "CustomerAccountId", "Price", "Quantity", "LineTotal"}, sl.ColumnNames())
			require.Len(t, sl.Indexes, 1, "the secondary index, created once by the last range")
			require.Equal(t, []string{"CustomerAccountId"}, sl.Indexes[0].Columns)
		})
	}
}

// A mapped reconcile with updatedColumn: the source's updated_at is the
// target's UpdatedAt, rows it dates after the check began are in flight and
// left out, on the phase's check and on the CLI's, and the findings name
// the target's columns.
func TestMappedReconcileUpdatedColumn(t *testing.T) {
	t.Parallel()
	src, dst := dbtest.New(t, datastore.Postgres), dbtest.New(t, datastore.MySQL)
	dbtest.Exec(t, src.Store,
		`CREATE TABLE price_item (price_item_id bigint PRIMARY KEY, unit_price numeric(10,2) NOT NULL, updated_at timestamp NOT NULL)`,
		`INSERT INTO price_item SELECT i, i / 4.0, timestamp '2026-01-01' + i * interval '1 minute' FROM generate_series(1, 500) i`)
	r := newDataRun(t, "it-mapped-updated", src, dst, `  - phase: provision
    provision: {mapping: prices}
  - phase: copy
    copy: {mapping: prices, batchRows: 100}
  - phase: reconcile
    name: checked
    approval: {gate: check}
    reconcile: {mapping: prices, updatedColumn: updated_at, threshold: 20}
mappings:
  prices:
    from: legacy
    to: new
    names: PascalCase
    tables:
      price_item:
        columns: {unit_price: Price}
`)
	r.start()
	r.waitFor("the check gate", waitingAt("check"))
	// Written "during" the check: dated after it began, so in flight.
	dbtest.Exec(t, src.Store, `UPDATE price_item SET unit_price = 999, updated_at = now() + interval '1 day' WHERE price_item_id = 7`)
	out, err := godwit(t, "approve", r.name, "--gate", "check")
	require.NoError(t, err, out)
	final, err := r.result()
	require.NoError(t, err, "%+v", final)
	require.Equal(t, migration.StatusCompleted, final.Status)
	require.Contains(t, final.Phases[2].Summary, "0 missing_in_target, 0 extra_in_target, 0 mismatched", "the row in flight is not compared")

	// A change dated before the check began is a difference, named in the
	// target's columns; the row in flight still is not.
	dbtest.Exec(t, src.Store, `UPDATE price_item SET unit_price = 1.5 WHERE price_item_id = 42`)
	out, err = godwit(t, "reconcile", "-f", r.spec)
	require.Error(t, err, out)
	require.Regexp(t, `mismatched +key=42 columns=Price Price: "1.5"≠"10.5"`, out)
	require.Contains(t, out, "price_item→PriceItem")
	require.NotContains(t, out, "key=7 ")
	require.Equal(t, 1, strings.Count(out, " key="), out)
}
