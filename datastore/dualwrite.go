package datastore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/godwit/godwit/suggest"
)

// DualWritePrefix starts the name of a dual-write trigger (and, on
// PostgreSQL, its trigger function) that carries no migration's tag: what
// every run created before DualWriteTaggedPrefix, still found, removed and
// created again on a table that has such a set.
const DualWritePrefix = "godwit_dw_"

// DualWriteTaggedPrefix starts the name of a dual-write trigger that
// carries its migration's tag: godwit_dwm_<tag>_<table><event>. With
// DualWritePrefix, it is how Godwit finds all of its triggers and no one
// else's.
const DualWriteTaggedPrefix = "godwit_dwm_"

// DualWriteTag is a migration's tag in its triggers' names: 8 hex digits of
// the SHA-256 of its name, short enough to leave a table's name room under
// PostgreSQL's 63 characters; "" for no migration (an untagged name).
func DualWriteTag(migration string) string {
	if migration == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(migration))
	return hex.EncodeToString(sum[:4])
}

// tagOf returns the tag a trigger's name carries, "" for an untagged name.
func tagOf(name string) string {
	const n = len(DualWriteTaggedPrefix) + 8
	if strings.HasPrefix(name, DualWriteTaggedPrefix) && len(name) > n && name[n] == '_' {
		return name[len(DualWriteTaggedPrefix):n]
	}
	return ""
}

// ErrBadDualWrite is a dual-write rule that cannot become a trigger: an
// unknown column, an expression over no column.
var ErrBadDualWrite = errors.New("bad dual-write rule")

// DualWriteRule keeps Column equal to Expr, an SQL expression over the
// row's other columns written as in a SELECT on the table ("lower(email)").
// On each write: one that changes a column Expr reads but not Column sets
// Column from Expr; one that changes Column keeps it as written. Two rules
// in opposite directions (new from old, old from new) therefore keep both
// shapes in step without loops.
type DualWriteRule struct {
	Column string `json:"column"`
	Expr   string `json:"expr"`
}

// DualWriteTrigger is one trigger of Godwit's dual-write on a table.
type DualWriteTrigger struct {
	Name  string `json:"name"`
	Table string `json:"table"`
	// Tag is the DualWriteTag of the migration that created it, "" when
	// its name carries none (created before tags, or on a table that had
	// such a set).
	Tag string `json:"tag,omitempty"`
}

// dualWriteRule is a rule resolved against the table's columns: its
// expression with every column reference qualified by the new row.
type dualWriteRule struct {
	column  string
	expr    string   // over NEW.<column>
	sources []string // the columns expr reads
	// atDefault is the condition (over NEW) that an insert left column
	// at its constant default while it wrote a source away from its own:
	// the insert did not set column, though it is not NULL (new code
	// writing only rental_cents into a table whose rental_rate has
	// DEFAULT 4.99). "" when column has no such default.
	atDefault string
}

// insertUnset is the condition that an insert did not set r.column: NULL,
// or at its default while a source is not at its own.
func (r dualWriteRule) insertUnset(quote func(string) string) string {
	unset := "NEW." + quote(r.column) + " IS NULL"
	if r.atDefault != "" {
		unset = "(" + unset + " OR " + r.atDefault + ")"
	}
	return unset
}

// constantDefaults returns, per column of t whose default is a literal
// of a type with an equality operator, the condition that NEW's value
// is that default (null-safe: false for NULL). A default that is an
// expression (now(), nextval) is left out: evaluating it in a trigger
// could differ from what the insert got, or consume a sequence value.
func constantDefaults(t *Table, notDistinct func(col, lit string) string, literal func(string) string) map[string]string {
	out := map[string]string{}
	for _, c := range t.Columns {
		if c.Default == nil || c.Default.Kind != DefaultLiteral {
			continue
		}
		switch c.Type.Kind {
		// Not dates: PostgreSQL reads a default 'now'::date as a literal
		// that a trigger's cached plan would keep past midnight.
		case KindSmallInt, KindInt, KindBigInt, KindDecimal, KindFloat, KindDouble, KindBool, KindText, KindVarchar:
		default:
			continue
		}
		lit := c.Default.Value
		if c.Default.Quoted {
			lit = literal(lit)
		} else if c.Type.Kind != KindBool && !isNumberLiteral(lit) {
			continue
		}
		out[strings.ToLower(c.Name)] = notDistinct(c.Name, lit)
	}
	return out
}

// DualWriteSQL returns the statements that create the dual-write triggers
// on t for rules, named with tag (DualWriteTag; "" for untagged names).
// columns are the table's columns at the time the triggers run (its
// columns plus those the same change adds), by which the rules' column
// references are recognised; t gives the primary key.
func (s *Store) DualWriteSQL(t *Table, columns []string, rules []DualWriteRule, tag string) ([]string, error) {
	if len(rules) == 0 {
		return nil, nil
	}
	resolved := make([]dualWriteRule, 0, len(rules))
	for _, r := range rules {
		col, ok := findColumn(columns, r.Column)
		if !ok {
			return nil, fmt.Errorf("%w: table %s has no column %q (nor does the change add it)", ErrBadDualWrite, t.Name, r.Column)
		}
		expr, sources := qualifyColumns(r.Expr, columns, "NEW.", s.d.quote)
		if len(sources) == 0 {
			return nil, fmt.Errorf("%w: %s.%s = %q reads no column of %s%s: write it over the row's columns (%s)", ErrBadDualWrite, t.Name, r.Column, r.Expr, t.Name,
				suggest.DidYouMean(strings.Trim(strings.TrimSpace(r.Expr), "`\""), columns), strings.Join(columns, ", "))
		}
		for _, src := range sources {
			if src == col {
				return nil, fmt.Errorf("%w: %s.%s = %q reads the column it sets", ErrBadDualWrite, t.Name, r.Column, r.Expr)
			}
		}
		resolved = append(resolved, dualWriteRule{column: col, expr: expr, sources: sources})
	}
	// A column at its default on insert was not written when a source
	// was (see dualWriteRule.atDefault); when every source is at its own
	// default too, nothing tells which side was written: both stay.
	defaults := constantDefaults(t, s.d.notDistinct, s.d.stringLiteral)
	for i, r := range resolved {
		own, ok := defaults[strings.ToLower(r.column)]
		if !ok {
			continue
		}
		var srcAt []string
		for _, src := range r.sources {
			at, ok := defaults[strings.ToLower(src)]
			if !ok {
				srcAt = nil
				break
			}
			srcAt = append(srcAt, at)
		}
		resolved[i].atDefault = own
		if len(srcAt) > 0 {
			resolved[i].atDefault = "(" + own + " AND NOT (" + strings.Join(srcAt, " AND ") + "))"
		}
	}
	return s.d.dualWriteSQL(t, resolved, tag)
}

// DualWriteTriggers lists Godwit's dual-write triggers in the store.
func (s *Store) DualWriteTriggers(ctx context.Context) ([]DualWriteTrigger, error) {
	out, err := s.d.dualWriteTriggers(ctx, s.DB)
	if err != nil {
		return nil, fmt.Errorf("list dual-write triggers: %w", err)
	}
	return out, nil
}

// DropDualWriteSQL returns the statements that remove one of Godwit's
// dual-write triggers (and its function), each harmless when it is gone.
func (s *Store) DropDualWriteSQL(tr DualWriteTrigger) []string { return s.d.dropDualWrite(tr) }

// LockTimeoutSQL returns the statement that makes this session (on
// PostgreSQL: this transaction) wait at most d for a lock, a table's or a
// row's; "" where the engine has no such setting (SQLite waits on its busy
// timeout).
func (s *Store) LockTimeoutSQL(d time.Duration) string { return s.d.lockTimeout(d) }

// ClaimWriteSQL returns a statement that, run first in a transaction that
// reads before it writes, takes the write lock at once ("" where the engine
// needs none). SQLite wants it: a transaction that read and then writes
// after another connection has written fails with SQLITE_BUSY at once,
// without waiting on the busy timeout (waiting could deadlock); one that
// writes first waits its turn. table.column is any column of an existing
// table: the statement changes no row.
func (s *Store) ClaimWriteSQL(table, column string) string {
	return s.d.claimWrite(s.d.quote(table), s.d.quote(column))
}

// IsLockTimeout reports whether err is a statement that gave up waiting
// for a lock (worth retrying later).
func (s *Store) IsLockTimeout(err error) bool { return s.d.isLockTimeout(err) }

// IsRefused reports whether err is the server refusing a statement (a
// syntax error, a missing column, a constraint): running it again cannot
// succeed. A lost connection, a deadlock or a lock timeout is not.
func (s *Store) IsRefused(err error) bool { return err != nil && s.d.refused(err) }

// IsMissingObject reports whether err is a statement refused because the
// table, column, index, trigger or routine it names does not exist (a
// DROP of what was never created).
func (s *Store) IsMissingObject(err error) bool { return err != nil && s.d.missingObject(err) }

// dualWriteName is a trigger's name: the prefix (with the migration's tag
// when there is one), the table, the event; a long table name is cut and
// made unique with a hash (names are at most 63 characters on PostgreSQL,
// 64 on MySQL).
func dualWriteName(tag, table, event string) string {
	prefix := DualWritePrefix
	if tag != "" {
		prefix = DualWriteTaggedPrefix + tag + "_"
	}
	name := prefix + table + event
	if len(name) <= 60 {
		return name
	}
	sum := sha256.Sum256([]byte(table))
	return prefix + table[:60-len(prefix)-len(event)-9] + "_" + hex.EncodeToString(sum[:4]) + event
}

func findColumn(columns []string, name string) (string, bool) {
	for _, c := range columns {
		if strings.EqualFold(c, name) {
			return c, true
		}
	}
	return "", false
}

// qualifyColumns prefixes every column reference of expr with prefix
// (NEW.), quoted: a word or quoted identifier naming a column, not
// already qualified and not called as a function. String literals are
// kept as they are. It returns the expression and the columns it reads.
func qualifyColumns(expr string, columns []string, prefix string, quote func(string) string) (string, []string) {
	var b strings.Builder
	var sources []string
	seen := map[string]bool{}
	add := func(c string) {
		b.WriteString(prefix + quote(c))
		if !seen[c] {
			seen[c] = true
			sources = append(sources, c)
		}
	}
	prevDot := func() bool {
		out := strings.TrimRight(b.String(), " \t\n")
		return strings.HasSuffix(out, ".")
	}
	nextParen := func(rest string) bool {
		return strings.HasPrefix(strings.TrimLeft(rest, " \t\n"), "(")
	}
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '\'':
			j := i + 1
			for j < len(expr) {
				if expr[j] == '\'' {
					if j+1 < len(expr) && expr[j+1] == '\'' {
						j += 2
						continue
					}
					break
				}
				j++
			}
			end := min(j+1, len(expr))
			b.WriteString(expr[i:end])
			i = end
		case c == '"' || c == '`':
			j := strings.IndexByte(expr[i+1:], c)
			if j < 0 {
				b.WriteString(expr[i:])
				i = len(expr)
				continue
			}
			name := expr[i+1 : i+1+j]
			if col, ok := findColumn(columns, name); ok && !prevDot() && !nextParen(expr[i+2+j:]) {
				add(col)
			} else {
				b.WriteString(expr[i : i+2+j])
			}
			i += j + 2
		case isWordByte(c) && !(c >= '0' && c <= '9'):
			j := i
			for j < len(expr) && isWordByte(expr[j]) {
				j++
			}
			if col, ok := findColumn(columns, expr[i:j]); ok && !prevDot() && !nextParen(expr[j:]) {
				add(col)
			} else {
				b.WriteString(expr[i:j])
			}
			i = j
		case c >= '0' && c <= '9':
			j := i
			for j < len(expr) && isWordByte(expr[j]) {
				j++
			}
			b.WriteString(expr[i:j])
			i = j
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), sources
}

// --- PostgreSQL: one BEFORE INSERT OR UPDATE trigger per table, whose
// function sets NEW's columns; the conditions are all taken on the row as
// written before any is applied.

func (d postgresDialect) dualWriteSQL(t *Table, rules []dualWriteRule, tag string) ([]string, error) {
	name := dualWriteName(tag, t.Name, "")
	var decl, ins, upd, apply strings.Builder
	for i, r := range rules {
		fmt.Fprintf(&decl, "  c%d boolean;\n", i)
		var srcIns, srcUpd []string
		for _, s := range r.sources {
			srcIns = append(srcIns, "NEW."+d.quote(s)+" IS NOT NULL")
			srcUpd = append(srcUpd, "NEW."+d.quote(s)+" IS DISTINCT FROM OLD."+d.quote(s))
		}
		col := d.quote(r.column)
		fmt.Fprintf(&ins, "    c%d := (%s) AND %s;\n", i, strings.Join(srcIns, " OR "), r.insertUnset(d.quote))
		fmt.Fprintf(&upd, "    c%d := (%s) AND NEW.%s IS NOT DISTINCT FROM OLD.%s;\n", i, strings.Join(srcUpd, " OR "), col, col)
		fmt.Fprintf(&apply, "  IF c%d THEN NEW.%s := %s; END IF;\n", i, col, r.expr)
	}
	fn := fmt.Sprintf(`CREATE OR REPLACE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql AS $godwit$
DECLARE
%sBEGIN
  IF TG_OP = 'INSERT' THEN
%s  ELSE
%s  END IF;
%s  RETURN NEW;
END
$godwit$`, d.quote(name), decl.String(), ins.String(), upd.String(), apply.String())
	trg := fmt.Sprintf("CREATE TRIGGER %s BEFORE INSERT OR UPDATE ON %s FOR EACH ROW EXECUTE FUNCTION %s()",
		d.quote(name), d.quote(t.Name), d.quote(name))
	return []string{fn, "DROP TRIGGER IF EXISTS " + d.quote(name) + " ON " + d.quote(t.Name), trg}, nil
}

// dualWriteTriggers leaves out the clones PostgreSQL makes of a trigger on
// a partitioned table, one on each partition (a partition dependency on
// the parent's): they go with the parent's and cannot be dropped alone
// ("cannot drop trigger … because trigger … on table payment requires
// it"), so listing them showed a partitioned table's one trigger once per
// partition, each with a DROP that fails.
func (postgresDialect) dualWriteTriggers(ctx context.Context, db *sql.DB) ([]DualWriteTrigger, error) {
	return queryTriggers(ctx, db, `SELECT t.tgname, c.relname FROM pg_trigger t
		JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE NOT t.tgisinternal AND n.nspname = current_schema() AND (t.tgname LIKE 'godwit\_dw\_%' OR t.tgname LIKE 'godwit\_dwm\_%')
		AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_trigger'::regclass AND d.objid = t.oid AND d.deptype = 'P')
		ORDER BY c.relname, t.tgname`)
}

func (d postgresDialect) dropDualWrite(tr DualWriteTrigger) []string {
	return []string{
		"DROP TRIGGER IF EXISTS " + d.quote(tr.Name) + " ON " + d.quote(tr.Table),
		"DROP FUNCTION IF EXISTS " + d.quote(tr.Name) + "()",
	}
}

func (postgresDialect) claimWrite(string, string) string { return "" }

// notDistinct is the condition that NEW's column is the literal (false
// for NULL).
func (d postgresDialect) notDistinct(col, lit string) string {
	return "NEW." + d.quote(col) + " IS NOT DISTINCT FROM " + lit
}

func (postgresDialect) stringLiteral(v string) string {
	return "'" + strings.ReplaceAll(v, "'", "''") + "'"
}

func (postgresDialect) lockTimeout(t time.Duration) string {
	return fmt.Sprintf("SET LOCAL lock_timeout = '%dms'", max(t.Milliseconds(), 1))
}

// exclusiveLock: DDL is transactional, so the lock is the transaction's.
func (postgresDialect) exclusiveLock(table string) ([]string, string, string) {
	return []string{"BEGIN", "LOCK TABLE " + table + " IN ACCESS EXCLUSIVE MODE"}, "COMMIT", "ROLLBACK"
}

func (postgresDialect) missingObject(err error) bool {
	var pg *pgconn.PgError
	if !errors.As(err, &pg) {
		return false
	}
	// undefined column, table, object, function
	switch pg.Code {
	case "42703", "42P01", "42704", "42883":
		return true
	}
	return false
}

func (postgresDialect) refused(err error) bool {
	var pg *pgconn.PgError
	if !errors.As(err, &pg) || len(pg.Code) < 2 {
		return false
	}
	// 08 connection, 40 rollback (deadlock, serialization), 53 resources,
	// 55P03 lock timeout, 57 operator intervention: worth retrying.
	switch pg.Code[:2] {
	case "08", "40", "53", "57":
		return false
	}
	return pg.Code != "55P03"
}

func (postgresDialect) isLockTimeout(err error) bool {
	var pg *pgconn.PgError
	// 55P03 lock_not_available: lock_timeout expired.
	return errors.As(err, &pg) && pg.Code == "55P03"
}

// --- MySQL/MariaDB: a BEFORE INSERT and a BEFORE UPDATE trigger per
// table, setting NEW's columns.

func (d mysqlDialect) dualWriteSQL(t *Table, rules []dualWriteRule, tag string) ([]string, error) {
	var out []string
	for _, ev := range []struct{ suffix, event string }{{"_ins", "INSERT"}, {"_upd", "UPDATE"}} {
		name := dualWriteName(tag, t.Name, ev.suffix)
		var decl, apply strings.Builder
		for i, r := range rules {
			var srcs []string
			col := d.quote(r.column)
			for _, s := range r.sources {
				if ev.event == "INSERT" {
					srcs = append(srcs, "NEW."+d.quote(s)+" IS NOT NULL")
				} else {
					srcs = append(srcs, "NOT (NEW."+d.quote(s)+" <=> OLD."+d.quote(s)+")")
				}
			}
			cond := r.insertUnset(d.quote)
			if ev.event == "UPDATE" {
				cond = "NEW." + col + " <=> OLD." + col
			}
			fmt.Fprintf(&decl, "  DECLARE c%d BOOLEAN DEFAULT ((%s) AND %s);\n", i, strings.Join(srcs, " OR "), cond)
			fmt.Fprintf(&apply, "  IF c%d THEN SET NEW.%s = %s; END IF;\n", i, col, r.expr)
		}
		out = append(out, "DROP TRIGGER IF EXISTS "+d.quote(name),
			fmt.Sprintf("CREATE TRIGGER %s BEFORE %s ON %s FOR EACH ROW BEGIN\n%s%sEND",
				d.quote(name), ev.event, d.quote(t.Name), decl.String(), apply.String()))
	}
	return out, nil
}

func (mysqlDialect) dualWriteTriggers(ctx context.Context, db *sql.DB) ([]DualWriteTrigger, error) {
	return queryTriggers(ctx, db, `SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE FROM information_schema.TRIGGERS
		WHERE TRIGGER_SCHEMA = DATABASE() AND (TRIGGER_NAME LIKE 'godwit\_dw\_%' OR TRIGGER_NAME LIKE 'godwit\_dwm\_%')
		ORDER BY EVENT_OBJECT_TABLE, TRIGGER_NAME`)
}

func (d mysqlDialect) dropDualWrite(tr DualWriteTrigger) []string {
	return []string{"DROP TRIGGER IF EXISTS " + d.quote(tr.Name)}
}

func (mysqlDialect) claimWrite(string, string) string { return "" }

func (d mysqlDialect) notDistinct(col, lit string) string {
	return "(NEW." + d.quote(col) + " <=> " + lit + ")"
}

// stringLiteral escapes the backslash too: MySQL reads it as an escape
// unless sql_mode has NO_BACKSLASH_ESCAPES.
func (mysqlDialect) stringLiteral(v string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(v, `\`, `\\`), "'", "''") + "'"
}

// lockTimeout sets both of InnoDB's waits: lock_wait_timeout bounds a
// wait for a metadata (table) lock, innodb_lock_wait_timeout one for a row
// lock, which a backfill batch meets beside the application's writes (its
// default is 50 s).
func (mysqlDialect) lockTimeout(t time.Duration) string {
	secs := max(int64(t/time.Second), 1)
	return fmt.Sprintf("SET SESSION lock_wait_timeout = %d, innodb_lock_wait_timeout = %d", secs, secs)
}

// exclusiveLock: LOCK TABLES … WRITE waits for the transactions that
// wrote to table to end, and a table so locked may be dropped.
func (mysqlDialect) exclusiveLock(table string) ([]string, string, string) {
	return []string{"LOCK TABLES " + table + " WRITE"}, "UNLOCK TABLES", "UNLOCK TABLES"
}

func (mysqlDialect) missingObject(err error) bool {
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return false
	}
	// 1051 unknown table, 1054 unknown column, 1091 can't drop (no such
	// column or key), 1146 no such table, 1176 no such key, 1305 no such
	// routine, 1360 no such trigger.
	switch me.Number {
	case 1051, 1054, 1091, 1146, 1176, 1305, 1360:
		return true
	}
	return false
}

// NullIntoNotNull reports whether err is MySQL/MariaDB refusing a
// statement that makes a column NOT NULL (or narrower) over a row that
// does not fit it, and the column when the server names it: 1138 invalid
// use of NULL, 1048 column cannot be null, and 1265 data truncated, which
// an ALTER … NOT NULL in strict mode gives for a NULL (and a narrowing for
// a value too long).
func NullIntoNotNull(err error) (column string, ok bool) {
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return "", false
	}
	switch me.Number {
	case 1138, 1048, 1265:
		if _, rest, found := strings.Cut(me.Message, "column '"); found {
			column, _, _ = strings.Cut(rest, "'")
		} else if _, rest, found := strings.Cut(me.Message, "Column '"); found {
			column, _, _ = strings.Cut(rest, "'")
		}
		return column, true
	}
	return "", false
}

func (mysqlDialect) refused(err error) bool {
	var me *mysql.MySQLError
	// 1205 lock wait timeout, 1213 deadlock: worth retrying.
	return errors.As(err, &me) && me.Number != 1205 && me.Number != 1213
}

func (mysqlDialect) isLockTimeout(err error) bool {
	var me *mysql.MySQLError
	// 1205 lock wait timeout exceeded (also lock_wait_timeout on metadata locks).
	return errors.As(err, &me) && me.Number == 1205
}

// --- SQLite: triggers cannot change NEW, so AFTER INSERT and AFTER
// UPDATE triggers update the row by its primary key. The conditions read
// NEW and OLD, the row as the statement wrote it, so the rules do not see
// each other's updates; SQLite does not fire a trigger from its own body
// (recursive_triggers is off), and the insert trigger's update, which
// fires the update trigger, sets only columns whose rules already hold.

func (d sqliteDialect) dualWriteSQL(t *Table, rules []dualWriteRule, tag string) ([]string, error) {
	if len(t.PrimaryKey) == 0 {
		return nil, fmt.Errorf("%w: table %s has no primary key, which SQLite's dual-write triggers update the row by", ErrBadDualWrite, t.Name)
	}
	var key []string
	for _, k := range t.PrimaryKey {
		key = append(key, d.quote(k)+" = NEW."+d.quote(k))
	}
	var out []string
	for _, ev := range []struct{ suffix, event string }{{"_ins", "INSERT"}, {"_upd", "UPDATE"}} {
		name := dualWriteName(tag, t.Name, ev.suffix)
		var body strings.Builder
		for _, r := range rules {
			col := d.quote(r.column)
			var srcs []string
			for _, s := range r.sources {
				if ev.event == "INSERT" {
					srcs = append(srcs, "NEW."+d.quote(s)+" IS NOT NULL")
				} else {
					srcs = append(srcs, "NEW."+d.quote(s)+" IS NOT OLD."+d.quote(s))
				}
			}
			cond := r.insertUnset(d.quote)
			if ev.event == "UPDATE" {
				cond = "NEW." + col + " IS OLD." + col
			}
			fmt.Fprintf(&body, "  UPDATE %s SET %s = %s WHERE %s AND (%s) AND %s AND %s IS NOT (%s);\n",
				d.quote(t.Name), col, r.expr, strings.Join(key, " AND "), strings.Join(srcs, " OR "), cond, col, r.expr)
		}
		out = append(out, "DROP TRIGGER IF EXISTS "+d.quote(name),
			fmt.Sprintf("CREATE TRIGGER %s AFTER %s ON %s FOR EACH ROW BEGIN\n%sEND",
				d.quote(name), ev.event, d.quote(t.Name), body.String()))
	}
	return out, nil
}

func (sqliteDialect) dualWriteTriggers(ctx context.Context, db *sql.DB) ([]DualWriteTrigger, error) {
	return queryTriggers(ctx, db, `SELECT name, tbl_name FROM sqlite_master
		WHERE type = 'trigger' AND (name LIKE 'godwit\_dw\_%' ESCAPE '\' OR name LIKE 'godwit\_dwm\_%' ESCAPE '\') ORDER BY tbl_name, name`)
}

func (d sqliteDialect) dropDualWrite(tr DualWriteTrigger) []string {
	return []string{"DROP TRIGGER IF EXISTS " + d.quote(tr.Name)}
}

func (sqliteDialect) lockTimeout(time.Duration) string { return "" }

// claimWrite: an UPDATE matching no row still opens SQLite's write
// transaction (the RESERVED lock), waiting on the busy timeout.
// notDistinct and stringLiteral are not used on SQLite, whose AFTER
// triggers (see dualWriteSQL) keep their own test of an unset column.
func (d sqliteDialect) notDistinct(col, lit string) string {
	return "NEW." + d.quote(col) + " IS " + lit
}

func (sqliteDialect) stringLiteral(v string) string {
	return "'" + strings.ReplaceAll(v, "'", "''") + "'"
}

func (sqliteDialect) claimWrite(table, column string) string {
	return "UPDATE " + table + " SET " + column + " = " + column + " WHERE 1 = 0"
}

// exclusiveLock: a write transaction locks the whole database file.
func (sqliteDialect) exclusiveLock(string) ([]string, string, string) {
	return []string{"BEGIN IMMEDIATE"}, "COMMIT", "ROLLBACK"
}

func (sqliteDialect) missingObject(err error) bool {
	m := err.Error()
	return strings.Contains(m, "no such column") || strings.Contains(m, "no such table") ||
		strings.Contains(m, "no such index") || strings.Contains(m, "no such trigger")
}

// refused: a SQLite file has no connection to lose, so any error but a
// busy database is the statement's.
func (d sqliteDialect) refused(err error) bool { return !d.isLockTimeout(err) }

func (sqliteDialect) isLockTimeout(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "SQLITE_BUSY") || strings.Contains(err.Error(), "database is locked"))
}

func queryTriggers(ctx context.Context, db *sql.DB, q string) ([]DualWriteTrigger, error) {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []DualWriteTrigger
	for rows.Next() {
		var tr DualWriteTrigger
		if err := rows.Scan(&tr.Name, &tr.Table); err != nil {
			return nil, err
		}
		tr.Tag = tagOf(tr.Name)
		out = append(out, tr)
	}
	return out, rows.Err()
}

// KeyAfterCond returns the condition "t's primary key > key" with bind
// parameters numbered from first (for a keyset walk over t), and their
// values encoded for this store.
func (s *Store) KeyAfterCond(t *Table, key []any, first int) (string, []any, error) {
	if err := t.CheckCopyable(); err != nil {
		return "", nil, err
	}
	if len(key) != len(t.PrimaryKey) {
		return "", nil, fmt.Errorf("key of %s: %d values for %d key columns", t.Name, len(key), len(t.PrimaryKey))
	}
	cond, uses := s.d.keyAfter(t, first)
	args := make([]any, 0, len(uses))
	for _, i := range uses {
		k := t.PrimaryKey[i]
		v, err := s.d.encode(t.Column(k).Type, key[i])
		if err != nil {
			return "", nil, fmt.Errorf("key of %s: %s: %w", t.Name, k, err)
		}
		args = append(args, v)
	}
	return cond, args, nil
}
