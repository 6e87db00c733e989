package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/control"
	"github.com/godwit/godwit/suggest"
	"github.com/godwit/godwit/workflows"
)

func (a *app) outputCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "output NAME [PHASE]",
		Short: "Print what each phase's hook printed, attempt by attempt",
		Long: `Print the output the phases' hooks printed (the last 16 KiB of each), in the
order they ran: completed actions, the last attempt of a phase that failed
(earlier attempts are retried inside Temporal and not kept), the attempt a
pause, a new throttle or a rollback stopped (with its attempt number, so a
worker killed before it shows), and compensations. Give a phase to see only that one. It reads the workflow's
history (and, for a fan-out run in windows, each window's), so it works
for running and ended migrations alike, with or without a worker.`,
		Example: `  godwit output demo
  godwit output demo copy`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			defer c.Close()
			phase := ""
			if len(args) == 2 {
				phase = args[1]
			}
			results, err := phaseOutputs(cmd.Context(), c, a.dc, args[0])
			if err != nil {
				return err
			}
			shown := 0
			for _, r := range results {
				if phase != "" && r.Phase != phase {
					continue
				}
				shown++
				what := string(r.Action)
				switch {
				case r.Step > 0:
					what = fmt.Sprintf("%s step %d", r.Action, r.Step)
				case r.AfterUnits:
					what = fmt.Sprintf("%s after its units", r.Action)
				}
				fmt.Fprintf(a.out, "== %s %s, attempt %d, %s%s ==\n", r.Phase, what, r.Attempt, r.Duration, r.failure)
				out := r.Output
				if out == "" {
					out = "(no output)\n"
				}
				fmt.Fprint(a.out, out)
				if !strings.HasSuffix(out, "\n") {
					fmt.Fprintln(a.out)
				}
			}
			if shown == 0 && phase != "" {
				// A phase the spec does not have is a typo, not a phase
				// that has not run yet: say so, with the names it has.
				if err := a.checkPhaseName(cmd.Context(), c, args[0], phase); err != nil {
					return err
				}
			}
			if shown == 0 {
				fmt.Fprintf(a.out, "no hook output recorded for %s: a phase that has not run yet, or was cancelled while running, has none\n",
					strings.TrimSpace(args[0]+" "+phase))
			}
			return nil
		},
	}
}

// checkPhaseName returns an error when the run's spec has no phase named
// phase; nil when it has one or the spec cannot be read (the caller then
// says only that no output is recorded).
func (a *app) checkPhaseName(ctx context.Context, c client.Client, name, phase string) error {
	spec, err := a.migrations(c).RunSpec(ctx, name)
	if err != nil {
		return nil
	}
	names := make([]string, len(spec.Phases))
	for i, p := range spec.Phases {
		names[i] = p.Name
	}
	if slices.Contains(names, phase) {
		return nil
	}
	return fmt.Errorf("migration %s has no phase named %q%s; its phases: %s", name, phase, suggest.DidYouMean(phase, names), strings.Join(names, ", "))
}

// attemptOutput is one phase attempt's result as history recorded it.
type attemptOutput struct {
	activities.PhaseResult
	failure string // ", failed: ..." for a failed attempt
}

// phaseOutputs reads the phase results out of the run's history: completed
// activities carry one as their result, failed attempts as their failure's
// details (activities.WithResult).
func phaseOutputs(ctx context.Context, c client.Client, dc converter.DataConverter, name string) ([]attemptOutput, error) {
	// A long migration continues as new: its earlier runs hold the
	// earlier phases' output, so read the chain from its first run.
	var runs [][]attemptOutput
	runID := ""
	for {
		out, previous, err := runOutputs(ctx, c, dc, name, runID)
		if err != nil {
			return nil, err
		}
		runs = append(runs, out)
		if previous == "" || len(runs) > 10000 {
			break
		}
		runID = previous
	}
	var all []attemptOutput
	for i := len(runs) - 1; i >= 0; i-- {
		all = append(all, runs[i]...)
	}
	return all, nil
}

// runOutputs reads one run's phase results, and the ID of the run it
// continued, if any.
func runOutputs(ctx context.Context, c client.Client, dc converter.DataConverter, name, runID string) ([]attemptOutput, string, error) {
	iter := c.GetWorkflowHistory(ctx, name, runID, false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var out []attemptOutput
	previous := ""
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			return nil, "", control.Explain(name, err)
		}
		if started := ev.GetWorkflowExecutionStartedEventAttributes(); started != nil {
			previous = started.GetContinuedExecutionRunId()
		}
		// A large fan-out runs its units in windows, child workflows of
		// their own: their results are in the windows' histories.
		if child := ev.GetChildWorkflowExecutionStartedEventAttributes(); child != nil && child.GetWorkflowType().GetName() == workflows.FanOutWindowName {
			w := child.GetWorkflowExecution()
			units, _, err := runOutputs(ctx, c, dc, w.GetWorkflowId(), w.GetRunId())
			if err != nil {
				return nil, "", err
			}
			out = append(out, units...)
			continue
		}
		r, ok, err := attemptFromEvent(dc, ev)
		if err != nil {
			return nil, "", control.ExplainDecode(fmt.Errorf("migration %s: event %d: %w", name, ev.GetEventId(), err))
		}
		if ok {
			out = append(out, r)
		}
	}
	return out, previous, nil
}

// Results of other shapes are skipped; only payloads that cannot be
// decrypted are an error, since skipping those would hide every output.
func attemptFromEvent(dc converter.DataConverter, ev *historypb.HistoryEvent) (attemptOutput, bool, error) {
	var r attemptOutput
	if done := ev.GetActivityTaskCompletedEventAttributes(); done != nil {
		err := dc.FromPayloads(done.GetResult(), &r.PhaseResult)
		return r, err == nil && r.Phase != "", control.Undecryptable(err)
	}
	if failed := ev.GetActivityTaskFailedEventAttributes(); failed != nil {
		f := failed.GetFailure()
		details := f.GetApplicationFailureInfo().GetDetails()
		if details == nil {
			return r, false, nil
		}
		if err := dc.FromPayloads(details, &r.PhaseResult); err != nil || r.Phase == "" {
			return r, false, control.Undecryptable(err)
		}
		r.failure = ", failed: " + control.FailureMessage(dc, f)
		return r, true, nil
	}
	if stopped := ev.GetActivityTaskCanceledEventAttributes(); stopped != nil {
		// A pause or a new throttle stops a phase at its checkpoint and
		// runs it again as a new activity, whose attempts start at 1: the
		// stopped one's attempt number is the trace of the retries before.
		details := stopped.GetDetails()
		if details == nil {
			return r, false, nil
		}
		if err := dc.FromPayloads(details, &r.PhaseResult); err != nil || r.Phase == "" {
			return r, false, control.Undecryptable(err)
		}
		r.failure = ", stopped at its checkpoint (a pause, a new throttle or a rollback)"
		return r, true, nil
	}
	return r, false, nil
}
