package workflows

import (
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/godwit/godwit/activities"
)

// Leases keep two migrations from driving the same resource (a store's
// tables, a gateway route, a Terraform workspace). Each held resource has a
// Lease workflow: Temporal runs at most one workflow per ID, so the second
// migration's start of the same lease fails, atomically, on the server.
// The lease ends when the migration releases it at its end, or when it
// finds its holder no longer running (a migration terminated by hand).
//
// Since leaseBatchV1 one activity starts them all (AcquireLeases, with the
// worker's client; the holder is in each lease's memo) and one releases
// them (ReleaseLeases): six events of the migration's history, whatever
// the number of tables. Runs started before start each as a child and
// signal each to release it, four to five events per lease.
//
// Since leaseKeyV1 a lease's ID is a hash of what the resource is (a
// store's identity and the table, the route, the workspace; see
// activities.LeaseResources), so one database under two DSNs is one lease
// and no name shows in an ID; the readable name is in the lease's input.
// Runs started before keep their old IDs (LeaseWorkflowID(resource)), and
// a new run refuses a resource an old run holds that way.

// LeaseInput starts a lease: the resource, and the workflow ID of the
// migration that holds it.
type LeaseInput = activities.LeaseClaim

// leaseCheckInterval is how often a lease checks that its holder runs;
// leaseCheckIntervalV1 since leaseCheckV1.
const (
	leaseCheckInterval   = time.Minute
	leaseCheckIntervalV1 = 10 * time.Minute
)

// leaseChecksPerRun bounds a lease's history: it continues as new after
// this many checks (about ten events each).
const leaseChecksPerRun = 500

// Lease holds a resource for a migration until released or until the
// migration is gone.
func Lease(ctx workflow.Context, in LeaseInput) error {
	every := leaseCheckInterval
	if workflow.GetVersion(ctx, changeLeaseCheck, workflow.DefaultVersion, leaseCheckV1) >= leaseCheckV1 {
		every = leaseCheckIntervalV1
	}
	released := false
	workflow.Go(ctx, func(gctx workflow.Context) {
		workflow.GetSignalChannel(gctx, SignalRelease).Receive(gctx, nil)
		released = true
	})
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 3},
	})
	for checks := 0; checks < leaseChecksPerRun; checks++ {
		ok, err := workflow.AwaitWithTimeout(ctx, every, func() bool { return released })
		if err != nil || ok {
			return err
		}
		var running bool
		if err := workflow.ExecuteActivity(actx, activities.HolderRunningName, in.Holder).Get(ctx, &running); err != nil {
			continue // cannot tell: keep the lease, ask again later
		}
		if !running {
			workflow.GetLogger(ctx).Warn("lease holder is gone; lease ends", "resource", in.Resource, "holder", in.Holder)
			return nil
		}
	}
	return workflow.NewContinueAsNewError(ctx, LeaseWorkflowName, in)
}

// acquireLeases takes a lease on every resource the spec drives, first
// run only. A resource held by another running migration stops this one
// before any phase runs.
func (r *run) acquireLeases(ctx workflow.Context) *stopCause {
	if r.version < spineV1 || r.startPhase > 0 || r.startStep > 0 || len(r.leases) > 0 || len(r.leaseIDs) > 0 {
		return nil
	}
	if len(r.resources()) > 0 && workflow.GetVersion(ctx, changeLeaseBatch, workflow.DefaultVersion, leaseBatchV1) >= leaseBatchV1 {
		return r.acquireLeasesByActivity(ctx)
	}
	if workflow.GetVersion(ctx, changeLeaseKey, workflow.DefaultVersion, leaseKeyV1) >= leaseKeyV1 {
		return r.acquireKeyedLeases(ctx)
	}
	for _, res := range r.resources() {
		err := r.startLease(ctx, res)
		if isAlreadyStarted(err) {
			// Held: by a live migration, or by a lease whose holder has
			// ended and that has not noticed yet. Ask, clear a stale one,
			// and try once more.
			var claim activities.LeaseHolder
			actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Second})
			if cerr := workflow.ExecuteActivity(actx, activities.ClaimLeaseName, LeaseInput{Resource: res, Holder: r.spec.Name}).Get(ctx, &claim); cerr != nil {
				err = cerr
			} else if claim.Holder != "" {
				reason := fmt.Sprintf("resource %s is held by migration %s: wait for it to end, or roll it back", res, claim.Holder)
				r.addIssue(ctx, "", "ERROR", reason)
				return &stopCause{reason: reason}
			} else {
				err = r.startLease(ctx, res)
			}
		}
		if err != nil {
			reason := fmt.Sprintf("lease on %s: %v", res, err)
			r.addIssue(ctx, "", "ERROR", reason)
			return &stopCause{reason: reason}
		}
		r.leases = append(r.leases, res)
	}
	if len(r.leases) > 0 {
		r.logger.Info("leases acquired", "resources", r.leases)
	}
	return nil
}

// leaseActivityTimeout bounds taking or releasing every lease of a run
// (16 starts at a time: thousands of tables take seconds to a minute).
const leaseActivityTimeout = 30 * time.Minute

// acquireLeasesByActivity takes every lease in one activity
// (leaseBatchV1): the run's history holds its three events whatever the
// number of resources.
func (r *run) acquireLeasesByActivity(ctx workflow.Context) *stopCause {
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: leaseActivityTimeout,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 3},
		Summary:             "leases: take one on each resource the migration drives",
	})
	in := activities.AcquireLeasesInput{Spec: r.spec, Holder: r.spec.Name, HolderRun: workflow.GetInfo(ctx).WorkflowExecution.RunID}
	var res activities.AcquireLeasesResult
	if err := workflow.ExecuteActivity(actx, activities.AcquireLeasesName, in).Get(ctx, &res); err != nil {
		reason := "leases: " + errorMessage(err)
		r.addIssue(ctx, "", "ERROR", reason)
		return &stopCause{reason: reason}
	}
	if res.Held != nil {
		return r.leaseHeld(ctx, res.Held.Name, res.Held.Holder)
	}
	r.leaseIDs, r.leasesByActivity = res.IDs, true
	r.logger.Info("leases acquired", "leases", len(r.leaseIDs))
	return nil
}

// acquireKeyedLeases takes the leases an activity lists, keyed by what
// each resource is (leaseKeyV1). A resource an older run holds under its
// old ID stops this one as a held lease does.
func (r *run) acquireKeyedLeases(ctx workflow.Context) *stopCause {
	if len(r.resources()) == 0 {
		return nil
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 3},
		Summary:             "leases: what each resource is, and who holds it",
	})
	var list []activities.LeaseResource
	err := workflow.ExecuteActivity(actx, activities.LeaseResourcesName,
		activities.LeaseResourcesInput{Spec: r.spec, Holder: r.spec.Name}).Get(ctx, &list)
	if err != nil {
		reason := "leases: " + errorMessage(err)
		r.addIssue(ctx, "", "ERROR", reason)
		return &stopCause{reason: reason}
	}
	for _, l := range list {
		if l.LegacyHolder != "" {
			return r.leaseHeld(ctx, l.Name, l.LegacyHolder)
		}
	}
	for _, l := range list {
		claim := LeaseInput{Resource: l.Name, Holder: r.spec.Name, ID: l.ID}
		err := r.startLeaseAs(ctx, claim)
		if isAlreadyStarted(err) {
			var held activities.LeaseHolder
			cctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Second})
			if cerr := workflow.ExecuteActivity(cctx, activities.ClaimLeaseName, claim).Get(ctx, &held); cerr != nil {
				err = cerr
			} else if held.Holder != "" {
				return r.leaseHeld(ctx, l.Name, held.Holder)
			} else {
				err = r.startLeaseAs(ctx, claim)
			}
		}
		if err != nil {
			reason := fmt.Sprintf("lease on %s: %s", l.Name, errorMessage(err))
			r.addIssue(ctx, "", "ERROR", reason)
			return &stopCause{reason: reason}
		}
		r.leaseIDs = append(r.leaseIDs, l.ID)
	}
	r.logger.Info("leases acquired", "leases", len(r.leaseIDs))
	return nil
}

// leaseHeld stops the run: name is held by another running migration.
func (r *run) leaseHeld(ctx workflow.Context, name, holder string) *stopCause {
	reason := fmt.Sprintf("resource %s is held by migration %s: wait for it to end, or roll it back", name, holder)
	r.addIssue(ctx, "", "ERROR", reason)
	return &stopCause{reason: reason}
}

func (r *run) startLease(ctx workflow.Context, res string) error {
	return r.startLeaseAs(ctx, LeaseInput{Resource: res, Holder: r.spec.Name})
}

// startLeaseAs starts the lease workflow claim names, as a child.
func (r *run) startLeaseAs(ctx workflow.Context, claim LeaseInput) error {
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            claim.WorkflowID(),
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		// The lease outlives a run of its holder that continues as new;
		// it ends on release, or when it finds the holder gone.
		ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_ABANDON,
	})
	child := workflow.ExecuteChildWorkflow(cctx, LeaseWorkflowName, claim)
	return child.GetChildWorkflowExecution().Get(ctx, nil)
}

func isAlreadyStarted(err error) bool {
	var started *temporal.ChildWorkflowExecutionAlreadyStartedError
	return errors.As(err, &started)
}

// releaseLeases ends the migration's leases; it runs once the migration
// has ended, whatever the outcome.
func (r *run) releaseLeases(ctx workflow.Context) {
	if len(r.leases) == 0 && len(r.leaseIDs) == 0 {
		return
	}
	if r.leasesByActivity {
		r.releaseLeasesByActivity(ctx)
		return
	}
	// A run holds leases of one form: old-form resources (r.leases) or
	// lease IDs (r.leaseIDs).
	ids := r.leaseIDs
	for _, res := range r.leases {
		ids = append(ids, LeaseWorkflowID(res))
	}
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	futures := make([]workflow.Future, len(ids))
	for i, id := range ids {
		futures[i] = workflow.SignalExternalWorkflow(dctx, id, "", SignalRelease, nil)
	}
	for i, f := range futures {
		if err := f.Get(dctx, nil); err != nil {
			// A lease that already ended needs no release.
			r.logger.Info("lease release", "lease", ids[i], "error", err)
		}
	}
	r.leases, r.leaseIDs = nil, nil
}

// releaseLeasesByActivity ends the leases AcquireLeases took, in one
// activity (leaseBatchV1).
func (r *run) releaseLeasesByActivity(ctx workflow.Context) {
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	actx := workflow.WithActivityOptions(dctx, workflow.ActivityOptions{
		StartToCloseTimeout: leaseActivityTimeout,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 5},
		Summary:             "leases: release each one",
	})
	err := workflow.ExecuteActivity(actx, activities.ReleaseLeasesName, activities.ReleaseLeasesInput{IDs: r.leaseIDs}).Get(dctx, nil)
	if err != nil {
		// Each lease still ends by itself once it finds its holder gone
		// (it checks every leaseCheckIntervalV1).
		r.logger.Warn("lease release", "leases", len(r.leaseIDs), "error", err)
	}
	r.leaseIDs, r.leasesByActivity = nil, false
}
