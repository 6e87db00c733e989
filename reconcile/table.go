package reconcile

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/big"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/mapping"
	"github.com/godwit/godwit/suggest"
)

// missingTargetColumn explains a column the mapping (or the identity)
// carries that the target table lacks: which source column it comes from
// (the names rule made its target name, so the user may know only the
// source's), the target's columns nothing is mapped to — among them,
// usually, the one it should go to — and how to say so in a spec and in
// godwit diff, both of which land here.
func missingTargetColumn(o *Options, p TablePair, m *mapping.Table, mc mapping.Column, tt *datastore.Table) error {
	if p.Map == nil {
		return fmt.Errorf("table %s: %w: column %s is not in %s's %s (ignore it with a column rule if that is intended)",
			p.Source, datastore.ErrShapeMismatch, mc.Target, o.TargetName, p.Target)
	}
	what := "column " + mc.Target
	switch {
	case mc.Computed():
		what = "added column " + mc.Target
	case mc.Source != mc.Target:
		what = fmt.Sprintf("column %s (source column %s)", mc.Target, mc.Source)
	}
	claimed := map[string]bool{}
	for _, c := range m.Columns {
		claimed[c.Target] = true
	}
	var free []string
	for _, c := range tt.Columns {
		if !claimed[c.Name] {
			free = append(free, c.Name)
		}
	}
	msg := fmt.Sprintf("%s is not in %s's %s%s", what, o.TargetName, p.Target, suggest.DidYouMean(mc.Target, free))
	if len(free) > 0 {
		msg += fmt.Sprintf("; columns of %s nothing is mapped to: %s", p.Target, strings.Join(free, ", "))
	}
	src := mc.Source
	if mc.Computed() {
		return fmt.Errorf("table %s: %w: %s (add it to the target, or name the added column as the target does)",
			p.Source, datastore.ErrShapeMismatch, msg)
	}
	return fmt.Errorf("table %s: %w: %s (map it to a target column: columns: {%s: COLUMN} in a spec's mapping, --map-column %s=COLUMN in godwit diff; or leave it out: drop: [%s], --ignore %s; or fix the names rule)",
		p.Source, datastore.ErrShapeMismatch, msg, src, src, src, src)
}

// sourceTable is what a mapping knows of an introspected table.
func sourceTable(t *datastore.Table) mapping.SourceTable {
	st := mapping.SourceTable{Name: t.Name, Key: t.PrimaryKey}
	for _, c := range t.Columns {
		st.Columns = append(st.Columns, c.Name)
	}
	return st
}

// joinConds is the conjunction of the non-empty SQL conditions.
func joinConds(conds ...string) string {
	var parts []string
	for _, c := range conds {
		if strings.TrimSpace(c) != "" {
			parts = append(parts, "("+c+")")
		}
	}
	return strings.Join(parts, " AND ")
}

// tableCheck compares one table pair.
type tableCheck struct {
	o        *Options
	pair     TablePair
	src, tgt *side
	note     string

	srcTable, tgtTable *datastore.Table // as introspected, for a repair
	mapped             *mapping.Table   // how source rows become target rows

	textKeysAcross bool          // text keys between two engines (binaryKey)
	began          time.Time     // with UpdatedColumn: rows written since are in flight
	sem            chan struct{} // bounds the queries in flight
	checked        atomic.Int64  // rows resolved (equal or compared)
	limit          *limiter

	mu    sync.Mutex
	diffs []found
	seen  map[string]bool // keys of diffs
	total atomic.Int64    // max(source rows, target rows)

	// needsRepair: the check ended (not stopped at a limit) with
	// differences to repair; Run repairs every such table at the end
	// (repairAll), rr is the repair's report meanwhile.
	needsRepair bool
	repaired    atomic.Bool // repairAll is through with this table
	rr          *RepairReport
	repairStart time.Time
}

// found is a difference with the key's canonical values (for a re-check).
type found struct {
	Difference
	key    []any
	values map[string][2]*string // differing columns' texts, truncated (nil: NULL)
}

// tablesHint, for a table a side does not have, offers the nearest name
// it has and lists its tables (a --to-table typo, or a name the names rule
// made that the target spells otherwise); "" for any other error.
func tablesHint(ctx context.Context, s *datastore.Store, name string, err error) string {
	if !errors.Is(err, datastore.ErrUnknownTable) {
		return ""
	}
	names, lerr := s.ListTables(ctx)
	if lerr != nil || len(names) == 0 {
		return ""
	}
	sort.Strings(names)
	list := names
	if len(list) > 20 {
		list = append(list[:20:20], fmt.Sprintf("… %d more", len(names)-20))
	}
	return suggest.DidYouMean(name, names) + " (it has " + strings.Join(list, ", ") + ")"
}

// planTable introspects both sides and decides what is compared and where
// the hashes are computed.
func planTable(ctx context.Context, o *Options, p TablePair, began time.Time) (*tableCheck, error) {
	st, err := o.Source.Introspect(ctx, p.Source)
	if err != nil {
		return nil, fmt.Errorf("%s: %w%s", o.SourceName, err, tablesHint(ctx, o.Source, p.Source, err))
	}
	tt, err := o.Target.Introspect(ctx, p.Target)
	if err != nil {
		return nil, fmt.Errorf("%s: %w%s", o.TargetName, err, tablesHint(ctx, o.Target, p.Target, err))
	}
	if err := st.CheckCopyable(); err != nil {
		return nil, fmt.Errorf("%s: %w (reconcile compares by key)", o.SourceName, err)
	}
	m := p.Map
	if m == nil {
		id := mapping.Identity(sourceTable(st))
		m = &id
	}
	if err := checkRuleColumns(o, p.Source, st, m); err != nil {
		return nil, err
	}
	isKey := map[string]int{}
	for i, k := range st.PrimaryKey {
		isKey[k] = i
	}
	var cols []colPlan
	var srcCols, tgtCols []*datastore.Column // nil for a computed column
	var srcTypes, tgtTypes []datastore.Type
	var srcX, tgtX []string
	var ignored []string
	computed := false // a mapping computes a column: its expression's own type is unknown
	for _, mc := range m.Columns {
		ruleName := mc.Source
		if mc.Computed() {
			ruleName = mc.Target
		}
		r := o.rule(p.Source, ruleName)
		if err := CheckRule(r); err != nil {
			return nil, fmt.Errorf("table %s column %s: %w", p.Source, ruleName, err)
		}
		_, key := isKey[mc.Source]
		key = key && !mc.Computed()
		if key && r != (ColumnRule{}) {
			return nil, fmt.Errorf("%w: table %s: key column %s takes no rule (keys are compared exactly)", ErrBadOption, p.Source, mc.Source)
		}
		if r.Ignore {
			ignored = append(ignored, mc.Target)
			continue
		}
		tc := tt.Column(mc.Target)
		if tc == nil {
			return nil, missingTargetColumn(o, p, m, mc, tt)
		}
		srcType, x := tc.Type, datastore.ComputedExpr(o.Source.Engine, mc.Expr, tc.Type)
		computed = computed || mc.Computed()
		var sc *datastore.Column
		if !mc.Computed() {
			sc = st.Column(mc.Source)
			if sc == nil {
				return nil, fmt.Errorf("table %s: %w: column %s is not in %s's %s", p.Source, datastore.ErrShapeMismatch, mc.Source, o.SourceName, p.Source)
			}
			srcType, x = comparedType(o.Source.Engine, sc), o.Source.Quote(mc.Source)
		}
		tgtType := comparedType(o.Target.Engine, tc)
		cp := colPlan{name: mc.Target, src: srcType, tgt: tgtType, rule: r, key: key}
		// A uuid against text (CHAR(36)): the text in lower case, as the
		// uuid's canonical text is. Not for a key, whose ranges and index
		// are the column's own.
		cp.uuidText = !key && (srcType.Kind == datastore.KindUUID) != (tgtType.Kind == datastore.KindUUID) &&
			(textKindOnly(srcType.Kind) || textKindOnly(tgtType.Kind))
		if r.Tolerance != "" {
			if !numeric(srcType.Kind) || !numeric(tc.Type.Kind) {
				return nil, fmt.Errorf("%w: table %s column %s: a tolerance needs a numeric column (it is %s / %s)",
					ErrBadOption, p.Source, ruleName, srcType, tc.Type)
			}
			cp.tol, _ = new(big.Rat).SetString(r.Tolerance)
		}
		cols = append(cols, cp)
		srcCols = append(srcCols, sc)
		tgtCols = append(tgtCols, tc)
		srcTypes = append(srcTypes, srcType)
		tgtTypes = append(tgtTypes, tgtType)
		srcX = append(srcX, x)
		tgtX = append(tgtX, o.Target.Quote(mc.Target))
	}
	var extra []string
	for _, c := range tt.Columns {
		if m.Column(c.Name) == nil {
			extra = append(extra, c.Name)
		}
	}
	keyPos := make([]int, len(st.PrimaryKey))
	for i, k := range st.PrimaryKey {
		dst, carried := m.TargetOf(k)
		if !carried {
			return nil, fmt.Errorf("table %s: %w: key column %s is not carried by the mapping (rows are compared by key)", p.Source, mapping.ErrMapping, k)
		}
		if tt.Column(dst) == nil {
			return nil, fmt.Errorf("table %s: %w: key column %s is not in %s's %s", p.Source, datastore.ErrShapeMismatch, dst, o.TargetName, p.Target)
		}
		for j := range cols {
			if cols[j].name == dst {
				keyPos[i] = j
			}
		}
	}
	// Where is each side hashed? PostgreSQL and MySQL hash in the
	// database; SQLite, without a hash function, in Go. JSON renders
	// alike only within one engine, so a JSON column between two engines
	// (or against a Go-hashed side) is hashed in Go on both sides.
	srcDB, tgtDB := o.Source.Engine != datastore.SQLite, o.Target.Engine != datastore.SQLite
	if hasJSON(cols) && (o.Source.Engine != o.Target.Engine || !srcDB || !tgtDB) {
		srcDB, tgtDB = false, false
	}
	// Text keys between two engines are ordered and compared by their
	// UTF-8 bytes on both sides, whatever the columns' collations, so a
	// key range holds the same keys on each side.
	textKeysAcross := false
	if o.Source.Engine != o.Target.Engine {
		for _, pos := range keyPos {
			textKeysAcross = textKeysAcross || textKind(srcTypes[pos].Kind) || textKind(tgtTypes[pos].Kind)
		}
	}
	native := !o.PortableHash && srcDB && tgtDB && o.Source.Engine == datastore.Postgres && o.Target.Engine == datastore.Postgres
	record := false
	if native && !computed && recordHashable(cols) {
		if record, err = recordHashAvailable(ctx, o.Source, o.Target); err != nil {
			return nil, err
		}
	}
	// MD5 hashes (any pair but two PostgreSQL databases) are combined by
	// exclusive or, as pt-table-checksum does: MySQL sums integers as
	// decimals, a sixth of the check's time there. PostgreSQL has
	// bit_xor from version 14; before it, both sides sum.
	xor := false
	if !native {
		if xor, err = bitXorAvailable(ctx, o.Source, o.Target); err != nil {
			return nil, err
		}
	}
	// With MariaDB on a side, CRC-32 × CRC-32C instead of MD5 (hashCRC):
	// half its cost there, and less on PostgreSQL, which renders the text
	// for Go to hash. --portable-hash keeps MD5 everywhere.
	hk := hashMD5
	if !native && !o.PortableHash {
		if hk, err = crcUsable(ctx, o.Source, o.Target); err != nil {
			return nil, err
		}
	}
	if hk == hashCRC {
		xor = true // BIT_XOR is in every MariaDB, and Go's
	}
	// Both sides hashing in the database render a decimal of the same
	// declared scale as it is stored, without trimming its zeros.
	if srcDB && tgtDB {
		for i := range cols {
			c := &cols[i]
			c.fixedScale = srcCols[i] != nil && c.src.Kind == datastore.KindDecimal && c.tgt.Kind == datastore.KindDecimal &&
				c.src.Precision > 0 && c.tgt.Precision > 0 && c.src.Scale == c.tgt.Scale && c.tol == nil && !c.rule.AsText
		}
	}
	var srcHints, tgtHints []sqlHint
	if srcDB {
		if srcHints, err = hintsFor(ctx, o.Source, p.Source, srcCols, cols, srcTypes); err != nil {
			return nil, fmt.Errorf("%s: %w", o.SourceName, err)
		}
	}
	if tgtDB {
		if tgtHints, err = hintsFor(ctx, o.Target, p.Target, tgtCols, cols, tgtTypes); err != nil {
			return nil, fmt.Errorf("%s: %w", o.TargetName, err)
		}
	}
	tc := &tableCheck{o: o, pair: p, sem: make(chan struct{}, o.Concurrency), textKeysAcross: textKeysAcross,
		srcTable: st, tgtTable: tt}
	mk := func(label string, s *datastore.Store, table string, types []datastore.Type, exprs []string, where string, inDB bool, hints []sqlHint) *side {
		sd := &side{label: label, store: s, table: table, cols: cols, types: types, exprs: exprs, keyPos: keyPos,
			where: where, inDB: inDB, native: native, record: record, xor: xor, hash: hk, floatDec: o.FloatDecimals, hints: hints,
			goHash: inDB && hk == hashCRC && s.Engine == datastore.Postgres}
		for _, pos := range keyPos {
			sd.keys = append(sd.keys, binaryKey(s.Engine, exprs[pos], types[pos].Kind, textKeysAcross))
			sd.keyKinds = append(sd.keyKinds, types[pos].Kind)
		}
		sd.prepare()
		return sd
	}
	// The mapping's filter says which source rows the target holds.
	srcWhere := joinConds(m.Where, o.where(p.Source))
	tc.src = mk(o.SourceName, o.Source, p.Source, srcTypes, srcX, srcWhere, srcDB, srcHints)
	tc.src.filter = m.Where
	tc.src.unpad = unpadded(o.Source.Engine, srcCols, cols)
	tc.tgt = mk(o.TargetName, o.Target, p.Target, tgtTypes, tgtX, o.where(p.Source), tgtDB, tgtHints)
	tc.tgt.unpad = unpadded(o.Target.Engine, tgtCols, cols)
	tc.mapped = m
	if o.UpdatedColumn != "" {
		tgtUpdated, carried := m.TargetOf(o.UpdatedColumn)
		if !carried && st.Column(o.UpdatedColumn) != nil {
			return nil, fmt.Errorf("%w: updatedColumn %s is dropped by the mapping of table %s: the target has nothing to date its rows by; carry it (remove it from drop:) or leave updatedColumn out", ErrBadOption, o.UpdatedColumn, p.Source)
		}
		for _, sd := range []*struct {
			s    *side
			t    *datastore.Table
			name string
		}{{tc.src, st, o.UpdatedColumn}, {tc.tgt, tt, tgtUpdated}} {
			c := sd.t.Column(sd.name)
			if c == nil || (c.Type.Kind != datastore.KindTimestamp && c.Type.Kind != datastore.KindTimestampTZ) {
				return nil, fmt.Errorf("%w: table %s on %s has no timestamp column %q (updatedColumn)", ErrBadOption, sd.t.Name, sd.s.label, sd.name)
			}
			sd.s.updated = c
		}
		tc.began = began
	}
	var notes []string
	if len(ignored) > 0 {
		notes = append(notes, "ignored: "+strings.Join(ignored, ", "))
	}
	if len(extra) > 0 {
		notes = append(notes, "target-only columns not compared: "+strings.Join(extra, ", "))
	}
	tc.note = strings.Join(notes, "; ")
	return tc, nil
}

// unpadded marks the PostgreSQL char(n) columns among cols (nil for a
// computed one): their padding is not part of the value, and not of the
// text their checksums hash (side.unpad). nil when there is none.
func unpadded(e datastore.Engine, cols []*datastore.Column, plans []colPlan) []bool {
	if e != datastore.Postgres {
		return nil
	}
	var out []bool
	for i, c := range cols {
		if c == nil || plans[i].rule.AsText {
			continue
		}
		nt := strings.ToLower(strings.TrimSpace(c.NativeType))
		if strings.HasPrefix(nt, "character(") || nt == "character" || strings.HasPrefix(nt, "bpchar") {
			if out == nil {
				out = make([]bool, len(cols))
			}
			out[i] = true
		}
	}
	return out
}

// hintsFor returns what each compared column of a side's table lets its
// SQL text leave out (sqlHint): NOT NULL from the introspection, and on
// MySQL the columns' charsets and fractional digits. cols[i] is nil for a
// computed column, which gets no hint.
func hintsFor(ctx context.Context, s *datastore.Store, table string, cols []*datastore.Column, plans []colPlan, types []datastore.Type) ([]sqlHint, error) {
	hints := make([]sqlHint, len(cols))
	var charsets map[string]string
	if s.Engine == datastore.MySQL {
		var err error
		if charsets, err = mysqlCharsets(ctx, s, table); err != nil {
			return nil, err
		}
	}
	for i, c := range cols {
		if c == nil {
			continue
		}
		hints[i].notNull = !c.Nullable
		if s.Engine != datastore.MySQL || plans[i].rule.AsText {
			continue
		}
		switch types[i].Kind {
		case datastore.KindTimestamp, datastore.KindTimestampTZ:
			hints[i].micro = strings.HasSuffix(strings.ToLower(strings.TrimSpace(c.NativeType)), "(6)")
		case datastore.KindText, datastore.KindVarchar, datastore.KindUUID:
			switch strings.ToLower(charsets[c.Name]) {
			case "utf8mb4", "utf8mb3", "utf8", "ascii":
				hints[i].utf8 = true
			}
		}
	}
	return hints, nil
}

// mysqlCharsets returns the charset of each text column of a MySQL table.
func mysqlCharsets(ctx context.Context, s *datastore.Store, table string) (map[string]string, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT COLUMN_NAME, CHARACTER_SET_NAME FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND CHARACTER_SET_NAME IS NOT NULL`, table)
	if err != nil {
		return nil, fmt.Errorf("charsets of %s: %w", table, err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var c, cs string
		if err := rows.Scan(&c, &cs); err != nil {
			return nil, fmt.Errorf("charsets of %s: %w", table, err)
		}
		out[c] = cs
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("charsets of %s: %w", table, err)
	}
	return out, nil
}

// comparedType is the type a column is compared as: its own, but bytes
// for a MySQL spatial column, whose value is binary (its stored form,
// which the copy carries as it is into a bytea or BLOB) and which
// CAST(x AS CHAR), the engine's text of an unsupported type, refuses.
func comparedType(e datastore.Engine, c *datastore.Column) datastore.Type {
	if c.Type.Kind == datastore.KindUnsupported && datastore.SpatialType(e, c.NativeType) {
		return datastore.Type{Kind: datastore.KindBytes}
	}
	return c.Type
}

// textKindOnly: text or varchar (not a uuid, not an unsupported type).
func textKindOnly(k datastore.Kind) bool {
	return k == datastore.KindText || k == datastore.KindVarchar
}

func textKind(k datastore.Kind) bool {
	switch k {
	case datastore.KindText, datastore.KindVarchar, datastore.KindUUID, datastore.KindUnsupported:
		return true
	}
	return false
}

// binaryKey is the key column as compared in ranges: itself, or for text
// keys between two engines its binary (UTF-8 byte order) form. That form
// may not use the column's index when its collation is not binary: each
// range query then scans (docs/reconcile.md).
func binaryKey(e datastore.Engine, col string, k datastore.Kind, across bool) string {
	if !across || !textKind(k) {
		return col
	}
	switch e {
	case datastore.Postgres:
		return "(" + col + "::text COLLATE \"C\")"
	case datastore.MySQL:
		return "(CONVERT(" + col + " USING utf8mb4) COLLATE utf8mb4_bin)"
	}
	return col // SQLite compares text as bytes (BINARY) unless told otherwise
}

func hasJSON(cols []colPlan) bool {
	for _, c := range cols {
		if !c.rule.AsText && (c.src.Kind == datastore.KindJSON || c.tgt.Kind == datastore.KindJSON) {
			return true
		}
	}
	return false
}

func (tc *tableCheck) method() string {
	where := func(s *side) string {
		if s.record {
			return "typed hashes in postgres"
		}
		if s.native {
			return "hashtextextended in postgres"
		}
		if s.goHash {
			return "crc32·crc32c in Go over " + string(s.store.Engine) + " canonical text"
		}
		if s.inDB && s.hash == hashCRC {
			return "crc32·crc32c in " + string(s.store.Engine)
		}
		if s.hash == hashCRC {
			return "crc32·crc32c in Go over " + string(s.store.Engine) + " rows"
		}
		if s.inDB {
			return "md5 in " + string(s.store.Engine)
		}
		return "md5 in Go over " + string(s.store.Engine) + " rows"
	}
	return "checksums: " + where(tc.src) + " / " + where(tc.tgt)
}

// run compares the table: counts, then checksums of key ranges, bisecting
// the differing ones down to Threshold rows, which are compared row by row.
// parent is the caller's context; ctx is the run's, cancelled at a limit.
func (tc *tableCheck) run(parent, ctx context.Context) (TableReport, error) {
	start := time.Now()
	rep := TableReport{Table: tc.pair.Source, Method: tc.method(), Note: tc.note}
	if tc.pair.Target != tc.pair.Source {
		rep.TargetTable = tc.pair.Target
	}
	g, gctx := errgroup.WithContext(ctx)
	counted, err := tc.firstPass(gctx, g, &rep)
	if err == nil {
		err = g.Wait()
	} else {
		_ = g.Wait()
	}
	if err == nil && !counted {
		g, gctx := errgroup.WithContext(ctx)
		g.Go(func() (e error) { rep.SourceRows, e = tc.src.count(gctx); return })
		g.Go(func() (e error) { rep.TargetRows, e = tc.tgt.count(gctx); return })
		// A limit may cancel the counts too (a very short maxDuration): that
		// is a stop like any other, not an error.
		if err = g.Wait(); err == nil {
			tc.total.Store(max(rep.SourceRows, rep.TargetRows))
			if n := tc.total.Load(); n > 0 {
				g, gctx := errgroup.WithContext(ctx)
				tc.resolve(gctx, g, keyRange{}, n, 0)
				err = g.Wait()
			}
		}
	}
	stopped := err != nil && tc.limit.reached() && parent.Err() == nil
	if err != nil && !stopped {
		return rep, err
	}
	if stopped {
		ctx = parent // for the samples below
	}
	if !stopped && tc.o.RecheckAfter > 0 && len(tc.diffs) > 0 {
		if err := tc.recheck(ctx, &rep); err != nil {
			return rep, err
		}
	}
	tc.fill(&rep)
	tc.needsRepair = !stopped && tc.o.Repair && len(tc.diffs) > 0
	rep.Complete = !stopped
	rep.Seconds = time.Since(start).Seconds()
	if rep.Seconds > 0 {
		rep.RowsPerSecond = math.Round(float64(tc.checked.Load()) / rep.Seconds)
	}
	return rep, nil
}

// resolve checks range r (about n rows) and schedules what it must look
// into further on g.
func (tc *tableCheck) resolve(ctx context.Context, g *errgroup.Group, r keyRange, n int64, depth int) {
	g.Go(func() error {
		if err := tc.limit.err(ctx); err != nil {
			return err
		}
		// The depth bound is a safety net: each level cuts a range into
		// parts, so 64 levels are never needed unless the two sides
		// disagree on key order.
		if n <= int64(tc.o.Threshold) || depth >= maxDepth {
			return tc.compareRows(ctx, r)
		}
		subs, bucket, err := tc.split(ctx, r, n)
		if err != nil {
			return err
		}
		if subs == nil { // cannot split further
			return tc.compareRows(ctx, r)
		}
		var a, b []checksum
		tc.acquire()
		cg, cctx := errgroup.WithContext(ctx)
		cg.Go(func() (e error) { a, e = tc.src.checksums(cctx, r, bucket, len(subs), false); return })
		cg.Go(func() (e error) { b, e = tc.tgt.checksums(cctx, r, bucket, len(subs), false); return })
		err = cg.Wait()
		tc.release()
		if err != nil {
			return err
		}
		for i, sub := range subs {
			if a[i] == b[i] {
				tc.progress(a[i].Count)
				continue
			}
			tc.resolve(ctx, g, sub, max(a[i].Count, b[i].Count), depth+1)
		}
		return nil
	})
}

func (tc *tableCheck) acquire() { tc.sem <- struct{}{} }
func (tc *tableCheck) release() { <-tc.sem }

// split cuts r into up to Factor sub-ranges and returns how a row's
// sub-range is computed in SQL. A first key column of integers is cut
// arithmetically; any other key at keys read in order from the larger side.
func (tc *tableCheck) split(ctx context.Context, r keyRange, n int64) ([]keyRange, bucketing, error) {
	f := tc.o.Factor
	if intKind(tc.src.keyKinds[0]) && intKind(tc.tgt.keyKinds[0]) && len(r.Lo) <= 1 && len(r.Hi) <= 1 {
		lo, hi, ok, err := tc.intBounds(ctx, r)
		if err != nil {
			return nil, bucketing{}, err
		}
		if ok && hi-lo >= 2 {
			subs, bucket := tc.intSplit(lo, hi, n)
			return subs, bucket, nil
		}
		if ok && len(tc.src.keys) == 1 {
			return nil, bucketing{}, nil // one key value: nothing to split
		}
	}
	// Split points from the side with more rows in r.
	from, m := tc.src, n
	tc.acquire()
	points, err := from.splitKeys(ctx, r, f, m)
	tc.release()
	if err != nil {
		return nil, bucketing{}, err
	}
	if len(points) == 0 {
		from = tc.tgt
		tc.acquire()
		points, err = from.splitKeys(ctx, r, f, m)
		tc.release()
		if err != nil || len(points) == 0 {
			return nil, bucketing{}, err
		}
	}
	subs := make([]keyRange, 0, len(points)+1)
	lo := r.Lo
	for _, p := range points {
		subs = append(subs, keyRange{Lo: lo, Hi: p})
		lo = p
	}
	subs = append(subs, keyRange{Lo: lo, Hi: r.Hi})
	return subs, bucketing{sql: func(q *qb, s *side) string {
		var b strings.Builder
		b.WriteString("(CASE")
		for i, p := range points {
			fmt.Fprintf(&b, " WHEN %s THEN %d", tupleCmp(q, s.keys, s.keyKinds, p, true), i)
		}
		fmt.Fprintf(&b, " ELSE %d END)", len(points))
		return b.String()
	}}, nil
}

// intSplit cuts the integer keys [lo, hi) of about n rows into sub-ranges
// of equal width, computed in SQL by arithmetic. One GROUP BY pass costs
// about the same for 16 buckets or thousands: it aims straight at ranges of
// a quarter of Threshold rows, so a table with differences all over is not
// scanned once per level, and a difference costs a fetch of a quarter of
// Threshold rows per side, not of Threshold.
func (tc *tableCheck) intSplit(lo, hi, n int64) ([]keyRange, bucketing) {
	parts := int64(tc.o.Factor)
	rows := max(int64(tc.o.Threshold)/4, 1)
	if want := (n + rows - 1) / rows; want > parts {
		parts = min(want, maxBuckets)
	}
	width := (hi - lo + parts - 1) / parts
	var subs []keyRange
	for a := lo; a < hi; a += width {
		subs = append(subs, keyRange{Lo: []any{a}, Hi: []any{min(a+width, hi)}})
		if a > math.MaxInt64-width {
			break
		}
	}
	return subs, bucketing{arith: true, lo: lo, width: width, sql: func(q *qb, s *side) string {
		k := s.keys[0]
		switch s.store.Engine {
		case datastore.Postgres:
			return "((" + k + "::bigint - " + q.ph(datastore.KindBigInt, lo) + "::bigint) / " + q.ph(datastore.KindBigInt, width) + "::bigint)"
		case datastore.MySQL:
			return "((" + k + " - " + q.ph(datastore.KindBigInt, lo) + ") DIV " + q.ph(datastore.KindBigInt, width) + ")"
		}
		return "((" + k + " - " + q.ph(datastore.KindBigInt, lo) + ") / " + q.ph(datastore.KindBigInt, width) + ")"
	}}
}

// firstPass starts a table whose first key column is an integer on both
// sides without counting its rows: the key bounds, then one pass of
// checksums over the whole table, whose bucket counts sum to each side's
// row count (a COUNT(*) would be a second scan of each side). Differing
// buckets are resolved further on g. ok is false when the bounds do not
// allow it (both sides empty, or keys too far apart): count instead.
func (tc *tableCheck) firstPass(ctx context.Context, g *errgroup.Group, rep *TableReport) (ok bool, err error) {
	if !intKind(tc.src.keyKinds[0]) || !intKind(tc.tgt.keyKinds[0]) {
		return false, nil
	}
	lo, hi, ok, err := tc.intBounds(ctx, keyRange{})
	if err != nil || !ok || hi-lo < 2 || hi-lo > math.MaxInt64/4 {
		return false, err
	}
	// The span is what a dense key holds; a sparse one only gets more,
	// smaller buckets.
	subs, bucket := tc.intSplit(lo, hi, hi-lo)
	a, b, err := tc.chunkedChecksums(ctx, subs, bucket)
	if err != nil {
		return true, err
	}
	for i := range subs {
		rep.SourceRows += a[i].Count
		rep.TargetRows += b[i].Count
	}
	tc.total.Store(max(rep.SourceRows, rep.TargetRows))
	for i, sub := range subs {
		if a[i] == b[i] {
			tc.progress(a[i].Count)
			continue
		}
		tc.resolve(ctx, g, sub, max(a[i].Count, b[i].Count), 1)
	}
	return true, nil
}

// chunkedChecksums computes the checksums of every sub-range of the whole
// table on both sides, in Concurrency contiguous chunks of them checked at
// once (each chunk one query per side, so at most Concurrency queries per
// side): an engine without parallel queries (MySQL) then uses as many
// cores as chunks, and the faster side's idle time is not the slower
// side's. The first chunk is unbounded below and the last above, so every
// row is in one.
func (tc *tableCheck) chunkedChecksums(ctx context.Context, subs []keyRange, bucket bucketing) (a, b []checksum, err error) {
	n := len(subs)
	chunks := max(1, min(tc.o.Concurrency, n))
	if tc.src.store.Engine == datastore.SQLite || tc.tgt.store.Engine == datastore.SQLite {
		chunks = 1 // one connection
	}
	a, b = make([]checksum, n), make([]checksum, n)
	// A chunk of a quarter of the table or more is read faster by a
	// sequential scan that skips the other chunks' rows than through the
	// key's index (a heap fetch per row).
	wide := chunks <= 4
	// A side that can read its table in parts of its pages instead does
	// (pagedChecksums): no part scans what the others read.
	pagesA, err := tc.src.pageParts(ctx, bucket, chunks)
	if err != nil {
		return nil, nil, err
	}
	pagesB, err := tc.tgt.pageParts(ctx, bucket, chunks)
	if err != nil {
		return nil, nil, err
	}
	g, gctx := errgroup.WithContext(ctx)
	if pagesA != nil {
		g.Go(func() (e error) { a, e = tc.src.pagedChecksums(gctx, bucket, pagesA, n); return })
	}
	if pagesB != nil {
		g.Go(func() (e error) { b, e = tc.tgt.pagedChecksums(gctx, bucket, pagesB, n); return })
	}
	if pagesA != nil && pagesB != nil {
		err := g.Wait()
		return a, b, err
	}
	for c := range chunks {
		first, last := c*n/chunks, (c+1)*n/chunks-1
		r := keyRange{Lo: subs[first].Lo, Hi: subs[last].Hi}
		if c == 0 {
			r.Lo = nil
		}
		if c == chunks-1 {
			r.Hi = nil
		}
		g.Go(func() error {
			tc.acquire()
			defer tc.release()
			var x, y []checksum
			cg, cctx := errgroup.WithContext(gctx)
			if pagesA == nil {
				cg.Go(func() (e error) { x, e = tc.src.checksums(cctx, r, bucket, n, wide); return })
			}
			if pagesB == nil {
				cg.Go(func() (e error) { y, e = tc.tgt.checksums(cctx, r, bucket, n, wide); return })
			}
			if err := cg.Wait(); err != nil {
				return err
			}
			// Each chunk fills its own sub-ranges only.
			if pagesA == nil {
				copy(a[first:last+1], x[first:last+1])
			}
			if pagesB == nil {
				copy(b[first:last+1], y[first:last+1])
			}
			return nil
		})
	}
	// Wait first: a paged side's goroutine assigns a or b itself, and a
	// return's variable operands may be read before its call runs.
	err = g.Wait()
	return a, b, err
}

// maxBuckets bounds the sub-ranges of one arithmetic split (the rows a
// checksum query returns).
const maxBuckets = 1 << 16

// maxDepth bounds the bisection (see resolve).
const maxDepth = 64

func intKind(k datastore.Kind) bool {
	return k == datastore.KindSmallInt || k == datastore.KindInt || k == datastore.KindBigInt
}

// intBounds returns [lo, hi) of the first key column within r: the range's
// own bounds, or the smallest and greatest keys of both sides.
func (tc *tableCheck) intBounds(ctx context.Context, r keyRange) (lo, hi int64, ok bool, err error) {
	if len(r.Lo) == 1 && len(r.Hi) == 1 {
		lo, _ = r.Lo[0].(int64)
		hi, _ = r.Hi[0].(int64)
		return lo, hi, true, nil
	}
	var l1, h1, l2, h2 int64
	var ok1, ok2 bool
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (e error) { l1, h1, ok1, e = tc.src.minMax(gctx); return })
	g.Go(func() (e error) { l2, h2, ok2, e = tc.tgt.minMax(gctx); return })
	if err := g.Wait(); err != nil {
		return 0, 0, false, err
	}
	switch {
	case ok1 && ok2:
		lo, hi = min(l1, l2), max(h1, h2)
	case ok1:
		lo, hi = l1, h1
	case ok2:
		lo, hi = l2, h2
	default:
		return 0, 0, false, nil
	}
	if hi == math.MaxInt64 || (lo < 0 && hi > math.MaxInt64+lo-1) {
		return 0, 0, false, nil // the width would overflow: split by keys instead
	}
	return lo, hi + 1, true, nil
}

// compareRows fetches r from both sides and records the differences.
func (tc *tableCheck) compareRows(ctx context.Context, r keyRange) error {
	var a, b map[string]*row
	tc.acquire()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (e error) { a, e = tc.src.fetch(gctx, r); return })
	g.Go(func() (e error) { b, e = tc.tgt.fetch(gctx, r); return })
	err := g.Wait()
	tc.release()
	if err != nil {
		return err
	}
	tc.progress(int64(max(len(a), len(b))))
	return tc.record(tc.compare(a, b))
}

// compare classifies the keys of two fetched sets. With UpdatedColumn, a
// key whose row was written on either side since the check began is in
// flight and not compared.
func (tc *tableCheck) compare(a, b map[string]*row) []found {
	var out []found
	inFlight := func(r *row) bool { return r != nil && !tc.began.IsZero() && !r.updated.Before(tc.began) }
	for k, ra := range a {
		rb, ok := b[k]
		if inFlight(ra) || inFlight(rb) {
			continue
		}
		if !ok {
			out = append(out, tc.difference(MissingInTarget, ra, nil))
			continue
		}
		if cols := tc.differing(ra, rb); len(cols) > 0 {
			d := tc.difference(Mismatched, ra, rb)
			d.Columns = cols
			d.values = map[string][2]*string{}
			for i, c := range tc.src.cols {
				if slices.Contains(cols, c.name) {
					d.values[c.name] = shownPair(ra, rb, i)
				}
			}
			out = append(out, d)
		}
	}
	for k, rb := range b {
		if _, ok := a[k]; !ok && !inFlight(rb) {
			out = append(out, tc.difference(ExtraInTarget, rb, nil))
		}
	}
	return out
}

var classOrder = map[Class]int{MissingInTarget: 0, ExtraInTarget: 1, Mismatched: 2}

// sortFound orders differences by class, then key (numbers as numbers).
func sortFound(ds []found) {
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ds[i].Difference, ds[j].Difference
		if a.Class != b.Class {
			return classOrder[a.Class] < classOrder[b.Class]
		}
		for k := range min(len(a.Key), len(b.Key)) {
			if c := compareKeyPart(a.Key[k], b.Key[k]); c != 0 {
				return c < 0
			}
		}
		return false
	})
}

func compareKeyPart(a, b string) int {
	x, err1 := strconv.ParseInt(a, 10, 64)
	y, err2 := strconv.ParseInt(b, 10, 64)
	if err1 == nil && err2 == nil {
		return cmp.Compare(x, y)
	}
	return strings.Compare(a, b)
}

func (tc *tableCheck) differing(a, b *row) []string {
	var cols []string
	for i := range tc.src.cols {
		c := &tc.src.cols[i]
		if a.nulls[i] != b.nulls[i] {
			cols = append(cols, c.name)
			continue
		}
		if a.nulls[i] || a.texts[i] == b.texts[i] {
			continue
		}
		if c.tol != nil && withinTolerance(a.texts[i], b.texts[i], c.tol) {
			continue
		}
		cols = append(cols, c.name)
	}
	return cols
}

func (tc *tableCheck) difference(class Class, a, b *row) found {
	key := make([]string, len(a.key))
	for i, v := range a.key {
		key[i] = keyText(tc.src.keyKinds[i], v)
	}
	return found{Difference: Difference{Class: class, Key: key}, key: a.key}
}

// keyText is how a finding shows one key value: a date as its day
// (2024-01-03, not 2024-01-03T00:00:00Z), a timestamp without time zone
// without a zone it does not have (2024-01-03 10:00:00.5), a timestamp
// with one in UTC (RFC 3339), anything else as EncodeValue writes it.
func keyText(k datastore.Kind, v any) string {
	if t, ok := v.(time.Time); ok {
		switch k {
		case datastore.KindDate:
			return t.Format(time.DateOnly)
		case datastore.KindTimestamp:
			return t.Format("2006-01-02 15:04:05.999999999")
		}
	}
	s, err := datastore.EncodeValue(v)
	if err != nil {
		s = fmt.Sprint(v)
	}
	return s
}

// record keeps differences and stops the run at MaxDifferences.
func (tc *tableCheck) record(ds []found) error {
	if len(ds) == 0 {
		return nil
	}
	tc.mu.Lock()
	if tc.seen == nil {
		tc.seen = map[string]bool{}
	}
	n := 0
	for _, d := range ds {
		// A key looked up across ranges may be found twice.
		k := strings.Join(d.Key, colSep)
		if !tc.seen[k] {
			tc.seen[k] = true
			tc.diffs = append(tc.diffs, d)
			n++
		}
	}
	tc.mu.Unlock()
	return tc.limit.add(int64(n))
}

// recheck waits, then fetches the differing keys again from both sides:
// only the keys that still differ count.
func (tc *tableCheck) recheck(ctx context.Context, rep *TableReport) error {
	t := time.NewTimer(tc.o.RecheckAfter)
	select {
	case <-ctx.Done():
		t.Stop()
		return ctx.Err()
	case <-t.C:
	}
	if tc.o.beforeRecheck != nil {
		tc.o.beforeRecheck()
	}
	keys := make([][]any, len(tc.diffs))
	for i, d := range tc.diffs {
		keys[i] = d.key
	}
	var a, b map[string]*row
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (e error) { a, e = tc.src.fetchKeys(gctx, keys); return })
	g.Go(func() (e error) { b, e = tc.tgt.fetchKeys(gctx, keys); return })
	if err := g.Wait(); err != nil {
		return err
	}
	still := tc.compare(a, b)
	rep.Rechecked = int64(len(tc.diffs))
	rep.Resolved = rep.Rechecked - int64(len(still))
	_ = tc.limit.add(-rep.Resolved)
	tc.mu.Lock()
	tc.diffs = still
	tc.mu.Unlock()
	return nil
}

// fill writes the counts, samples and statistics into rep.
func (tc *tableCheck) fill(rep *TableReport) {
	sortFound(tc.diffs)
	values := tc.o.SampleValues
	perClass := map[Class]int{}
	for i := range tc.diffs {
		d := &tc.diffs[i].Difference
		switch d.Class {
		case MissingInTarget:
			rep.Missing++
		case ExtraInTarget:
			rep.Extra++
		case Mismatched:
			rep.Mismatched++
			if rep.MismatchedColumns == nil {
				rep.MismatchedColumns = map[string]int64{}
			}
			for _, c := range d.Columns {
				rep.MismatchedColumns[c]++
			}
		}
		if len(rep.Differences) < tc.o.MaxListed {
			rep.Differences = append(rep.Differences, *d)
		}
		if perClass[d.Class] < tc.o.SampleKeys {
			perClass[d.Class]++
			s := *d
			if d.Class == Mismatched && values > 0 {
				values--
				s.Values = tc.diffs[i].values
			}
			rep.Samples = append(rep.Samples, s)
		}
	}
	rep.Checksums = tc.src.queries.Load() + tc.tgt.queries.Load()
	rep.RowsFetched = tc.src.fetched.Load() + tc.tgt.fetched.Load()
	rep.RowsHashed = tc.src.streamed.Load() + tc.tgt.streamed.Load()
	rep.KeysRead = tc.src.keysRead.Load() + tc.tgt.keysRead.Load()
}

// shownRunes is how many characters of a differing value a report shows.
const shownRunes = 40

// shownPair is a mismatched column's two values as a report shows them:
// nil for NULL, so that a NULL and the text "NULL" never look alike, and
// each clipped to shownRunes characters from the same place: the start,
// or, when the two differ only further on, a little before the first
// character where they differ, so that they never read alike.
func shownPair(a, b *row, i int) [2]*string {
	if a.nulls[i] || b.nulls[i] {
		return [2]*string{shown(a, i, 0), shown(b, i, 0)}
	}
	ra, rb := []rune(a.texts[i]), []rune(b.texts[i])
	at := 0
	for at < len(ra) && at < len(rb) && ra[at] == rb[at] {
		at++
	}
	from := 0
	if at >= shownRunes {
		from = at - 10
	}
	return [2]*string{shown(a, i, from), shown(b, i, from)}
}

// shown is one value from its from-th character, clipped to shownRunes
// characters, with "…" where a part is left out; nil for NULL.
func shown(r *row, i, from int) *string {
	if r.nulls[i] {
		return nil
	}
	s := r.texts[i]
	if rs := []rune(s); len(rs) > shownRunes || from > 0 {
		from = min(from, len(rs))
		end := min(from+shownRunes, len(rs))
		s = string(rs[from:end])
		if from > 0 {
			s = "…" + s
		}
		if end < len(rs) {
			s += "…"
		}
	}
	return &s
}

func (tc *tableCheck) progress(rows int64) {
	tc.checked.Add(rows)
	tc.limit.tick()
}

// limiter stops a run at MaxDifferences or MaxDuration and reports
// progress at most about once a second.
type limiter struct {
	maxDiffs int64
	diffs    atomic.Int64
	hit      atomic.Value // string: why it stopped
	onTick   func()
	cancel   context.CancelFunc // cancels the run's context
	last     atomic.Int64       // unix nanos of the last progress report
}

var errStop = errors.New("limit reached")

func (l *limiter) add(n int64) error {
	if l == nil {
		return nil
	}
	d := l.diffs.Add(n)
	if l.maxDiffs > 0 && d >= l.maxDiffs {
		l.stop(fmt.Sprintf("maxDifferences (%d) reached", l.maxDiffs))
		return fmt.Errorf("%w: %w", ErrLimit, errStop)
	}
	return nil
}

func (l *limiter) stop(why string) {
	if l.hit.CompareAndSwap(nil, why) && l.cancel != nil {
		l.cancel()
	}
}

func (l *limiter) reached() bool { return l != nil && l.hit.Load() != nil }

func (l *limiter) why() string {
	if s, ok := l.hit.Load().(string); ok {
		return s
	}
	return ""
}

func (l *limiter) err(ctx context.Context) error {
	if l.reached() {
		return fmt.Errorf("%w: %s", ErrLimit, l.why())
	}
	return ctx.Err()
}

func (l *limiter) tick() {
	if l == nil || l.onTick == nil {
		return
	}
	now := time.Now().UnixNano()
	last := l.last.Load()
	if now-last >= int64(time.Second) && l.last.CompareAndSwap(last, now) {
		l.onTick()
	}
}

// checkRuleColumns refuses a column rule of table ("table.column") that
// names none of its columns: a carried column is named by its source name,
// a computed one by its target name. Such a rule would otherwise be
// ignored, and the check it meant to relax would fail all the same; the
// likeliest slip, a carried column under its target name (as findings
// print it), is named as such.
func checkRuleColumns(o *Options, table string, st *datastore.Table, m *mapping.Table) error {
	names := map[string]bool{}
	var known []string
	for _, c := range st.Columns {
		names[c.Name] = true
		known = append(known, c.Name)
	}
	for _, mc := range m.Columns {
		if mc.Computed() {
			names[mc.Target] = true
			known = append(known, mc.Target)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(o.Columns)) {
		col, ok := strings.CutPrefix(k, table+".")
		if !ok || names[col] {
			continue
		}
		for _, mc := range m.Columns {
			if !mc.Computed() && mc.Target == col {
				return fmt.Errorf("%w: column rule %s: %s is %s's column %s under its target name: name it by its source name, %s.%s",
					ErrBadOption, k, col, table, mc.Source, table, mc.Source)
			}
		}
		return fmt.Errorf("%w: column rule %s: %s has no column %s%s", ErrBadOption, k, table, col, suggest.DidYouMean(col, known))
	}
	return nil
}
