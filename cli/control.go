package cli

import (
	"context"
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
	var reason string
	cmd := &cobra.Command{
		Use:     signal + " NAME",
		Short:   short,
		Example: fmt.Sprintf("  godwit %s demo --reason \"load spike on the source\"", signal),
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withRunning(cmd.Context(), args[0], func(c client.Client, rep *migration.Report) error {
				if err := c.SignalWorkflow(cmd.Context(), args[0], "", signal,
					workflows.PauseRequest{Reason: reason, By: whoami()}); err != nil {
					return explain(args[0], err)
				}
				fmt.Fprintf(a.out, "%s sent to migration %s (now %s, phase %s)\n", signal, args[0], rep.Status, rep.CurrentPhase)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why, for the record")
	return cmd
}

func (a *app) approveCommand() *cobra.Command {
	var gate, by string
	cmd := &cobra.Command{
		Use:   "approve NAME --gate GATE",
		Short: "Open a manual gate that a migration is waiting at",
		Long: `Approve the gate a migration is waiting at. The approval is refused, with the
reason, when that gate is not the one waiting; nothing is recorded then.`,
		Example: `  godwit approve demo --gate go-live`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withRunning(cmd.Context(), args[0], func(c client.Client, _ *migration.Report) error {
				handle, err := c.UpdateWorkflow(cmd.Context(), client.UpdateWorkflowOptions{
					WorkflowID:   args[0],
					UpdateName:   workflows.UpdateApprove,
					Args:         []any{workflows.ApproveRequest{Gate: gate, By: by}},
					WaitForStage: client.WorkflowUpdateStageCompleted,
				})
				if err != nil {
					return explain(args[0], err)
				}
				var res workflows.ApproveResult
				if err := handle.Get(cmd.Context(), &res); err != nil {
					return fmt.Errorf("approve %s of migration %s: %w", gate, args[0], err)
				}
				fmt.Fprintf(a.out, "gate %s approved by %s: migration %s goes on with phase %s\n", res.Gate, res.By, args[0], res.Phase)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&gate, "gate", "", "name of the gate to open")
	cmd.Flags().StringVar(&by, "by", whoami(), "who approves, for the record")
	_ = cmd.MarkFlagRequired("gate")
	return cmd
}

func (a *app) rollbackCommand() *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "rollback NAME --reason TEXT",
		Short: "Undo a migration: stop it and run its compensations in reverse order",
		Long: `Roll a migration back. The running phase is cancelled and every completed
phase's compensation runs, last first. Refused once decommission has started:
that is the point of no return.`,
		Example: `  godwit rollback demo --reason "p99 too high on the new service"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withRunning(cmd.Context(), args[0], func(c client.Client, rep *migration.Report) error {
				if rep.Rollback != migration.RollbackAvailable {
					return fmt.Errorf("rollback of %s refused: %s (rollback: %s)", args[0], rep.RollbackNote, rep.Rollback)
				}
				if err := c.SignalWorkflow(cmd.Context(), args[0], "", workflows.SignalRollback,
					workflows.RollbackRequest{Reason: reason, By: whoami()}); err != nil {
					return explain(args[0], err)
				}
				fmt.Fprintf(a.out, "rollback requested for migration %s; follow it: godwit status %s --watch\n", args[0], args[0])
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why the migration is rolled back (required, for the record)")
	_ = cmd.MarkFlagRequired("reason")
	return cmd
}

// withRunning calls fn with a client and the current report, or explains
// why the migration cannot be steered (missing or already ended).
func (a *app) withRunning(ctx context.Context, name string, fn func(client.Client, *migration.Report) error) error {
	c, err := a.client()
	if err != nil {
		return err
	}
	defer c.Close()
	rep, err := a.queryStatus(ctx, c, name)
	if err != nil {
		return err
	}
	if rep.Status.Final() {
		return fmt.Errorf("migration %s has already ended (%s): nothing to steer", name, rep.Status)
	}
	return fn(c, rep)
}
