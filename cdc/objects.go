package cdc

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/godwit/godwit/datastore"
)

// Object is a database object a capture created. Left behind, some are
// dangerous: a PostgreSQL slot keeps every WAL segment from its position
// on until the disk fills; a trigger slows every write.
type Object struct {
	// Kind is slot, publication, table (a changelog), trigger or function.
	Kind string `json:"kind"`
	Name string `json:"name"`
	// Table is the table a trigger is on.
	Table string `json:"table,omitempty"`
}

func (o Object) String() string { return o.Kind + " " + o.Name }

// Leftovers lists every capture object in the source's database (and, for
// slots, those of this database on its server), whatever capture made it:
// what `godwit status` warns about after a migration ended.
func Leftovers(ctx context.Context, s *datastore.Store) ([]Object, error) {
	return listObjects(ctx, s, "")
}

// Objects lists the objects of one capture.
func Objects(ctx context.Context, s *datastore.Store, capture string) ([]Object, error) {
	if err := checkName(capture); err != nil {
		return nil, err
	}
	return listObjects(ctx, s, capture)
}

// listObjects finds objects by name prefix; capture "" finds all captures'.
func listObjects(ctx context.Context, s *datastore.Store, capture string) ([]Object, error) {
	match := func(pfx, name string) bool {
		if capture == "" {
			return strings.HasPrefix(name, pfx)
		}
		return strings.HasPrefix(name, pfx+capture+"_")
	}
	exact := func(name string) bool {
		if capture == "" {
			return strings.HasPrefix(name, prefix)
		}
		return name == prefix+capture
	}
	var out []Object
	add := func(kind, q string, keep func(name string) bool) error {
		rows, err := s.DB.QueryContext(ctx, q)
		if err != nil {
			return fmt.Errorf("list %ss: %w", kind, err)
		}
		defer rows.Close()
		for rows.Next() {
			var name, table string
			if err := rows.Scan(&name, &table); err != nil {
				return err
			}
			if keep(name) {
				out = append(out, Object{Kind: kind, Name: name, Table: table})
			}
		}
		return rows.Err()
	}
	isChangelog := func(n string) bool { return match(changelogPrefix, n) }
	isTrigger := func(n string) bool { return match(triggerPrefix, n) }
	var err error
	switch s.Engine {
	case datastore.Postgres:
		err = firstErr(
			add("slot", `SELECT slot_name, '' FROM pg_replication_slots WHERE database = current_database()`, exact),
			add("publication", `SELECT pubname, '' FROM pg_publication`, exact),
			add("table", `SELECT table_name, '' FROM information_schema.tables WHERE table_schema = current_schema()`, isChangelog),
			// A trigger on a partitioned table is cloned onto each partition;
			// the clones (a partition dependency on the parent's) go with it
			// and cannot be dropped alone, so only the parent's is ours.
			add("trigger", `SELECT t.tgname, c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
				JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND NOT t.tgisinternal
				AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_trigger'::regclass AND d.objid = t.oid AND d.deptype = 'P')`, isTrigger),
			add("function", `SELECT p.proname, '' FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
				WHERE n.nspname = current_schema()`, func(n string) bool { return match(functionPrefix, n) }),
		)
	case datastore.MySQL:
		err = firstErr(
			add("table", `SELECT TABLE_NAME, '' FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()`, isChangelog),
			add("trigger", `SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()`, isTrigger),
		)
	default:
		err = firstErr(
			// The origin marker (origin.go) is shared by the captures of
			// the database: listed with each, dropped with the last.
			add("table", `SELECT name, '' FROM sqlite_master WHERE type = 'table'`, func(n string) bool {
				return isChangelog(n) || n == originTable
			}),
			add("trigger", `SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger'`, isTrigger),
		)
	}
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
