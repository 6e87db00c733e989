package datastore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// KeyRange restricts a copy to the rows whose leading primary-key column
// is in [From, To): From inclusive, To exclusive, nil = unbounded. Values
// are canonical values of that column's kind. Ranges on the leading column
// alone also split a composite key (every row with the same leading value
// falls in one range), so the ranges of a table never overlap and together
// hold every row, whatever the other key columns are.
type KeyRange struct {
	From, To any
}

// rangeConds renders r as conditions with bind parameters numbered from
// next (see the dialect's placeholder), values encoded for this store.
func (s *Store) rangeConds(t *Table, r *KeyRange, next int) ([]string, []any, error) {
	if r == nil || (r.From == nil && r.To == nil) {
		return nil, nil, nil
	}
	if len(t.PrimaryKey) == 0 {
		return nil, nil, fmt.Errorf("key range of %s: %w", t.Name, ErrNoPrimaryKey)
	}
	var args []any
	conds, err := s.rangeBounds(t, r, func(c *Column, v any) (string, error) {
		ev, err := s.d.encode(c.Type, v)
		if err != nil {
			return "", err
		}
		args = append(args, ev)
		return s.d.placeholder(next + len(args) - 1), nil
	})
	if err != nil {
		return nil, nil, err
	}
	return conds, args, nil
}

// rangeLiterals renders r as PostgreSQL conditions with inlined literals
// (COPY takes no bind parameters).
func (s *Store) rangeLiterals(t *Table, r *KeyRange) ([]string, error) {
	if r == nil || len(t.PrimaryKey) == 0 {
		return nil, nil
	}
	return s.rangeBounds(t, r, func(c *Column, v any) (string, error) { return pgLiteral(*c, v) })
}

// rangeBounds renders r's bounds on t's leading key column, each value
// written by value (a bind parameter, or a literal).
func (s *Store) rangeBounds(t *Table, r *KeyRange, value func(c *Column, v any) (string, error)) ([]string, error) {
	c := t.Column(t.PrimaryKey[0])
	var conds []string
	for _, b := range [...]struct {
		v  any
		op string
	}{{r.From, ">="}, {r.To, "<"}} {
		if b.v == nil {
			continue
		}
		l, err := value(c, b.v)
		if err != nil {
			return nil, fmt.Errorf("key range of %s: %w", t.Name, err)
		}
		conds = append(conds, s.d.quote(c.Name)+" "+b.op+" "+l)
	}
	return conds, nil
}

// filterRange is the key range of a filter, nil if it has none.
func filterRange(f *Filter) *KeyRange {
	if f == nil {
		return nil
	}
	return f.Range
}

// SplitPoints returns the boundaries that cut t into key ranges of about
// every rows each, on its leading key column, in key order: n points make
// n+1 ranges [nil, p1), [p1, p2), …, [pn, nil). A table of at most every
// rows has none. Each point is found by one index scan of about every
// keys (ORDER BY k LIMIT 1 OFFSET every), so planning reads the key index
// once; a leading value shared by more than every rows stays in one range.
func (s *Store) SplitPoints(ctx context.Context, t *Table, every int64) ([]any, error) {
	if err := t.CheckCopyable(); err != nil {
		return nil, err
	}
	if every <= 0 {
		return nil, fmt.Errorf("split %s: rows per range must be positive, not %d", t.Name, every)
	}
	c := t.Column(t.PrimaryKey[0])
	k, tbl := s.d.quote(c.Name), s.d.quote(t.Name)
	// Each range starts at prev (the first at the smallest key, so it is
	// never empty) and holds about every rows.
	prev, err := s.scanKey(ctx, c, fmt.Sprintf("SELECT MIN(%s) FROM %s", k, tbl))
	if err != nil || prev == nil {
		return nil, wrapSplit(t, err)
	}
	var points []any
	for {
		v, err := s.d.encode(c.Type, prev)
		if err != nil {
			return nil, fmt.Errorf("split %s: %w", t.Name, err)
		}
		args := []any{v}
		next, err := s.scanKey(ctx, c, fmt.Sprintf("SELECT %s FROM %s WHERE %s >= %s ORDER BY %s LIMIT 1 OFFSET %d",
			k, tbl, k, s.d.placeholder(1), k, every), args...)
		if err != nil || next == nil {
			return points, wrapSplit(t, err)
		}
		if sameValue(next, prev) {
			// More than every rows share prev: the next range starts at
			// the next distinct value.
			if next, err = s.scanKey(ctx, c, fmt.Sprintf("SELECT MIN(%s) FROM %s WHERE %s > %s", k, tbl, k, s.d.placeholder(1)), args...); err != nil || next == nil {
				return points, wrapSplit(t, err)
			}
		}
		points = append(points, next)
		prev = next
	}
}

func wrapSplit(t *Table, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("split %s into key ranges: %w", t.Name, err)
}

// scanKey runs a query returning one key value (canonical), nil for no row
// or NULL.
func (s *Store) scanKey(ctx context.Context, c *Column, q string, args ...any) (any, error) {
	var raw any
	err := s.DB.QueryRowContext(ctx, q, args...).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && raw == nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return Canonical(c.Type, raw)
}

// sameValue compares two canonical values by their encoded form.
func sameValue(a, b any) bool {
	x, err1 := EncodeValue(a)
	y, err2 := EncodeValue(b)
	return err1 == nil && err2 == nil && x == y
}

// CountRange returns the exact number of rows of t in r (all rows for nil).
func (s *Store) CountRange(ctx context.Context, t *Table, r *KeyRange) (int64, error) {
	conds, args, err := s.rangeConds(t, r, 1)
	if err != nil {
		return 0, err
	}
	q := "SELECT COUNT(*) FROM " + s.d.quote(t.Name)
	if t.Where != "" {
		conds = append(conds, "("+t.Where+")")
	}
	if len(conds) > 0 {
		q += " WHERE " + strings.Join(conds, " AND ")
	}
	var n int64
	if err := s.DB.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s: %w", t.Name, err)
	}
	return n, nil
}

// MaxRange returns the greatest value of column among the rows of t in r
// (canonical; nil when there are none): a range's catch-up watermark.
func (s *Store) MaxRange(ctx context.Context, t *Table, column string, r *KeyRange) (any, error) {
	if r == nil {
		return s.Max(ctx, t, column)
	}
	c := t.Column(column)
	if c == nil {
		return nil, fmt.Errorf("max %s.%s: %w: no such column", t.Name, column, ErrShapeMismatch)
	}
	conds, args, err := s.rangeConds(t, r, 1)
	if err != nil {
		return nil, err
	}
	q := "SELECT MAX(" + s.d.quote(column) + ") FROM " + s.d.quote(t.Name)
	if len(conds) > 0 {
		q += " WHERE " + strings.Join(conds, " AND ")
	}
	v, err := s.scanKey(ctx, c, q, args...)
	if err != nil {
		return nil, fmt.Errorf("max %s.%s: %w", t.Name, column, err)
	}
	return v, nil
}

// WriteBatchIn is WriteBatch for rows of one key range: on PostgreSQL the
// probe that lets a batch go straight into the table with plain COPY looks
// only below r.To, so ranges of one table filled at the same time (rows of
// a higher range already there) still take the fast path. Every row must
// be in r.
func (s *Store) WriteBatchIn(ctx context.Context, t *Table, rows [][]any, r *KeyRange) error {
	return s.writeBatch(ctx, t, rows, r)
}

// rangeTo is r's upper bound, nil for no range.
func rangeTo(r *KeyRange) any {
	if r == nil {
		return nil
	}
	return r.To
}

// probeCond is the condition of the probe asking whether t holds a key
// past after (nil: any key) within r, for keyTaken.
func (s *Store) probeCond(t *Table, after []any, r *KeyRange) (string, []any, error) {
	var conds []string
	args := append([]any(nil), after...)
	if len(after) > 0 {
		cond, _ := s.d.keyAfter(t, 1)
		conds = append(conds, cond)
	}
	rc, rargs, err := s.rangeConds(t, r, len(args)+1)
	if err != nil {
		return "", nil, err
	}
	return strings.Join(append(conds, rc...), " AND "), append(args, rargs...), nil
}
