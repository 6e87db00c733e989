package workflows

import (
	"go.temporal.io/sdk/workflow"
)

// Registry is the part of a Temporal worker that registers workflows.
type Registry interface {
	RegisterWorkflowWithOptions(w any, options workflow.RegisterOptions)
}

// Register registers the workflows under their stable names.
func Register(r Registry) {
	r.RegisterWorkflowWithOptions(Migration, workflowRegisterOptions())
	r.RegisterWorkflowWithOptions(PreflightWorkflow, workflow.RegisterOptions{Name: PreflightWorkflowName})
	r.RegisterWorkflowWithOptions(Lease, workflow.RegisterOptions{Name: LeaseWorkflowName})
	r.RegisterWorkflowWithOptions(FanOutWindow, workflow.RegisterOptions{Name: FanOutWindowName})
}

func workflowRegisterOptions() workflow.RegisterOptions {
	return workflow.RegisterOptions{Name: WorkflowName}
}
