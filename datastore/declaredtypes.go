package datastore

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// DeclaredTypes checks, changing nothing, that the target accepts the
// types a spec declares for t's columns (overrides, keyed "table.column":
// a mapping's add: and cast: types, provision's typeOverrides). Nothing
// else reads them before the CREATE TABLE, so a misspelt one ("money2",
// "decimal(12,2") passed preflight and failed the provision phase.
// PostgreSQL casts a NULL to each in a read-only transaction; MySQL and
// MariaDB parse a CREATE TABLE with it (PREPARE, never executed), since
// their CAST takes only a few types; SQLite takes any type name.
func (s *Store) DeclaredTypes(ctx context.Context, t *Table, overrides map[string]string) error {
	var cols []string
	for _, c := range t.Columns {
		if _, ok := overrides[t.Name+"."+c.Name]; ok {
			cols = append(cols, c.Name)
		}
	}
	sort.Strings(cols)
	var bad []string
	for _, c := range cols {
		typ := overrides[t.Name+"."+c]
		if err := s.checkType(ctx, typ); err != nil {
			bad = append(bad, fmt.Sprintf("column %s: type %q: %v", c, typ, err))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	// Not ErrUnsupportedType ("no lossless mapping"): the type is the
	// spec's own, misspelt or of another engine. The caller names the table.
	return fmt.Errorf("the target does not take the declared type: %s", strings.Join(bad, "; "))
}

func (s *Store) checkType(ctx context.Context, typ string) error {
	switch s.Engine {
	case Postgres:
		tx, err := s.DB.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, "SET TRANSACTION READ ONLY"); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, "SELECT CAST(NULL AS "+typ+")")
		return err
	case MySQL:
		conn, err := s.DB.Conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		stmt := "CREATE TABLE godwit_type_probe (c " + typ + ")"
		lit := "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(stmt) + "'"
		if _, err := conn.ExecContext(ctx, "PREPARE godwit_type_probe FROM "+lit); err != nil {
			return err
		}
		_, err = conn.ExecContext(ctx, "DEALLOCATE PREPARE godwit_type_probe")
		return err
	}
	return nil
}
