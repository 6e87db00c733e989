package integration

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/drivers"
	"github.com/godwit/godwit/migration"
	"github.com/godwit/godwit/workflows"
)

// The tests in this file check that a lease is keyed by what a resource
// is, not by how a spec names it: one PostgreSQL database under two DSNs
// is one lease, no lease ID names a table or a DSN variable (with payload
// encryption on, nothing readable is left of it), and a lease an older run
// holds in the old form still keeps a new run out.

// leasedStoreSpec holds at a gate, then would copy table from a SQLite
// source into the PostgreSQL store target whose DSN is in dsnVar: the
// copy phase makes target's table a leased resource.
func leasedStoreSpec(t *testing.T, name, dsnVar, table string) *demo {
	t.Helper()
	srcVar := strings.ToUpper(strings.ReplaceAll(name, "-", "_")) + "_SRC"
	setEnv(t, srcVar, filepath.Join(t.TempDir(), "src.db"))
	return newSpec(t, name, `
stores:
  legacy: {engine: sqlite, dsn: {fromEnv: `+srcVar+`}}
  target: {engine: postgres, dsn: {fromEnv: `+dsnVar+`}}
phases:
  - phase: shift-traffic
    approval: {gate: go}
    hook: {run: {command: ["true"]}}
  - phase: copy
    copy: {from: legacy, to: target, tables: [`+table+`]}
`)
}

// setEnv sets a variable the in-process workers read, for this test only
// (the names are the test's own, so parallel tests do not collide).
func setEnv(t *testing.T, name, value string) {
	t.Helper()
	require.NoError(t, os.Setenv(name, value))
	t.Cleanup(func() { os.Unsetenv(name) })
}

// sameDatabaseOtherDSN reaches the database of a 127.0.0.1 DSN through
// localhost, with its parameters in another order.
func sameDatabaseOtherDSN(t *testing.T, dsn string) string {
	t.Helper()
	require.Contains(t, dsn, "127.0.0.1")
	other := strings.Replace(dsn, "127.0.0.1", "localhost", 1)
	return strings.Replace(other, "?sslmode=disable", "?application_name=godwit-it-lease&sslmode=disable", 1)
}

// keyedLeaseID is the lease ID of table on db, as the workers key it.
func keyedLeaseID(t *testing.T, db dbtest.DB, table string) string {
	t.Helper()
	id, err := db.Store.Identity(context.Background())
	require.NoError(t, err)
	return activities.LeaseKeyID("store:" + id.String() + "/" + table)
}

// waitLeaseRunning waits until the lease workflow id runs.
func waitLeaseRunning(t *testing.T, id string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		desc, err := env.client.DescribeWorkflowExecution(context.Background(), id, "")
		if err == nil && desc.GetWorkflowExecutionInfo().GetStatus() == enums.WORKFLOW_EXECUTION_STATUS_RUNNING {
			return
		}
		require.True(t, time.Now().Before(deadline), "no lease %s running (last error: %v)", id, err)
		time.Sleep(200 * time.Millisecond)
	}
}

func TestOneDatabaseUnderTwoDSNsIsOneLease(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t, datastore.Postgres)
	setEnv(t, "LEASE_IT_ADDR_DSN", db.DSN)
	setEnv(t, "LEASE_IT_HOST_DSN", sameDatabaseOtherDSN(t, db.DSN))
	a := leasedStoreSpec(t, "it-lease-dsn-a", "LEASE_IT_ADDR_DSN", "lease_items")
	b := leasedStoreSpec(t, "it-lease-dsn-b", "LEASE_IT_HOST_DSN", "lease_items")
	leaseID := keyedLeaseID(t, db, "lease_items")

	a.start()
	a.waitFor("the gate", waitingAt("go"))
	waitLeaseRunning(t, leaseID)

	out, err := godwit(t, "start", "--dry-run", "-f", b.spec)
	require.Error(t, err, out)
	require.Contains(t, out, "✗ resource table lease_items of store target is held by migration it-lease-dsn-a", out)

	// Preflights and leases keep out of the migrations' way in the UI:
	// their own ID prefixes, and the documented saved view lists neither.
	var preflights []string
	deadline := time.Now().Add(time.Minute)
	for len(preflights) == 0 {
		require.True(t, time.Now().Before(deadline), "the dry run's Preflight workflow never showed in the list")
		time.Sleep(200 * time.Millisecond)
		preflights = listWorkflowIDs(t, `WorkflowType = "Preflight"`)
		preflights = slices.DeleteFunc(preflights, func(id string) bool { return !strings.Contains(id, "it-lease-dsn-b") })
	}
	for _, id := range preflights {
		require.True(t, strings.HasPrefix(id, workflows.PreflightIDPrefix+"it-lease-dsn-b-"), id)
	}
	for _, id := range listWorkflowIDs(t, `WorkflowType = "Migration" AND ExecutionStatus != "ContinuedAsNew"`) {
		require.False(t, strings.HasPrefix(id, workflows.LeaseIDPrefix) || strings.HasPrefix(id, workflows.PreflightIDPrefix),
			"the saved view for migrations lists %s", id)
	}

	// The CLI cannot read a store's identity; the run's own start does,
	// and the server lets only one run hold the lease.
	b.start()
	final, err := b.result()
	require.Error(t, err)
	require.Equal(t, "resource table lease_items of store target is held by migration it-lease-dsn-a: wait for it to end, or roll it back", final.Error)
	require.Equal(t, migration.PhasePending, final.Phases[0].State, "no phase ran")

	out, err = godwit(t, "rollback", a.name, "--reason", "free the lease")
	require.NoError(t, err, out)
	_, _ = a.result()
	waitLeaseEnded(t, leaseID)
	// lease-keyed.json is this run on the child path (before leaseBatchV1).
	events := recordRun(t, a.name, "", "lease-keyed-batch.json")
	require.True(t, hasEvent(events, func(ev *historypb.HistoryEvent) bool {
		return ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName() == activities.AcquireLeasesName
	}), "the run took its keyed leases by activity")
	// lease-keyed-lease.json is a lease from before leaseCheckV1.
	lease := recordRun(t, leaseID, "", "lease-check-lease.json")
	require.Equal(t, workflows.LeaseWorkflowName, lease[0].GetWorkflowExecutionStartedEventAttributes().GetWorkflowType().GetName())
	require.True(t, hasEvent(lease, func(ev *historypb.HistoryEvent) bool {
		return ev.GetMarkerRecordedEventAttributes().GetMarkerName() == "Version"
	}), "the lease asked which check interval it follows (lease-check)")
}

// legacyLeaseHolder stands for a run started before leases were keyed: it
// holds resource's lease under the old ID until signalled "done".
func legacyLeaseHolder(ctx workflow.Context, resource string) error {
	id := workflows.LeaseWorkflowID(resource)
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID: id, ParentClosePolicy: enums.PARENT_CLOSE_POLICY_ABANDON,
	})
	child := workflow.ExecuteChildWorkflow(cctx, workflows.LeaseWorkflowName,
		workflows.LeaseInput{Resource: resource, Holder: workflow.GetInfo(ctx).WorkflowExecution.ID})
	if err := child.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
		return err
	}
	workflow.GetSignalChannel(ctx, "done").Receive(ctx, nil)
	return workflow.SignalExternalWorkflow(ctx, id, "", workflows.SignalRelease, nil).Get(ctx, nil)
}

func TestAnOldFormLeaseBlocksANewRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := dbtest.New(t, datastore.Postgres)
	setEnv(t, "LEASE_IT_OLD_DSN", db.DSN)
	d := leasedStoreSpec(t, "it-lease-new-form", "LEASE_IT_OLD_DSN", "legacy_items")
	const old = "store:env:LEASE_IT_OLD_DSN/legacy_items" // the copy phase's resource as written

	const queue = "godwit-it-legacy-lease"
	w := worker.New(env.client, queue, worker.Options{Identity: "it-legacy-lease-worker"})
	workflows.Register(w)
	w.RegisterWorkflowWithOptions(legacyLeaseHolder, workflow.RegisterOptions{Name: "it-legacy-lease-holder"})
	activities.Register(w, drivers.Activities(hclog.NewNullLogger()))
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
	holder, err := env.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "it-legacy-holder", TaskQueue: queue},
		"it-legacy-lease-holder", old)
	require.NoError(t, err)
	waitLeaseRunning(t, workflows.LeaseWorkflowID(old))

	out, err := godwit(t, "start", "-f", d.spec)
	require.Error(t, err, out)
	require.Contains(t, err.Error(), "resource "+old+" is held by migration it-legacy-holder, which is running")

	spec, err := config.LoadSpec(d.spec)
	require.NoError(t, err)
	run, err := env.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: spec.Name, TaskQueue: env.taskQueue},
		workflows.WorkflowName, workflows.Input{Spec: *spec})
	require.NoError(t, err)
	err = run.Get(ctx, nil)
	require.Error(t, err)
	final, ok := workflows.ReportFromError(err)
	require.True(t, ok, "%v", err)
	require.Equal(t, "resource table legacy_items of store target is held by migration it-legacy-holder: wait for it to end, or roll it back", final.Error)
	require.Equal(t, migration.PhasePending, final.Phases[0].State, "no phase ran")
	_, err = env.client.DescribeWorkflowExecution(ctx, keyedLeaseID(t, db, "legacy_items"), "")
	require.Error(t, err, "no keyed lease was taken while the old one is held")

	// Once the old run lets go, a new run takes the keyed lease.
	require.NoError(t, env.client.SignalWorkflow(ctx, "it-legacy-holder", "", "done", nil))
	require.NoError(t, holder.Get(ctx, nil))
	waitLeaseEnded(t, workflows.LeaseWorkflowID(old))
	d.start()
	d.waitFor("the gate", waitingAt("go"))
	waitLeaseRunning(t, keyedLeaseID(t, db, "legacy_items"))
	out, err = godwit(t, "rollback", d.name, "--reason", "done")
	require.NoError(t, err, out)
	_, _ = d.result()
	waitLeaseEnded(t, keyedLeaseID(t, db, "legacy_items"))
}

// TestLeaseIDsNameNothingWithEncryptionOn: with payload encryption on, no
// workflow ID in the namespace holds the leased table's name or the name
// of the DSN variable, and the lease's readable name is encrypted.
func TestLeaseIDsNameNothingWithEncryptionOn(t *testing.T) {
	t.Parallel()
	const table, dsnVar = "enc_secret_tbl_k3", "LEASE_IT_ENC_DSN_Q7"
	db := dbtest.New(t, datastore.Postgres)
	setEnv(t, dsnVar, db.DSN)
	keys := filepath.Join(t.TempDir(), "codec-keys")
	require.NoError(t, os.WriteFile(keys, []byte("it-lease:"+randomKey(t)+"\n"), 0o600))
	const queue = "godwit-it-lease-encrypted"
	startEncryptedWorkerWith(t, queue, keys, drivers.Activities)
	d := leasedStoreSpec(t, "it-lease-encrypted", dsnVar, table)
	leaseID := keyedLeaseID(t, db, table)

	var out, errOut bytes.Buffer
	text, err := godwitOn(t, queue, &out, &errOut, "start", "-f", d.spec, "--codec-keys-file", keys)
	require.NoError(t, err, text)
	waitLeaseRunning(t, leaseID)

	var ids []string
	deadline := time.Now().Add(time.Minute)
	for !contains(ids, leaseID) {
		require.True(t, time.Now().Before(deadline), "the lease %s never showed in the workflow list", leaseID)
		time.Sleep(200 * time.Millisecond)
		ids = listWorkflowIDs(t, "")
	}
	for _, id := range ids {
		require.NotContains(t, strings.ToLower(id), strings.ToLower(table), "workflow ID %s names the table", id)
		require.NotContains(t, strings.ToLower(id), strings.ToLower(dsnVar), "workflow ID %s names the DSN variable", id)
	}
	require.False(t, holds(rawHistory(t, leaseID), table), "the lease's history holds the table's name in clear")
	require.False(t, holds(rawHistory(t, leaseID), dsnVar), "the lease's history holds the DSN variable in clear")

	text, err = godwitOn(t, queue, &out, &errOut, "rollback", d.name, "--reason", "done", "--codec-keys-file", keys)
	require.NoError(t, err, text)
	waitLeaseEnded(t, leaseID)
}

// listWorkflowIDs lists the workflow IDs a visibility query finds (""
// for every workflow of the namespace).
func listWorkflowIDs(t *testing.T, query string) []string {
	t.Helper()
	var ids []string
	var token []byte
	for {
		resp, err := env.client.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: "default", PageSize: 1000, NextPageToken: token, Query: query,
		})
		require.NoError(t, err)
		for _, e := range resp.GetExecutions() {
			ids = append(ids, e.GetExecution().GetWorkflowId())
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return ids
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// A copy that selects its tables by pattern holds a lease on each table
// the pattern stands for, so a migration naming one of them is refused.
func TestAPatternsLeaseCoversTheTablesItSelects(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t, datastore.Postgres)
	setEnv(t, "LEASE_IT_PATTERN_DSN", db.DSN)
	src := filepath.Join(t.TempDir(), "src.db")
	setEnv(t, "LEASE_IT_PATTERN_SRC", src)
	s, err := datastore.Open(context.Background(), datastore.SQLite, src)
	require.NoError(t, err)
	dbtest.Exec(t, s, "CREATE TABLE lease_orders (id integer PRIMARY KEY)", "CREATE TABLE lease_items (id integer PRIMARY KEY)")
	s.Close()
	spec := func(name, tables string) *demo {
		return newSpec(t, name, `
stores:
  legacy: {engine: sqlite, dsn: {fromEnv: LEASE_IT_PATTERN_SRC}}
  target: {engine: postgres, dsn: {fromEnv: LEASE_IT_PATTERN_DSN}}
phases:
  - phase: shift-traffic
    approval: {gate: go}
    hook: {run: {command: ["true"]}}
  - phase: copy
    copy: {from: legacy, to: target, tables: [`+tables+`]}
`)
	}
	a := spec("it-lease-pattern-a", `"lease_*"`)
	b := spec("it-lease-pattern-b", "lease_orders")
	a.start()
	a.waitFor("the gate", waitingAt("go"))
	waitLeaseRunning(t, keyedLeaseID(t, db, "lease_orders"))

	b.start()
	final, err := b.result()
	require.Error(t, err)
	require.Equal(t, "resource table lease_orders of store target is held by migration it-lease-pattern-a: wait for it to end, or roll it back", final.Error)
	require.Equal(t, migration.PhasePending, final.Phases[0].State, "no phase ran")

	out, err := godwit(t, "rollback", a.name, "--reason", "free the lease")
	require.NoError(t, err, out)
	_, _ = a.result()
	waitLeaseEnded(t, keyedLeaseID(t, db, "lease_orders"))
	waitLeaseEnded(t, keyedLeaseID(t, db, "lease_items"))
}
