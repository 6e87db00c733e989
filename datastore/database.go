package datastore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// ErrNoDatabase is the error of a DSN naming a database its server does not
// have (MySQL error 1049, PostgreSQL SQLSTATE 3D000) or a SQLite file that
// does not exist. It is permanent: create the database, or let a provision
// phase do it (createDatabase: true).
var ErrNoDatabase = errors.New("database does not exist")

// MissingDatabaseError names the database (or SQLite file) that does not
// exist; errors.Is(err, ErrNoDatabase) holds.
type MissingDatabaseError struct {
	Engine Engine
	// Name is the database's name, or the SQLite file's path.
	Name string
}

func (e *MissingDatabaseError) Error() string {
	if e.Engine == SQLite {
		return fmt.Sprintf("SQLite database file %s does not exist", e.Name)
	}
	if e.Name == "" {
		return "its database does not exist"
	}
	return fmt.Sprintf("database %s does not exist", e.Name)
}

// Is makes errors.Is(err, ErrNoDatabase) true.
func (e *MissingDatabaseError) Is(target error) bool { return target == ErrNoDatabase }

// databaseMarker is the table CreateDatabase writes into a database it
// created, naming the migration: a rollback drops the database only when
// it finds its own name there, so a database someone else created (or one
// that existed before) is never dropped. It lives in the database itself,
// so it is as durable as the database and needs no workflow state.
const databaseMarker = "godwit_database"

// DatabaseName is the database a DSN names (the file's path for SQLite),
// "" when it names none or cannot be parsed.
func DatabaseName(engine Engine, dsn string) string {
	switch engine {
	case Postgres:
		if cfg, err := parsePostgres(dsn); err == nil {
			return cfg.Database
		}
	case MySQL:
		if cfg, err := mysql.ParseDSN(dsn); err == nil {
			return cfg.DBName
		}
	case SQLite:
		return SQLitePath(dsn)
	}
	return ""
}

// SQLitePath is the file a SQLite DSN (a path or a file: URI) opens, ""
// for an in-memory database.
func SQLitePath(dsn string) string {
	dsn = strings.TrimSpace(dsn)
	if strings.Contains(dsn, ":memory:") || strings.Contains(dsn, "mode=memory") {
		return ""
	}
	if rest, ok := strings.CutPrefix(dsn, "file:"); ok {
		rest, _, _ = strings.Cut(rest, "?")
		if after, ok := strings.CutPrefix(rest, "//"); ok {
			// file://host/path or file:///path: the host must be empty or localhost.
			if i := strings.Index(after, "/"); i >= 0 {
				rest = after[i:]
			}
		}
		if p, err := url.PathUnescape(rest); err == nil {
			return p
		}
		return rest
	}
	p, _, _ := strings.Cut(dsn, "?")
	return p
}

// missingDatabase turns a server's "unknown database" error into a
// MissingDatabaseError (nil when err is another error).
func missingDatabase(engine Engine, dsn string, err error) error {
	var pg *pgconn.PgError
	var my *mysql.MySQLError
	switch {
	case errors.As(err, &pg) && pg.Code == "3D000", errors.As(err, &my) && my.Number == 1049:
		return &MissingDatabaseError{Engine: engine, Name: DatabaseName(engine, dsn)}
	}
	return nil
}

// OpenReadOnly opens a store for a check that must change nothing (a
// preflight). A SQLite file is opened read-only (mode=ro), so a missing
// file is reported as a MissingDatabaseError instead of being created; a
// server database is opened as by Open (its checks roll their probes back).
func OpenReadOnly(ctx context.Context, engine Engine, dsn string) (*Store, error) {
	if engine != SQLite {
		return Open(ctx, engine, dsn)
	}
	path := SQLitePath(dsn)
	if path == "" {
		return Open(ctx, engine, dsn)
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("open sqlite store: %w", &MissingDatabaseError{Engine: SQLite, Name: path})
	}
	s, err := Open(ctx, engine, readOnlySQLite(dsn))
	if err != nil {
		return nil, err
	}
	s.readOnly = true
	return s, nil
}

// readOnlySQLite turns a SQLite DSN into a file: URI with mode=ro.
func readOnlySQLite(dsn string) string {
	dsn = strings.TrimSpace(dsn)
	if strings.HasPrefix(dsn, "file:") {
		if strings.Contains(dsn, "?") {
			return dsn + "&mode=ro"
		}
		return dsn + "?mode=ro"
	}
	path, query, _ := strings.Cut(dsn, "?")
	u := "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path) + "?mode=ro"
	if query != "" {
		u += "&" + query
	}
	return u
}

// DatabaseExists reports whether the database a DSN names exists, asking
// its server (or, for SQLite, the file system); it creates nothing.
func DatabaseExists(ctx context.Context, engine Engine, dsn string) (bool, error) {
	name := DatabaseName(engine, dsn)
	switch engine {
	case SQLite:
		if name == "" {
			return true, nil // in memory: exists as soon as opened
		}
		_, err := os.Stat(name)
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		return err == nil, err
	case Postgres, MySQL:
		if name == "" {
			return true, nil // the server's default database
		}
		admin, err := openServer(ctx, engine, dsn)
		if err != nil {
			return false, err
		}
		defer admin.Close()
		return serverHasDatabase(ctx, engine, admin, name)
	}
	return false, fmt.Errorf("%w: %q", ErrUnknownEngine, engine)
}

func serverHasDatabase(ctx context.Context, engine Engine, admin *sql.DB, name string) (bool, error) {
	q := "SELECT count(*) FROM pg_database WHERE datname = $1"
	if engine == MySQL {
		q = "SELECT count(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?"
	}
	var n int
	if err := admin.QueryRowContext(ctx, q, name).Scan(&n); err != nil {
		return false, fmt.Errorf("look up database %s: %w", name, err)
	}
	return n > 0, nil
}

// openServer connects to a DSN's server without its database (PostgreSQL:
// the postgres maintenance database, else template1), to create or drop it.
func openServer(ctx context.Context, engine Engine, dsn string) (*sql.DB, error) {
	var tries []*sql.DB
	switch engine {
	case Postgres:
		for _, db := range []string{"postgres", "template1"} {
			cfg, err := parsePostgres(dsn)
			if err != nil {
				return nil, err
			}
			cfg.Database = db
			tries = append(tries, stdlib.OpenDB(*cfg))
		}
	case MySQL:
		cfg, err := mysql.ParseDSN(dsn)
		if err != nil {
			return nil, fmt.Errorf("%w: not a go-sql-driver/mysql DSN (user:pass@tcp(host:3306)/db)", ErrBadDSN)
		}
		cfg.DBName = ""
		conn, err := mysql.NewConnector(cfg)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadDSN, err)
		}
		tries = append(tries, sql.OpenDB(conn))
	}
	var last error
	for i, db := range tries {
		if err := db.PingContext(ctx); err != nil {
			db.Close()
			last = redact(err, dsn)
			continue
		}
		for _, other := range tries[i+1:] {
			other.Close()
		}
		return db, nil
	}
	if (postgresDialect{}).isAccessDenied(last) || (mysqlDialect{}).isAccessDenied(last) {
		last = fmt.Errorf("%w: %w", ErrAccessDenied, last)
	}
	return nil, fmt.Errorf("connect to the %s server: %w", engine, last)
}

// CreateDatabase creates the database a DSN names (the file, for SQLite)
// if it does not exist, and marks it as created by owner (a migration), so
// that DropCreatedDatabase drops it and nothing else. It returns whether
// it created it now; an existing database is left as it is. Repeating it
// is safe.
func CreateDatabase(ctx context.Context, engine Engine, dsn, owner string) (bool, error) {
	if owner == "" {
		return false, errors.New("create database: an owner is required")
	}
	name := DatabaseName(engine, dsn)
	exists, err := DatabaseExists(ctx, engine, dsn)
	if err != nil {
		return false, fmt.Errorf("create database %s: %w", name, err)
	}
	if exists {
		return false, nil
	}
	switch engine {
	case Postgres, MySQL:
		admin, err := openServer(ctx, engine, dsn)
		if err != nil {
			return false, fmt.Errorf("create database %s: %w", name, err)
		}
		q := "CREATE DATABASE " + (postgresDialect{}).quote(name)
		if engine == MySQL {
			q = "CREATE DATABASE " + (mysqlDialect{}).quote(name) + " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
		}
		_, err = admin.ExecContext(ctx, q)
		admin.Close()
		if err != nil {
			if isDuplicateDatabase(err) {
				return false, nil // created meanwhile by someone else: not ours
			}
			if (postgresDialect{}).isAccessDenied(err) || (mysqlDialect{}).isAccessDenied(err) {
				err = fmt.Errorf("%w: %w", ErrAccessDenied, err)
			}
			return false, fmt.Errorf("create database %s: %w", name, err)
		}
	}
	// SQLite creates the file on first connection.
	s, err := Open(ctx, engine, dsn)
	if err != nil {
		return true, fmt.Errorf("create database %s: open it: %w", name, err)
	}
	defer s.Close()
	mark := fmt.Sprintf("CREATE TABLE %s (owner VARCHAR(200) NOT NULL PRIMARY KEY, created_at VARCHAR(40) NOT NULL)",
		s.d.quote(databaseMarker))
	if _, err := s.DB.ExecContext(ctx, mark); err != nil {
		return true, fmt.Errorf("create database %s: mark it as created by %s: %w", name, owner, err)
	}
	ins := fmt.Sprintf("INSERT INTO %s (owner, created_at) VALUES (%s, %s)", s.d.quote(databaseMarker), s.d.placeholder(1), s.d.placeholder(2))
	if _, err := s.DB.ExecContext(ctx, ins, owner, time.Now().UTC().Format(time.RFC3339)); err != nil {
		return true, fmt.Errorf("create database %s: mark it as created by %s: %w", name, owner, err)
	}
	return true, nil
}

func isDuplicateDatabase(err error) bool {
	var pg *pgconn.PgError
	var my *mysql.MySQLError
	return (errors.As(err, &pg) && pg.Code == "42P04") || (errors.As(err, &my) && my.Number == 1007)
}

// DatabaseCreator returns the migration CreateDatabase recorded in the
// database a DSN names: "" when the database does not exist or was not
// created by Godwit.
func DatabaseCreator(ctx context.Context, engine Engine, dsn string) (string, error) {
	exists, err := DatabaseExists(ctx, engine, dsn)
	if err != nil || !exists {
		return "", err
	}
	s, err := OpenReadOnly(ctx, engine, dsn)
	if err != nil {
		return "", err
	}
	defer s.Close()
	t, err := s.d.introspect(ctx, s.DB, databaseMarker)
	if err != nil || t == nil {
		return "", err
	}
	var owner string
	err = s.DB.QueryRowContext(ctx, "SELECT owner FROM "+s.d.quote(databaseMarker)).Scan(&owner)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return owner, err
}

// DropCreatedDatabase drops the database a DSN names (removes the SQLite
// file) if CreateDatabase created it for owner, and nothing else. It
// returns whether it dropped it; repeating it is safe.
func DropCreatedDatabase(ctx context.Context, engine Engine, dsn, owner string) (bool, error) {
	name := DatabaseName(engine, dsn)
	creator, err := DatabaseCreator(ctx, engine, dsn)
	if err != nil {
		return false, fmt.Errorf("drop database %s: %w", name, err)
	}
	if creator == "" || creator != owner {
		return false, nil
	}
	switch engine {
	case SQLite:
		for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
			if err := os.Remove(name + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				return false, fmt.Errorf("drop database %s: %w", name, err)
			}
		}
		return true, nil
	case Postgres, MySQL:
		admin, err := openServer(ctx, engine, dsn)
		if err != nil {
			return false, fmt.Errorf("drop database %s: %w", name, err)
		}
		defer admin.Close()
		q := "DROP DATABASE IF EXISTS " + (mysqlDialect{}).quote(name)
		if engine == Postgres {
			// FORCE ends the sessions still connected to it (PostgreSQL 13+).
			q = "DROP DATABASE IF EXISTS " + (postgresDialect{}).quote(name) + " WITH (FORCE)"
		}
		if _, err := admin.ExecContext(ctx, q); err != nil {
			return false, fmt.Errorf("drop database %s: %w", name, err)
		}
		return true, nil
	}
	return false, fmt.Errorf("%w: %q", ErrUnknownEngine, engine)
}

// CheckCreateDatabase reports, changing nothing, whether the DSN's user
// may create the database it names (an ErrAccessDenied error if not): on
// PostgreSQL the CREATEDB attribute (or superuser), on MySQL the CREATE
// privilege (global, or on a pattern matching the database), on SQLite a
// writable directory for the file.
func CheckCreateDatabase(ctx context.Context, engine Engine, dsn string) error {
	name := DatabaseName(engine, dsn)
	if engine == SQLite {
		if name == "" {
			return nil
		}
		dir := filepath.Dir(name)
		if err := writable(dir); err != nil {
			return fmt.Errorf("%w: the directory %s cannot take the database file: %v", ErrAccessDenied, dir, err)
		}
		return nil
	}
	admin, err := openServer(ctx, engine, dsn)
	if err != nil {
		return err
	}
	defer admin.Close()
	var ok bool
	switch engine {
	case Postgres:
		err = admin.QueryRowContext(ctx, "SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&ok)
	case MySQL:
		const grantee = `CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), '''@''', SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''')`
		var n int
		err = admin.QueryRowContext(ctx, `SELECT
			(SELECT COUNT(*) FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = `+grantee+` AND PRIVILEGE_TYPE = 'CREATE') +
			(SELECT COUNT(*) FROM information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE = `+grantee+` AND PRIVILEGE_TYPE = 'CREATE'
				AND ? LIKE TABLE_SCHEMA)`, name).Scan(&n)
		ok = n > 0
	}
	if err != nil {
		return fmt.Errorf("check the right to create database %s: %w", name, err)
	}
	if !ok {
		return fmt.Errorf("%w: the user may not create database %s", ErrAccessDenied, name)
	}
	return nil
}
