package datastore

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// ErrSchemaDrift says a table's columns changed while it was being copied.
// It is permanent (IsPermanent): copying on would write the wrong shape, so
// the migration must stop and a person decide.
var ErrSchemaDrift = errors.New("source table changed during the copy")

// DriftError lists what changed in a table since it was introspected. It
// matches ErrSchemaDrift with errors.Is.
type DriftError struct {
	Table string
	// Changes are sentences such as "column note added (text)", "column qty
	// dropped", "column qty retyped (integer → bigint)", in column order.
	Changes []string
}

func (e *DriftError) Error() string {
	return fmt.Sprintf("source table %s changed during the copy: %s", e.Table, strings.Join(e.Changes, "; "))
}

// Is makes errors.Is(err, ErrSchemaDrift) true.
func (e *DriftError) Is(target error) bool { return target == ErrSchemaDrift }

// Drift compares the columns of a table as introspected before (the copy's
// start) and now: a column added, dropped or of another native type. It
// returns nil when the columns are the same; nullability, defaults and
// indexes do not change the shape a copy moves and are not compared.
//
// A mapped view (MapTable) reads only some columns: a column added to the
// source is not carried, so only its carried columns are compared.
func Drift(before, now *Table) *DriftError {
	var changes []string
	for _, c := range now.Columns {
		if before.Column(c.Name) == nil && !before.Mapped {
			changes = append(changes, fmt.Sprintf("column %s added (%s)", c.Name, c.NativeType))
		}
	}
	for _, c := range before.Columns {
		if c.Expr != "" {
			continue // computed on the source: not a column of its own
		}
		n := now.Column(c.Name)
		switch {
		case n == nil:
			changes = append(changes, fmt.Sprintf("column %s dropped", c.Name))
		case !strings.EqualFold(n.NativeType, c.NativeType):
			changes = append(changes, fmt.Sprintf("column %s retyped (%s → %s)", c.Name, c.NativeType, n.NativeType))
		}
	}
	if len(changes) == 0 {
		return nil
	}
	return &DriftError{Table: before.Name, Changes: changes}
}

// CheckDrift introspects before's table again and returns a *DriftError if
// its columns changed (a dropped table is ErrUnknownTable, also permanent).
func (s *Store) CheckDrift(ctx context.Context, before *Table) error {
	now, err := s.Introspect(ctx, before.Name)
	if err != nil {
		return fmt.Errorf("check drift: %w", err)
	}
	if d := Drift(before, now); d != nil {
		return d
	}
	return nil
}
