package reconcile

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/mapping"
	"github.com/godwit/godwit/migration"
)

// Checkpoint is where a check can go on from: the tables already compared,
// with their brief reports (no full lists). It is small JSON (a few hundred
// bytes per table) meant for a heartbeat.
type Checkpoint struct {
	Done []TableReport `json:"done,omitempty"`
}

// Encode renders the checkpoint as JSON.
func (c Checkpoint) Encode() string {
	b, _ := json.Marshal(c)
	return string(b)
}

// DecodeCheckpoint reads a checkpoint; an empty string is a fresh start.
func DecodeCheckpoint(s string) (Checkpoint, error) {
	var c Checkpoint
	if strings.TrimSpace(s) == "" {
		return c, nil
	}
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		return c, fmt.Errorf("reconcile checkpoint: %w", err)
	}
	return c, nil
}

// Progress is reported as the check goes.
type Progress struct {
	TablesDone, Tables int
	// RowsChecked counts rows resolved (equal by checksum or compared) out
	// of RowsTotal (the larger side's count, over tables started so far).
	RowsChecked, RowsTotal int64
	Differences            int64
	Percent                float64
	// Detail is a few lines in words for `godwit status`.
	Detail     string
	Checkpoint Checkpoint
}

// ResolveTables turns table names and glob patterns into pairs, matched on
// the source and expected under the same names on the target.
func ResolveTables(ctx context.Context, source *datastore.Store, patterns []string) ([]TablePair, error) {
	names, err := source.ResolveTables(ctx, patterns)
	if err != nil {
		return nil, err
	}
	out := make([]TablePair, len(names))
	for i, n := range names {
		out[i] = TablePair{Source: n, Target: n}
	}
	return out, nil
}

// ResolveMapped selects and maps the mapping's tables on the source: each
// pair carries its mapped table, so the check compares through it.
func ResolveMapped(ctx context.Context, source *datastore.Store, m *mapping.Spec) ([]TablePair, error) {
	names, err := source.ListTables(ctx)
	if err != nil {
		return nil, err
	}
	tables, err := m.ResolveAll(names, func(table string) (mapping.SourceTable, error) {
		t, err := source.Introspect(ctx, table)
		if err != nil {
			return mapping.SourceTable{}, err
		}
		return sourceTable(t), nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadOption, err)
	}
	out := make([]TablePair, len(tables))
	for i := range tables {
		out[i] = TablePair{Source: tables[i].Source, Target: tables[i].Target, Map: &tables[i]}
	}
	return out, nil
}

// Run compares the tables of opts and returns the report. Tables listed in
// resume's checkpoint are not compared again. A check stopped by
// MaxDifferences or MaxDuration returns its partial report (Stopped says
// why) and no error; errors are for what prevented the check (a missing
// table, a lost connection), with IsPermanent telling which to retry.
func Run(ctx context.Context, opts Options, resume Checkpoint) (*Report, error) {
	o := opts.withDefaults()
	if o.Source == nil || o.Target == nil {
		return nil, fmt.Errorf("%w: source and target stores are required", ErrBadOption)
	}
	if len(o.Tables) == 0 {
		return nil, fmt.Errorf("%w: no tables to compare", ErrBadOption)
	}
	for k, r := range o.Columns {
		if err := CheckRuleKey(k); err != nil {
			return nil, err
		}
		if err := CheckRule(r); err != nil {
			return nil, fmt.Errorf("column rule %s: %w", k, err)
		}
	}
	start := time.Now()
	if o.started != nil {
		o.started()
	}
	rep := &Report{Source: o.SourceName, Target: o.TargetName, Started: start.UTC()}
	done := map[string]TableReport{}
	for _, t := range resume.Done {
		done[t.Table] = t
	}

	// Plan every table before comparing any: a typo fails fast.
	checks := make([]*tableCheck, len(o.Tables))
	for i, p := range o.Tables {
		if _, ok := done[p.Source]; ok {
			continue
		}
		tc, err := planTable(ctx, &o, p, start)
		if err != nil {
			return nil, fmt.Errorf("reconcile %s: %w", p.Source, err)
		}
		checks[i] = tc
	}

	work, cancel := context.WithCancel(ctx)
	defer cancel()
	lim := &limiter{maxDiffs: o.MaxDifferences, cancel: cancel}
	if o.MaxDuration > 0 {
		t := time.AfterFunc(o.MaxDuration, func() { lim.stop(fmt.Sprintf("maxDuration (%s) reached", o.MaxDuration)) })
		defer t.Stop()
	}
	var mu sync.Mutex
	results := make([]*TableReport, len(o.Tables))
	for i, p := range o.Tables {
		if d, ok := done[p.Source]; ok {
			results[i] = &d
			lim.diffs.Add(d.Differing())
		}
	}
	report := func() {
		if o.Progress == nil {
			return
		}
		mu.Lock()
		p := progressOf(o.Tables, results, checks)
		mu.Unlock()
		p.Differences = lim.diffs.Load()
		o.Progress(p)
	}
	lim.onTick = report

	g := new(errgroup.Group)
	g.SetLimit(o.Concurrency)
	for i, tc := range checks {
		if tc == nil {
			continue
		}
		tc.limit = lim
		g.Go(func() error {
			if lim.reached() {
				return nil
			}
			o.Logger.Debug("comparing table", "table", tc.pair.Source, "method", tc.method())
			tr, err := tc.run(ctx, work)
			if err != nil {
				return fmt.Errorf("reconcile %s: %w", tc.pair.Source, err)
			}
			o.Logger.Info("table compared", "table", tr.Table, "source_rows", tr.SourceRows, "target_rows", tr.TargetRows,
				"missing", tr.Missing, "extra", tr.Extra, "mismatched", tr.Mismatched, "complete", tr.Complete,
				"rows_fetched", tr.RowsFetched, "seconds", tr.Seconds)
			mu.Lock()
			results[i] = &tr
			mu.Unlock()
			lim.last.Store(0)
			report()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	// Repairs wait for every table's check: the target's foreign keys
	// want the deletes children first and the upserts parents first.
	if err := repairAll(ctx, checks, results); err != nil {
		return nil, err
	}
	report() // the repaired tables are done now
	if lim.reached() {
		rep.Stopped = lim.why()
	}
	var rows int64
	for i, r := range results {
		if r == nil { // not started: stopped at a limit
			rep.Tables = append(rep.Tables, TableReport{Table: o.Tables[i].Source, Complete: false, Note: "not compared: " + rep.Stopped})
			continue
		}
		rep.Tables = append(rep.Tables, *r)
		rows += max(r.SourceRows, r.TargetRows)
	}
	rep.Seconds = time.Since(start).Seconds()
	if rep.Seconds > 0 {
		rep.RowsPerSecond = math.Round(float64(rows) / rep.Seconds)
	}
	return rep, nil
}

func progressOf(pairs []TablePair, results []*TableReport, checks []*tableCheck) Progress {
	p := Progress{Tables: len(pairs)}
	var lines []string
	for i, r := range results {
		if r != nil {
			p.TablesDone++
			// A table waiting for its repair (repairAll) is not done: a
			// resumed check must compare and repair it again.
			if tc := checks[i]; tc == nil || !tc.needsRepair || tc.repaired.Load() {
				t := r.Brief()
				t.Differences = nil
				p.Checkpoint.Done = append(p.Checkpoint.Done, t)
			}
			total := max(r.SourceRows, r.TargetRows)
			p.RowsChecked += total
			p.RowsTotal += total
			continue
		}
		if tc := checks[i]; tc != nil && tc.total.Load() > 0 {
			n := tc.checked.Load()
			p.RowsChecked += n
			p.RowsTotal += tc.total.Load()
			tc.mu.Lock()
			d := len(tc.diffs)
			tc.mu.Unlock()
			lines = append(lines, fmt.Sprintf("%s: %d/%d rows checked, %s", pairs[i].Source, n, tc.total.Load(), migration.Count(d, "difference")))
		}
	}
	sort.Strings(lines)
	lines = append([]string{fmt.Sprintf("%d of %s compared", p.TablesDone, migration.Count(p.Tables, "table"))}, lines...)
	if len(lines) > 6 {
		lines = append(lines[:6], fmt.Sprintf("… %d more tables running", len(lines)-6))
	}
	p.Detail = strings.Join(lines, "\n")
	if p.Tables > 0 {
		frac := float64(p.TablesDone)
		for i, r := range results {
			if r == nil && checks[i] != nil && checks[i].total.Load() > 0 {
				frac += math.Min(1, float64(checks[i].checked.Load())/float64(checks[i].total.Load()))
			}
		}
		p.Percent = math.Round(1000*frac/float64(p.Tables)) / 10
	}
	return p
}

// Brief is the table report without its full list of differences.
func (t TableReport) Brief() TableReport {
	t.Differences = nil
	return t
}

// Plan checks, changing and comparing nothing, that every table can be
// compared: it exists on both sides with a primary key, the rules fit its
// columns, and the where bound is valid SQL on both engines. It returns the
// method each table would use.
func Plan(ctx context.Context, opts Options) ([]string, error) {
	o := opts.withDefaults()
	if o.Source == nil || o.Target == nil {
		return nil, fmt.Errorf("%w: source and target stores are required", ErrBadOption)
	}
	var methods []string
	for _, p := range o.Tables {
		tc, err := planTable(ctx, &o, p, time.Now())
		if err != nil {
			return nil, fmt.Errorf("reconcile %s: %w", p.Source, err)
		}
		for _, s := range []*side{tc.src, tc.tgt} {
			if s.where == "" {
				continue
			}
			var one int
			err := s.store.DB.QueryRowContext(ctx, "SELECT 1"+s.from()+whereClause(s.where)+" LIMIT 1").Scan(&one)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return nil, fmt.Errorf("reconcile %s: %w: where %q on %s: %v", p.Source, ErrBadOption, s.where, s.label, err)
			}
		}
		if p.Map != nil {
			// The source compiles every expression and the filter.
			stmt := "SELECT " + tc.src.fetchList() + tc.src.from() + whereClause(tc.src.where) + " LIMIT 0"
			if _, err := tc.src.store.DB.ExecContext(ctx, stmt); err != nil {
				return nil, fmt.Errorf("reconcile %s: %w: the mapping's expressions or filter do not compile on %s: %v", p.Source, mapping.ErrMapping, tc.src.label, err)
			}
		}
		methods = append(methods, p.Source+": "+tc.method())
	}
	return methods, nil
}
