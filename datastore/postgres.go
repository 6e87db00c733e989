package datastore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

type postgresDialect struct{}

func (postgresDialect) open(dsn string) (*sql.DB, error) {
	cfg, err := parsePostgres(dsn)
	if err != nil {
		return nil, err
	}
	return stdlib.OpenDB(*cfg), nil
}

// parsePostgres parses a PostgreSQL DSN (URL or keyword string) after
// CheckPostgresDSN; its errors never quote the DSN.
func parsePostgres(dsn string) (*pgx.ConnConfig, error) {
	if err := CheckPostgresDSN(dsn); err != nil {
		return nil, err
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("%w: not a PostgreSQL URL or keyword string", ErrBadDSN)
	}
	return cfg, nil
}

// CheckPostgresDSN refuses a PostgreSQL URL whose user or password holds a
// '/', '?' or '#' that is not percent-encoded. Such a URL still parses, but
// wrongly: in postgres://app:Pg@Owl/77@db:5432/shop the host is read as
// "Owl" and the database as "77@db:5432/shop", both pieces of the password,
// which the connection error then prints (to the log, the status and the
// workflow's history) where no redaction knows them as a secret. The sign
// is an '@' after the first '/', '?' or '#' of the URL: in a well-formed
// URL the last '@' ends the user and password, before the path and query.
// Keyword strings (host=... password=...) are not URLs and pass.
func CheckPostgresDSN(dsn string) error {
	rest, ok := strings.CutPrefix(strings.TrimSpace(dsn), "postgres://")
	if !ok {
		rest, ok = strings.CutPrefix(strings.TrimSpace(dsn), "postgresql://")
	}
	if !ok {
		return nil
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 && strings.Contains(rest[i:], "@") {
		return fmt.Errorf("%w: the URL's user or password holds a '/', '?' or '#' that is not percent-encoded, "+
			"so part of the password would be read as the host or database: in the user and password write "+
			"'/' as %%2F, '?' as %%3F, '#' as %%23, '@' as %%40 and ':' as %%3A (and '@' in a query value as %%40), "+
			"or use a keyword string (host=... user=... password=...)", ErrBadDSN)
	}
	return nil
}

func (postgresDialect) isAccessDenied(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "28P01" || pg.Code == "28000" || pg.Code == "42501"
	}
	return false
}

func (postgresDialect) quote(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

func (postgresDialect) placeholder(i int) string { return "$" + strconv.Itoa(i) }
func (postgresDialect) maxParams() int           { return 65535 }
func (postgresDialect) transactionalDDL() bool   { return true }

func (postgresDialect) listTables(ctx context.Context, db *sql.DB) ([]string, error) {
	return queryStrings(ctx, db, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`)
}

func (d postgresDialect) introspect(ctx context.Context, db *sql.DB, name string) (*Table, error) {
	rows, err := db.QueryContext(ctx, `
		SELECT a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
		       coalesce(pg_get_expr(ad.adbin, ad.adrelid), ''), a.attidentity <> '',
		       CASE WHEN ty.typtype = 'd' THEN format_type(ty.typbasetype, ty.typtypmod) ELSE '' END
		FROM pg_attribute a
		JOIN pg_type ty ON ty.oid = a.atttypid
		JOIN pg_class c ON c.oid = a.attrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
		WHERE n.nspname = current_schema() AND c.relname = $1 AND c.relkind IN ('r', 'p')
		  AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY a.attnum`, name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	t := &Table{Name: name, Engine: Postgres}
	for rows.Next() {
		var c Column
		var def string
		var identity bool
		var domainBase string
		if err := rows.Scan(&c.Name, &c.NativeType, &c.Nullable, &def, &identity, &domainBase); err != nil {
			return nil, err
		}
		c.Type = postgresType(c.NativeType)
		if domainBase != "" {
			// A domain (Pagila's year) holds its base type's values: it
			// maps as that type does. The native type stays the domain's,
			// which PostgreSQL → PostgreSQL keeps (UndefinedTypes).
			c.Type = postgresType(domainBase)
		}
		c.AutoIncrement = identity || strings.HasPrefix(def, "nextval(")
		if def != "" && !c.AutoIncrement {
			c.Default = postgresTimeDefault(c.Type.Kind, def, parseDefault(def))
		}
		t.Columns = append(t.Columns, c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(t.Columns) == 0 {
		return nil, nil
	}
	// Indexes, with their columns in index order; char(31) separates names.
	irows, err := db.QueryContext(ctx, `
		SELECT ic.relname, x.indisprimary, x.indisunique, coalesce(am.amname, ''),
		       x.indexprs IS NOT NULL OR x.indpred IS NOT NULL,
		       coalesce((SELECT string_agg(a.attname, chr(31) ORDER BY k.ord)
		                 FROM unnest(x.indkey) WITH ORDINALITY k(attnum, ord)
		                 JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum), '')
		FROM pg_index x
		JOIN pg_class ic ON ic.oid = x.indexrelid
		LEFT JOIN pg_am am ON am.oid = ic.relam
		JOIN pg_class c ON c.oid = x.indrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = current_schema() AND c.relname = $1
		ORDER BY ic.relname`, name)
	if err != nil {
		return nil, err
	}
	defer irows.Close()
	for irows.Next() {
		var idx Index
		var primary, partial bool
		var cols string
		var method string
		if err := irows.Scan(&idx.Name, &primary, &idx.Unique, &method, &partial, &cols); err != nil {
			return nil, err
		}
		if method != "btree" {
			idx.Method = method // a gist index became a btree one before
		}
		idx.Columns = strings.Split(cols, "\x1f")
		switch {
		case primary:
			t.PrimaryKey = idx.Columns
		case partial:
			t.Skipped = append(t.Skipped, "index "+idx.Name+" (expression or partial index)")
		default:
			t.Indexes = append(t.Indexes, idx)
		}
	}
	if err := irows.Err(); err != nil {
		return nil, err
	}
	fks, err := d.foreignKeys(ctx, db, name)
	if err != nil {
		return nil, fmt.Errorf("foreign keys of %s: %w", name, err)
	}
	t.ForeignKeys = fks
	if t.InheritsFrom, err = queryStrings(ctx, db, `SELECT p.relname FROM pg_inherits i
		JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = current_schema() AND c.relname = $1 ORDER BY p.relname`, name); err != nil {
		return nil, fmt.Errorf("parents of %s: %w", name, err)
	}
	// From pg_trigger, not information_schema.triggers: every
	// introspection (the copy's drift checks too) runs this, and the view
	// took 19 ms a table where this takes 1-2. tgtype's bits: 2 BEFORE, 64
	// INSTEAD OF, 4 INSERT, 8 DELETE, 16 UPDATE, 32 TRUNCATE.
	triggers, err := queryStrings(ctx, db, `SELECT 'trigger ' || t.tgname || ' ('
		    || CASE WHEN t.tgtype & 2 <> 0 THEN 'BEFORE' WHEN t.tgtype & 64 <> 0 THEN 'INSTEAD OF' ELSE 'AFTER' END || ' '
		    || concat_ws(' OR ', CASE WHEN t.tgtype & 8 <> 0 THEN 'DELETE' END, CASE WHEN t.tgtype & 4 <> 0 THEN 'INSERT' END,
		                 CASE WHEN t.tgtype & 32 <> 0 THEN 'TRUNCATE' END, CASE WHEN t.tgtype & 16 <> 0 THEN 'UPDATE' END) || ')'
		FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = current_schema() AND c.relname = $1 AND NOT t.tgisinternal AND t.tgname NOT LIKE 'godwit\_%'
		ORDER BY t.tgname`, name)
	if err != nil {
		return nil, fmt.Errorf("triggers of %s: %w", name, err)
	}
	// The table's own triggers (Sakila's last_updated, film's fulltext
	// one) are not carried: a target whose rows they kept must be told.
	// Godwit's own (change capture, dual writes: godwit_...) are left out.
	t.Skipped = append(t.Skipped, triggers...)
	return t, nil
}

// foreignKeys reads a table's foreign keys; char(31) separates the column
// names, which come in constraint order. One that references a table in
// another schema is left out (a migration moves one schema).
func (postgresDialect) foreignKeys(ctx context.Context, db *sql.DB, name string) ([]ForeignKey, error) {
	rows, err := db.QueryContext(ctx, `
		SELECT k.conname, rc.relname, k.confdeltype, k.confupdtype, k.condeferrable, k.condeferred,
		       (SELECT string_agg(a.attname, chr(31) ORDER BY u.ord) FROM unnest(k.conkey) WITH ORDINALITY u(attnum, ord)
		          JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum),
		       (SELECT string_agg(a.attname, chr(31) ORDER BY u.ord) FROM unnest(k.confkey) WITH ORDINALITY u(attnum, ord)
		          JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.attnum)
		FROM pg_constraint k
		JOIN pg_class c ON c.oid = k.conrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_class rc ON rc.oid = k.confrelid
		WHERE k.contype = 'f' AND n.nspname = current_schema() AND c.relname = $1
		  AND rc.relnamespace = c.relnamespace
		ORDER BY k.conname`, name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ForeignKey
	for rows.Next() {
		var fk ForeignKey
		var del, upd, cols, refs string
		var deferrable, deferred bool
		if err := rows.Scan(&fk.Name, &fk.RefTable, &del, &upd, &deferrable, &deferred, &cols, &refs); err != nil {
			return nil, err
		}
		switch {
		case deferred:
			fk.Deferrable = DeferrableDeferred
		case deferrable:
			fk.Deferrable = DeferrableImmediate
		}
		fk.Columns, fk.RefColumns = strings.Split(cols, "\x1f"), strings.Split(refs, "\x1f")
		fk.OnDelete, fk.OnUpdate = pgAction(del), pgAction(upd)
		out = append(out, fk)
	}
	return out, rows.Err()
}

// pgAction spells pg_constraint's one-letter referential action.
func pgAction(c string) string {
	switch c {
	case "r":
		return "RESTRICT"
	case "c":
		return "CASCADE"
	case "n":
		return "SET NULL"
	case "d":
		return "SET DEFAULT"
	}
	return "NO ACTION"
}

var typeArgs = regexp.MustCompile(`\((\d+)(?:\s*,\s*(\d+))?\)`)

// args returns the numbers in a type's parentheses: varchar(40) → 40, 0.
func args(native string) (int, int) {
	m := typeArgs.FindStringSubmatch(native)
	if m == nil {
		return 0, 0
	}
	a, _ := strconv.Atoi(m[1])
	b, _ := strconv.Atoi(m[2])
	return a, b
}

func postgresType(native string) Type {
	n := strings.ToLower(native)
	base := typeArgs.ReplaceAllString(n, "")
	a, b := args(n)
	switch {
	case strings.HasSuffix(n, "[]"):
		return Type{Kind: KindUnsupported}
	case base == "smallint":
		return Type{Kind: KindSmallInt}
	case base == "integer":
		return Type{Kind: KindInt}
	case base == "bigint":
		return Type{Kind: KindBigInt}
	case base == "numeric":
		return Type{Kind: KindDecimal, Precision: a, Scale: b}
	case base == "real":
		return Type{Kind: KindFloat}
	case base == "double precision":
		return Type{Kind: KindDouble}
	case base == "boolean":
		return Type{Kind: KindBool}
	case base == "text" || base == "citext":
		return Type{Kind: KindText}
	case base == "character varying":
		if a == 0 {
			return Type{Kind: KindText}
		}
		return Type{Kind: KindVarchar, Length: a}
	case base == "character": // format_type says character(1) for a bare char
		return Type{Kind: KindVarchar, Length: max(a, 1), Padded: true}
	case base == "bytea":
		return Type{Kind: KindBytes}
	case base == "date":
		return Type{Kind: KindDate}
	case base == "timestamp without time zone", base == "timestamp with time zone":
		k := KindTimestamp
		if base == "timestamp with time zone" {
			k = KindTimestampTZ
		}
		if !typeArgs.MatchString(n) {
			return Type{Kind: k} // PostgreSQL's default: microseconds
		}
		return timestampType(k, a)
	case base == "json" || base == "jsonb":
		return Type{Kind: KindJSON}
	case base == "uuid":
		return Type{Kind: KindUUID}
	}
	return Type{Kind: KindUnsupported}
}

func (postgresDialect) nativeType(c Column, key bool) (string, error) {
	t := c.Type
	switch t.Kind {
	case KindSmallInt:
		return "smallint", nil
	case KindInt:
		return "integer", nil
	case KindBigInt:
		return "bigint", nil
	case KindDecimal:
		if t.Precision > 0 {
			return fmt.Sprintf("numeric(%d,%d)", t.Precision, t.Scale), nil
		}
		return "numeric", nil
	case KindFloat:
		return "real", nil
	case KindDouble:
		return "double precision", nil
	case KindBool:
		return "boolean", nil
	case KindText:
		return "text", nil
	case KindVarchar:
		return fmt.Sprintf("varchar(%d)", t.Length), nil
	case KindBytes:
		return "bytea", nil
	case KindDate:
		return "date", nil
	case KindTimestamp, KindTimestampTZ:
		// Fewer digits than the default are kept: a value written here
		// with a fraction (now()) is rounded as the source would round it,
		// so it reaches the source unchanged when replicated back.
		if p := t.FractionDigits(); p < 6 {
			return fmt.Sprintf("%s(%d)", t.Kind, p), nil
		}
		return string(t.Kind), nil
	case KindJSON:
		return "jsonb", nil
	case KindUUID:
		return "uuid", nil
	}
	return "", fmt.Errorf("column %s (%s): %w", c.Name, c.NativeType, ErrUnsupportedType)
}

func (postgresDialect) autoIncrementClause(c Column) string {
	return " GENERATED BY DEFAULT AS IDENTITY"
}

func (postgresDialect) renderDefault(c Column) (string, bool) {
	if c.Type.Kind == KindDate {
		return renderPortableDefault(c, "CURRENT_DATE", "true", "false")
	}
	return renderPortableDefault(c, "CURRENT_TIMESTAMP", "true", "false")
}

func (d postgresDialect) upsertSuffix(t *Table) string {
	return conflictUpsert(t, d.quote, "EXCLUDED")
}

func (postgresDialect) tableSuffix() string { return "" }

func (d postgresDialect) keyAfter(t *Table, first int) (string, []int) {
	return rowValueAfter(t, d.quote, d.placeholder, first)
}

func (postgresDialect) encode(t Type, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	return Canonical(t, v)
}

func (d postgresDialect) estimate(ctx context.Context, db *sql.DB, table string) (int64, error) {
	var n sql.NullFloat64
	err := db.QueryRowContext(ctx, `SELECT reltuples FROM pg_class WHERE oid = to_regclass(quote_ident($1))`, table).Scan(&n)
	if err == sql.ErrNoRows {
		return 0, fmt.Errorf("%w: %q", ErrUnknownTable, table)
	}
	if err != nil {
		return 0, err
	}
	if !n.Valid || n.Float64 < 0 {
		return -1, nil
	}
	return int64(n.Float64), nil
}

// syncIdentity moves each identity/serial sequence of t past the highest
// value in its column, so the first insert after the copy does not collide.
func (d postgresDialect) syncIdentity(ctx context.Context, db *sql.DB, t *Table) error {
	for _, c := range t.Columns {
		if !c.AutoIncrement {
			continue
		}
		// A serial or identity column owns its sequence; a DEFAULT
		// nextval('seq') of a sequence made apart (Pagila's actor) does
		// not, and is found through the default's dependency on it.
		// Never lower than the sequence stands, and one sync at a time per
		// table: key ranges fanned out finish each with a sync, and a sync
		// whose snapshot missed another unit's last rows could otherwise
		// set the sequence back after that unit's sync set it past them.
		q := fmt.Sprintf(`SELECT setval(seq, greatest(coalesce(max(%s), 0) + 1, coalesce(pg_sequence_last_value(seq) + 1, 1)), false) FROM %s,
			(SELECT coalesce(pg_get_serial_sequence($1, $2)::regclass,
				(SELECT dep.refobjid::regclass FROM pg_attrdef ad
				 JOIN pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
				 JOIN pg_depend dep ON dep.classid = 'pg_attrdef'::regclass AND dep.objid = ad.oid AND dep.refclassid = 'pg_class'::regclass
				 JOIN pg_class sq ON sq.oid = dep.refobjid AND sq.relkind = 'S'
				 WHERE ad.adrelid = $1::regclass AND a.attname = $2 LIMIT 1)) AS seq) s
			WHERE seq IS NOT NULL GROUP BY seq`,
			d.quote(c.Name), d.quote(t.Name))
		if err := syncSequence(ctx, db, q, d.quote(t.Name), c.Name); err != nil {
			return fmt.Errorf("set sequence of %s.%s: %w", t.Name, c.Name, err)
		}
	}
	return nil
}

// syncSequence runs the sync q (its arguments: the quoted table, the
// column) under a transaction-scoped advisory lock on the table, so its
// snapshot is taken after any other sync of the table has committed.
func syncSequence(ctx context.Context, db *sql.DB, q, table, column string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1::regclass::oid::bigint)`, table); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, q, table, column); err != nil {
		return err
	}
	return tx.Commit()
}

// conflictUpsert is the ON CONFLICT (key) DO UPDATE clause PostgreSQL and
// SQLite share; excluded names the proposed row.
func conflictUpsert(t *Table, quote func(string) string, excluded string) string {
	keys := make([]string, len(t.PrimaryKey))
	isKey := map[string]bool{}
	for i, k := range t.PrimaryKey {
		keys[i] = quote(k)
		isKey[k] = true
	}
	var sets []string
	for _, c := range t.Columns {
		if !isKey[c.Name] {
			sets = append(sets, fmt.Sprintf("%s = %s.%s", quote(c.Name), excluded, quote(c.Name)))
		}
	}
	if len(sets) == 0 {
		return " ON CONFLICT (" + strings.Join(keys, ", ") + ") DO NOTHING"
	}
	return " ON CONFLICT (" + strings.Join(keys, ", ") + ") DO UPDATE SET " + strings.Join(sets, ", ")
}

// rowValueAfter is "(k1, k2) > (p1, p2)", which PostgreSQL and SQLite answer
// with an index range scan.
func rowValueAfter(t *Table, quote func(string) string, ph func(int) string, first int) (string, []int) {
	cols := make([]string, len(t.PrimaryKey))
	params := make([]string, len(t.PrimaryKey))
	uses := make([]int, len(t.PrimaryKey))
	for i, k := range t.PrimaryKey {
		cols[i] = quote(k)
		params[i] = ph(first + i)
		uses[i] = i
	}
	return "(" + strings.Join(cols, ", ") + ") > (" + strings.Join(params, ", ") + ")", uses
}

func queryStrings(ctx context.Context, db *sql.DB, q string, args ...any) ([]string, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// postgresTimeDefault classifies PostgreSQL's special date/time inputs in a
// date or timestamp column's default. 'now'::text::date (Sakila's
// customer.create_date) is the time of each insert, not a string: it is the
// current time, kept as written on PostgreSQL. 'today', 'epoch', 'infinity'
// and the like mean nothing to another engine, so they are expressions
// (carried to PostgreSQL only, listed as not carried elsewhere).
func postgresTimeDefault(k Kind, raw string, d *Default) *Default {
	if d == nil || d.Kind != DefaultLiteral || !d.Quoted {
		return d
	}
	if k != KindDate && k != KindTimestamp && k != KindTimestampTZ {
		return d
	}
	switch strings.ToLower(strings.TrimSpace(d.Value)) {
	case "now":
		return &Default{Kind: DefaultNow, Value: strings.TrimSpace(raw)}
	case "today", "tomorrow", "yesterday", "epoch", "infinity", "-infinity", "allballs":
		return &Default{Kind: DefaultExpr, Value: strings.TrimSpace(raw)}
	}
	return d
}

// ErrorDetail is what PostgreSQL said about err beyond its message: its
// DETAIL and HINT lines (which objects depend on a column a DROP names,
// which row broke a constraint), which pgx's Error() leaves out. It is
// empty for any other error.
func ErrorDetail(err error) string {
	var pg *pgconn.PgError
	if !errors.As(err, &pg) {
		return ""
	}
	var parts []string
	if d := strings.TrimSpace(pg.Detail); d != "" {
		parts = append(parts, "DETAIL: "+strings.ReplaceAll(d, "\n", "; "))
	}
	if h := strings.TrimSpace(pg.Hint); h != "" {
		parts = append(parts, "HINT: "+h)
	}
	return strings.Join(parts, " ")
}

// InheritanceChildren lists the tables that inherit from table (PostgreSQL's
// INHERITS, as Sakila's payment_p2007_01 … from payment), nil on other
// engines. A row trigger on the parent does not fire for a write to a
// child's rows (an insert a rule routes there, an update of one), so a
// dual-write on the parent alone misses them. Partitions of a declarative
// partitioned table are left out: PostgreSQL gives them the parent's row
// triggers itself.
func (s *Store) InheritanceChildren(ctx context.Context, table string) ([]string, error) {
	if s.Engine != Postgres {
		return nil, nil
	}
	out, err := queryStrings(ctx, s.DB, `SELECT c.relname FROM pg_inherits i
		JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
		JOIN pg_namespace n ON n.oid = p.relnamespace
		WHERE n.nspname = current_schema() AND p.relname = $1 AND p.relkind = 'r' ORDER BY c.relname`, table)
	if err != nil {
		return nil, fmt.Errorf("tables inheriting from %s: %w", table, err)
	}
	return out, nil
}
