package activities

import (
	"context"
	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
)

// Lease activity names.
const (
	ClaimLeaseName    = "ClaimLease"
	HolderRunningName = "HolderRunning"
)

// LeaseWorkflowID is the workflow ID of resource's lease: one lease
// workflow may run per ID, which is what makes a lease exclusive.
func LeaseWorkflowID(resource string) string { return "godwit-lease:" + resource }

// LeaseClaim asks who holds a resource's lease, on behalf of Holder.
type LeaseClaim struct {
	Resource string `json:"resource"`
	Holder   string `json:"holder"`
}

// LeaseHolder answers a LeaseClaim: the live holder, or "" once a stale
// lease has been cleared.
type LeaseHolder struct {
	Holder string `json:"holder"`
}

// HolderRunning reports whether the migration with workflow ID holder is
// still running.
func (a *Activities) HolderRunning(ctx context.Context, holder string) (bool, error) {
	return workflowRunning(ctx, holder)
}

// ClaimLease finds who holds the lease on a resource. A lease whose holder
// has ended (terminated by hand, so it never released) is terminated here,
// so the resource is free again.
func (a *Activities) ClaimLease(ctx context.Context, in LeaseClaim) (LeaseHolder, error) {
	c := activity.GetClient(ctx)
	id := LeaseWorkflowID(in.Resource)
	desc, err := c.DescribeWorkflowExecution(ctx, id, "")
	var notFound *serviceerror.NotFound
	switch {
	case errors.As(err, &notFound):
		return LeaseHolder{}, nil
	case err != nil:
		return LeaseHolder{}, fmt.Errorf("describe lease %s: %w", id, err)
	}
	info := desc.GetWorkflowExecutionInfo()
	if info.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return LeaseHolder{}, nil
	}
	holder := info.GetParentExecution().GetWorkflowId()
	if holder != "" && holder != in.Holder {
		running, err := workflowRunning(ctx, holder)
		if err != nil {
			return LeaseHolder{}, err
		}
		if running {
			return LeaseHolder{Holder: holder}, nil
		}
	}
	// Stale: its holder ended, or it is an earlier run of the claimant
	// itself that ended without releasing it.
	a.Logger.Warn("clearing a stale lease", "resource", in.Resource, "holder", holder)
	if err := c.TerminateWorkflow(ctx, id, "", "stale lease: its holder "+holder+" has ended"); err != nil && !errors.As(err, &notFound) {
		return LeaseHolder{}, fmt.Errorf("clear stale lease %s: %w", id, err)
	}
	return LeaseHolder{}, nil
}

func workflowRunning(ctx context.Context, id string) (bool, error) {
	desc, err := activity.GetClient(ctx).DescribeWorkflowExecution(ctx, id, "")
	var notFound *serviceerror.NotFound
	switch {
	case errors.As(err, &notFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("describe %s: %w", id, err)
	}
	return desc.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, nil
}
