package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/godwit/godwit/migration"
	"github.com/godwit/godwit/workflows"
)

func (a *app) listCommand() *cobra.Command {
	var limit int
	var status string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List migrations with their phase and status, newest first",
		Long: `List migrations from Temporal's visibility store, with the MigrationStatus and
MigrationPhase search attributes they publish. The same filter works in the
Temporal UI: WorkflowType = "Migration" AND MigrationStatus = "PAUSED".`,
		Example: `  godwit list
  godwit list --status WAITING_APPROVAL`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// A long migration continues as new: list only the run that
			// carries it on, not the runs it left behind.
			query := fmt.Sprintf("WorkflowType = %q AND ExecutionStatus != \"ContinuedAsNew\"", workflows.WorkflowName)
			if status != "" {
				s := migration.Status(strings.ToUpper(status))
				if !s.Valid() {
					return fmt.Errorf("--status %q: use one of %s", status, strings.Join(migration.StatusNames(), ", "))
				}
				query += fmt.Sprintf(" AND %s = %q", workflows.SearchAttrStatus.GetName(), s)
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			defer c.Close()
			resp, err := c.ListWorkflow(cmd.Context(), &workflowservice.ListWorkflowExecutionsRequest{
				Namespace: a.settings.Temporal.Namespace,
				Query:     query,
				PageSize:  int32(limit),
			})
			if err != nil {
				return fmt.Errorf("list migrations: %w", err)
			}
			tw := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSTATUS\tPHASE\tSTARTED\tWORKFLOW")
			for _, e := range resp.GetExecutions() {
				status, phase := "-", "-"
				if sa := e.GetSearchAttributes().GetIndexedFields(); sa != nil {
					status = payloadString(sa[workflows.SearchAttrStatus.GetName()].GetData(), status)
					phase = payloadString(sa[workflows.SearchAttrPhase.GetName()].GetData(), phase)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.GetExecution().GetWorkflowId(), status, phase,
					e.GetStartTime().AsTime().Local().Format(time.DateTime), e.GetStatus())
			}
			if len(resp.GetExecutions()) == 0 {
				fmt.Fprintln(tw, "(no migrations yet: start one with godwit start -f SPEC)")
			}
			return tw.Flush()
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 50, "at most this many migrations")
	cmd.Flags().StringVar(&status, "status", "", "only migrations in this status (e.g. PAUSED, WAITING_APPROVAL, ROLLED_BACK)")
	return cmd
}

// payloadString decodes a JSON string payload such as "\"PAUSED\"", or
// returns fallback when data is not one.
func payloadString(data []byte, fallback string) string {
	var s string
	if len(data) == 0 || data[0] != '"' || json.Unmarshal(data, &s) != nil {
		return fallback
	}
	return s
}
