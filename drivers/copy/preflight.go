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
func (d *Driver) preflight(ctx context.Context, spec *config.Spec, phase config.PhaseSpec, s *Spec) []string {
	plan := stores.Before(spec, phase.Name)
	from, to, problems, closeStores := stores.OpenPair(ctx, spec, plan, s.From, s.To)
	defer closeStores()
	if from == nil {
		return problems
	}
	if s.MappingSpec != nil {
		return append(problems, d.mappedProblems(ctx, from, to, s, plan)...)
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
	var tables []*datastore.Table
	for _, n := range names {
		problems = append(problems, d.tableProblems(ctx, from, to, s, n, plan)...)
		if t, err := from.Introspect(ctx, n); err == nil {
			tables = append(tables, t)
		}
	}
	return append(problems, datastore.InheritanceProblems(tables)...)
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

// mappedProblems checks a mapped copy against the live schemas: the
// mapping resolves on the source (unknown tables and columns, with "did
// you mean"; a key column dropped; two target names colliding), the
// source compiles each expression and filter (a LIMIT 0 read), and each
// target table exists with the mapped columns and key, or is created by an
// earlier provision phase.
func (d *Driver) mappedProblems(ctx context.Context, from, to *datastore.Store, s *Spec, plan stores.Plan) []string {
	tables, err := stores.MappedTables(ctx, from, s.MappingSpec)
	if err != nil {
		return []string{fmt.Sprintf("mapping %s on store %s: %v", s.Mapping, s.From, err)}
	}
	var problems []string
	for _, m := range tables {
		src, err := from.Introspect(ctx, m.Source)
		if err != nil {
			problems = append(problems, stores.Problem(s.From, err))
			continue
		}
		if src.CheckCopyable() != nil && !matchesAny(m.Source, s.FullCopy) {
			problems = append(problems, fmt.Sprintf("store %s: table %s has no primary key: the copy reads by key to resume where it stopped, so add one (or list the table in fullCopy)", s.From, m.Source))
		}
		view, err := datastore.SourceView(src, m)
		if err != nil {
			problems = append(problems, fmt.Sprintf("mapping %s: %v", s.Mapping, err))
			continue
		}
		for _, err := range from.CompileMapped(ctx, view) {
			problems = append(problems, fmt.Sprintf("mapping %s table %s: store %s cannot compile %v", s.Mapping, m.Source, s.From, err))
		}
		if s.CatchUp != nil && view.Column(s.CatchUp.Column) == nil {
			problems = append(problems, fmt.Sprintf("mapping %s table %s: catchUp.column %s is not carried by the mapping", s.Mapping, m.Source, s.CatchUp.Column))
		}
		if to == nil {
			continue
		}
		dst, err := to.Introspect(ctx, m.Target)
		if err != nil {
			if !plan.Table(s.To, m.Target) {
				problems = append(problems, fmt.Sprintf("store %s: table %s (mapped from %s) does not exist: provision it in an earlier phase (provision: {mapping: %s}) or create it", s.To, m.Target, m.Source, s.Mapping))
			}
			continue
		}
		if _, _, err := datastore.MapTable(src, dst, m); err != nil {
			problems = append(problems, fmt.Sprintf("store %s: table %s does not fit mapping %s: %v", s.To, m.Target, s.Mapping, err))
		}
		if err := to.CheckWrite(ctx, m.Target); err != nil {
			problems = append(problems, fmt.Sprintf("store %s: the copy cannot write there: %v", s.To, err))
		}
	}
	return problems
}
