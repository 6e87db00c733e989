package cdc

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/godwit/godwit/datastore"
)

// Foreign-key actions on a MySQL/MariaDB source. InnoDB carries out ON
// DELETE and ON UPDATE actions (CASCADE, SET NULL, SET DEFAULT) below the
// SQL layer, so the child rows they delete or change fire no trigger and
// their changelog never hears of them: deleting a parent recorded only the
// parent. A target that carried the key with its action did the same to
// its own children, but a target without it (fanOut, ddl.fromFile, a
// mapping that drops a key column) kept them, and a parent whose key
// changed lost its children on every target: the key change reaches the
// target as a delete of the old key and an insert of the new one, and the
// target's ON DELETE CASCADE removed the children the source had moved to
// the new key. (PostgreSQL and SQLite run these actions as triggers, so
// the children's own triggers record them.)
//
// So each captured parent gets triggers that record, in the children's
// changelogs, the keys of the captured child rows an action is about to
// touch. The drain reads every changelog key's current row, whatever the
// entry says: a child the action deleted is a delete, one it changed an
// upsert. The entries are written in the statement's transaction, so a
// statement refused (RESTRICT, a failing trigger) leaves none.
//
// Deletes follow CASCADE chains down to maxActionDepth tables below the
// parent (a self-referencing tree too, that many levels deep); a changed
// key is followed to the children that referenced it and on, as deep,
// through children whose changed columns are referenced in turn.

// maxActionDepth bounds how far below a deleted or changed parent its
// actions are followed.
const maxActionDepth = 4

// fkEdge is a foreign key of a captured child to a captured parent.
type fkEdge struct {
	child *triggerTable
	fk    datastore.ForeignKey
}

// acts says whether a referential action changes child rows.
func acts(action string) bool {
	switch strings.ToUpper(action) {
	case "CASCADE", "SET NULL", "SET DEFAULT":
		return true
	}
	return false
}

// childEdges are the foreign keys of captured tables that reference
// parent, in a fixed order (child name, then key name).
func childEdges(parent string, captured map[string]*triggerTable) []fkEdge {
	var out []fkEdge
	for _, c := range captured {
		for _, fk := range c.src.ForeignKeys {
			if fk.RefTable == parent && len(fk.Columns) == len(fk.RefColumns) && len(fk.Columns) > 0 {
				out = append(out, fkEdge{child: c, fk: fk})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].child.src.Name != out[j].child.src.Name {
			return out[i].child.src.Name < out[j].child.src.Name
		}
		return out[i].fk.Name < out[j].fk.Name
	})
	return out
}

// fkActionTriggers is tt's triggers that record the captured child rows
// its foreign keys' actions delete or change (MySQL/MariaDB only); none
// when no captured table references it with an action.
func fkActionTriggers(s *datastore.Store, capture string, tt *triggerTable, captured map[string]*triggerTable) []triggerDef {
	q := s.Quote
	now := "UTC_TIMESTAMP(6)"
	skip := "IF " + originVar + " IS NULL THEN "
	var onDelete, onUpdate, followed []string

	// Deletes: every path of edges with an ON DELETE action below tt,
	// continued through CASCADE (a SET NULL child stays, its own children
	// are untouched).
	var walk func(path []fkEdge)
	walk = func(path []fkEdge) {
		if len(path) == maxActionDepth {
			return
		}
		from := tt
		if len(path) > 0 {
			last := path[len(path)-1]
			if !strings.EqualFold(last.fk.OnDelete, "CASCADE") {
				return
			}
			from = last.child
		}
		for _, e := range childEdges(from.src.Name, captured) {
			if !acts(e.fk.OnDelete) {
				continue
			}
			p := append(append([]fkEdge(nil), path...), e)
			onDelete = append(onDelete, touchSQL(q, now, p, "OLD"))
			walk(p)
		}
	}
	walk(nil)

	// Key changes: the children that referenced the old values (they now
	// reference the new ones, or NULL, or their default), and, for
	// CASCADE, the same children under the new values too (a child whose
	// own key holds the reference has a new key). A child's columns the
	// action changed may be referenced in turn (a grandchild whose key
	// holds its parent's key): the action goes on to those rows, down to
	// maxActionDepth tables below the parent, and they are recorded the
	// same way, reached through the path before the change (BEFORE) and,
	// where every step is CASCADE, after it.
	var walkUpdate func(path []fkEdge, cond string, cascade bool)
	walkUpdate = func(path []fkEdge, cond string, cascade bool) {
		onUpdate = append(onUpdate, cond+touchSQL(q, now, path, "OLD")+"; END IF")
		if cascade {
			followed = append(followed, cond+touchSQL(q, now, path, "NEW")+"; END IF")
		}
		if len(path) == maxActionDepth {
			return
		}
		last := path[len(path)-1]
		for _, e := range childEdges(last.child.src.Name, captured) {
			if acts(e.fk.OnUpdate) && overlaps(e.fk.RefColumns, last.fk.Columns) {
				walkUpdate(append(append([]fkEdge(nil), path...), e), cond, cascade && strings.EqualFold(e.fk.OnUpdate, "CASCADE"))
			}
		}
	}
	for _, e := range childEdges(tt.src.Name, captured) {
		if !acts(e.fk.OnUpdate) {
			continue
		}
		var same []string
		for _, r := range e.fk.RefColumns {
			same = append(same, "OLD."+q(r)+" <=> NEW."+q(r))
		}
		walkUpdate([]fkEdge{e}, "IF NOT ("+strings.Join(same, " AND ")+") THEN ", strings.EqualFold(e.fk.OnUpdate, "CASCADE"))
	}

	var defs []triggerDef
	add := func(op, timing, event string, stmts []string) {
		if len(stmts) == 0 {
			return
		}
		name := triggerName(capture, tt.src.Name, op)
		defs = append(defs, triggerDef{name: name, stmts: []string{fmt.Sprintf(
			"CREATE TRIGGER %s %s %s ON %s FOR EACH ROW BEGIN %s%s; END IF; END",
			q(name), timing, event, q(tt.src.Name), skip, strings.Join(stmts, "; "))}})
	}
	add("bd", "BEFORE", "DELETE", onDelete)
	add("bu", "BEFORE", "UPDATE", onUpdate)
	add("au", "AFTER", "UPDATE", followed)
	return defs
}

// overlaps says whether two column lists share a column (names compared
// as MySQL does, without case).
func overlaps(a, b []string) bool {
	for _, x := range a {
		for _, y := range b {
			if strings.EqualFold(x, y) {
				return true
			}
		}
	}
	return false
}

// touchSQL records in the changelog of the last table of path the keys of
// its rows reached from the parent's row (row: OLD or NEW) through path:
// path[0] references the parent, path[i] references path[i-1].
func touchSQL(q func(string) string, now string, path []fkEdge, row string) string {
	last := path[len(path)-1].child
	alias := func(i int) string { return "godwit_t" + strconv.Itoa(i) }
	var keys, keyCols []string
	for _, k := range last.keyCols() {
		keyCols = append(keyCols, q(k))
		keys = append(keys, alias(len(path)-1)+"."+q(k))
	}
	from := q(path[0].child.src.Name) + " " + alias(0)
	for i := 1; i < len(path); i++ {
		var on []string
		for j, c := range path[i].fk.Columns {
			on = append(on, alias(i)+"."+q(c)+" = "+alias(i-1)+"."+q(path[i].fk.RefColumns[j]))
		}
		from += " JOIN " + q(path[i].child.src.Name) + " " + alias(i) + " ON " + strings.Join(on, " AND ")
	}
	var where []string
	for j, c := range path[0].fk.Columns {
		where = append(where, alias(0)+"."+q(c)+" = "+row+"."+q(path[0].fk.RefColumns[j]))
	}
	return fmt.Sprintf("INSERT INTO %s (%s, %s, %s) SELECT 'U', %s, %s FROM %s WHERE %s",
		q(last.changelog), q(colOp), q(colAt), strings.Join(keyCols, ", "),
		now, strings.Join(keys, ", "), from, strings.Join(where, " AND "))
}
