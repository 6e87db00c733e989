package datastore

import (
	"context"
	"fmt"
)

// HasPrivilege reports whether the MySQL user holds priv (TRIGGER,
// CREATE, ...) globally, on the DSN's database or, table not empty, on the
// table. Other engines answer an error: ask them in their own terms.
func (s *Store) HasPrivilege(ctx context.Context, priv, table string) (bool, error) {
	if s.Engine != MySQL {
		return false, fmt.Errorf("has privilege %s: only for MySQL stores, not %s", priv, s.Engine)
	}
	ok, err := s.mysqlHasPrivilege(ctx, priv, table)
	if err != nil {
		return false, fmt.Errorf("check %s privilege: %w", priv, err)
	}
	return ok, nil
}
