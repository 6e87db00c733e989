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
	names   []string // the earlier phases' names, one per section
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

// Flow is rows going from one store to another (names of the spec's
// stores).
type Flow struct{ From, To string }

// DataMover is a phase section that moves rows between two stores: a copy,
// a replication, a cut-over. The two then hold the same data, each in a
// database of its own.
type DataMover interface {
	// MovesData returns the stores the phase moves rows from and to; ""
	// when it moves none (a replicate stop).
	MovesData() Flow
}

// Replicator is a phase section that leaves a replication of changes
// running when it ends (a replicate setup or catch-up, a cut-over's
// reverse capture: changes on From keep reaching To), or that ends such
// replications (a replicate stop).
type Replicator interface {
	// Replications returns the replications the phase starts and those it
	// stops.
	Replications() (started, stopped []Flow)
}

// Move is a flow of rows an earlier phase makes, with that phase's name.
type Move struct {
	Flow
	Phase string
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
			p.names = append(p.names, ph.Name)
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

// Moves lists, in phase order, the flows of rows between two different
// stores that the earlier phases make.
func (p Plan) Moves() []Move {
	var out []Move
	for i, d := range p.earlier {
		if m, ok := d.(DataMover); ok {
			if f := m.MovesData(); f.From != "" && f.To != "" && f.From != f.To {
				out = append(out, Move{Flow: f, Phase: p.names[i]})
			}
		}
	}
	return out
}

// Replicating returns the earlier phase that leaves a replication of
// from's changes to to running when this phase starts (none stopped it
// since), "" when there is none.
func (p Plan) Replicating(from, to string) string {
	running := ""
	for i, d := range p.earlier {
		r, ok := d.(Replicator)
		if !ok {
			continue
		}
		started, stopped := r.Replications()
		for _, f := range stopped {
			if f == (Flow{from, to}) {
				running = ""
			}
		}
		for _, f := range started {
			if f == (Flow{from, to}) {
				running = p.names[i]
			}
		}
	}
	return running
}
