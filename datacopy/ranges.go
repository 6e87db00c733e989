package datacopy

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/godwit/godwit/datastore"
)

// Range is one key range of a table in its checkpoint (and unit) form:
// the leading key column's bounds in datastore.EncodeValue form, From
// inclusive, To exclusive, nil = unbounded. The ranges of a table are
// planned once (PlanRanges) and then kept: in the checkpoint of the run
// that planned them, or in the units of a fanned-out phase.
type Range struct {
	From *string `json:"from,omitempty"`
	To   *string `json:"to,omitempty"`
}

// String renders the range as "[from, to)", an open end left empty:
// "[, 1000)", "[1000, 2000)", "[2000, )". Bounds are query-escaped (so they
// hold no ", " or ")"), and an empty-string bound is written as two
// single quotes.
func (r Range) String() string {
	return "[" + boundText(r.From) + ", " + boundText(r.To) + ")"
}

func boundText(b *string) string {
	switch {
	case b == nil:
		return ""
	case *b == "":
		return "''"
	}
	return url.QueryEscape(*b)
}

func parseBound(s string) (*string, error) {
	switch s {
	case "":
		return nil, nil
	case "''":
		v := ""
		return &v, nil
	}
	v, err := url.QueryUnescape(s)
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// Unit names one table, or one key range of it, as a unit of a
// fanned-out copy: "orders", or "orders [1000, 2000)". It goes into the
// workflow's history: it carries the table's name and two key values,
// nothing else.
func Unit(table string, r *Range) string {
	if r == nil {
		return table
	}
	return table + " " + r.String()
}

// ParseUnit splits a unit as Unit wrote it into the table and its range
// (nil: the whole table).
func ParseUnit(unit string) (string, *Range, error) {
	i := strings.LastIndex(unit, " [")
	if i < 0 || !strings.HasSuffix(unit, ")") {
		return unit, nil, nil
	}
	inner := unit[i+2 : len(unit)-1]
	from, to, ok := strings.Cut(inner, ", ")
	if !ok {
		return "", nil, fmt.Errorf("copy unit %q: a key range is written [from, to)", unit)
	}
	var r Range
	var err error
	if r.From, err = parseBound(from); err != nil {
		return "", nil, fmt.Errorf("copy unit %q: lower bound: %w", unit, err)
	}
	if r.To, err = parseBound(to); err != nil {
		return "", nil, fmt.Errorf("copy unit %q: upper bound: %w", unit, err)
	}
	return unit[:i], &r, nil
}

// KeyRange decodes the range for t (canonical values of its leading key
// column's kind).
func (r Range) KeyRange(t *datastore.Table) (*datastore.KeyRange, error) {
	if err := t.CheckCopyable(); err != nil {
		return nil, err
	}
	c := t.Column(t.PrimaryKey[0])
	var kr datastore.KeyRange
	for _, b := range []struct {
		s   *string
		dst *any
	}{{r.From, &kr.From}, {r.To, &kr.To}} {
		if b.s == nil {
			continue
		}
		v, err := datastore.DecodeValue(c.Type, *b.s)
		if err != nil {
			return nil, fmt.Errorf("key range %s of %s: %w", r, t.Name, err)
		}
		*b.dst = v
	}
	return &kr, nil
}

// PlanRanges splits t on s into key ranges of about splitRows rows each
// (datastore.SplitPoints). It also returns the table's exact row count.
// A table of at most splitRows rows (or splitRows ≤ 0) is not split: the
// ranges are nil.
func PlanRanges(ctx context.Context, s *datastore.Store, t *datastore.Table, splitRows int64) ([]Range, int64, error) {
	n, err := s.Count(ctx, t.Name)
	if err != nil {
		return nil, 0, fmt.Errorf("plan key ranges of %s: %w", t.Name, err)
	}
	ranges, err := cutRanges(ctx, s, t, n, splitRows)
	return ranges, n, err
}

// cutRanges cuts t, of n rows, into ranges of about splitRows rows (nil
// when n is at most splitRows).
func cutRanges(ctx context.Context, s *datastore.Store, t *datastore.Table, n, splitRows int64) ([]Range, error) {
	if splitRows <= 0 || n <= splitRows {
		return nil, nil
	}
	points, err := s.SplitPoints(ctx, t, splitRows)
	if err != nil {
		return nil, err
	}
	if len(points) == 0 {
		return nil, nil
	}
	enc := make([]*string, len(points))
	for i, p := range points {
		v, err := datastore.EncodeValue(p)
		if err != nil {
			return nil, fmt.Errorf("plan key ranges of %s: %w", t.Name, err)
		}
		enc[i] = &v
	}
	ranges := make([]Range, 0, len(points)+1)
	var from *string
	for _, p := range enc {
		ranges = append(ranges, Range{From: from, To: p})
		from = p
	}
	return append(ranges, Range{From: from}), nil
}

// entries returns the checkpoint entries a table is copied as, by key: the
// ones a resumed checkpoint holds for it (ranges planned earlier are kept,
// never planned again), else a fresh plan: Options.Range, or the ranges
// PlanRanges finds with SplitRows, or the whole table.
func (r *run) entries(ctx context.Context, src *datastore.Table) (map[string]*TableCheckpoint, error) {
	name := src.Name
	if r.opts.Range != nil {
		key := Unit(name, r.opts.Range)
		r.mu.Lock()
		st := r.cp.Tables[key]
		r.mu.Unlock()
		if st == nil {
			var err error
			if st, err = r.firstState(ctx, src, r.opts.Range, nil); err != nil {
				return nil, err
			}
		}
		return map[string]*TableCheckpoint{key: st}, nil
	}
	out := map[string]*TableCheckpoint{}
	r.mu.Lock()
	for key, st := range r.cp.Tables {
		if st.tableOf(key) == name {
			out[key] = st
		}
	}
	r.mu.Unlock()
	if len(out) > 0 {
		return out, nil
	}
	var count *int64
	if r.opts.SplitRows > 0 {
		plan, err := PlanRangesSized(ctx, r.opts.From, src, r.opts.SplitRows, r.opts.Sizing)
		if err != nil {
			return nil, fmt.Errorf("copy %s: %w", name, err)
		}
		ranges, n := plan.Ranges, plan.Rows
		if r.opts.Sizing != nil && len(ranges) == 0 && n > r.opts.SplitRows {
			r.log.Info("not split into key ranges", "table", name, "rows", n, "split_rows", r.opts.SplitRows, "because", plan.Reason)
		}
		for i := range ranges {
			st, err := r.firstState(ctx, src, &ranges[i], nil)
			if err != nil {
				return nil, err
			}
			out[Unit(name, &ranges[i])] = st
		}
		if len(out) > 0 {
			r.log.Info("split into key ranges", "table", name, "ranges", len(out), "rows", n, "split_rows", r.opts.SplitRows, "because", plan.Reason)
			return out, nil
		}
		count = &n
	}
	st, err := r.firstState(ctx, src, nil, count)
	if err != nil {
		return nil, err
	}
	out[name] = st
	return out, nil
}

// finishTable is called when one entry of a table is done; after the
// table's last entry of this run it moves the target's sequences past the
// highest key. The sequence is set from the whole target table's MAX, so
// whichever entry (or, fanned out, whichever range's unit) finishes last
// sets it past every copied key, and an earlier one never sets it lower
// than the rows already there.
func (r *run) finishTable(ctx context.Context, p *tablePlan, left map[string]int) error {
	r.mu.Lock()
	left[p.table]--
	last := left[p.table] == 0
	r.mu.Unlock()
	if !last {
		return nil
	}
	if err := datastore.SyncAutoIncrement(ctx, r.opts.To, p.target); err != nil {
		return fmt.Errorf("copy %s: %w", p.table, err)
	}
	return nil
}
