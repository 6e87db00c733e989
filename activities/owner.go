package activities

import (
	"context"
	"strings"
)

// ownerRunSep joins a migration's name and its run's key in an owner:
// migration names never hold it (config checks names).
const ownerRunSep = "@"

// OwnerKey is who owns what a run of migration creates (tables and
// databases a provision records): the migration's name and the run's key,
// or the name alone for a run that has no key (started before runs had
// one, or `godwit preflight`, whose checks are for a run not started).
// Keyed by run, a later run of the same name finds the tables an earlier
// completed run created as someone else's, and never takes them over:
// before, its rollback dropped them with the data the earlier run had
// moved.
func OwnerKey(migration, run string) string {
	if run == "" {
		return migration
	}
	return migration + ownerRunSep + run
}

// Owner is OwnerKey of the phase's migration and run.
func (in PhaseInput) Owner() string { return OwnerKey(in.Migration, in.Run) }

// SplitOwner parses an owner OwnerKey made: the migration's name and the
// run's key ("" for an owner recorded without one).
func SplitOwner(owner string) (migration, run string) {
	name, run, _ := strings.Cut(owner, ownerRunSep)
	return name, run
}

// DescribeOwner says who an owner is in a person's words:
// `migration shop (run 0191…)`, or `migration shop`.
func DescribeOwner(owner string) string {
	name, run := SplitOwner(owner)
	if run == "" {
		return "migration " + name
	}
	return "migration " + name + " (run " + run + ")"
}

type runKey struct{}

// WithRun tells the drivers' preflights which run they check for.
func WithRun(ctx context.Context, run string) context.Context {
	return context.WithValue(ctx, runKey{}, run)
}

// RunOf is the run WithRun set ("" when none).
func RunOf(ctx context.Context) string {
	run, _ := ctx.Value(runKey{}).(string)
	return run
}
