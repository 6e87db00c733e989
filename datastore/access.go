package datastore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// probeTable is created inside a transaction that is always rolled back,
// to learn whether the user may create tables without changing anything.
const probeTable = "godwit_preflight_probe"

// CheckCreate reports whether this store's user may create tables in the
// default schema, changing nothing: an ErrAccessDenied error if not.
// PostgreSQL and SQLite create a probe table in a transaction that is rolled
// back (their DDL is transactional, so that is exact); MySQL, whose DDL
// commits at once, is asked for its CREATE privilege instead.
func (s *Store) CheckCreate(ctx context.Context) error {
	switch s.Engine {
	case MySQL:
		ok, err := s.mysqlHasPrivilege(ctx, "CREATE", "")
		if err != nil {
			return fmt.Errorf("check CREATE privilege: %w", err)
		}
		if !ok {
			return fmt.Errorf("%w: the user has no CREATE privilege on this database", ErrAccessDenied)
		}
		return nil
	default:
		if s.readOnly {
			return s.fileWritable(ctx)
		}
		return s.probe(ctx, fmt.Sprintf("CREATE TABLE %s (x INTEGER)", s.d.quote(probeTable)))
	}
}

// CheckWrite reports whether this store's user may insert and update rows
// of table (what the copy's upserts need), changing nothing.
func (s *Store) CheckWrite(ctx context.Context, table string) error {
	var need []string
	switch s.Engine {
	case Postgres:
		for _, priv := range []string{"INSERT", "UPDATE"} {
			var ok bool
			err := s.DB.QueryRowContext(ctx, "SELECT has_table_privilege(quote_ident(current_schema()) || '.' || quote_ident($1), $2)",
				table, priv).Scan(&ok)
			if err != nil {
				return fmt.Errorf("check %s privilege on %s: %w", priv, table, err)
			}
			if !ok {
				need = append(need, priv)
			}
		}
	case MySQL:
		for _, priv := range []string{"INSERT", "UPDATE"} {
			ok, err := s.mysqlHasPrivilege(ctx, priv, table)
			if err != nil {
				return fmt.Errorf("check %s privilege on %s: %w", priv, table, err)
			}
			if !ok {
				need = append(need, priv)
			}
		}
	case SQLite:
		if s.readOnly {
			return s.fileWritable(ctx)
		}
		// A read-only file or connection fails any write: try one that
		// touches no row, in a transaction that is rolled back.
		return s.probe(ctx, fmt.Sprintf("DELETE FROM %s WHERE 1 = 0", s.d.quote(table)))
	}
	if len(need) > 0 {
		return fmt.Errorf("%w: the user lacks %s on table %s", ErrAccessDenied, strings.Join(need, " and "), table)
	}
	return nil
}

// probe runs stmt in a transaction that is rolled back; an error means the
// user may not do it.
func (s *Store) probe(ctx context.Context, stmt string) error {
	tx, err := s.DB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, stmt); err != nil {
		return fmt.Errorf("%w: %v", ErrAccessDenied, err)
	}
	return nil
}

// mysqlHasPrivilege looks priv up for the current user: global, on the
// DSN's database, or (table not empty) on the table.
func (s *Store) mysqlHasPrivilege(ctx context.Context, priv, table string) (bool, error) {
	const grantee = `CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), '''@''', SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''')`
	q := `SELECT
		(SELECT COUNT(*) FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = ` + grantee + ` AND PRIVILEGE_TYPE = ?) +
		(SELECT COUNT(*) FROM information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE = ` + grantee + ` AND PRIVILEGE_TYPE = ?
			AND DATABASE() LIKE TABLE_SCHEMA) +
		(SELECT COUNT(*) FROM information_schema.TABLE_PRIVILEGES WHERE GRANTEE = ` + grantee + ` AND PRIVILEGE_TYPE = ?
			AND TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?)`
	var n int
	if err := s.DB.QueryRowContext(ctx, q, priv, priv, priv, table).Scan(&n); err != nil {
		return false, err
	}
	return n > 0, nil
}

// ProvisionOwner returns who Provision recorded as the creator of table on
// this store ("" when nobody: the table existed before, or does not exist).
func (s *Store) ProvisionOwner(ctx context.Context, table string) (string, error) {
	rec, err := s.d.introspect(ctx, s.DB, provisionTable)
	if err != nil {
		return "", fmt.Errorf("look up %s: %w", provisionTable, err)
	}
	if rec == nil {
		return "", nil
	}
	var owner string
	err = s.DB.QueryRowContext(ctx, fmt.Sprintf("SELECT owner FROM %s WHERE table_name = %s",
		s.d.quote(provisionTable), s.d.placeholder(1)), table).Scan(&owner)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("read %s: %w", provisionTable, err)
	}
	return owner, nil
}

// Empty deletes every row of table (TRUNCATE where the engine has it);
// emptying an empty table is a no-op, so it can be repeated.
func (s *Store) Empty(ctx context.Context, table string) error {
	q := "TRUNCATE TABLE " + s.d.quote(table)
	if s.Engine == SQLite {
		q = "DELETE FROM " + s.d.quote(table)
	}
	if _, err := s.DB.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("empty %s: %w", table, err)
	}
	return nil
}

// fileWritable is the write check of a SQLite store opened read-only (a
// preflight): its file, and the directory its journal goes to, must be
// writable by this process.
func (s *Store) fileWritable(ctx context.Context) error {
	var path string
	if err := s.DB.QueryRowContext(ctx, "SELECT file FROM pragma_database_list WHERE name = 'main'").Scan(&path); err != nil {
		return fmt.Errorf("locate the database file: %w", err)
	}
	if path == "" {
		return nil // in memory
	}
	for _, p := range []string{path, filepath.Dir(path)} {
		if err := writable(p); err != nil {
			return fmt.Errorf("%w: %s is not writable by this worker: %v", ErrAccessDenied, p, err)
		}
	}
	return nil
}
