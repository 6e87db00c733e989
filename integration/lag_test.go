package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/godwit/godwit/cdc"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/migration"
)

// lagPhases: capture, copy, replicate until caught up, a first gate, then
// a gate that requires the lag under 2s, then stop the replication.
const lagPhases = `  - phase: validate
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
    replicate: {from: legacy, to: new, tables: [kitchen], maxLag: 2s, holdFor: 1s}
  - phase: shift-traffic
    name: hold
    approval: {gate: first}
    hook:
      run: {command: ["true"]}
  - phase: shift-traffic
    name: go-live
    approval: {gate: go, requireLag: 2s}
    hook:
      run: {command: ["true"]}
  - phase: decommission
    name: stop-replication
    replicate: {from: legacy, to: new, tables: [kitchen], mode: stop}
`

// TestLagGateRefusesApprovalUntilTheReplicationCatchesUp holds the
// target's table locked while changes are made on the source, so the
// replication a requireLag gate runs while it waits cannot apply them:
// `godwit approve` is refused, saying why. Once the lock is gone the
// replication catches up, the approval goes through, and the run
// completes with the target equal to the source; the ReplicationLag
// search attribute finds the run while it replicates and not once it has
// ended (unset).
func TestLagGateRefusesApprovalUntilTheReplicationCatchesUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src, dst := dbtest.New(t, datastore.SQLite), dbtest.New(t, datastore.Postgres)
	dbtest.Exec(t, src.Store, dbtest.KitchenDDL(src.Store.Engine, "kitchen")...)
	k, err := src.Store.Introspect(ctx, "kitchen")
	require.NoError(t, err)
	require.NoError(t, src.Store.WriteBatch(ctx, k, dbtest.KitchenRows(0, 300)))
	name := "it-lag-gate"
	r := newDataRun(t, name, src, dst, lagPhases)
	r.start()
	r.waitFor("the first gate", waitingAt("first"))

	lock, err := dst.Store.DB.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer lock.Rollback()
	_, err = lock.ExecContext(ctx, "LOCK TABLE kitchen IN ACCESS EXCLUSIVE MODE")
	require.NoError(t, err)
	for i := 0; i < 20; i++ {
		dbtest.Exec(t, src.Store, fmt.Sprintf("UPDATE kitchen SET qty = qty + 1 WHERE id = %d", i), fmt.Sprintf("DELETE FROM kitchen WHERE id = %d", 100+i))
	}
	out, err := godwit(t, "approve", name, "--gate", "first")
	require.NoError(t, err, out)
	r.waitFor("the lag gate", waitingAt("go"))

	out, err = godwit(t, "approve", name, "--gate", "go")
	require.Error(t, err, out)
	require.Contains(t, err.Error(), "gate go requires the replication lag at or under 2s")
	require.Contains(t, err.Error(), "phase replicate")
	t.Log("refused: ", err)
	// While it runs, the ReplicationLag search attribute finds it.
	query := fmt.Sprintf("WorkflowId = '%s' AND ReplicationLag >= 0", name)
	for found := time.Now().Add(30 * time.Second); ; {
		resp, err := env.client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: "default", Query: query})
		require.NoError(t, err)
		if len(resp.GetExecutions()) == 1 {
			break
		}
		require.True(t, time.Now().Before(found), "no run found by %q", query)
		time.Sleep(300 * time.Millisecond)
	}
	out, err = godwit(t, "status", name)
	require.NoError(t, err, out)
	require.Contains(t, out, `  Waiting    for approval of gate "go" before phase go-live, accepted only once the replication lag is at or under 2s (`, out)
	require.Contains(t, out, "); then: godwit approve "+name+" --gate go\n", out)
	require.NoError(t, lock.Rollback())

	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err = godwit(t, "approve", name, "--gate", "go")
		if err == nil {
			break
		}
		require.Contains(t, err.Error(), "requires the replication lag")
		require.True(t, time.Now().Before(deadline), "the approval was refused for a minute: %s", out)
		time.Sleep(500 * time.Millisecond)
	}
	final, err := r.result()
	require.NoError(t, err, "%+v", final)
	require.Equal(t, migration.StatusCompleted, final.Status)
	require.NotNil(t, final.Replication)
	dbtest.AssertSameRows(t, src.Store, dst.Store, "kitchen")
	left, err := cdc.Leftovers(ctx, src.Store)
	require.NoError(t, err)
	require.Empty(t, left)

	out, err = godwit(t, "status", name)
	require.NoError(t, err, out)
	require.Contains(t, out, "  Lag        ", out)

	// Ended, the run unsets its ReplicationLag (the status above keeps
	// the last lag): a query for replications behind does not find it.
	query = fmt.Sprintf("WorkflowId = '%s' AND ExecutionStatus = 'Completed'", name)
	for {
		resp, err := env.client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: "default", Query: query})
		require.NoError(t, err)
		if len(resp.GetExecutions()) == 1 {
			break
		}
		require.True(t, time.Now().Before(deadline), "no run found by %q", query)
		time.Sleep(300 * time.Millisecond)
	}
	resp, err := env.client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: "default",
		Query: fmt.Sprintf("WorkflowId = '%s' AND ReplicationLag >= 0", name)})
	require.NoError(t, err)
	require.Empty(t, resp.GetExecutions(), "an ended run still has a ReplicationLag")
	require.False(t, strings.Contains(out, "WARNING"), out)
	recordHistory(t, name)
}
