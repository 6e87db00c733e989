package integration

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/cdc"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/migration"
)

// mappedCDCPhases: provision through the mapping, set the capture up,
// copy, replicate until caught up while writes go on, then drain and
// remove the capture once a person says the writes stopped.
const mappedCDCPhases = `  - phase: validate
    hook:
      run: {command: ["true"]}
  - phase: provision
    provision: {mapping: shop}
  - phase: provision
    name: capture
    replicate: {mapping: shop, mode: setup}
  - phase: copy
    copy: {mapping: shop, batchRows: 300}
  - phase: copy
    name: replicate
    replicate: {mapping: shop, maxLag: 2s, holdFor: 1s}
  - phase: decommission
    name: stop-replication
    approval: {gate: writes-stopped}
    replicate: {mapping: shop, mode: stop}
`

// shopStep is step i of a writer that inserts, updates, deletes and
// moves order_line rows across the mapping's filter (quantity > 0).
func shopStep(ctx context.Context, s *datastore.Store, i int) error {
	id := (i*37)%2000 + 1
	var q string
	var args []any
	switch i % 5 {
	case 0:
		q, args = "INSERT INTO order_line VALUES ($1, $2, 9.99, $3, 'new')", []any{100000 + i, i%50 + 1, i % 3}
	case 1:
		q, args = "UPDATE order_line SET unit_price = unit_price + 1 WHERE order_line_id = $1", []any{id}
	case 2:
		q, args = "DELETE FROM order_line WHERE order_line_id = $1", []any{(i*13)%2000 + 1}
	case 3: // out of the filter
		q, args = "UPDATE order_line SET quantity = 0 WHERE order_line_id = $1", []any{id}
	case 4: // into it
		q, args = "UPDATE order_line SET quantity = 3, legacy_note = 'moved in' WHERE order_line_id = $1", []any{id}
	}
	_, err := s.DB.ExecContext(ctx, q, args...)
	return err
}

// Change capture through a mapping on the dev server (PostgreSQL to
// MariaDB, triggers): a writer inserts, updates, deletes and moves rows
// across the filter through the copy and the replication; after the
// writes stop and the capture drains, a row updated out of the filter is
// gone from the target, one updated into it is there with its computed
// column, and reconcile through the mapping finds no difference.
func TestMappedCDCFollowsLiveWrites(t *testing.T) {
	t.Parallel()
	src, dst := mappedShop(t)
	const name = "it-mapped-cdc"
	r := newDataRun(t, name, src, dst, mappedCDCPhases+shopMapping)
	out, err := godwit(t, "validate", "-f", r.spec)
	require.NoError(t, err, out)
	out, err = godwit(t, "preflight", "-f", r.spec)
	require.NoError(t, err, out)

	w := startSteps(func(ctx context.Context, i int) error { return shopStep(ctx, src.Store, i) })
	r.start()
	rep := r.waitFor("the writes-stopped gate", waitingAt("writes-stopped"))
	byName := map[string]migration.PhaseReport{}
	for _, p := range rep.Phases {
		byName[p.Phase] = p
	}
	require.Contains(t, byName["capture"].Summary, "set up (triggers)")
	require.Contains(t, byName["replicate"].Summary, "caught up: lag")

	// Two rows moved across the filter at the end, whatever the writer did
	// to them: 10 (quantity 0 from the start) into it, 11 out of it.
	ctx := context.Background()
	written := w.halt(t)
	require.Greater(t, written, int64(50), "the writer ran through the copy and the replication")
	for _, q := range []string{
		"UPDATE order_line SET quantity = 4 WHERE order_line_id = 10",
		"UPDATE order_line SET quantity = 0 WHERE order_line_id = 11",
	} {
		res, err := src.Store.DB.ExecContext(ctx, q)
		require.NoError(t, err, q)
		n, _ := res.RowsAffected()
		require.Equal(t, int64(1), n, q)
	}
	out, err = godwit(t, "approve", name, "--gate", "writes-stopped")
	require.NoError(t, err, out)
	final, err := r.result()
	require.NoError(t, err, "%+v", final)
	require.Equal(t, migration.StatusCompleted, final.Status)
	last := final.Phases[len(final.Phases)-1]
	require.True(t, strings.HasPrefix(last.Summary, "drained"), last.Summary)

	var in, outOf int
	var total string
	require.NoError(t, dst.Store.DB.QueryRowContext(ctx, "SELECT COUNT(*), COALESCE(MAX(CAST(LineTotal AS CHAR)), '') FROM SalesLine WHERE OrderLineId = 10").Scan(&in, &total))
	require.Equal(t, 1, in, "row 10, updated into the filter, is inserted on the target")
	require.NotEmpty(t, total, "row 10 carries its computed LineTotal")
	require.NoError(t, dst.Store.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM SalesLine WHERE OrderLineId = 11").Scan(&outOf))
	require.Equal(t, 0, outOf, "row 11, updated out of the filter, is deleted on the target")

	check := newDataRun(t, name+"-check", src, dst, "  - phase: reconcile\n    reconcile: {mapping: shop}\n"+shopMapping)
	out, err = godwit(t, "reconcile", "-f", check.spec)
	require.NoError(t, err, out)
	require.Contains(t, out, "0 missing_in_target, 0 extra_in_target, 0 mismatched", out)
	left, err := cdc.Leftovers(ctx, src.Store)
	require.NoError(t, err)
	require.Empty(t, left, "nothing of the capture is left after completion")
}
