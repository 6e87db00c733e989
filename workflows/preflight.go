package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/migration"
)

// preflightTimeout bounds one preflight: it only looks, so it is quick.
const preflightTimeout = 2 * time.Minute

// PreflightWorkflow runs every driver's preflight for a spec on a worker
// and returns what it found, changing nothing: what `godwit preflight`
// and `godwit start --dry-run` run, so the checks see what workers see.
func PreflightWorkflow(ctx workflow.Context, in activities.PreflightInput) (activities.PreflightResult, error) {
	var res activities.PreflightResult
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: preflightTimeout,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 1},
	})
	err := workflow.ExecuteActivity(actx, activities.PreflightName, in).Get(ctx, &res)
	return res, err
}

// preflight runs every driver's preflight before the first validate phase
// does anything; problems fail the phase, all of them listed.
func (r *run) preflight(ctx workflow.Context, i int) *stopCause {
	spec := r.spec.Phases[i]
	opts := activityOptions(spec)
	opts.StartToCloseTimeout = min(opts.StartToCloseTimeout, preflightTimeout)
	opts.HeartbeatTimeout = 0
	opts.Summary = "preflight of every phase"
	var res activities.PreflightResult
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), activities.PreflightName,
		activities.PreflightInput{Spec: r.spec, Run: r.runKey}).Get(ctx, &res)
	if err != nil {
		return r.actionFailed(ctx, i, spec, err)
	}
	if len(res.Problems) > 0 {
		return r.phaseFailed(ctx, i, PreflightSummary(res.Problems), activities.PhaseResult{})
	}
	r.preflightDone = true
	r.report.Phases[i].Summary = "preflight passed for " + migration.Count(len(r.spec.Phases), "phase")
	r.publish(ctx)
	return nil
}

// PreflightSummary puts preflight problems in one message, each once with
// the phases that found it (activities.GroupProblems). Text only: no
// command depends on it.
func PreflightSummary(problems []activities.Problem) string {
	grouped := activities.GroupProblems(problems)
	lines := make([]string, len(grouped))
	for i, p := range grouped {
		lines[i] = p.Where() + ": " + p.Message
	}
	return fmt.Sprintf("preflight found %s: %s", migration.Count(len(grouped), "problem"), strings.Join(lines, "; "))
}
