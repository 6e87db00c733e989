package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/godwit/godwit/control"
	"github.com/godwit/godwit/migration"
	"github.com/godwit/godwit/suggest"
)

// suggestNames wraps the commands that take a migration's name first, so
// that a name no migration has ("trialops-trackr") gets the nearest one
// that exists, as a spec's unknown field gets its "did you mean".
// A command given no name at all says what it needs and lists the
// migrations it could mean, instead of cobra's "accepts 1 arg(s)".
func (a *app) suggestNames(cmds ...*cobra.Command) {
	for _, cmd := range cmds {
		run := cmd.RunE
		if run == nil {
			continue
		}
		// No name passes the arguments' check, which runs before the
		// settings (and the Temporal connection) are loaded: RunE says it.
		check := cmd.Args
		cmd.Args = func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 || check == nil {
				return nil
			}
			return check(cmd, args)
		}
		cmd.RunE = func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return a.nameMissing(cmd)
			}
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

// namesListed bounds the migrations nameMissing lists.
const namesListed = 10

// nameMissing is the error of cmd run without a migration's name: its
// usage, and the newest migrations (as godwit list shows them) or, when
// they cannot be read, where to find them.
func (a *app) nameMissing(cmd *cobra.Command) error {
	msg := fmt.Sprintf("godwit %s needs the name of a migration: %s", cmd.Name(), cmd.UseLine())
	listed, err := a.listForHint(cmd.Context())
	switch {
	case err != nil:
		return fmt.Errorf("%s\nthe migrations are listed by `godwit list` (not read here: %v)", msg, err)
	case len(listed) == 0:
		return fmt.Errorf("%s\nthere is no migration in this namespace yet: start one with godwit start -f SPEC", msg)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s\nmigrations in this namespace, newest first (godwit list shows them all):", msg)
	for k, l := range listed {
		if k == namesListed {
			fmt.Fprintf(&b, "\n  … and %d more", len(listed)-namesListed)
			break
		}
		fmt.Fprintf(&b, "\n  %-30s %-17s %s", l.Name, l.Status, l.Phase)
	}
	return fmt.Errorf("%s", b.String())
}

// listForHint lists the migrations for a hint in an error.
func (a *app) listForHint(ctx context.Context) ([]control.Listed, error) {
	if a.dial == nil {
		return nil, fmt.Errorf("no Temporal connection configured")
	}
	if ctx == nil {
		ctx = context.Background()
	}
	c, err := a.dial(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return a.migrations(c).List(ctx, migration.Status(""), 100)
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
