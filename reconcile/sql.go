package reconcile

import (
	"strconv"
	"strings"
	"time"

	"github.com/godwit/godwit/datastore"
)

// qb collects bind parameters for one statement and writes their
// placeholders in the engine's style.
type qb struct {
	engine datastore.Engine
	args   []any
}

// ph adds a parameter (a canonical value of kind k) and returns its
// placeholder.
func (q *qb) ph(k datastore.Kind, v any) string {
	q.args = append(q.args, bindValue(q.engine, k, v))
	if q.engine == datastore.Postgres {
		return "$" + strconv.Itoa(len(q.args))
	}
	return "?"
}

// bindValue turns a canonical value into what the engine's driver binds and
// compares like the stored value: SQLite keeps times as text in
// datastore's forms (SQLiteTimeText) and booleans as 0/1.
func bindValue(e datastore.Engine, k datastore.Kind, v any) any {
	if e != datastore.SQLite {
		return v
	}
	switch x := v.(type) {
	case bool:
		if x {
			return int64(1)
		}
		return int64(0)
	case time.Time:
		return datastore.SQLiteTimeText(k, x)
	}
	return v
}

// keyRange is a half-open range of primary keys: Lo ≤ key < Hi, where Lo and
// Hi are key prefixes compared as tuples (nil: unbounded).
type keyRange struct {
	Lo, Hi []any
}

// rangeCond renders the range as a condition on the quoted key columns
// (empty: every row). Tuples are spelled out as (k1 > a OR (k1 = a AND
// ...)) led by k1 >= a, which every engine turns into an index range.
func rangeCond(q *qb, keys []string, kinds []datastore.Kind, r keyRange) string {
	var parts []string
	if len(r.Lo) > 0 {
		parts = append(parts, tupleCmp(q, keys, kinds, r.Lo, false))
	}
	if len(r.Hi) > 0 {
		parts = append(parts, tupleCmp(q, keys, kinds, r.Hi, true))
	}
	return strings.Join(parts, " AND ")
}

// tupleCmp is (keys...) >= vals (less=false) or (keys...) < vals
// (less=true), over the first len(vals) key columns.
func tupleCmp(q *qb, keys []string, kinds []datastore.Kind, vals []any, less bool) string {
	strict, last, lead := ">", ">=", ">="
	if less {
		strict, last, lead = "<", "<", "<="
	}
	j := len(vals)
	if j == 1 {
		return keys[0] + " " + last + " " + q.ph(kinds[0], vals[0])
	}
	var rec func(i int) string
	rec = func(i int) string {
		if i == j-1 {
			return keys[i] + " " + last + " " + q.ph(kinds[i], vals[i])
		}
		return keys[i] + " " + strict + " " + q.ph(kinds[i], vals[i]) + " OR (" +
			keys[i] + " = " + q.ph(kinds[i], vals[i]) + " AND (" + rec(i+1) + "))"
	}
	return "(" + keys[0] + " " + lead + " " + q.ph(kinds[0], vals[0]) + " AND (" + rec(0) + "))"
}

// keyEq is k1 = a AND k2 = b ... for one full key.
func keyEq(q *qb, keys []string, kinds []datastore.Kind, vals []any) string {
	parts := make([]string, len(keys))
	for i := range keys {
		parts[i] = keys[i] + " = " + q.ph(kinds[i], vals[i])
	}
	return "(" + strings.Join(parts, " AND ") + ")"
}

// where joins conditions with AND, leaving out empty ones.
func whereClause(conds ...string) string {
	var parts []string
	for _, c := range conds {
		if c != "" {
			parts = append(parts, "("+c+")")
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(parts, " AND ")
}
