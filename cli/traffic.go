package cli

import (
	"context"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"github.com/godwit/godwit/migration"
	"github.com/godwit/godwit/workflows"
)

func (a *app) promoteCommand() *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "promote NAME",
		Short: "Skip the remaining waits, gates and analyses of the running traffic shift",
		Long: `Promote the running phase of steps (a traffic shift): its remaining holds,
gates and analyses are skipped, while the steps that move traffic still run,
in order, up to the last one. The step running now finishes first. Refused
outside a running phase of steps and past the point of no return; recorded
as an issue with your name.`,
		Example: `  godwit promote shop --reason "two days at 50% without an error"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withRunning(cmd.Context(), args[0], func(c client.Client, _ *migration.Report) error {
				var phase string
				if err := a.update(cmd.Context(), c, args[0], workflows.UpdatePromote,
					workflows.PromoteRequest{By: whoami(), Reason: reason}, &phase); err != nil {
					return fmt.Errorf("promote %s: %w", args[0], err)
				}
				fmt.Fprintf(a.out, "phase %s of %s promoted: it goes on to its last step; follow it: godwit status %s --watch\n", phase, args[0], args[0])
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why, for the record")
	return cmd
}

func (a *app) setWeightCommand() *cobra.Command {
	var phase string
	var reads, writes int
	cmd := &cobra.Command{
		Use:   "set-weight NAME --phase PHASE --reads R [--writes W]",
		Short: "Set a traffic phase's route weights by hand, recorded in the migration",
		Long: `Set the share of reads and writes that the gateway route of a traffic phase
sends to new, now, by hand: the escape hatch for an operator who must act
before the next step. The change is recorded as an issue in the migration's
report, with your name. The phase's next weight step, a promote or a
rollback sets the weights again. Refused once the migration has ended or is
past its point of no return. The gateway's token is read here, from the
environment variable or file the spec names.`,
		Example: `  godwit set-weight shop --phase shift-users --reads 0 --writes 0   # everyone back on legacy now`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if writes < 0 {
				writes = reads
			}
			if reads < 0 || reads > 100 || writes > 100 {
				return fmt.Errorf("--reads and --writes are percentages, 0 to 100")
			}
			name := args[0]
			return a.withRunning(cmd.Context(), name, func(c client.Client, rep *migration.Report) error {
				if rep.Rollback == migration.RollbackNotAvailable {
					return fmt.Errorf("set-weight on %s refused: %s", name, rep.RollbackNote)
				}
				target, note := a.gatewayFromSpec(cmd.Context(), c, name, phase)
				if note != "" {
					return fmt.Errorf("set-weight on %s: %s", name, note)
				}
				if err := target.SetWeights(cmd.Context(), reads, writes); err != nil {
					return err
				}
				msg := fmt.Sprintf("route %s of phase %s set by hand to reads %d%%, writes %d%% to new", target.Route, phase, reads, writes)
				var at string
				if err := a.update(cmd.Context(), c, name, workflows.UpdateRecord, workflows.RecordRequest{By: whoami(), Message: msg}, &at); err != nil {
					fmt.Fprintf(a.errOut, "warning: the weights were set, but the migration did not record it: %v\n", err)
				}
				fmt.Fprintln(a.out, msg)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&phase, "phase", "", "the traffic phase whose route to set (required)")
	cmd.Flags().IntVar(&reads, "reads", -1, "percent of reads to new, 0-100 (required)")
	cmd.Flags().IntVar(&writes, "writes", -1, "percent of writes to new, 0-100 (default: as --reads)")
	_ = cmd.MarkFlagRequired("phase")
	_ = cmd.MarkFlagRequired("reads")
	return cmd
}

// update sends a workflow update and waits for its result.
func (a *app) update(ctx context.Context, c client.Client, name, update string, arg, result any) error {
	return a.migrations(c).Update(ctx, name, update, arg, result)
}

func (a *app) throttleCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "throttle NAME ROWS_PER_SECOND",
		Short: "Change the running copy's rate (0: no limit); it takes it at its next checkpoint",
		Long: `Change how many rows per second the running copy writes, while it runs (as
gh-ost's live commands do): the copy stops at its next checkpoint and goes
on from there at the new rate, and tables of a fanned-out copy that start
later take it too. 0 lifts the limit. Recorded as an issue with your name;
godwit status shows it.`,
		Example: `  godwit throttle orders 2000    # ease off: replicas lag
  godwit throttle orders 0       # full speed again`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			rps, err := strconv.Atoi(args[1])
			if err != nil || rps < 0 {
				return fmt.Errorf("rows per second %q: give a whole number, 0 for no limit", args[1])
			}
			return a.withRunning(cmd.Context(), args[0], func(c client.Client, _ *migration.Report) error {
				var phase string
				if err := a.update(cmd.Context(), c, args[0], workflows.UpdateThrottle,
					workflows.ThrottleRequest{RowsPerSecond: rps, By: whoami()}, &phase); err != nil {
					return fmt.Errorf("throttle %s: %w", args[0], err)
				}
				rate := fmt.Sprintf("%d rows/s", rps)
				if rps == 0 {
					rate = "no rate limit" // "takes 0 rows/s" reads as stopped
				}
				fmt.Fprintf(a.out, "phase %s of %s takes %s at its next checkpoint\n", phase, args[0], rate)
				return nil
			})
		},
	}
	return cmd
}
