package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/cdc"
	"github.com/godwit/godwit/cdc/cdctest"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/gateway/gatewaytest"
	"github.com/godwit/godwit/migration"
	"github.com/godwit/godwit/workflows"
)

// TestReverseReplicationKeepsLegacyCurrentAfterTheCutOver runs, on the
// dev server, a cut-over from MariaDB (legacy) to PostgreSQL (new, a
// logical slot for the reverse capture), then waits at the decommission
// gate. While it waits, with no phase running, writes made on new reach
// legacy (the cut-over's reverse replication runs in the background), and
// godwit status shows its lag as the reverse one, measured after the
// cut-over and refreshed. After the approval the stop phase starts only
// once the background activities ended (the slot is free), drains and
// removes both captures.
func TestReverseReplicationKeepsLegacyCurrentAfterTheCutOver(t *testing.T) {
	t.Parallel()
	cdctest.StopWhenDone(t)
	ctx := context.Background()
	src, dst := dbtest.New(t, datastore.MySQL), cdctest.NewLogicalDB(t)
	dbtest.Exec(t, src.Store, dbtest.KitchenDDL(src.Store.Engine, "kitchen")...)
	k, err := src.Store.Introspect(ctx, "kitchen")
	require.NoError(t, err)
	require.NoError(t, src.Store.WriteBatch(ctx, k, dbtest.KitchenRows(0, 500)))
	gw := gatewaytest.Start(t, gatewaytest.Options{Legacy: gatewaytest.NewUpstream(t, "legacy").URL, New: gatewaytest.NewUpstream(t, "new").URL})
	name := "it-cutover-reverse-lag"
	r := newDataRun(t, name, src, dst, fmt.Sprintf(`  - phase: provision
    provision: {from: legacy, to: new, tables: [kitchen]}
  - phase: provision
    name: capture
    replicate: {from: legacy, to: new, tables: [kitchen], mode: setup}
  - phase: copy
    copy: {from: legacy, to: new, tables: [kitchen], batchRows: 200}
  - phase: copy
    name: replicate
    replicate: {from: legacy, to: new, tables: [kitchen], maxLag: 2s, holdFor: 1s}
  - phase: shift-traffic
    name: writes
    cutover: {gateway: {admin: %q}, route: users, from: legacy, to: new, tables: [kitchen], timeout: 20s}
  - phase: decommission
    name: stop-replication
    approval: {gate: decommission}
    replicate: {from: legacy, to: new, tables: [kitchen], mode: stop}
`, gw.AdminURL))
	r.start()
	rep := r.waitFor("the decommission gate", waitingAt("decommission"))
	cutOver := rep.Phases[4].EndTime
	require.False(t, cutOver.IsZero())

	// New's service writes while the run waits; legacy gets the writes
	// with no phase running.
	dbtest.Exec(t, dst.Store,
		"UPDATE kitchen SET qty = qty + 7, note = 'made on new' WHERE id < 20",
		"DELETE FROM kitchen WHERE id >= 480")
	count := func(s *datastore.Store, where string) (n int) {
		require.NoError(t, s.DB.QueryRowContext(ctx, "SELECT count(*) FROM kitchen WHERE "+where).Scan(&n))
		return n
	}
	deadline := time.Now().Add(90 * time.Second)
	for count(src.Store, "note = 'made on new'") != 20 || count(src.Store, "id >= 480") != 0 {
		require.True(t, time.Now().Before(deadline), "the writes made on new did not reach legacy while the run waited")
		time.Sleep(300 * time.Millisecond)
	}
	dbtest.AssertSameRows(t, dst.Store, src.Store, "kitchen")
	require.Equal(t, migration.StatusWaitingApproval, r.status().Status, "legacy was brought up to date while the run waited at the gate")
	// Its bounded activity applies as it goes, and returns its lag at its end.
	first := r.waitFor("the reverse lag", func(rep migration.Report) bool { return rep.Replication != nil && rep.Replication.Reverse })
	require.Equal(t, migration.StatusWaitingApproval, first.Status)

	// The Lag line is the reverse replication's, measured after the
	// cut-over, and refreshed while the run waits.
	l := first.Replication
	require.NotNil(t, l)
	require.True(t, l.Reverse, "%+v", l)
	require.Equal(t, "writes", l.Phase)
	require.True(t, l.Measured.After(cutOver), "measured %s, after the cut-over at %s", l.Measured, cutOver)
	out, err := godwit(t, "status", name, "--leftovers=false")
	require.NoError(t, err, out)
	require.Contains(t, out, "  Lag        reverse (new → legacy) ", out)
	require.NotContains(t, out, "not measured", out)
	deadline = time.Now().Add(60 * time.Second)
	for {
		later := r.status().Replication
		if later.Measured.After(l.Measured) {
			require.True(t, later.Reverse)
			break
		}
		require.True(t, time.Now().Before(deadline), "the reverse lag was not measured again: still %s", l.Measured)
		time.Sleep(500 * time.Millisecond)
	}

	out, err = godwit(t, "approve", name, "--gate", "decommission")
	require.NoError(t, err, out)
	final, err := r.result()
	require.NoError(t, err, "%+v", final)
	require.Equal(t, migration.StatusCompleted, final.Status)
	require.Contains(t, final.Phases[5].Summary, "reverse replication stopped")
	dbtest.AssertSameRows(t, dst.Store, src.Store, "kitchen")
	for _, s := range []*datastore.Store{src.Store, dst.Store} {
		left, err := cdc.Leftovers(ctx, s)
		require.NoError(t, err)
		require.Empty(t, left, "capture objects left in %s", s.Engine)
	}

	// In history: reverse activities ran after the cut-over, and every one
	// ended before the stop phase's activity was scheduled.
	follows, ended := map[int64]bool{}, 0
	stopScheduled := false
	iter := env.client.GetWorkflowHistory(ctx, name, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		require.NoError(t, err)
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil {
			input := string(a.GetInput().GetPayloads()[0].GetData())
			switch {
			case strings.HasPrefix(a.GetActivityId(), workflows.FollowActivityPrefix):
				require.False(t, stopScheduled, "a reverse activity was scheduled after the stop phase")
				require.Contains(t, input, `"cutover":`, "the follower runs the cut-over's section")
				follows[ev.GetEventId()] = true
			case a.GetActivityType().GetName() == activities.RunPhaseName && strings.Contains(input, `"name":"stop-replication"`):
				require.Equal(t, len(follows), ended, "the stop phase was scheduled while a reverse activity ran")
				stopScheduled = true
			}
		}
		for _, id := range []int64{ev.GetActivityTaskCompletedEventAttributes().GetScheduledEventId(),
			ev.GetActivityTaskCanceledEventAttributes().GetScheduledEventId(),
			ev.GetActivityTaskFailedEventAttributes().GetScheduledEventId()} {
			if follows[id] {
				ended++
			}
		}
	}
	require.NotEmpty(t, follows)
	require.True(t, stopScheduled)
	recordHistory(t, name) // the cut-over's reverse replication in the background (reverse-lag)
}
