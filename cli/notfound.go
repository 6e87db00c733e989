package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/godwit/godwit/control"
	"github.com/godwit/godwit/migration"
	"github.com/godwit/godwit/suggest"
)

// suggestNames wraps the commands that take a migration's name first, so
// that a name no migration has ("trialops-trackr") gets the nearest one
// that exists, as a spec's unknown field gets its "did you mean".
func (a *app) suggestNames(cmds ...*cobra.Command) {
	for _, cmd := range cmds {
		run := cmd.RunE
		if run == nil {
			continue
		}
		cmd.RunE = func(cmd *cobra.Command, args []string) error {
			err := run(cmd, args)
			if err == nil || len(args) == 0 || control.KindOf(err) != control.KindNotFound {
				return err
			}
			if near := a.nearestMigration(cmd.Context(), args[0]); near != "" {
				return &control.Error{Kind: control.KindNotFound, Err: fmt.Errorf(
					"no migration named %q in this namespace (did you mean %q?): see `godwit list`", args[0], near)}
			}
			return err
		}
	}
}

// nearestMigration is the listed migration nearest to name, "" when none
// is near or the list cannot be read (the plain error says enough then).
func (a *app) nearestMigration(ctx context.Context, name string) string {
	if a.dial == nil {
		return ""
	}
	c, err := a.dial(ctx)
	if err != nil {
		return ""
	}
	defer c.Close()
	listed, err := a.migrations(c).List(ctx, migration.Status(""), 1000)
	if err != nil {
		return ""
	}
	names := make([]string, 0, len(listed))
	for _, l := range listed {
		names = append(names, l.Name)
	}
	return suggest.Closest(name, names, suggest.Typo)
}
