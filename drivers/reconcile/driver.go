package reconcile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/go-hclog"
	"go.temporal.io/sdk/temporal"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/drivers/stores"
	"github.com/godwit/godwit/glob"
	rec "github.com/godwit/godwit/reconcile"
)

// ErrTypeDifferences is the error type of a check whose differences exceed
// the tolerance (or that stopped at a limit). It is not retryable: the
// workflow fails the phase and rolls back.
const ErrTypeDifferences = "ReconcileDifferences"

// maxOutput bounds the readable report kept in the phase result.
const maxOutput = 16 << 10

// Driver runs reconcile phases.
type Driver struct {
	activities.Driver
	Logger hclog.Logger
	// StateDir is where full reports go by default (ReportPath); empty:
	// $GODWIT_STATE_DIR, else godwit under the temporary directory.
	StateDir string
}

// key is the section key of the driver in a phase.
const key = "reconcile"

// New returns the reconcile driver; there is nothing to compensate.
func New(logger hclog.Logger) *Driver {
	d := &Driver{Logger: logger.Named(key)}
	d.Driver = activities.Adapt(logger, activities.Phase[*Spec]{Key: key, Run: d.run, Preflight: d.preflight, Errors: errorKinds,
		NoCompensation: "nothing to undo: a reconcile changes nothing"})
	return d
}

// errorKinds: bad settings, missing tables and refused credentials are
// permanent; anything else (a lost connection) is retried.
var errorKinds = []activities.ErrorKind{
	{Is: rec.IsPermanent, Type: activities.ErrTypeConfig},
	{Type: "ReconcileError", Retryable: true},
}

// run runs the check and applies the gate.
func (d *Driver) run(ctx context.Context, c *activities.Call[*Spec]) (activities.PhaseResult, error) {
	s, in, resume, log := c.Spec, c.In, c.Resume, c.Log
	phaseName := in.Phase.Name
	if in.Unit != "" {
		one := *s
		one.Tables = []string{in.Unit}
		s = &one
		log = log.With("table", in.Unit)
		phaseName += "." + in.Unit // one report file per table
	}
	opts, closeStores, err := Options(ctx, s)
	if err != nil {
		return activities.PhaseResult{}, fmt.Errorf("reconcile %s: %w", in.Phase.Name, err)
	}
	defer closeStores()
	opts.Logger = log
	cp, err := rec.DecodeCheckpoint(resume.Checkpoint)
	if err != nil {
		log.Warn("unreadable checkpoint; comparing every table again", "error", err)
		cp = rec.Checkpoint{}
	}

	// Progress comes from the check's goroutines; the adapter's keep-alive
	// repeats the last one so a long checksum query does not miss the
	// heartbeat timeout.
	opts.Progress = func(p rec.Progress) {
		c.Beat(activities.Heartbeat{Percent: p.Percent, Records: p.RowsChecked, Checkpoint: p.Checkpoint.Encode(), Detail: p.Detail})
	}

	rep, err := rec.Run(ctx, opts, cp)
	if err != nil {
		return activities.PhaseResult{}, fmt.Errorf("reconcile %s: %w", in.Phase.Name, err)
	}
	rep.Direction = s.Truth
	brief := rep.Brief()
	src, missing, extra, mismatched := rep.Totals()
	fails := s.Tolerance.Check(rep)
	out := activities.PhaseResult{Records: src, Summary: rep.Summary(),
		Outputs: map[string]string{OutputDifferences: strconv.FormatInt(missing+extra+mismatched, 10)}}
	var line string
	// The full list goes to a file on this worker, never into the
	// workflow's history; a file that cannot be written costs the list,
	// not the verdict.
	path := ReportPath(s, d.StateDir, in.Migration, phaseName)
	full := FullReport{Migration: in.Migration, Phase: in.Phase.Name, Passed: len(fails) == 0, Failures: fails, Report: rep}
	if err := WriteReport(path, full); err != nil {
		log.Warn("full report not written", "path", path, "error", err)
		line = fmt.Sprintf("full list of differences: not written (%v)\n", err)
	} else {
		out.Outputs[OutputReportFile] = path
		line = fmt.Sprintf("full list of differences on worker %s: %s\n", hostname(), path)
	}
	out.Output = line + truncate(brief.Text(), maxOutput)
	if len(fails) > 0 {
		msg := fmt.Sprintf("reconcile %s: beyond tolerance: %s; %s", in.Phase.Name, strings.Join(fails, "; "), rep.Summary())
		return out, temporal.NewNonRetryableApplicationError(msg, ErrTypeDifferences, nil, brief)
	}
	log.Info("reconcile passed", "summary", out.Summary)
	return out, nil
}

// Options opens both stores of the section (DSNs resolved on this worker)
// and returns the check's options with the direction applied; close
// closes the stores. The CLI runs the same check through it.
func Options(ctx context.Context, s *Spec) (rec.Options, func(), error) {
	from, err := stores.OpenOne(ctx, s.From, s.FromStore)
	if err != nil {
		return rec.Options{}, nil, err
	}
	to, err := stores.OpenOne(ctx, s.To, s.ToStore)
	if err != nil {
		from.Close()
		return rec.Options{}, nil, err
	}
	closeAll := func() { from.Close(); to.Close() }
	o := optionsFor(s, from, to)
	o.Tables, err = resolveTables(ctx, s, o)
	if err != nil {
		closeAll()
		return rec.Options{}, nil, fmt.Errorf("tables on %s: %w", o.SourceName, err)
	}
	return o, closeAll, nil
}

// resolveTables is the pairs the section compares: its tables on the
// source, or with a mapping the mapping's tables (those of the section's
// tables, when a fan-out unit narrowed them to one). A reverse check
// through a mapping compares new (the source of truth now) against
// legacy through the mapping's inverse: renames map back, added columns
// are new's own and not compared, a cast comes back by its inverse; a
// mapping with no inverse (a filter, a cast without one) is refused,
// naming the rule.
func resolveTables(ctx context.Context, s *Spec, o rec.Options) ([]rec.TablePair, error) {
	if s.MappingSpec == nil {
		return rec.ResolveTables(ctx, o.Source, s.Tables)
	}
	legacy := o.Source
	if s.Truth == DirectionReverse {
		legacy = o.Target
	}
	pairs, err := rec.ResolveMapped(ctx, legacy, s.MappingSpec)
	if err != nil {
		return nil, err
	}
	var out []rec.TablePair
	var errs []error
	for _, p := range pairs {
		if !matchesAny(s.Tables, p.Source) {
			continue
		}
		if s.Truth == DirectionReverse {
			inv, err := p.Map.Inverse(nil)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			p = rec.TablePair{Source: inv.Source, Target: inv.Target, Map: &inv}
		}
		out = append(out, p)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: the check is reverse (the writes have moved to %s), so it compares through the mapping's inverse, which %v: give each rule its inverse, or set direction: forward",
			rec.ErrBadOption, o.SourceName, errors.Join(errs...))
	}
	return out, nil
}

func matchesAny(patterns []string, name string) bool {
	for _, pat := range patterns {
		if ok, _ := glob.Match(pat, name); ok {
			return true
		}
	}
	return false
}

// optionsFor is the check's options over two open stores, with the
// direction applied and no tables yet.
func optionsFor(s *Spec, from, to *datastore.Store) rec.Options {
	o := rec.Options{
		Source: from, Target: to, SourceName: s.From, TargetName: s.To,
		Columns: s.Columns, Where: s.Where, UpdatedColumn: s.UpdatedColumn,
		Factor: s.Factor, Threshold: s.Threshold, Concurrency: s.Concurrency,
		MaxDifferences: s.MaxDifferences, MaxDuration: s.MaxDuration.D(), RecheckAfter: s.RecheckAfter.D(),
		Repair: s.Repair.Enabled, DeleteExtra: s.Repair.DeleteExtra,
	}
	if s.Truth == DirectionReverse {
		o.Source, o.Target, o.SourceName, o.TargetName = to, from, s.To, s.From
	}
	return o
}

// noKeyProblem says that table (of store st) cannot be compared, and how
// to go on: with tables: ["*"] and a fullCopy table, the spec had no
// obvious way to leave one table out.
func noKeyProblem(source, st, table string) string {
	hint := "name the tables to compare"
	if r, _ := utf8.DecodeRuneInString(table); r != utf8.RuneError && !strings.ContainsRune(`\*?[]!^`, r) {
		hint += fmt.Sprintf(", or a pattern that skips it (`[!%c]*` leaves out every table whose name starts with %c)", r, r)
	}
	return fmt.Sprintf("reconcile %s: store %s: table %s has no primary key: rows are compared by key, so leave it out of this phase's tables: %s; check it another way (its row count)", source, st, table, hint)
}

// Preflight opens both stores (changing nothing) and plans every table,
// comparing nothing. It reasons over the plan: a table that an earlier
// phase creates (a provision before this check) is not there yet, so only
// its other side is checked; a database an earlier phase creates is not
// checked at all; and two stores that are one database are refused.
func (d *Driver) preflight(ctx context.Context, spec *config.Spec, phase config.PhaseSpec, s *Spec) []string {
	plan := stores.Before(spec, phase.Name)
	// The section carries its stores (resolved by Check), so a caller
	// without the whole spec (godwit reconcile) can check it too.
	pair := &config.Spec{Stores: map[string]config.StoreSpec{s.From: s.FromStore, s.To: s.ToStore}}
	from, to, problems, closeStores := stores.OpenPair(ctx, pair, plan, s.From, s.To)
	defer closeStores()
	if from == nil || to == nil {
		return problems
	}
	opts := optionsFor(s, from, to)
	tables, err := resolveTables(ctx, s, opts)
	if err != nil && errors.Is(err, datastore.ErrUnknownTable) && s.MappingSpec == nil {
		// The source of truth's tables may be created by an earlier phase
		// (a reverse check right after a provision): take them from the
		// other side, those the plan creates.
		if other, oerr := rec.ResolveTables(ctx, opts.Target, s.Tables); oerr == nil {
			var planned []rec.TablePair
			for _, t := range other {
				if plan.Table(opts.SourceName, t.Source) {
					planned = append(planned, t)
				}
			}
			if len(planned) > 0 {
				tables, err = planned, nil
			}
		}
	}
	if err != nil {
		return append(problems, fmt.Sprintf("tables on %s: %v", opts.SourceName, err))
	}
	for _, t := range tables {
		srcPlanned := plan.Table(opts.SourceName, t.Source) && !exists(ctx, opts.Source, t.Source)
		tgtPlanned := plan.Table(opts.TargetName, t.Target) && !exists(ctx, opts.Target, t.Target)
		switch {
		case srcPlanned && tgtPlanned:
			continue
		case srcPlanned || tgtPlanned:
			// Created by an earlier phase from the other side's table: that
			// side must be comparable (it has a key).
			side, name, st := opts.Target, t.Target, opts.TargetName
			if tgtPlanned {
				side, name, st = opts.Source, t.Source, opts.SourceName
			}
			if tbl, err := side.Introspect(ctx, name); err != nil {
				problems = append(problems, fmt.Sprintf("reconcile %s: store %s: %v", t.Source, st, err))
			} else if len(tbl.PrimaryKey) == 0 {
				problems = append(problems, noKeyProblem(t.Source, st, name))
			}
			continue
		}
		opts.Tables = append(opts.Tables, t)
	}
	if len(opts.Tables) > 0 {
		if _, err := rec.Plan(ctx, opts); err != nil {
			problems = append(problems, err.Error())
		}
	}
	return problems
}

// exists reports whether table exists on s (a lookup that fails counts as
// present, so that planning reports the real error).
func exists(ctx context.Context, s *datastore.Store, table string) bool {
	_, err := s.Introspect(ctx, table)
	return err == nil || !errors.Is(err, datastore.ErrUnknownTable)
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "(unknown)"
	}
	return h
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "\n… (truncated; run godwit reconcile -f SPEC -o json for the full list)\n"
}

// Units lists the tables the phase compares (patterns resolved on the
// source of truth), for a phase that fans out.
func (d *Driver) Units(ctx context.Context, in activities.PhaseInput) ([]string, error) {
	s, err := activities.SpecOf[*Spec](key, in.Phase)
	if err != nil {
		return nil, err
	}
	opts, closeStores, err := Options(ctx, s)
	if err != nil {
		return nil, activities.Classify(fmt.Errorf("reconcile %s: %w", in.Phase.Name, err), errorKinds)
	}
	defer closeStores()
	units := make([]string, len(opts.Tables))
	for i, t := range opts.Tables {
		units[i] = t.Source
	}
	return units, nil
}
