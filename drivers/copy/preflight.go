package copy

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/drivers/stores"
)

// Preflight connects to both stores and checks, changing nothing, that
// every source table exists with a primary key (and the catch-up column),
// and that every target table exists with the source's columns and is
// writable, or is created by an earlier provision phase.
func (d *Driver) Preflight(ctx context.Context, spec *config.Spec, phase config.PhaseSpec) []string {
	s, ok := phase.Driver.(*Spec)
	if !ok {
		return []string{"has no copy section"}
	}
	plan := stores.Before(spec, phase.Name)
	from, to, problems, closeStores := stores.OpenPair(ctx, spec, plan, s.From, s.To)
	defer closeStores()
	if from == nil {
		return problems
	}
	names, missing, err := stores.ResolveEach(ctx, from, s.From, s.Tables)
	if err != nil {
		return append(problems, stores.Problem(s.From, err))
	}
	problems = append(problems, missing...)
	if to != nil && to.Engine == datastore.MySQL && s.RequireFastPath {
		if path, err := to.WritePath(ctx); err != nil {
			problems = append(problems, stores.Problem(s.To, err))
		} else if path != datastore.PathLoadData {
			problems = append(problems, fmt.Sprintf("store %s: LOAD DATA LOCAL INFILE is off (local_infile=OFF): turn it on (SET GLOBAL local_infile = 1) or drop requireFastPath to copy with multi-row INSERT, several times slower", s.To))
		}
	}
	problems = append(problems, s.probeProblems(ctx, spec)...)
	for _, n := range names {
		problems = append(problems, d.tableProblems(ctx, from, to, s, n, plan)...)
	}
	return problems
}

func (d *Driver) tableProblems(ctx context.Context, from, to *datastore.Store, s *Spec, name string, plan stores.Plan) []string {
	src, err := from.Introspect(ctx, name)
	if err != nil {
		return []string{stores.Problem(s.From, err)}
	}
	var problems []string
	keyless := src.CheckCopyable() != nil
	full := keyless && matchesAny(name, s.FullCopy) // copied in one pass, without catch-up
	if keyless && !full {
		problems = append(problems, fmt.Sprintf("store %s: table %s has no primary key: the copy reads by key to resume where it stopped, so add one (or list the table in fullCopy to copy it in one pass that is not resumable)", s.From, name))
	}
	if s.CatchUp != nil && !full && src.Column(s.CatchUp.Column) == nil {
		problems = append(problems, fmt.Sprintf("store %s: table %s has no column %s for catchUp.column", s.From, name, s.CatchUp.Column))
	}
	if to == nil {
		return problems
	}
	dst, err := to.Introspect(ctx, name)
	if err != nil {
		if !plan.Table(s.To, name) {
			problems = append(problems, fmt.Sprintf("store %s: table %s does not exist: provision it in an earlier phase (provision: {from: %s, to: %s, ...}) or create it", s.To, name, s.From, s.To))
		}
		return problems
	}
	if missing := missingColumns(src, dst); len(missing) > 0 {
		problems = append(problems, fmt.Sprintf("store %s: table %s lacks the source's column %s (it has %s): add it, or drop the table and let a provision phase create it",
			s.To, name, strings.Join(missing, ", "), strings.Join(dst.ColumnNames(), ", ")))
	} else if _, err := dst.Project(src.ColumnNames()); err != nil {
		problems = append(problems, fmt.Sprintf("store %s: table %s does not fit the source: %v", s.To, name, err))
	}
	if err := to.CheckWrite(ctx, name); err != nil {
		problems = append(problems, fmt.Sprintf("store %s: the copy cannot write there: %v", s.To, err))
	}
	return problems
}

// missingColumns lists, quoted, the source's columns the target table
// does not have.
func missingColumns(src, dst *datastore.Table) []string {
	var missing []string
	for _, c := range src.ColumnNames() {
		if dst.Column(c) == nil {
			missing = append(missing, strconv.Quote(c))
		}
	}
	return missing
}
