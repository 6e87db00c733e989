package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/godwit/godwit/control"
	"github.com/godwit/godwit/migration"
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
			c, err := a.client()
			if err != nil {
				return err
			}
			defer c.Close()
			listed, err := a.migrations(c).List(cmd.Context(), migration.Status(strings.ToUpper(status)), limit)
			if control.KindOf(err) == control.KindRefused {
				return fmt.Errorf("--%w", err)
			}
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSTATUS\tPHASE\tSTARTED\tWORKFLOW")
			for _, l := range listed {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", l.Name, l.Status, l.Phase,
					l.StartTime.Local().Format(time.DateTime), l.Execution)
			}
			if len(listed) == 0 {
				fmt.Fprintln(tw, "(no migrations yet: start one with godwit start -f SPEC)")
			}
			return tw.Flush()
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 50, "at most this many migrations")
	cmd.Flags().StringVar(&status, "status", "", "only migrations in this status (e.g. PAUSED, WAITING_APPROVAL, ROLLED_BACK)")
	return cmd
}
