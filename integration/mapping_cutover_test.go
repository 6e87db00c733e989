package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/cdc"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/gateway/gatewaytest"
	"github.com/godwit/godwit/migration"
)

// invertibleShopMapping is shopMapping without its filter, so it has an
// inverse: the names rule, renames, a nullable dropped column
// (legacy_code), a computed column not carried back (LineTotal), and a
// dropped column an added one gives back (legacy_note by Note's inverse,
// in MariaDB's SQL).
var invertibleShopMapping = strings.NewReplacer(
	"        where: \"quantity > 0\"\n", "",
	"type: \"decimal(12,2)\"}\n", "type: \"decimal(12,2)\"}\n"+
		"          Note: {expr: \"'n:' || legacy_note\", type: \"varchar(200)\", inverse: {legacy_note: \"SUBSTRING(Note, 3)\"}}\n",
).Replace(shopMapping)

// newShopStep is step i of new's service writing SalesLine and
// CustomerAccount in new's names (MariaDB), keeping LineTotal and Note as
// the mapping computes them (MariaDB's SET reads the columns already set).
func newShopStep(ctx context.Context, s *datastore.Store, i int) error {
	id := (i*37)%2000 + 1
	var q string
	var args []any
	switch i % 4 {
	case 0:
		q, args = "INSERT INTO SalesLine (OrderLineId, CustomerAccountId, Price, Quantity, LineTotal, Note) VALUES (?, ?, 4.50, 2, 9.00, ?)", []any{500000 + i, i%50 + 1, fmt.Sprintf("n:on new %d", i)}
	case 1:
		q, args = "UPDATE SalesLine SET Price = Price + 1, LineTotal = Price * Quantity, Note = 'n:repriced' WHERE OrderLineId = ?", []any{id}
	case 2:
		q, args = "DELETE FROM SalesLine WHERE OrderLineId = ?", []any{(i*13)%2000 + 1}
	case 3:
		q, args = "UPDATE CustomerAccount SET FullName = CONCAT('Renamed ', ?) WHERE CustomerAccountId = ?", []any{i, i%50 + 1}
	}
	_, err := s.DB.ExecContext(ctx, q, args...)
	return err
}

// A mapped migration (PostgreSQL legacy in snake_case to MariaDB new in
// PascalCase) cut over to new, then rolled back, or decommissioned (the
// replicate stop phase drains the reverse capture): reverse replication
// applies new's writes (insert, update, delete) to legacy through the
// mapping's inverse, read back from new by key (MariaDB evaluates Note's
// inverse), in legacy's names. Either way legacy ends with every write
// made on new: reconcile through the mapping finds 0 differences, and no
// capture object is left in either store.
func TestMappedRollbackAfterCutOverBringsWritesMadeOnNewBack(t *testing.T) {
	t.Parallel()
	for _, rollback := range []bool{true, false} {
		end := map[bool]string{true: "rollback", false: "decommission"}[rollback]
		t.Run(end, func(t *testing.T) {
			t.Parallel()
			mappedCutOverThen(t, end, rollback)
		})
	}
}

func mappedCutOverThen(t *testing.T, end string, rollback bool) {
	ctx := context.Background()
	src, dst := mappedShop(t)
	gw := gatewaytest.Start(t, gatewaytest.Options{Legacy: gatewaytest.NewUpstream(t, "legacy").URL, New: gatewaytest.NewUpstream(t, "new").URL})
	// The target tables come from a run of their own, so that the rollback
	// (which drops what its provision created) leaves them to compare.
	prov := newDataRun(t, "it-mapped-cutover-prov-"+end, src, dst, "  - phase: provision\n    provision: {mapping: shop}\n"+invertibleShopMapping)
	prov.start()
	pr, err := prov.result()
	require.NoError(t, err, "%+v", pr)

	name := "it-mapped-cutover-" + end
	r := newDataRun(t, name, src, dst, fmt.Sprintf(`  - phase: provision
    name: capture
    replicate: {mapping: shop, mode: setup}
  - phase: copy
    copy: {mapping: shop, batchRows: 300, onRollback: keep}
  - phase: copy
    name: replicate
    replicate: {mapping: shop, maxLag: 2s, holdFor: 1s}
  - phase: shift-traffic
    name: writes
    approval: {gate: cut-over}
    cutover: {gateway: {admin: %q}, route: users, mapping: shop, timeout: 20s}
  - phase: decommission
    name: stop-replication
    approval: {gate: decommission}
    replicate: {mapping: shop, mode: stop}
`, gw.AdminURL)+invertibleShopMapping)
	out, err := godwit(t, "validate", "-f", r.spec)
	require.NoError(t, err, out)
	out, err = godwit(t, "preflight", "-f", r.spec)
	require.NoError(t, err, out)

	w := startSteps(func(ctx context.Context, i int) error { return shopStep(ctx, src.Store, i) })
	r.start()
	r.waitFor("the cut-over gate", waitingAt("cut-over"))
	w.waitChanges(t, 21)
	require.Greater(t, w.halt(t), int64(20))
	out, err = godwit(t, "approve", name, "--gate", "cut-over")
	require.NoError(t, err, out)
	rep := r.waitFor("the decommission gate", waitingAt("decommission"))
	require.Contains(t, rep.Phases[3].Summary, "reverse replication new → legacy set up (triggers)")

	// New's service writes in new's names; then someone rolls back.
	wn := startSteps(func(ctx context.Context, i int) error { return newShopStep(ctx, dst.Store, i) })
	wn.waitChanges(t, 41)
	require.Greater(t, wn.halt(t), int64(40))
	for _, q := range []string{
		"INSERT INTO SalesLine (OrderLineId, CustomerAccountId, Price, Quantity, LineTotal, Note) VALUES (900001, 7, 2.25, 4, 9.00, 'n:inserted on new')",
		"UPDATE SalesLine SET Price = 77.70, LineTotal = 77.70 * Quantity, Note = 'n:updated on new' WHERE OrderLineId = 5",
		"DELETE FROM SalesLine WHERE OrderLineId = 6",
	} {
		_, err := dst.Store.DB.ExecContext(ctx, q)
		require.NoError(t, err, q)
	}
	if rollback {
		out, err = godwit(t, "rollback", name, "--reason", "test")
		require.NoError(t, err, out)
		final, err := r.result()
		require.NoError(t, err, "a requested rollback that undid every phase completes the run")
		require.Equal(t, migration.StatusRolledBack, final.Status, "%+v", final)
		require.Contains(t, final.Phases[3].Summary, "changes made on new applied to legacy (")
	} else {
		out, err = godwit(t, "approve", name, "--gate", "decommission")
		require.NoError(t, err, out)
		final, err := r.result()
		require.NoError(t, err, "%+v", final)
		require.Equal(t, migration.StatusCompleted, final.Status)
		require.Contains(t, final.Phases[4].Summary, "reverse replication stopped (")
	}

	var price, note string
	require.NoError(t, src.Store.DB.QueryRowContext(ctx, "SELECT unit_price::text, legacy_note FROM order_line WHERE order_line_id = 900001").Scan(&price, &note))
	require.Equal(t, [2]string{"2.25", "inserted on new"}, [2]string{price, note}, "the row inserted on new is on legacy, legacy_note by Note's inverse")
	require.NoError(t, src.Store.DB.QueryRowContext(ctx, "SELECT unit_price::text, legacy_note FROM order_line WHERE order_line_id = 5").Scan(&price, &note))
	require.Equal(t, [2]string{"77.70", "updated on new"}, [2]string{price, note}, "the row updated on new (Price) is updated on legacy (unit_price)")
	var gone int
	require.NoError(t, src.Store.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM order_line WHERE order_line_id = 6").Scan(&gone))
	require.Equal(t, 0, gone, "the row deleted on new is deleted on legacy")

	check := newDataRun(t, name+"-check", src, dst, "  - phase: reconcile\n    reconcile: {mapping: shop}\n"+invertibleShopMapping)
	out, err = godwit(t, "reconcile", "-f", check.spec)
	require.NoError(t, err, out)
	require.Contains(t, out, "0 missing_in_target, 0 extra_in_target, 0 mismatched", out)
	// The same check the other way (new is the source of truth once the
	// writes moved): through the mapping's inverse, MariaDB evaluating
	// Note's inverse, LineTotal (new's own) not compared; a write made
	// on new alone is found, named in legacy's terms.
	rev := newDataRun(t, name+"-reverse", src, dst, "  - phase: reconcile\n    reconcile: {mapping: shop, direction: reverse}\n"+invertibleShopMapping)
	out, err = godwit(t, "reconcile", "-f", rev.spec)
	require.NoError(t, err, out)
	require.Contains(t, out, "0 missing_in_target, 0 extra_in_target, 0 mismatched", out)
	// Row 900001, inserted on new above: the writer's steps update and
	// delete rows 1-2000 only (row 7, used before, is deleted by its step
	// 462, which a fast machine reaches, and the check then found nothing).
	res, err := dst.Store.DB.ExecContext(ctx, "UPDATE SalesLine SET Price = 1.11, LineTotal = 1.11 * Quantity WHERE OrderLineId = 900001")
	require.NoError(t, err)
	changed, err := res.RowsAffected()
	require.NoError(t, err)
	require.EqualValues(t, 1, changed, "the row to change is on new")
	out, err = godwit(t, "reconcile", "-f", rev.spec)
	require.Error(t, err, out)
	require.Regexp(t, `mismatched +key=900001 columns=unit_price unit_price: "1.11"≠"2.25"`, out)
	for _, s := range []*datastore.Store{src.Store, dst.Store} {
		left, err := cdc.Leftovers(ctx, s)
		require.NoError(t, err)
		require.Empty(t, left, "capture objects left in %s", s.Engine)
	}
}

// A mapping that drops a NOT NULL column with no default and gives it no
// inverse passes validate (the schema is needed to know) but its cut-over
// is refused at preflight, naming the column and the rule.
func TestMappedCutOverRefusesADroppedNotNullColumnAtPreflight(t *testing.T) {
	t.Parallel()
	src, dst := mappedShop(t)
	gw := gatewaytest.Start(t, gatewaytest.Options{Legacy: gatewaytest.NewUpstream(t, "legacy").URL, New: gatewaytest.NewUpstream(t, "new").URL})
	mapping := strings.Replace(invertibleShopMapping, "drop: [legacy_code]", "drop: [legacy_code, full_name]", 1)
	r := newDataRun(t, "it-mapped-cutover-notnull", src, dst, fmt.Sprintf(`  - phase: provision
    provision: {mapping: shop}
  - phase: provision
    name: capture
    replicate: {mapping: shop, mode: setup}
  - phase: copy
    copy: {mapping: shop}
  - phase: shift-traffic
    name: writes
    cutover: {gateway: {admin: %q}, route: users, mapping: shop}
`, gw.AdminURL)+mapping)
	out, err := godwit(t, "validate", "-f", r.spec)
	require.NoError(t, err, out)
	out, err = godwit(t, "preflight", "-f", r.spec)
	require.Error(t, err, out)
	require.Contains(t, out, "cutover sets up reverse replication (new → legacy) through the inverse of mapping shop: ")
	require.Contains(t, out, "table customer_account has no inverse for reverse replication: drop: full_name is dropped but NOT NULL with no default on the source", out)
	require.Equal(t, 1, strings.Count(out, "has no inverse"), "one problem, named once:\n%s", out)
}
