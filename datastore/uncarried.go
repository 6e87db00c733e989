package datastore

import (
	"context"
	"fmt"
	"strings"
)

// maxNamed bounds how many objects UncarriedObjectsNote names one by one.
const maxNamed = 12

// UncarriedObjects lists the store's views and routines (procedures and
// functions; Godwit's own godwit_... ones left out), which provision does
// not carry: a target whose users query them must have them recreated.
// Each is "view NAME" or "function NAME" / "procedure NAME".
func (s *Store) UncarriedObjects(ctx context.Context) ([]string, error) {
	var q string
	switch s.Engine {
	case Postgres:
		// Trigger functions go with their triggers, which introspection
		// names per table; extension functions are not the user's.
		q = `SELECT 'view ' || table_name FROM information_schema.views WHERE table_schema = current_schema()
			UNION ALL
			SELECT CASE p.prokind WHEN 'p' THEN 'procedure ' ELSE 'function ' END || p.proname
			FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
			WHERE n.nspname = current_schema() AND p.prokind IN ('f', 'p') AND p.prorettype <> 'trigger'::regtype
			AND p.proname NOT LIKE 'godwit\_%'
			AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
			ORDER BY 1`
	case MySQL:
		q = `SELECT CONCAT('view ', TABLE_NAME) FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE()
			UNION ALL
			SELECT CONCAT(LOWER(ROUTINE_TYPE), ' ', ROUTINE_NAME) FROM information_schema.ROUTINES
			WHERE ROUTINE_SCHEMA = DATABASE() AND ROUTINE_NAME NOT LIKE 'godwit\\_%'
			ORDER BY 1`
	case SQLite:
		q = `SELECT 'view ' || name FROM sqlite_master WHERE type = 'view' ORDER BY 1`
	default:
		return nil, nil
	}
	out, err := queryStrings(ctx, s.DB, q)
	if err != nil {
		return nil, fmt.Errorf("list views and routines: %w", err)
	}
	return out, nil
}

// UncarriedObjectsNote is provision's note on the views and routines of
// store name that it leaves behind ("" when there are none).
func UncarriedObjectsNote(name string, objects []string) string {
	if len(objects) == 0 {
		return ""
	}
	shown := objects
	more := ""
	if len(shown) > maxNamed {
		shown, more = shown[:maxNamed], fmt.Sprintf(" and %d more", len(objects)-maxNamed)
	}
	return fmt.Sprintf("store %s: its views and routines are not carried (provision creates tables only; recreate on the target those its users need): %s%s",
		name, strings.Join(shown, ", "), more)
}
