package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"github.com/godwit/godwit/migration"
	"github.com/godwit/godwit/workflows"
)

func (a *app) pauseCommand() *cobra.Command {
	return a.pauseResume(workflows.SignalPause,
		"Hold a migration before its next phase (the running phase finishes)")
}

func (a *app) resumeCommand() *cobra.Command {
	return a.pauseResume(workflows.SignalResume, "Let a paused migration go on")
}

func (a *app) pauseResume(signal, short string) *cobra.Command {
	var reason, by string
	cmd := &cobra.Command{
		Use:     signal + " NAME",
		Short:   short,
		Example: fmt.Sprintf("  godwit %s demo --reason \"load spike on the source\"", signal),
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			defer c.Close()
			req := workflows.PauseRequest{Reason: reason, By: by}
			m := a.migrations(c)
			steer := m.Pause
			if signal == workflows.SignalResume {
				steer = m.Resume
			}
			rep, err := steer(cmd.Context(), args[0], req)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.out, "%s sent to migration %s (now %s, phase %s)\n", signal, args[0], rep.Status, rep.CurrentPhase)
			return nil
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why, for the record (godwit status shows it while paused)")
	cmd.Flags().StringVar(&by, "by", whoami(), "who, for the record")
	return cmd
}

func (a *app) approveCommand() *cobra.Command {
	var gate, by, reason string
	cmd := &cobra.Command{
		Use:   "approve NAME --gate GATE [--reason TEXT]",
		Short: "Open a manual gate that a migration is waiting at",
		Long: `Approve the gate a migration is waiting at. The approval is refused, with the
reason, when that gate is not the one waiting; nothing is recorded then.

A disruptive phase waiting for the spec's window (status WAITING_WINDOW)
waits at the gate "window": approving it starts the phase now, outside
its window, and needs --reason (recorded as an issue).`,
		Example: `  godwit approve demo --gate go-live
  godwit approve orders --gate window --reason "incident 4711: legacy disk failing"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			defer c.Close()
			res, err := a.migrations(c).Approve(cmd.Context(), args[0], workflows.ApproveRequest{Gate: gate, By: by, Reason: reason})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.out, "gate %s approved by %s: migration %s goes on with phase %s\n", res.Gate, res.By, args[0], res.Phase)
			return nil
		},
	}
	cmd.Flags().StringVar(&gate, "gate", "", "name of the gate to open")
	cmd.Flags().StringVar(&by, "by", whoami(), "who approves, for the record")
	cmd.Flags().StringVar(&reason, "reason", "", "why (required for --gate window)")
	_ = cmd.MarkFlagRequired("gate")
	return cmd
}

func (a *app) rollbackCommand() *cobra.Command {
	var reason, skip string
	var retry, abandon bool
	cmd := &cobra.Command{
		Use:   "rollback NAME --reason TEXT | --retry | --skip PHASE | --abandon",
		Short: "Undo a migration, or unblock a rollback whose compensation failed",
		Long: `Roll a migration back. The running phase is cancelled and every completed
phase's compensation runs, last first. Refused once the first decommission
has started: that is the point of no return.

If a compensation fails for good, the rollback stops there and the
migration waits in ROLLBACK_BLOCKED (undoing an earlier phase while a later
one is still in effect could do more harm). Then, once you have looked at
the error:
  --retry        runs the failed compensation again, then the rest;
  --skip PHASE   says you undid PHASE by hand: the rollback goes on with the
                 rest (recorded as an issue, with your name);
  --abandon      ends the migration as ROLLBACK_FAILED, leaving the rest as
                 it is.`,
		Example: `  godwit rollback demo --reason "p99 too high on the new service"
  godwit rollback demo --retry
  godwit rollback demo --skip provision --reason "dropped the target schema by hand"
  godwit rollback demo --abandon`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			switch {
			case retry:
				return a.repair(cmd.Context(), name, workflows.RepairRequest{Action: workflows.RepairRetry, By: whoami(), Reason: reason})
			case skip != "":
				return a.repair(cmd.Context(), name, workflows.RepairRequest{Action: workflows.RepairSkip, Phase: skip, By: whoami(), Reason: reason})
			case abandon:
				return a.repair(cmd.Context(), name, workflows.RepairRequest{Action: workflows.RepairAbandon, By: whoami(), Reason: reason})
			case reason == "":
				return errors.New("rollback needs --reason TEXT (why, for the record), or one of --retry, --skip PHASE, --abandon for a blocked rollback")
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			defer c.Close()
			if err := a.migrations(c).Rollback(cmd.Context(), name, workflows.RollbackRequest{Reason: reason, By: whoami()}); err != nil {
				return err
			}
			fmt.Fprintf(a.out, "rollback requested for migration %s; follow it: godwit status %s --watch\n", name, name)
			return nil
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why the migration is rolled back (required to start a rollback, for the record)")
	cmd.Flags().BoolVar(&retry, "retry", false, "blocked rollback: run the failed compensation again, then the rest")
	cmd.Flags().StringVar(&skip, "skip", "", "blocked rollback: PHASE was undone by hand; go on with the rest")
	cmd.Flags().BoolVar(&abandon, "abandon", false, "blocked rollback: give up; the migration ends ROLLBACK_FAILED")
	cmd.MarkFlagsMutuallyExclusive("retry", "skip", "abandon")
	return cmd
}

// repair sends the `repair` update to a migration whose rollback is
// blocked; the workflow refuses it, recording nothing, otherwise.
func (a *app) repair(ctx context.Context, name string, req workflows.RepairRequest) error {
	return a.withRunning(ctx, name, func(c client.Client, _ *migration.Report) error {
		var phase string
		if err := a.migrations(c).Update(ctx, name, workflows.UpdateRepair, req, &phase); err != nil {
			return fmt.Errorf("%s the rollback of %s: %w", req.Action, name, err)
		}
		switch req.Action {
		case workflows.RepairRetry:
			fmt.Fprintf(a.out, "retrying the compensation of %s; follow it: godwit status %s --watch\n", phase, name)
		case workflows.RepairSkip:
			fmt.Fprintf(a.out, "%s marked as undone by hand by %s; the rollback goes on: godwit status %s --watch\n", phase, req.By, name)
		default:
			fmt.Fprintf(a.out, "rollback of %s abandoned at %s: it ends ROLLBACK_FAILED\n", name, phase)
		}
		return nil
	})
}

// withRunning calls fn with a client and the current report, or explains
// why the migration cannot be steered (missing or already ended).
func (a *app) withRunning(ctx context.Context, name string, fn func(client.Client, *migration.Report) error) error {
	c, err := a.client()
	if err != nil {
		return err
	}
	defer c.Close()
	rep, err := a.migrations(c).Running(ctx, name)
	if err != nil {
		return err
	}
	return fn(c, rep)
}
