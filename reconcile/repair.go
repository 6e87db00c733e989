package reconcile

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/godwit/godwit/datastore"
)

// RepairReport says what a repair changed on the target and what its
// re-check of exactly those keys found.
type RepairReport struct {
	// Upserted is the number of rows re-copied from the source of truth
	// (missing_in_target and mismatched keys); Deleted the extra_in_target
	// rows deleted (only with DeleteExtra); ExtraKept the extra rows left
	// alone because deletes were not asked for.
	Upserted  int64 `json:"upserted"`
	Deleted   int64 `json:"deleted"`
	ExtraKept int64 `json:"extraKept,omitempty"`
	// Missing, Extra and Mismatched count the repaired keys that still
	// differ after the re-check (extra rows kept included in Extra).
	Missing    int64 `json:"missingInTarget"`
	Extra      int64 `json:"extraInTarget"`
	Mismatched int64 `json:"mismatched"`
	// Unfixed is the number of keys the repair wrote or deleted that still
	// differ: any is a failure whatever the tolerance.
	Unfixed int64 `json:"unfixed"`
	// Still holds a bounded sample of the keys still differing.
	Still   []Difference `json:"still,omitempty"`
	Seconds float64      `json:"seconds"`
}

// Clean reports whether the re-check found every repaired key equal.
func (r *RepairReport) Clean() bool { return r.Missing+r.Extra+r.Mismatched == 0 }

// repairBatch bounds the keys of one repair statement.
const repairBatch = 200

// repairDeletes starts a repair of this table: it deletes the extra
// target rows when asked (first, so a re-copied row cannot collide with an
// extra row on a unique secondary index). Run (repairAll) deletes from
// every table, children first, before any upsert, and upserts parents
// first, so neither a delete nor an upsert is refused by the target's
// foreign keys.
func (tc *tableCheck) repairDeletes(ctx context.Context) error {
	tc.repairStart = time.Now()
	tc.rr = &RepairReport{}
	var remove [][]any
	for _, d := range tc.diffs {
		switch {
		case d.Class == ExtraInTarget && tc.o.DeleteExtra:
			remove = append(remove, d.key)
		case d.Class == ExtraInTarget:
			tc.rr.ExtraKept++
		}
	}
	for start := 0; start < len(remove); start += repairBatch {
		n, err := tc.deleteKeys(ctx, remove[start:min(start+repairBatch, len(remove))])
		if err != nil {
			return err
		}
		tc.rr.Deleted += n
	}
	return nil
}

// repairUpserts re-copies the missing and mismatched rows from the source
// of truth (after repairDeletes).
func (tc *tableCheck) repairUpserts(ctx context.Context) error {
	var upsert [][]any
	for _, d := range tc.diffs {
		if d.Class != ExtraInTarget {
			upsert = append(upsert, d.key)
		}
	}
	for start := 0; start < len(upsert); start += repairBatch {
		n, err := tc.copyKeys(ctx, upsert[start:min(start+repairBatch, len(upsert))])
		if err != nil {
			return err
		}
		tc.rr.Upserted += n
	}
	tc.o.Logger.Info("repaired", "table", tc.pair.Source, "upserted", tc.rr.Upserted, "deleted", tc.rr.Deleted, "extra_kept", tc.rr.ExtraKept)
	return nil
}

// repairRecheck fetches exactly the repaired keys again from both sides and
// records what still differs in rep.Repair.
func (tc *tableCheck) repairRecheck(ctx context.Context, rep *TableReport) error {
	rr := tc.rr
	var all [][]any
	for _, d := range tc.diffs {
		all = append(all, d.key)
	}
	var a, b map[string]*row
	var err error
	if a, err = tc.src.fetchKeys(ctx, all); err != nil {
		return fmt.Errorf("repair: %w", err)
	}
	if b, err = tc.tgt.fetchKeys(ctx, all); err != nil {
		return fmt.Errorf("repair: %w", err)
	}
	still := tc.compare(a, b)
	sortFound(still)
	for _, d := range still {
		switch d.Class {
		case MissingInTarget:
			rr.Missing++
			rr.Unfixed++
		case ExtraInTarget:
			rr.Extra++
			if tc.o.DeleteExtra {
				rr.Unfixed++
			}
		case Mismatched:
			rr.Mismatched++
			rr.Unfixed++
		}
		if len(rr.Still) < tc.o.SampleKeys {
			rr.Still = append(rr.Still, d.Difference)
		}
	}
	rr.Seconds = time.Since(tc.repairStart).Seconds()
	rep.Repair = rr
	tc.repaired.Store(true)
	return nil
}

// repairAll repairs the tables whose checks found differences: deletes
// from every table, children first; then upserts, parents first (by the
// target tables' foreign keys); then each table's re-check.
func repairAll(ctx context.Context, checks []*tableCheck, results []*TableReport) error {
	var tables []*datastore.Table
	byTable := map[*datastore.Table]int{}
	for i, tc := range checks {
		if tc != nil && tc.needsRepair && results[i] != nil {
			tables = append(tables, tc.tgtTable)
			byTable[tc.tgtTable] = i
		}
	}
	order := datastore.DependencyOrder(tables)
	for j := len(order) - 1; j >= 0; j-- {
		tc := checks[byTable[order[j]]]
		if err := tc.repairDeletes(ctx); err != nil {
			return fmt.Errorf("reconcile %s: %w", tc.pair.Source, err)
		}
	}
	for _, t := range order {
		tc := checks[byTable[t]]
		if err := tc.repairUpserts(ctx); err != nil {
			return fmt.Errorf("reconcile %s: %w", tc.pair.Source, err)
		}
	}
	for _, t := range order {
		i := byTable[t]
		if err := checks[i].repairRecheck(ctx, results[i]); err != nil {
			return fmt.Errorf("reconcile %s: %w", checks[i].pair.Source, err)
		}
	}
	return nil
}

// copyKeys reads the source rows with these keys (every source column the
// target has, ignored ones included: a repair re-copies the row as the
// copy did) and upserts them into the target. It returns the rows written;
// a key the source no longer has (deleted since) is not written.
func (tc *tableCheck) copyKeys(ctx context.Context, keys [][]any) (int64, error) {
	s := tc.src
	var dstNames, sel []string
	var srcTypes []datastore.Type
	for _, c := range tc.mapped.Columns {
		tcol := tc.tgtTable.Column(c.Target)
		if tcol == nil {
			continue
		}
		dstNames = append(dstNames, c.Target)
		if c.Computed() {
			sel = append(sel, datastore.ComputedExpr(s.store.Engine, c.Expr, tcol.Type))
			srcTypes = append(srcTypes, tcol.Type)
			continue
		}
		scol := tc.srcTable.Column(c.Source)
		if scol == nil {
			return 0, fmt.Errorf("repair %s: column %s is not in %s", tc.pair.Source, c.Source, s.label)
		}
		sel = append(sel, s.quote(c.Source))
		srcTypes = append(srcTypes, scol.Type)
	}
	dst, err := tc.tgtTable.Project(dstNames)
	if err != nil {
		return 0, fmt.Errorf("repair %s: %w", tc.pair.Source, err)
	}
	q := &qb{engine: s.store.Engine}
	stmt := "SELECT " + strings.Join(sel, ", ") + s.from() + whereClause(keysCond(q, s, keys), s.filter)
	s.queries.Add(1)
	rows, err := s.store.DB.QueryContext(ctx, stmt, q.args...)
	if err != nil {
		return 0, fmt.Errorf("repair %s: read %s: %w", tc.pair.Source, s.label, err)
	}
	defer rows.Close()
	var out [][]any
	for rows.Next() {
		raw, err := datastore.ScanValues(rows, len(sel))
		if err != nil {
			return 0, fmt.Errorf("repair %s: read %s: %w", tc.pair.Source, s.label, err)
		}
		for i, t := range srcTypes {
			if raw[i], err = datastore.Canonical(t, raw[i]); err != nil {
				return 0, fmt.Errorf("repair %s: read %s column %s: %w", tc.pair.Source, s.label, dstNames[i], err)
			}
		}
		out = append(out, raw)
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("repair %s: read %s: %w", tc.pair.Source, s.label, err)
	}
	if err := tc.tgt.store.WriteBatch(ctx, dst, out); err != nil {
		return 0, fmt.Errorf("repair %s: write %s: %w", tc.pair.Source, tc.tgt.label, err)
	}
	return int64(len(out)), nil
}

// deleteKeys deletes the target rows with these keys.
func (tc *tableCheck) deleteKeys(ctx context.Context, keys [][]any) (int64, error) {
	s := tc.tgt
	q := &qb{engine: s.store.Engine}
	stmt := "DELETE" + s.from() + " WHERE " + keysCond(q, s, keys)
	s.queries.Add(1)
	res, err := s.store.DB.ExecContext(ctx, stmt, q.args...)
	if err != nil {
		return 0, fmt.Errorf("repair %s: delete on %s: %w", tc.pair.Source, s.label, err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// keysCond is (key = a) OR (key = b) ... on side s.
func keysCond(q *qb, s *side, keys [][]any) string {
	ors := make([]string, len(keys))
	for i, k := range keys {
		ors[i] = keyEq(q, s.keys, s.keyKinds, k)
	}
	return strings.Join(ors, " OR ")
}
