package workflows

import (
	"go.temporal.io/sdk/workflow"
)

// continueAsNew hands the run's state to a new run of the same workflow
// ID. Signals already delivered are applied first and running update
// handlers finish, so nothing a person sent is lost on the way.
func (r *run) continueAsNew(ctx workflow.Context) error {
	_ = workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
	carry := &Carry{
		Report:           r.snapshot(ctx),
		Compensations:    r.compensations,
		Approvals:        r.approvals,
		Outputs:          r.outputs,
		Leases:           r.leases,
		LeaseIDs:         r.leaseIDs,
		LeasesByActivity: r.leasesByActivity,
		StepsDone:        r.stepsDone,
		Prior:            r.prior,
		Promoted:         r.promoted,
		Throttle:         r.throttle,
		Paused:           r.paused,
		PreflightDone:    r.preflightDone,
		LagCheckpoint:    r.lagCheckpoint,
		Background:       r.bgCarry,
		Phase:            r.startPhase,
		Step:             r.startStep,
		RunKey:           r.runKey,
	}
	r.logger.Info("continuing as new", "phase", r.currentPhase(), "step", r.startStep)
	return workflow.NewContinueAsNewError(ctx, WorkflowName, Input{
		Spec: r.spec, Carry: carry, ActivitiesPerRun: r.activitiesPerRun,
		FanOutWindow: r.fanOutWindow, Plan: r.plan,
	})
}

// drainSignals applies the signals waiting in the channels.
func (r *run) drainSignals(ctx workflow.Context) {
	for {
		got := false
		var p PauseRequest
		if workflow.GetSignalChannel(ctx, SignalPause).ReceiveAsync(&p) {
			r.onPause(ctx, p)
			got = true
		}
		var q PauseRequest
		if workflow.GetSignalChannel(ctx, SignalResume).ReceiveAsync(&q) {
			r.onResume(ctx, q)
			got = true
		}
		var rb RollbackRequest
		if workflow.GetSignalChannel(ctx, SignalRollback).ReceiveAsync(&rb) {
			r.onRollback(ctx, rb)
			got = true
		}
		if !got {
			return
		}
	}
}
