package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"

	"github.com/godwit/godwit/cdc"
	"github.com/godwit/godwit/cdc/cdctest"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/migration"
	"github.com/godwit/godwit/workflows"
)

const backgroundPhases = `  - phase: validate
    hook:
      run: {command: ["true"]}
  - phase: provision
    provision: {from: legacy, to: new, tables: [kitchen]}
  - phase: provision
    name: capture
    replicate: {from: legacy, to: new, tables: [kitchen], mode: setup}
  - phase: copy
    copy: {from: legacy, to: new, tables: [kitchen]}
  - phase: copy
    name: replicate
    replicate: {from: legacy, to: new, tables: [kitchen], maxLag: 2s, holdFor: 1s, background: true}
  - phase: shift-traffic
    name: reads
    approval: {gate: reads-moved}
    hook:
      run: {command: ["true"]}
  - phase: decommission
    name: stop-replication
    replicate: {from: legacy, to: new, tables: [kitchen], mode: stop}
`

// TestBackgroundReplicationAppliesBetweenPhases: with background: true,
// the replicate phase's replication goes on after it caught up. Changes
// made on the source while the run waits at a later gate (no phase
// running) reach the target; the stop phase starts only once the
// background replication has ended (PostgreSQL logical: the slot is free
// for it), drains and removes the capture.
func TestBackgroundReplicationAppliesBetweenPhases(t *testing.T) {
	t.Parallel()
	cdctest.StopWhenDone(t)
	ctx := context.Background()
	src, dst := cdctest.NewLogicalDB(t), dbtest.New(t, datastore.SQLite)
	dbtest.Exec(t, src.Store, dbtest.KitchenDDL(src.Store.Engine, "kitchen")...)
	k, err := src.Store.Introspect(ctx, "kitchen")
	require.NoError(t, err)
	require.NoError(t, src.Store.WriteBatch(ctx, k, dbtest.KitchenRows(0, 300)))
	name := "it-lag-background"
	r := newDataRun(t, name, src, dst, backgroundPhases)
	r.start()
	r.waitFor("the reads-moved gate", waitingAt("reads-moved"))

	for i := 0; i < 20; i++ {
		dbtest.Exec(t, src.Store, fmt.Sprintf("UPDATE kitchen SET qty = qty + 7 WHERE id = %d", i), fmt.Sprintf("DELETE FROM kitchen WHERE id = %d", 200+i))
	}
	count := func(s *datastore.Store) (n int) {
		require.NoError(t, s.DB.QueryRowContext(ctx, "SELECT count(*) FROM kitchen").Scan(&n))
		return n
	}
	require.Equal(t, 280, count(src.Store))
	deadline := time.Now().Add(60 * time.Second)
	for count(dst.Store) != 280 {
		require.True(t, time.Now().Before(deadline), "the background replication did not apply the deletes made at the gate")
		time.Sleep(300 * time.Millisecond)
	}
	dbtest.AssertSameRows(t, src.Store, dst.Store, "kitchen")
	rep := r.status()
	require.Equal(t, migration.StatusWaitingApproval, rep.Status)
	require.NotNil(t, rep.Replication)

	out, err := godwit(t, "approve", name, "--gate", "reads-moved")
	require.NoError(t, err, out)
	final, err := r.result()
	require.NoError(t, err, "%+v", final)
	require.Equal(t, migration.StatusCompleted, final.Status)
	last := final.Phases[len(final.Phases)-1]
	require.True(t, strings.HasPrefix(last.Summary, "drained"), last.Summary)
	dbtest.AssertSameRows(t, src.Store, dst.Store, "kitchen")
	left, err := cdc.Leftovers(ctx, src.Store)
	require.NoError(t, err)
	require.Empty(t, left)

	// In history: every background activity ended (completed or
	// cancelled) before the stop phase's activity was scheduled.
	follows, ended := map[int64]bool{}, 0
	stopScheduled := false
	iter := env.client.GetWorkflowHistory(ctx, name, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		require.NoError(t, err)
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil {
			if strings.HasPrefix(a.GetActivityId(), workflows.FollowActivityPrefix) {
				require.False(t, stopScheduled, "a background activity was scheduled after the stop phase")
				follows[ev.GetEventId()] = true
			} else if len(follows) > 0 && strings.Contains(string(a.GetInput().GetPayloads()[0].GetData()), `"name":"stop-replication"`) {
				require.Equal(t, len(follows), ended, "the stop phase was scheduled while a background activity ran")
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
	recordHistory(t, name)
}

// TestABackgroundReplicationThatFailsIsReportedFailing: while the run waits
// at a gate, the background replication cannot apply (the target table is
// renamed away); the report says it is failing (since when, attempts, the
// error) instead of the last lag, and once the table is back the next
// attempt applies what waited and the failure is gone. Records the
// history of change replication-failing for the replay test.
func TestABackgroundReplicationThatFailsIsReportedFailing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src, dst := dbtest.New(t, datastore.SQLite), dbtest.New(t, datastore.SQLite)
	dbtest.Exec(t, src.Store, dbtest.KitchenDDL(src.Store.Engine, "kitchen")...)
	k, err := src.Store.Introspect(ctx, "kitchen")
	require.NoError(t, err)
	require.NoError(t, src.Store.WriteBatch(ctx, k, dbtest.KitchenRows(0, 50)))
	name := "it-replication-failing"
	r := newDataRun(t, name, src, dst, backgroundPhases)
	r.start()
	r.waitFor("the reads-moved gate", waitingAt("reads-moved"))

	dbtest.Exec(t, dst.Store, "ALTER TABLE kitchen RENAME TO kitchen_away")
	dbtest.Exec(t, src.Store, "DELETE FROM kitchen WHERE id < 10")
	r.waitFor("the replication reported failing", func(rep migration.Report) bool { return rep.ReplicationFailing != nil })
	rep := r.status()
	require.Equal(t, "replicate", rep.ReplicationFailing.Phase)
	require.NotEmpty(t, rep.ReplicationFailing.Error)

	dbtest.Exec(t, dst.Store, "ALTER TABLE kitchen_away RENAME TO kitchen")
	r.waitFor("the replication applying again", func(rep migration.Report) bool { return rep.ReplicationFailing == nil })
	deadline := time.Now().Add(60 * time.Second)
	for {
		var n int
		require.NoError(t, dst.Store.DB.QueryRowContext(ctx, "SELECT count(*) FROM kitchen").Scan(&n))
		if n == 40 {
			break
		}
		require.True(t, time.Now().Before(deadline), "the deletes made while the replication failed never arrived (%d rows)", n)
		time.Sleep(300 * time.Millisecond)
	}
	out, err := godwit(t, "approve", name, "--gate", "reads-moved")
	require.NoError(t, err, out)
	final, err := r.result()
	require.NoError(t, err, "%+v", final)
	require.Equal(t, migration.StatusCompleted, final.Status)
	dbtest.AssertSameRows(t, src.Store, dst.Store, "kitchen")
	recordHistory(t, name)
}
