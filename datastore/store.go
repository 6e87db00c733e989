package datastore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/godwit/godwit/mapping"
)

// Engine names a database engine.
type Engine string

// The supported engines.
const (
	Postgres Engine = "postgres" // PostgreSQL, through pgx
	MySQL    Engine = "mysql"    // MySQL or MariaDB, through go-sql-driver/mysql
	SQLite   Engine = "sqlite"   // SQLite, through modernc.org/sqlite (no cgo)
)

// ParseEngine accepts an engine's name as a spec writes it: postgres
// (postgresql, pg), mysql (mariadb), sqlite (sqlite3).
func ParseEngine(name string) (Engine, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "postgres", "postgresql", "pg":
		return Postgres, nil
	case "mysql", "mariadb":
		return MySQL, nil
	case "sqlite", "sqlite3":
		return SQLite, nil
	}
	return "", fmt.Errorf("%w: %q (want postgres, mysql or sqlite)", ErrUnknownEngine, name)
}

// Errors a caller can test with errors.Is. All of them are permanent: retrying
// the same call cannot succeed (see IsPermanent).
var (
	ErrUnknownEngine   = errors.New("unknown engine")
	ErrBadDSN          = errors.New("bad DSN")
	ErrBadPattern      = errors.New("bad table pattern")
	ErrUnknownTable    = errors.New("no such table")
	ErrNoPrimaryKey    = errors.New("table has no primary key")
	ErrUnsupportedType = errors.New("type has no lossless mapping")
	ErrTableExists     = errors.New("table already exists and was not provisioned by this owner")
	ErrShapeMismatch   = errors.New("target table does not match the source")
	ErrBadValue        = errors.New("value cannot be converted")
	ErrAccessDenied    = errors.New("access denied")
	// ErrInheritedRows: a PostgreSQL table and a table inheriting from it
	// (or its partition) are both listed, so the child's rows would be
	// copied twice (InheritanceProblems).
	ErrInheritedRows = errors.New("a child table's rows are read through its parent")
)

var permanentErrors = []error{
	ErrUnknownEngine, ErrBadDSN, ErrBadPattern, ErrUnknownTable, ErrNoPrimaryKey,
	ErrUnsupportedType, ErrTableExists, ErrShapeMismatch, ErrBadValue, ErrAccessDenied,
	ErrInheritedRows, ErrSchemaDrift, ErrBadDDL, ErrNoDatabase, ErrSameDatabase, mapping.ErrMapping,
}

// IsPermanent reports whether err is one that retrying cannot fix (a bad
// spec, a missing table, a wrong password, a value that does not fit). Other
// errors — a dropped connection, a deadlock, a timeout — are worth retrying.
// The activity layer uses it to choose a non-retryable error type.
func IsPermanent(err error) bool {
	for _, p := range permanentErrors {
		if errors.Is(err, p) {
			return true
		}
	}
	return isStatementError(err)
}

// isStatementError reports a server's refusal of a statement itself,
// which the same statement meets again however often it is retried: SQL
// states of class 42 (a syntax error, an unknown table, column or
// function, an illegal type for an operation), 22 (a data exception) and
// 0A (a feature not supported), and MySQL's and MariaDB's errors of that
// kind that report the general state HY000 (4078, 4079: an illegal type for an
// operation, as CAST(geometry AS CHAR); 1267: an illegal mix of
// collations). A deadlock, a serialization failure, a lock wait or a
// dropped connection is of another class and stays worth retrying.
func isStatementError(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return statementState(pe.Code)
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return statementState(string(me.SQLState[:])) || me.Number == 4078 || me.Number == 4079 || me.Number == 1267
	}
	return false
}

// IsForeignKeyViolation reports whether err is a target's foreign key
// refusing a row (PostgreSQL 23503; MySQL/MariaDB 1451, 1452: a parent row
// still referenced, a child row without its parent).
func IsForeignKeyViolation(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23503"
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1451 || me.Number == 1452
	}
	return false
}

func statementState(code string) bool {
	return strings.HasPrefix(code, "42") || strings.HasPrefix(code, "22") || strings.HasPrefix(code, "0A")
}

// Store is an open database of one engine.
type Store struct {
	// DB is the connection pool; callers may use it for what this package
	// does not cover, and must not close it (use Close).
	DB     *sql.DB
	Engine Engine
	d      dialect
	// bulk remembers what the fast write path may use (see bulkwrite.go).
	bulk bulkState
	// readOnly: a SQLite file opened with mode=ro by OpenReadOnly, whose
	// write checks ask the file system instead of probing.
	readOnly bool
}

// Unopened is a store of engine without a connection: it renders DDL
// (CreateTableSQL) for a database that does not exist yet, so preflight
// can check a provision with createDatabase. It has no DB: nothing may
// read or write through it.
func Unopened(engine Engine) (*Store, error) {
	d := dialectOf(engine)
	if d == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownEngine, engine)
	}
	return &Store{Engine: engine, d: d}, nil
}

// Open connects to a database and checks that it answers. The DSN is the
// engine's own: a PostgreSQL URL or keyword string, a go-sql-driver/mysql DSN
// (user:pass@tcp(host:3306)/db), or a SQLite file path / file: URI. It is
// never echoed in errors (it may hold a password).
func Open(ctx context.Context, engine Engine, dsn string) (*Store, error) {
	d := dialectOf(engine)
	if d == nil {
		return nil, fmt.Errorf("open: %w: %q", ErrUnknownEngine, engine)
	}
	db, err := d.open(dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s store: %w", engine, redact(err, dsn))
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		err = redact(err, dsn)
		if missing := missingDatabase(engine, dsn, err); missing != nil {
			err = fmt.Errorf("%w: %w", missing, err)
		} else if d.isAccessDenied(err) {
			err = fmt.Errorf("%w: %w", ErrAccessDenied, err)
		}
		return nil, fmt.Errorf("open %s store: %w", engine, err)
	}
	return &Store{DB: db, Engine: engine, d: d}, nil
}

// dialectOf returns the engine's dialect, nil for an engine not known.
func dialectOf(engine Engine) dialect {
	switch engine {
	case Postgres:
		return postgresDialect{}
	case MySQL:
		return mysqlDialect{}
	case SQLite:
		return sqliteDialect{}
	}
	return nil
}

// TransactionalDDL reports whether the engine's DDL can run inside a
// transaction and be rolled back with it (PostgreSQL, SQLite; not
// MySQL/MariaDB, whose DDL commits at once). False for an engine not known.
func (e Engine) TransactionalDDL() bool {
	d := dialectOf(e)
	return d != nil && d.transactionalDDL()
}

// TransactionalDDL reports whether this store's DDL can run inside a
// transaction and be rolled back with it.
func (s *Store) TransactionalDDL() bool { return s.d.transactionalDDL() }

// TableSuffix is what goes after a CREATE TABLE's closing parenthesis on
// this engine (MySQL/MariaDB: the storage engine and character set).
func (s *Store) TableSuffix() string { return s.d.tableSuffix() }

// Close closes the connection pool.
func (s *Store) Close() error { return s.DB.Close() }

// redact makes sure a DSN (and so its password) never appears in an error.
func redact(err error, dsn string) error {
	if err == nil || dsn == "" || !strings.Contains(err.Error(), dsn) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), dsn, "***"))
}

// Quote quotes an identifier for this store's engine.
func (s *Store) Quote(name string) string { return s.d.quote(name) }

// dialect is what differs between engines.
type dialect interface {
	open(dsn string) (*sql.DB, error)
	isAccessDenied(err error) bool
	quote(name string) string
	placeholder(i int) string // 1-based
	maxParams() int
	listTables(ctx context.Context, db *sql.DB) ([]string, error)
	// introspect returns nil, nil when the table does not exist.
	introspect(ctx context.Context, db *sql.DB, name string) (*Table, error)
	// nativeType renders a portable type for this engine; key says the
	// column is part of a key or index (MySQL needs bounded strings there).
	nativeType(c Column, key bool) (string, error)
	autoIncrementClause(c Column) string
	renderDefault(c Column) (string, bool)
	// upsertSuffix is appended to a multi-row INSERT to make it an upsert.
	upsertSuffix(t *Table) string
	// keyAfter is the condition "primary key > the given key", with its first
	// placeholder numbered first; uses says which key value each placeholder
	// takes, in order.
	keyAfter(t *Table, first int) (cond string, uses []int)
	tableSuffix() string               // after CREATE TABLE's closing parenthesis
	encode(t Type, v any) (any, error) // canonical → bind parameter
	estimate(ctx context.Context, db *sql.DB, table string) (int64, error)
	transactionalDDL() bool
	// dualWriteSQL creates the dual-write triggers of a table (dualwrite.go).
	dualWriteSQL(t *Table, rules []dualWriteRule, tag string) ([]string, error)
	dualWriteTriggers(ctx context.Context, db *sql.DB) ([]DualWriteTrigger, error)
	dropDualWrite(tr DualWriteTrigger) []string
	lockTimeout(d time.Duration) string
	// claimWrite is a statement that takes the write lock at the start of
	// a transaction that reads before it writes, "" where row locks make it
	// needless.
	claimWrite(table, column string) string
	// exclusiveLock are the statements that lock table against every other
	// session's reads and writes on one connection, until release (or,
	// after a failure, abort) runs there; a DROP TABLE may come between.
	exclusiveLock(table string) (lock []string, release, abort string)
	// notDistinct is the condition that NEW's column equals the SQL
	// literal, false for NULL; stringLiteral quotes a string as one.
	notDistinct(column, literal string) string
	stringLiteral(v string) string
	isLockTimeout(err error) bool
	refused(err error) bool
	missingObject(err error) bool
	// onlineForms are the forms to try a DDL statement in, most online
	// first, ending with the statement as written (online.go).
	onlineForms(stmt string) []string
	algorithmRefused(err error) bool
}
