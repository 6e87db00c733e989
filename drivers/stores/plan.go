package stores

import "github.com/godwit/godwit/config"

// Plan is what a migration's phases will have made exist by the time one
// of its phases runs: the databases, tables and columns that earlier
// phases create. A preflight runs before any phase, so a driver asks the
// Plan, not only the live store, whether something it needs will be
// there: a table a provision phase creates counts as present for the
// copy, replicate, reconcile, cutover and retire phases after it.
//
// A phase section says what it creates by implementing TableCreator,
// ColumnCreator or DatabaseCreator; new kinds of phase (a mapping that
// renames tables, the expand phase of expand/contract that adds columns)
// plug in by implementing them, and every later driver's preflight sees
// their effect without knowing them.
type Plan struct {
	earlier []config.DriverSpec
	self    config.DriverSpec
}

// TableCreator is a phase section that creates tables in a store when it
// runs (provision, with rendered DDL or a DDL file).
type TableCreator interface {
	// Provides reports whether the phase creates table in store.
	Provides(store, table string) bool
}

// ColumnCreator is a phase section that adds columns to existing tables
// (an expand phase).
type ColumnCreator interface {
	// ProvidesColumn reports whether the phase adds column to table in
	// store.
	ProvidesColumn(store, table, column string) bool
}

// DatabaseCreator is a phase section that creates a store's database when
// it does not exist (provision with createDatabase: true).
type DatabaseCreator interface {
	// CreatesDatabase reports whether the phase creates store's database.
	CreatesDatabase(store string) bool
}

// Before returns what the phases before phase (by name) will have created
// when it starts; phase's own section is kept apart (see Database).
func Before(spec *config.Spec, phase string) Plan {
	var p Plan
	if spec == nil {
		return p
	}
	for _, ph := range spec.Phases {
		if ph.Name == phase {
			p.self = ph.Driver
			break
		}
		if ph.Driver != nil {
			p.earlier = append(p.earlier, ph.Driver)
		}
	}
	return p
}

// Table reports whether an earlier phase creates table in store.
func (p Plan) Table(store, table string) bool {
	for _, d := range p.earlier {
		if tc, ok := d.(TableCreator); ok && tc.Provides(store, table) {
			return true
		}
	}
	return false
}

// Column reports whether an earlier phase creates column of table in
// store: it adds the column, or creates the whole table (with the
// source's columns, which the caller compares against).
func (p Plan) Column(store, table, column string) bool {
	for _, d := range p.earlier {
		if cc, ok := d.(ColumnCreator); ok && cc.ProvidesColumn(store, table, column) {
			return true
		}
	}
	return p.Table(store, table)
}

// Database reports whether an earlier phase, or this phase itself,
// creates store's database: its preflight must not fail because the
// database is not there yet.
func (p Plan) Database(store string) bool {
	for _, d := range append([]config.DriverSpec{p.self}, p.earlier...) {
		if dc, ok := d.(DatabaseCreator); ok && dc.CreatesDatabase(store) {
			return true
		}
	}
	return false
}
