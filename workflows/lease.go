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
// Lease workflow with the ID LeaseWorkflowID(resource), started by the
// migration as a child: Temporal runs at most one workflow per ID, so the
// second migration's start of the same lease fails, atomically, on the
// server. The lease ends when the migration releases it at its end, or when
// it finds its holder no longer running (a migration terminated by hand).

// LeaseInput starts a lease: the resource, and the workflow ID of the
// migration that holds it.
type LeaseInput = activities.LeaseClaim

// leaseCheckInterval is how often a lease checks that its holder runs.
const leaseCheckInterval = time.Minute

// leaseChecksPerRun bounds a lease's history: it continues as new after
// this many checks (about ten events each).
const leaseChecksPerRun = 500

// Lease holds a resource for a migration until released or until the
// migration is gone.
func Lease(ctx workflow.Context, in LeaseInput) error {
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
		ok, err := workflow.AwaitWithTimeout(ctx, leaseCheckInterval, func() bool { return released })
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
	if r.version < spineV1 || r.startPhase > 0 || r.startStep > 0 || len(r.leases) > 0 {
		return nil
	}
	for _, res := range r.spec.AllResources() {
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

func (r *run) startLease(ctx workflow.Context, res string) error {
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            LeaseWorkflowID(res),
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		// The lease outlives a run of its holder that continues as new;
		// it ends on release, or when it finds the holder gone.
		ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_ABANDON,
	})
	child := workflow.ExecuteChildWorkflow(cctx, LeaseWorkflowName, LeaseInput{Resource: res, Holder: r.spec.Name})
	return child.GetChildWorkflowExecution().Get(ctx, nil)
}

func isAlreadyStarted(err error) bool {
	var started *temporal.ChildWorkflowExecutionAlreadyStartedError
	return errors.As(err, &started)
}

// releaseLeases ends the migration's leases; it runs once the migration
// has ended, whatever the outcome.
func (r *run) releaseLeases(ctx workflow.Context) {
	if len(r.leases) == 0 {
		return
	}
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	futures := make([]workflow.Future, len(r.leases))
	for i, res := range r.leases {
		futures[i] = workflow.SignalExternalWorkflow(dctx, LeaseWorkflowID(res), "", SignalRelease, nil)
	}
	for i, f := range futures {
		if err := f.Get(dctx, nil); err != nil {
			// A lease that already ended needs no release.
			r.logger.Info("lease release", "resource", r.leases[i], "error", err)
		}
	}
	r.leases = nil
}
