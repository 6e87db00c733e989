package reconcile

import (
	"context"
	"database/sql"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"golang.org/x/sync/errgroup"

	"github.com/godwit/godwit/datastore"
)

// side is one table on one store, as the check reads it.
type side struct {
	label    string // "source" / "target" store name, for errors
	store    *datastore.Store
	table    string
	cols     []colPlan        // compared columns, key columns included
	types    []datastore.Type // each compared column's type on this side
	exprs    []string         // each compared column as this side reads it: quoted name or (expression)
	keyPos   []int            // positions of the key columns in cols
	keys     []string         // quoted key columns, in key order
	keyKinds []datastore.Kind
	where    string
	// filter is the mapping's where: (source side): the rows the target
	// holds at all. Unlike the where bound it applies to a re-check too.
	filter string
	inDB   bool // the row hash is computed by the database
	native bool // both sides PostgreSQL: its own hash function, not MD5
	record bool // native over the typed values (recordHashSQL), not the canonical text
	xor    bool // MD5 hashes combined by BIT_XOR, not summed (see planTable)
	hash   hashKind
	// goHash: the database renders each row's canonical text and Go
	// hashes it (PostgreSQL under hashCRC: it has no CRC function).
	goHash   bool
	goSel    []string   // per compared column, what a goHash side selects
	goHow    []pgRender // and how Go renders it
	goKey    int        // the goSel column that is the integer first key as PostgreSQL writes it (-1: none)
	floatDec int
	hints    []sqlHint // per compared column, what cheapens its SQL text (nil: none)
	// unpad: per compared column, a PostgreSQL char(n) whose padding is
	// not part of its value (nil: none). Its text, which the checksums
	// hash, has none (PostgreSQL's ::text drops it, as MySQL's CHAR does
	// on read), but the driver reads the value padded: a fetched row
	// must be compared as it was hashed.
	unpad []bool

	updated *datastore.Column // UpdatedColumn, fetched with each row
	hashSQL string            // rowHashSQL, when inDB
	selects []string          // per compared column, what a fetch selects

	// statistics, shared by the goroutines of one table
	queries, fetched, keysRead, streamed atomic.Int64
}

func (s *side) quote(n string) string { return s.store.Quote(n) }

func (s *side) from() string { return " FROM " + s.quote(s.table) }

func (s *side) prepare() {
	e := s.store.Engine
	s.selects = make([]string, len(s.cols))
	for i := range s.cols {
		x := s.exprs[i]
		if s.cols[i].rule.AsText || s.types[i].Kind == datastore.KindUnsupported {
			switch e {
			case datastore.MySQL:
				x = "CAST(" + x + " AS CHAR)"
			case datastore.Postgres:
				x = x + "::text"
			default:
				x = "CAST(" + x + " AS TEXT)"
			}
		}
		s.selects[i] = x
	}
	if s.inDB {
		s.hashSQL = rowHashSQL(e, s.exprs, s.cols, s.types, s.floatDec, s.native, s.hash, s.hints)
		if s.record {
			s.hashSQL = recordHashSQL(s.exprs, s.types)
		}
	}
	s.goKey = -1
	if s.goHash {
		s.goSel, s.goHow = pgGoColumns(s.exprs, s.cols, s.types, s.floatDec)
		if k := s.keyPos[0]; intKind(s.types[k].Kind) && s.goSel[k] == s.exprs[k]+"::text" {
			s.goKey = k
		}
	}
}

// count is the exact number of rows within the where bound.
func (s *side) count(ctx context.Context) (int64, error) {
	var n int64
	s.queries.Add(1)
	err := s.store.DB.QueryRowContext(ctx, "SELECT COUNT(*)"+s.from()+whereClause(s.where)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count %s on %s: %w", s.table, s.label, err)
	}
	return n, nil
}

// minMax returns the smallest and greatest first key column (an integer).
func (s *side) minMax(ctx context.Context) (lo, hi int64, ok bool, err error) {
	var a, b sql.NullInt64
	s.queries.Add(1)
	q := "SELECT MIN(" + s.keys[0] + "), MAX(" + s.keys[0] + ")" + s.from() + whereClause(s.where)
	if err := s.store.DB.QueryRowContext(ctx, q).Scan(&a, &b); err != nil {
		return 0, 0, false, fmt.Errorf("key bounds of %s on %s: %w", s.table, s.label, err)
	}
	return a.Int64, b.Int64, a.Valid && b.Valid, nil
}

// bucketing says which sub-range of a split a row falls in: sql renders
// it. An arithmetic split of an integer first key (arith) puts a row in
// bucket (key - lo) / width, truncated as SQL's integer division does: a
// side that streams its rows computes that from the key it reads anyway,
// rather than have the database compute and send one more column a row.
type bucketing struct {
	sql       func(q *qb, s *side) string
	arith     bool
	lo, width int64
}

// bucketOf is a row's bucket under an arithmetic split, from its first
// key column as PostgreSQL's text output has it; ok is false when the key
// cannot be read or its bucket is beyond int64 (never in a split's range).
func (b bucketing) bucketOf(key []byte) (int64, bool) {
	k, err := strconv.ParseInt(string(key), 10, 64)
	if err != nil || b.width <= 0 {
		return 0, false
	}
	d := k - b.lo
	if (d < 0) != (k < b.lo) { // overflow
		return 0, false
	}
	return d / b.width, true
}

// checksums returns the checksum of each of n buckets of rows in r. wide
// says r holds a large part of the table: PostgreSQL then scans the table
// rather than walk the key's index.
func (s *side) checksums(ctx context.Context, r keyRange, bucket bucketing, n int, wide bool) ([]checksum, error) {
	q := &qb{engine: s.store.Engine}
	if s.goHash && bucket.arith && s.goKey >= 0 {
		// The bucket from the key as it is read: no bucket column.
		cond := rangeCond(q, s.keys, s.keyKinds, r)
		s.queries.Add(1)
		return s.streamedChecksums(ctx, "", &bucket, cond, q.args, n, wide)
	}
	b := bucket.sql(q, s)
	cond := rangeCond(q, s.keys, s.keyKinds, r)
	out := make([]checksum, n)
	for i := range out {
		out[i].Sum = "0"
	}
	s.queries.Add(1)
	if s.goHash {
		return s.streamedChecksums(ctx, b, nil, cond, q.args, n, wide)
	}
	if s.inDB {
		return s.groupedChecksums(ctx, b, cond, q.args, n, wide)
	}
	// No hash function in this engine (or text it cannot render like the
	// other side): stream the range and hash each row here.
	accs := make([]acc, n)
	for i := range accs {
		accs[i].xor = s.xor
	}
	stmt := "SELECT " + b + ", " + strings.Join(s.selects, ", ") + s.from() + whereClause(cond, s.where)
	err := s.scan(ctx, stmt, q.args, 1, func(lead []any, r *row) {
		i, _ := toInt64(lead[0])
		if i >= 0 && i < int64(n) {
			accs[i].add(r.hash())
		}
	})
	if err != nil {
		return nil, fmt.Errorf("checksum %s on %s: %w", s.table, s.label, err)
	}
	for i := range accs {
		out[i] = accs[i].checksum()
		s.streamed.Add(accs[i].n)
	}
	return out, nil
}

func normSum(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return "0"
	}
	if i := strings.IndexByte(s, '.'); i >= 0 { // some drivers add ".0"
		s = s[:i]
	}
	return s
}

func toInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case int32:
		return int64(x), true
	case float64:
		return int64(x), true
	case []byte:
		n, err := strconv.ParseInt(string(x), 10, 64)
		return n, err == nil
	case string:
		n, err := strconv.ParseInt(x, 10, 64)
		return n, err == nil
	}
	return 0, false
}

// row is one fetched row: canonical key values and each compared column's
// canonical text.
type row struct {
	key     []any
	keyText string
	updated time.Time // UpdatedColumn's value (zero when NULL or not asked)
	texts   []string  // exact canonical text per compared column
	nulls   []bool
	hashTxt []string // texts as hashed (tolerance buckets), nil when equal to texts
	kind    hashKind
}

func (r *row) hash() uint64 {
	if r.hashTxt != nil {
		return rowHash(r.kind, r.hashTxt, r.nulls)
	}
	return rowHash(r.kind, r.texts, r.nulls)
}

// fetchList is what a fetch selects: the compared columns, then
// UpdatedColumn when set.
func (s *side) fetchList() string {
	l := strings.Join(s.selects, ", ")
	if s.updated != nil {
		l += ", " + s.quote(s.updated.Name)
	}
	return l
}

// scan runs stmt and hands each row (after lead leading columns) to fn;
// withUpdated says the statement selects fetchList.
func (s *side) scan(ctx context.Context, stmt string, args []any, lead int, fn func(lead []any, r *row)) error {
	return s.scanRows(ctx, stmt, args, lead, false, fn)
}

func (s *side) scanFetch(ctx context.Context, stmt string, args []any, fn func(r *row)) error {
	return s.scanRows(ctx, stmt, args, 0, s.updated != nil, func(_ []any, r *row) { fn(r) })
}

func (s *side) scanRows(ctx context.Context, stmt string, args []any, lead int, withUpdated bool, fn func(lead []any, r *row)) error {
	rows, err := s.store.DB.QueryContext(ctx, stmt, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	n := lead + len(s.cols)
	if withUpdated {
		n++
	}
	raw := make([]any, n)
	ptrs := make([]any, len(raw))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	for rows.Next() {
		for i := range raw {
			raw[i] = nil
		}
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		r, err := s.makeRow(raw[lead : lead+len(s.cols)])
		if err != nil {
			return err
		}
		if withUpdated {
			if v, err := datastore.Canonical(s.updated.Type, raw[n-1]); err == nil && v != nil {
				r.updated, _ = v.(time.Time)
			}
		}
		fn(raw[:lead], r)
	}
	return rows.Err()
}

func (s *side) makeRow(raw []any) (*row, error) {
	r := &row{texts: make([]string, len(s.cols)), nulls: make([]bool, len(s.cols)), kind: s.hash}
	vals := make([]any, len(s.cols))
	for i := range s.cols {
		c := &s.cols[i]
		t := s.types[i]
		if c.rule.AsText || t.Kind == datastore.KindUnsupported {
			t = datastore.Type{Kind: datastore.KindText}
		}
		v, err := datastore.Canonical(t, raw[i])
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", c.name, err)
		}
		v = s.unpadded(i, v)
		vals[i] = v
		exact := *c
		exact.tol = nil
		txt, ok := canonText(s.types[i].Kind, v, &exact, s.floatDec)
		r.texts[i], r.nulls[i] = txt, !ok
		if c.tol != nil && ok {
			if r.hashTxt == nil {
				r.hashTxt = append([]string(nil), r.texts...)
			}
			r.hashTxt[i], _ = canonText(s.types[i].Kind, v, c, s.floatDec)
		} else if r.hashTxt != nil {
			r.hashTxt[i] = txt
		}
	}
	keyTexts := make([]string, len(s.keyPos))
	for i, p := range s.keyPos {
		r.key = append(r.key, vals[p])
		keyTexts[i] = r.texts[p]
	}
	r.keyText = strings.Join(keyTexts, colSep)
	return r, nil
}

// unpadded is value v of compared column i without a char(n)'s padding
// when the column is one (unpad).
func (s *side) unpadded(i int, v any) any {
	if str, ok := v.(string); ok && s.unpad != nil && s.unpad[i] {
		return strings.TrimRight(str, " ")
	}
	return v
}

// fetch returns the rows of r, by key text.
func (s *side) fetch(ctx context.Context, r keyRange) (map[string]*row, error) {
	q := &qb{engine: s.store.Engine}
	cond := rangeCond(q, s.keys, s.keyKinds, r)
	stmt := "SELECT " + s.fetchList() + s.from() + whereClause(cond, s.where)
	out := map[string]*row{}
	s.queries.Add(1)
	err := s.scanFetch(ctx, stmt, q.args, func(rw *row) { out[rw.keyText] = rw })
	if err != nil {
		return nil, fmt.Errorf("fetch %s on %s: %w", s.table, s.label, err)
	}
	s.fetched.Add(int64(len(out)))
	return out, nil
}

// fetchKeys returns the rows with the given keys (the where bound does not
// apply: a re-check looks at the rows themselves; the mapping's filter
// does: a source row outside it is not one the target should hold).
func (s *side) fetchKeys(ctx context.Context, keys [][]any) (map[string]*row, error) {
	out := map[string]*row{}
	const batch = 100
	for start := 0; start < len(keys); start += batch {
		q := &qb{engine: s.store.Engine}
		var ors []string
		for _, k := range keys[start:min(start+batch, len(keys))] {
			ors = append(ors, keyEq(q, s.keys, s.keyKinds, k))
		}
		stmt := "SELECT " + s.fetchList() + s.from() + whereClause(strings.Join(ors, " OR "), s.filter)
		s.queries.Add(1)
		err := s.scanFetch(ctx, stmt, q.args, func(rw *row) { out[rw.keyText] = rw })
		if err != nil {
			return nil, fmt.Errorf("re-check %s on %s: %w", s.table, s.label, err)
		}
	}
	s.fetched.Add(int64(len(out)))
	return out, nil
}

// splitKeys reads the keys of r in order and returns the parts-1 keys that
// cut it into parts ranges of about equal size.
func (s *side) splitKeys(ctx context.Context, r keyRange, parts int, total int64) ([][]any, error) {
	q := &qb{engine: s.store.Engine}
	cond := rangeCond(q, s.keys, s.keyKinds, r)
	stmt := "SELECT " + strings.Join(s.keys, ", ") + s.from() + whereClause(cond, s.where) +
		" ORDER BY " + strings.Join(s.keys, ", ")
	s.queries.Add(1)
	rows, err := s.store.DB.QueryContext(ctx, stmt, q.args...)
	if err != nil {
		return nil, fmt.Errorf("split %s on %s: %w", s.table, s.label, err)
	}
	defer rows.Close()
	step := total / int64(parts)
	if step < 1 {
		step = 1
	}
	var out [][]any
	var i int64
	raw := make([]any, len(s.keys))
	ptrs := make([]any, len(raw))
	for j := range raw {
		ptrs[j] = &raw[j]
	}
	for rows.Next() {
		if i > 0 && i%step == 0 && len(out) < parts-1 {
			if err := rows.Scan(ptrs...); err != nil {
				return nil, fmt.Errorf("split %s on %s: %w", s.table, s.label, err)
			}
			k := make([]any, len(raw))
			for j, p := range s.keyPos {
				v, err := datastore.Canonical(s.types[p], raw[j])
				if err != nil {
					return nil, fmt.Errorf("split %s on %s: key %s: %w", s.table, s.label, s.cols[p].name, err)
				}
				k[j] = s.unpadded(p, v)
			}
			out = append(out, k)
		}
		i++
	}
	s.keysRead.Add(i)
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("split %s on %s: %w", s.table, s.label, err)
	}
	return out, nil
}

// groupedChecksums is checksums for an inDB side: the database sums each
// bucket's row hashes (b: the bucket's SQL) in one grouped query.
func (s *side) groupedChecksums(ctx context.Context, b, cond string, args []any, n int, wide bool) ([]checksum, error) {
	out := make([]checksum, n)
	for i := range out {
		out[i].Sum = "0"
	}
	agg := "SUM("
	if s.xor {
		agg = "BIT_XOR("
	}
	stmt := "SELECT " + b + " AS godwit_b, COUNT(*), " + agg + s.hashSQL + ")" + s.from() +
		whereClause(cond, s.where) + " GROUP BY 1"
	tx, err := s.store.DB.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("checksum %s on %s: %w", s.table, s.label, err)
	}
	defer tx.Rollback()
	if s.store.Engine == datastore.Postgres {
		// PostgreSQL cannot estimate the number of buckets, assumes
		// one per row and sorts; hashing the few groups is cheaper.
		// Up to maxBuckets groups of a few hundred bytes each must
		// hash in memory, not spill to disk. Compiling the expressions
		// (JIT) costs more than it saves on calls of hash functions.
		sets := []string{"SET LOCAL enable_sort = off", "SET LOCAL work_mem = '64MB'", "SET LOCAL jit = off"}
		if wide {
			sets = append(sets, "SET LOCAL enable_indexscan = off", "SET LOCAL enable_indexonlyscan = off", "SET LOCAL enable_bitmapscan = off")
		}
		for _, set := range sets {
			if _, err := tx.ExecContext(ctx, set); err != nil {
				return nil, fmt.Errorf("checksum %s on %s: %w", s.table, s.label, err)
			}
		}
	}
	rows, err := tx.QueryContext(ctx, stmt, args...)
	if err != nil {
		return nil, fmt.Errorf("checksum %s on %s: %w", s.table, s.label, err)
	}
	defer rows.Close()
	for rows.Next() {
		var i, c int64
		var sum sql.NullString
		if err := rows.Scan(&i, &c, &sum); err != nil {
			return nil, fmt.Errorf("checksum %s on %s: %w", s.table, s.label, err)
		}
		if i >= 0 && i < int64(n) {
			out[i] = checksum{Count: c, Sum: normSum(sum.String)}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("checksum %s on %s: %w", s.table, s.label, err)
	}
	return out, nil
}

// streamedChecksums is checksums for a goHash side: PostgreSQL streams
// each row's bucket and columns in its own text output (pgGoColumns), Go
// builds the canonical text and hashes it. Read through pgx itself:
// database/sql's conversions cost more than the hashing.
func (s *side) streamedChecksums(ctx context.Context, bucket string, byKey *bucketing, cond string, args []any, n int, wide bool) ([]checksum, error) {
	accs, err := s.streamedAccs(ctx, bucket, byKey, cond, args, n, wide)
	if err != nil {
		return nil, err
	}
	return s.checksumsOf(accs), nil
}

func (s *side) checksumsOf(accs []acc) []checksum {
	out := make([]checksum, len(accs))
	for i := range accs {
		out[i] = accs[i].checksum()
		s.streamed.Add(accs[i].n)
	}
	return out
}

// streamedAccs streams the rows of a goHash side and sums each into its
// bucket's accumulator.
func (s *side) streamedAccs(ctx context.Context, bucket string, byKey *bucketing, cond string, args []any, n int, wide bool) ([]acc, error) {
	accs := make([]acc, n)
	for i := range accs {
		accs[i].xor = s.xor
	}
	// The first column is the bucket, computed by PostgreSQL, or (byKey)
	// none: each row's bucket is computed here from its key.
	lead := 1
	stmt := "SELECT (" + bucket + ")::int8, " + strings.Join(s.goSel, ", ") + s.from() + whereClause(cond, s.where)
	if byKey != nil {
		lead = 0
		stmt = "SELECT " + strings.Join(s.goSel, ", ") + s.from() + whereClause(cond, s.where)
	}
	conn, err := s.store.DB.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("checksum %s on %s: %w", s.table, s.label, err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		tx, err := dc.(*stdlib.Conn).Conn().BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
		if err != nil {
			return err
		}
		defer tx.Rollback(context.WithoutCancel(ctx))
		// As for the checksums PostgreSQL sums itself: no JIT, and a
		// scan of the table for a large part of it.
		sets := append([]string{"SET LOCAL jit = off"}, pgOutputSettings...)
		if wide {
			sets = append(sets, "SET LOCAL enable_indexscan = off", "SET LOCAL enable_indexonlyscan = off", "SET LOCAL enable_bitmapscan = off")
		}
		for _, set := range sets {
			if _, err := tx.Exec(ctx, set); err != nil {
				return err
			}
		}
		// Every column in PostgreSQL's text output, which pgRender reads.
		rows, err := tx.Query(ctx, stmt, append([]any{pgx.QueryResultFormats{pgx.TextFormatCode}}, args...)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		var text []byte
		for rows.Next() {
			raw := rows.RawValues()
			var i int64
			if byKey != nil {
				var ok bool
				if i, ok = byKey.bucketOf(raw[s.goKey]); !ok {
					continue // never: a key in the range is a number in it
				}
			} else {
				if raw[0] == nil {
					continue // never: a bucket is a number
				}
				if i, err = strconv.ParseInt(string(raw[0]), 10, 64); err != nil {
					return fmt.Errorf("bucket %q: %w", raw[0], err)
				}
			}
			if i < 0 || i >= int64(n) {
				continue
			}
			text = s.goText(text[:0], raw[lead:])
			accs[i].add(crcHash(text))
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("checksum %s on %s: %w", s.table, s.label, err)
	}
	return accs, nil
}

// pageParts says in how many parts pagedChecksums may read this side for
// bucket, and from which page each part after the first starts: only a
// PostgreSQL (14 or later: TID range scans) table whose buckets are
// arithmetic, hashed in Go (the bucket computed from the key) or by
// PostgreSQL (grouped by the bucket's SQL): either way a part may hold
// rows of any bucket. nil: read it by key ranges.
func (s *side) pageParts(ctx context.Context, bucket bucketing, parts int) ([]int64, error) {
	if s.store.Engine != datastore.Postgres || !bucket.arith || parts < 2 {
		return nil, nil
	}
	if !(s.goHash && s.goKey >= 0) && !(s.inDB && !s.goHash) {
		return nil, nil
	}
	var version int
	var kind string
	var pages int64
	err := s.store.DB.QueryRowContext(ctx, `SELECT current_setting('server_version_num')::int, c.relkind::text,
		pg_relation_size(c.oid) / current_setting('block_size')::bigint FROM pg_class c WHERE c.oid = $1::regclass`,
		s.quote(s.table)).Scan(&version, &kind, &pages)
	if err != nil {
		return nil, fmt.Errorf("pages of %s on %s: %w", s.table, s.label, err)
	}
	if version < 140000 || kind != "r" || pages < int64(parts) {
		return nil, nil
	}
	starts := make([]int64, parts-1)
	for i := range starts {
		starts[i] = pages * int64(i+1) / int64(parts)
	}
	return starts, nil
}

// pagedChecksums computes the checksums of every bucket of the whole
// table in parts of its pages read at once: PostgreSQL's parts by key
// range are each a scan of the whole table skipping the other parts' rows
// (a walk of the key's index costs more), parts by pages are each a scan
// of their own pages only. Every row is in exactly one part (the first is
// unbounded below and the last above, so pages added meanwhile are read
// too), and each part sums into any bucket: the accumulators of the parts
// are merged.
func (s *side) pagedChecksums(ctx context.Context, bucket bucketing, starts []int64, n int) ([]checksum, error) {
	parts := make([][]acc, len(starts)+1)
	grouped := make([][]checksum, len(starts)+1)
	g, gctx := errgroup.WithContext(ctx)
	for i := range parts {
		var conds []string
		if i > 0 {
			conds = append(conds, fmt.Sprintf("ctid >= '(%d,0)'::tid", starts[i-1]))
		}
		if i < len(starts) {
			conds = append(conds, fmt.Sprintf("ctid < '(%d,0)'::tid", starts[i]))
		}
		s.queries.Add(1)
		g.Go(func() (err error) {
			if s.goHash {
				parts[i], err = s.streamedAccs(gctx, "", &bucket, joinConds(conds...), nil, n, true)
				return err
			}
			q := &qb{engine: s.store.Engine}
			b := bucket.sql(q, s)
			grouped[i], err = s.groupedChecksums(gctx, b, joinConds(conds...), q.args, n, true)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if !s.goHash {
		return mergeChecksums(grouped, s.xor)
	}
	for _, p := range parts[1:] {
		for j := range p {
			parts[0][j].merge(p[j])
		}
	}
	return s.checksumsOf(parts[0]), nil
}

// mergeChecksums adds up the checksums of each bucket over parts: counts
// and sums added (the sums as the database printed them: integers of any
// size and sign), or combined by exclusive or.
func mergeChecksums(parts [][]checksum, xor bool) ([]checksum, error) {
	out := make([]checksum, len(parts[0]))
	for j := range out {
		var total big.Int
		for _, p := range parts {
			c := p[j]
			out[j].Count += c.Count
			v, ok := new(big.Int).SetString(c.Sum, 10)
			if !ok {
				return nil, fmt.Errorf("checksum %q of bucket %d is not an integer", c.Sum, j)
			}
			if xor {
				total.Xor(&total, v)
			} else {
				total.Add(&total, v)
			}
		}
		out[j].Sum = total.String()
	}
	return out, nil
}

// goText appends a row's canonical text, from its columns as a goHash
// side selects them (goSel, in PostgreSQL's text output).
func (s *side) goText(b []byte, vals [][]byte) []byte {
	for j, v := range vals {
		if j > 0 {
			b = append(b, crcColSep...)
		}
		b = appendRendered(b, s.goHow[j], v)
	}
	return b
}
