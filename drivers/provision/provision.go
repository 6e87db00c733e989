// Package provision is the `provision` phase driver: it creates a source
// store's tables on a target store (any pair of PostgreSQL, MySQL/MariaDB
// and SQLite), records what it created, and as its compensation drops
// exactly that. The work is datastore.Provision's; this package reads the
// spec section, connects, checks, and classifies errors.
package provision

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/drivers/stores"
	"github.com/godwit/godwit/glob"
	"github.com/godwit/godwit/mapping"
	"github.com/godwit/godwit/migration"
)

// Key is the section key of the driver in a phase.
const Key = "provision"

func init() { config.RegisterDriver(Key, func() config.DriverSpec { return &Spec{} }) }

// Spec is a phase's `provision:` section.
type Spec struct {
	// From is the store whose tables are read (introspected).
	From string `yaml:"from" json:"from"`
	// To is the store the tables are created in.
	To string `yaml:"to" json:"to"`
	// Tables are table names or glob patterns (orders_*), resolved on From.
	Tables []string `yaml:"tables" json:"tables"`
	// Mapping names one of the spec's mappings, instead of from, to and
	// tables: the target's tables are created as it maps them (renamed
	// table, columns, key, indexes and foreign keys; computed and cast
	// columns with their declared type). See docs/mapping.md.
	Mapping string `yaml:"mapping" json:"mapping,omitempty"`
	// MappingSpec is the mapping Mapping names, resolved by Check.
	MappingSpec *mapping.Spec `yaml:"-" json:"mappingSpec,omitempty"`
	// DeferIndexes leaves secondary indexes and unique constraints to a
	// later copy phase with createIndexes: true (faster bulk loads).
	DeferIndexes bool `yaml:"deferIndexes" json:"deferIndexes,omitempty"`
	// TypeOverrides gives a column's type on the target, keyed
	// "table.column": the opt-in for a type without a lossless mapping.
	TypeOverrides map[string]string `yaml:"typeOverrides" json:"typeOverrides,omitempty"`
	// FullCopy lists tables (names or patterns) without a primary key to
	// create anyway, for a copy phase that copies them in full (its own
	// fullCopy); other tables without a key are refused.
	FullCopy []string `yaml:"fullCopy" json:"fullCopy,omitempty"`
	// DDL, if set, takes the target's DDL from a file instead of
	// rendering it (see ddl.go).
	DDL *DDL `yaml:"ddl" json:"ddl,omitempty"`
	// CreateDatabase creates the target's database (for SQLite its file)
	// when it does not exist, marked as this migration's; the compensation
	// drops it again, and only if this migration created it. Off by
	// default: a DSN naming a database that does not exist is usually a
	// mistake.
	CreateDatabase bool `yaml:"createDatabase" json:"createDatabase,omitempty"`
	// Stores holds the from and to stores' specs (engine and DSN
	// reference, never a DSN), copied from the spec's stores: when the
	// spec is checked, since the activity sees only its phase.
	Stores map[string]config.StoreSpec `yaml:"-" json:"stores,omitempty"`
	// ForeignKeysNow, set when the spec is checked, says no later copy
	// phase fills the target: provision creates the foreign keys itself.
	// Otherwise the copy creates them after its load (a run started
	// before this field existed lacks it, and so leaves them to the copy).
	ForeignKeysNow bool `yaml:"-" json:"foreignKeysNow,omitempty"`
	// ForeignKeysLeft, set when the spec is checked, is why the foreign
	// keys will not be created on a PostgreSQL or MySQL target (a later
	// phase loads the tables without creating them; a copy with fanOut
	// did so before it created them after its units).
	ForeignKeysLeft string `yaml:"-" json:"foreignKeysLeft,omitempty"`
}

// Loader is a driver section that fills a store's tables (the copy
// driver). CreatesForeignKeys says whether it creates their foreign keys
// after its load.
type Loader interface {
	LoadsInto(store string) (loads, createsForeignKeys bool)
}

// IndexCreator is a driver section that creates the secondary indexes of
// the tables it loads into a store, after the load (the copy driver with
// createIndexes: true).
type IndexCreator interface {
	CreatesIndexesIn(store string) bool
}

// Check reports unknown stores, bad patterns and overrides, and indexes
// deferred to a copy that does not exist.
func (s *Spec) Check(c *config.CheckContext) {
	var ok bool
	if s.MappingSpec, ok = stores.CheckStoresOrMapping(c, s.Mapping, &s.From, &s.To, &s.Tables); !ok {
		return // the unknown mapping is the error
	}
	if s.Mapping != "" && len(s.TypeOverrides) > 0 {
		c.Errorf("typeOverrides", "does not apply to a mapped provision: give a column its target type with the mapping's cast: (tables.T.cast.COLUMN.type)")
	}
	if s.From != "" && s.From == s.To {
		c.Errorf("to", "is the same store as from (%s): provision creates tables in another store", s.From)
	}
	stores.CheckTables(c, "tables", s.Tables)
	for i, p := range s.FullCopy {
		if err := datastore.ValidatePattern(p); err != nil {
			c.Errorf(fmt.Sprintf("fullCopy[%d]", i), "%v", err)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(s.TypeOverrides)) {
		table, column, ok := strings.Cut(k, ".")
		switch {
		case !ok || table == "" || column == "" || strings.Contains(column, "."):
			c.Errorf("typeOverrides."+k, "must be keyed table.column, e.g. jobs.every: \"VARCHAR(64)\"")
		case strings.TrimSpace(s.TypeOverrides[k]) == "":
			c.Errorf("typeOverrides."+k, "needs the column's type on the target, e.g. \"VARCHAR(64)\"")
		}
	}
	s.DDL.check(c, s)
	if s.DeferIndexes && s.DDL == nil && !indexesCreatedLater(c, s.To) {
		c.Errorf("deferIndexes", "leaves the secondary indexes to a later copy phase into %s with createIndexes: true, and there is none: add one, or remove deferIndexes", s.To)
	}
	s.Stores = stores.Pick(c.Spec, s.From, s.To)
	s.ForeignKeysNow, s.ForeignKeysLeft = foreignKeysPlan(c, s.To)
}

// foreignKeysPlan decides when the foreign keys of the tables provisioned
// in store are created: now, if no later phase loads the store; by that
// copy after its load (after its units, with fanOut); or not at all,
// if the phase that loads it does not create them (why).
func foreignKeysPlan(c *config.CheckContext, store string) (now bool, left string) {
	for _, p := range c.PhasesAfter() {
		l, ok := p.Driver.(Loader)
		if !ok {
			continue
		}
		if loads, creates := l.LoadsInto(store); loads {
			if !creates {
				return false, fmt.Sprintf("phase %s loads the tables but does not create their foreign keys after its load", p.Name)
			}
			return false, ""
		}
	}
	return true, ""
}

func indexesCreatedLater(c *config.CheckContext, store string) bool {
	after := false
	for i := range c.Spec.Phases {
		p := &c.Spec.Phases[i]
		if p == c.Phase {
			after = true
			continue
		}
		if ic, ok := p.Driver.(IndexCreator); ok && after && ic.CreatesIndexesIn(store) {
			return true
		}
	}
	return false
}

// Resources are the target tables: two migrations must not create (or
// drop) the same tables.
func (s *Spec) Resources(spec *config.Spec) []string {
	return stores.WrittenResources(spec, s.To, s.MappingSpec, s.Tables)
}

// HasCompensation is true: provision drops the tables it created.
func (s *Spec) HasCompensation() bool { return true }

// Provides reports whether this provision creates table (a source table
// name) in store: a copy phase after it may find the table missing at
// preflight time.
func (s *Spec) Provides(store, table string) bool {
	if s.To != store {
		return false
	}
	if s.MappingSpec != nil && s.MappingSpec.MapsTo(table) {
		return true
	}
	for _, p := range s.Tables {
		if ok, _ := glob.Match(p, table); ok {
			return true
		}
	}
	return false
}

// CreatesDatabase reports whether this provision creates store's database
// (createDatabase: true into it).
func (s *Spec) CreatesDatabase(store string) bool { return s.CreateDatabase && s.To == store }

// Driver runs provision phases.
type Driver struct {
	activities.Driver
	Logger hclog.Logger
}

// New returns the provision driver: it creates the tables (run) or drops
// those this migration created (compensate). Both can be repeated: a
// retry finds its own tables.
func New(logger hclog.Logger) *Driver {
	d := &Driver{Logger: logger.Named(Key)}
	d.Driver = activities.Adapt(logger, activities.Phase[*Spec]{Key: Key, Preflight: d.preflight, Errors: stores.Errors,
		Ready: func(s *Spec) bool { return s.Stores != nil },
		Run: func(ctx context.Context, c *activities.Call[*Spec]) (activities.PhaseResult, error) {
			return d.create(ctx, c.Spec, c.In.Owner(), c.Log, c.Beat)
		},
		Compensate: func(ctx context.Context, c *activities.Call[*Spec]) (activities.PhaseResult, error) {
			return d.drop(ctx, c.Spec, c.In.Owner(), c.Log)
		}})
	return d
}

func (d *Driver) create(ctx context.Context, s *Spec, owner string, log hclog.Logger, beat func(activities.Heartbeat)) (activities.PhaseResult, error) {
	from, err := stores.Open(ctx, s.Stores, s.From)
	if err != nil {
		return activities.PhaseResult{}, fmt.Errorf("provision: %w", err)
	}
	defer from.Close()
	dbNote, createdNow, err := d.createDatabase(ctx, s, owner, log)
	if err != nil {
		return activities.PhaseResult{}, err
	}
	res, err := d.createTables(ctx, s, from, owner, log, beat)
	if err != nil && createdNow {
		// A failed phase has no compensation: the database this attempt
		// created would outlive the rollback. It holds nothing else.
		err = d.undoCreatedDatabase(ctx, s, owner, err)
	}
	if err != nil {
		return activities.PhaseResult{}, err
	}
	sum := summary(s.To, res)
	if dbNote != "" {
		sum = dbNote + "; " + sum
	}
	output := append(append([]string(nil), res.Notes...), res.ForeignKeys.NotCarried...)
	return activities.PhaseResult{
		Records: int64(len(res.Created)),
		Summary: sum,
		Output:  strings.Join(output, "\n"),
	}, nil
}

// undoCreatedDatabase drops the target database this attempt created,
// after cause failed the phase, and says so in the error it returns.
func (d *Driver) undoCreatedDatabase(ctx context.Context, s *Spec, owner string, cause error) error {
	engine, dsn, err := stores.Resolve(s.Stores, s.To)
	if err != nil {
		return fmt.Errorf("%w; %s, which this attempt created, is left: %v", cause, "the database of store "+s.To, err)
	}
	what := databaseWords(engine, dsn)
	if _, err := datastore.DropCreatedDatabase(ctx, engine, dsn, owner); err != nil {
		return fmt.Errorf("%w; %s of store %s, which this attempt created, is left: %v", cause, what, s.To, err)
	}
	return fmt.Errorf("%w; %s of store %s, which this attempt created, was dropped again", cause, what, s.To)
}

// createTables creates the tables in the target (whose database exists).
func (d *Driver) createTables(ctx context.Context, s *Spec, from *datastore.Store, owner string, log hclog.Logger, beat func(activities.Heartbeat)) (datastore.ProvisionResult, error) {
	to, err := stores.Open(ctx, s.Stores, s.To)
	if err != nil {
		return datastore.ProvisionResult{}, fmt.Errorf("provision: %w", err)
	}
	defer to.Close()
	tables, overrides, mapNotes, err := s.sourceTables(ctx, from)
	if err != nil {
		return datastore.ProvisionResult{}, fmt.Errorf("provision: store %s: %w", s.From, err)
	}
	beat(activities.Heartbeat{Detail: fmt.Sprintf("creating %s in %s", migration.Count(len(tables), "table"), s.To)})
	opts := datastore.ProvisionOptions{Owner: owner, DeferIndexes: s.DeferIndexes, TypeOverrides: overrides, Logger: log,
		WithoutKey: s.withoutKey, ForeignKeysNow: s.ForeignKeysNow}
	var res datastore.ProvisionResult
	if s.DDL != nil {
		res, err = createFromDDL(ctx, to, s, tables, opts)
	} else {
		if res, err = datastore.Provision(ctx, to, tables, opts); err != nil {
			err = fmt.Errorf("provision into %s: %w", s.To, err)
		}
	}
	if err != nil {
		return res, err
	}
	res.Notes = append(mapNotes, res.Notes...)
	if objs, err := from.UncarriedObjects(ctx); err != nil {
		log.Warn("could not list the source's views and routines", "store", s.From, "error", err)
	} else if note := datastore.UncarriedObjectsNote(s.From, objs); note != "" {
		res.Notes = append(res.Notes, note)
	}
	for _, n := range res.Notes {
		log.Warn("not carried over", "note", n)
	}
	if res.ForeignKeysLater > 0 && s.ForeignKeysLeft != "" {
		for _, t := range tables {
			for _, fk := range t.ForeignKeys {
				if !reported(res.ForeignKeys.NotCarried, t.Name+"."+fk.Name) {
					res.ForeignKeys.NotCarried = append(res.ForeignKeys.NotCarried, fmt.Sprintf("%s.%s: %s", t.Name, fk.Name, s.ForeignKeysLeft))
				}
			}
		}
		res.ForeignKeysLater = 0
	}
	for _, n := range res.ForeignKeys.NotCarried {
		log.Warn("foreign key not carried over", "note", n)
	}
	return res, nil
}

// sourceTables introspects the tables to create, as the target will have
// them: the source's, or through the mapping renamed (with the declared
// types of computed and cast columns as type overrides, and notes on what
// the mapping leaves out).
func (s *Spec) sourceTables(ctx context.Context, from *datastore.Store) ([]*datastore.Table, map[string]string, []string, error) {
	if s.MappingSpec == nil {
		names, err := from.ResolveTables(ctx, s.Tables)
		if err != nil {
			return nil, nil, nil, err
		}
		tables := make([]*datastore.Table, 0, len(names))
		for _, n := range names {
			t, err := from.Introspect(ctx, n)
			if err != nil {
				return nil, nil, nil, err
			}
			tables = append(tables, t)
		}
		return tables, s.TypeOverrides, nil, nil
	}
	mapped, err := stores.MappedTables(ctx, from, s.MappingSpec)
	if err != nil {
		return nil, nil, nil, err
	}
	bySource := make(map[string]mapping.Table, len(mapped))
	for _, m := range mapped {
		bySource[m.Source] = m
	}
	var tables []*datastore.Table
	overrides := map[string]string{}
	var notes []string
	for _, m := range mapped {
		src, err := from.Introspect(ctx, m.Source)
		if err != nil {
			return nil, nil, nil, err
		}
		t, o, n := datastore.TargetTable(src, m, bySource)
		tables = append(tables, t)
		notes = append(notes, n...)
		for k, v := range o {
			overrides[k] = v
		}
	}
	return tables, overrides, notes, nil
}

// reported says whether a note on the constraint label ("table.name") is among notes.
func reported(notes []string, label string) bool {
	for _, n := range notes {
		if strings.HasPrefix(n, label+":") {
			return true
		}
	}
	return false
}

// createDatabase creates the target's database when createDatabase is on
// and it does not exist, and says what it did for the summary. The record
// of who created it is kept in the database itself (datastore's marker),
// so a retry that finds it already created, or the compensation, knows
// it is this migration's.
func (d *Driver) createDatabase(ctx context.Context, s *Spec, owner string, log hclog.Logger) (note string, createdNow bool, err error) {
	if !s.CreateDatabase {
		return "", false, nil
	}
	engine, dsn, err := stores.Resolve(s.Stores, s.To)
	if err != nil {
		return "", false, fmt.Errorf("provision: %w", err)
	}
	what := databaseWords(engine, dsn)
	created, err := datastore.CreateDatabase(ctx, engine, dsn, owner)
	if err != nil {
		return "", false, fmt.Errorf("provision: store %s: %w", s.To, err)
	}
	if created {
		log.Info("created the target database", "store", s.To)
		return fmt.Sprintf("created %s for store %s", what, s.To), true, nil
	}
	if who, err := datastore.DatabaseCreator(ctx, engine, dsn); err == nil && who == owner {
		return fmt.Sprintf("%s of store %s created by an earlier attempt", what, s.To), false, nil
	}
	return "", false, nil
}

// createDatabaseProblems checks, changing nothing, that the target's
// database, which does not exist yet, can be created.
func createDatabaseProblems(ctx context.Context, spec *config.Spec, s *Spec) []string {
	engine, dsn, err := stores.Resolve(spec.Stores, s.To)
	if err != nil {
		return nil // reported by the open already
	}
	if exists, err := datastore.DatabaseExists(ctx, engine, dsn); err != nil || exists {
		return nil // the open reported why it failed
	}
	if err := datastore.CheckCreateDatabase(ctx, engine, dsn); err != nil {
		return []string{fmt.Sprintf("store %s: createDatabase: %v", s.To, err)}
	}
	return nil
}

// databaseWords names a store's database for a summary, which goes into
// the workflow's history: a server database by its name, a SQLite file
// not by its path, which is the whole DSN.
func databaseWords(engine datastore.Engine, dsn string) string {
	if engine == datastore.SQLite {
		return "the database file"
	}
	return "database " + datastore.DatabaseName(engine, dsn)
}

func summary(to string, res datastore.ProvisionResult) string {
	var parts []string
	if len(res.Created) > 0 {
		parts = append(parts, fmt.Sprintf("created %s in %s: %s", migration.Count(len(res.Created), "table"), to, migration.Names(res.Created, migration.SummaryNames)))
	}
	if len(res.Already) > 0 {
		parts = append(parts, fmt.Sprintf("already created by an earlier attempt: %s", migration.Names(res.Already, migration.SummaryNames)))
	}
	if fk := res.ForeignKeys.Summary(); fk != "" {
		parts = append(parts, fk)
	}
	if res.ForeignKeysLater > 0 {
		parts = append(parts, migration.Count(res.ForeignKeysLater, "foreign key")+" left for after the copy")
	}
	if len(res.Notes) > 0 {
		parts = append(parts, migration.Count(len(res.Notes), "note")+" on what was not carried over (see godwit output)")
	}
	if len(parts) == 0 {
		return "nothing to create"
	}
	return strings.Join(parts, "; ")
}

func (d *Driver) drop(ctx context.Context, s *Spec, owner string, log hclog.Logger) (activities.PhaseResult, error) {
	engine, dsn, err := stores.Resolve(s.Stores, s.To)
	if err != nil {
		return activities.PhaseResult{}, fmt.Errorf("drop provisioned tables: %w", err)
	}
	if ok, err := datastore.DatabaseExists(ctx, engine, dsn); err == nil && !ok {
		// Never created, or dropped by an earlier attempt: nothing to
		// undo (and opening a SQLite file would create it).
		return activities.PhaseResult{Summary: "the database of " + s.To + " does not exist: nothing to drop"}, nil
	}
	to, err := stores.Open(ctx, s.Stores, s.To)
	if err != nil {
		return activities.PhaseResult{}, fmt.Errorf("drop provisioned tables: %w", err)
	}
	dropped, err := datastore.DropProvisioned(ctx, to, owner)
	to.Close()
	if err != nil {
		return activities.PhaseResult{}, fmt.Errorf("drop provisioned tables in %s: %w", s.To, err)
	}
	log.Info("dropped provisioned tables", "tables", dropped)
	if s.CreateDatabase {
		gone, err := datastore.DropCreatedDatabase(ctx, engine, dsn, owner)
		if err != nil {
			return activities.PhaseResult{}, fmt.Errorf("drop the database this migration created in %s: %w", s.To, err)
		}
		if gone {
			log.Info("dropped the database this migration created", "store", s.To)
			return activities.PhaseResult{
				Records: int64(len(dropped)),
				Summary: fmt.Sprintf("dropped %s of store %s, which this migration created (with its %s)", databaseWords(engine, dsn), s.To, migration.Count(len(dropped), "table")),
			}, nil
		}
	}
	if len(dropped) == 0 {
		return activities.PhaseResult{Summary: "no table of this migration left to drop in " + s.To}, nil
	}
	return activities.PhaseResult{
		Records: int64(len(dropped)),
		Summary: fmt.Sprintf("dropped %s this migration created in %s: %s", migration.Count(len(dropped), "table"), s.To, migration.Names(dropped, migration.SummaryNames)),
	}, nil
}

// Preflight connects to both stores and checks, changing nothing, that
// every table exists with a primary key and a type map to the target, that
// none is in the way on the target, and that the target user may create
// tables.
func (d *Driver) preflight(ctx context.Context, spec *config.Spec, phase config.PhaseSpec, s *Spec) []string {
	from, to, problems, closeStores := stores.OpenPair(ctx, spec, stores.Before(spec, phase.Name), s.From, s.To)
	defer closeStores()
	if to == nil && s.CreateDatabase {
		problems = append(problems, createDatabaseProblems(ctx, spec, s)...)
	}
	if to != nil {
		if err := to.CheckCreate(ctx); err != nil {
			problems = append(problems, fmt.Sprintf("store %s: the user cannot create tables: %v", s.To, err))
		}
	}
	if from == nil {
		return problems
	}
	if s.MappingSpec != nil {
		return append(problems, mappedProblems(ctx, from, to, s, activities.OwnerKey(spec.Name, activities.RunOf(ctx)))...)
	}
	names, missing, err := stores.ResolveEach(ctx, from, s.From, s.Tables)
	if err != nil {
		return append(problems, stores.Problem(s.From, err))
	}
	problems = append(problems, missing...)
	var tables []*datastore.Table
	for _, n := range names {
		problems = append(problems, tableProblems(ctx, from, to, s, activities.OwnerKey(spec.Name, activities.RunOf(ctx)), n)...)
		if t, err := from.Introspect(ctx, n); err == nil {
			tables = append(tables, t)
		}
	}
	problems = append(problems, datastore.InheritanceProblems(tables)...)
	if s.DDL != nil {
		problems = append(problems, ddlProblems(to, s, tables)...)
	}
	return problems
}

// mappedProblems checks a mapped provision against the live schemas: the
// mapping resolves on the source (unknown tables and columns with "did you
// mean", a dropped key, colliding target names), the source compiles its
// expressions and filters (a LIMIT 0 read), and each target table can be
// created (declared types included) and is not there already.
func mappedProblems(ctx context.Context, from, to *datastore.Store, s *Spec, owner string) []string {
	mapped, resolveErr := stores.MappedTables(ctx, from, s.MappingSpec)
	var problems []string
	if resolveErr != nil {
		// The tables that resolved are checked on (expressions, casts), so
		// one preflight names every problem; the target's checks need them all.
		problems = append(problems, fmt.Sprintf("mapping %s on store %s: %v", s.Mapping, s.From, resolveErr))
		if !errors.Is(resolveErr, mapping.ErrMapping) {
			return problems
		}
	}
	for _, m := range mapped {
		src, err := from.Introspect(ctx, m.Source)
		if err != nil {
			problems = append(problems, stores.Problem(s.From, err))
			continue
		}
		view, err := datastore.SourceView(src, m)
		if err != nil {
			problems = append(problems, fmt.Sprintf("mapping %s: %v", s.Mapping, err))
			continue
		}
		for _, err := range from.CompileMapped(ctx, view) {
			problems = append(problems, fmt.Sprintf("mapping %s table %s: store %s cannot compile %v", s.Mapping, m.Source, s.From, err))
		}
		if engine, err := datastore.ParseEngine(s.Stores[s.To].Engine); err == nil {
			problems = append(problems, stores.CastProblems(s.Mapping, src, m, engine)...)
		}
	}
	if resolveErr != nil || (to == nil && s.unopenedTarget() == nil) {
		return problems
	}
	tables, overrides, _, err := s.sourceTables(ctx, from)
	if err != nil {
		return append(problems, fmt.Sprintf("mapping %s on store %s: %v", s.Mapping, s.From, err))
	}
	if to == nil {
		// The database does not exist yet (createDatabase): the types
		// still have to map, which needs only the target's engine.
		for _, t := range tables {
			if _, _, err := s.unopenedTarget().CreateTableSQL(t, overrides); err != nil && len(t.PrimaryKey) > 0 && s.DDL == nil {
				problems = append(problems, fmt.Sprintf("table %s cannot be created in %s: %v", t.Name, s.To, err))
			}
		}
		return problems
	}
	if s.DDL != nil {
		// The file creates the tables as the mapping makes them: its
		// tables and columns are checked against the mapped ones.
		return append(problems, ddlProblems(to, s, tables)...)
	}
	for _, t := range tables {
		if err := t.CheckCopyable(); err != nil && !s.withoutKey(t.Name) {
			problems = append(problems, fmt.Sprintf("store %s: table %s has no primary key: Godwit copies by key, so add one", s.From, t.Name))
			continue
		}
		if _, _, err := to.CreateTableSQL(t, overrides); err != nil {
			problems = append(problems, fmt.Sprintf("table %s cannot be created in %s: %v", t.Name, s.To, err))
		} else if err := to.UndefinedTypes(ctx, t, overrides); err != nil {
			problems = append(problems, fmt.Sprintf("table %s cannot be created in %s: %v", t.Name, s.To, err))
		} else if err := to.DeclaredTypes(ctx, t, overrides); err != nil {
			problems = append(problems, fmt.Sprintf("table %s cannot be created in %s: %v (fix the type under the mapping's add: or cast:)", t.Name, s.To, err))
		}
		if _, err := to.Introspect(ctx, t.Name); err == nil {
			if who, err := to.ProvisionOwner(ctx, t.Name); err != nil {
				problems = append(problems, stores.Problem(s.To, err))
			} else if sameMigration(who, owner) && who != owner {
				problems = append(problems, fmt.Sprintf("store %s: table %s already exists, created by %s: it holds what that run moved, and this run would take it over (its rollback would drop it). Drop it yourself if it is not needed, or map the table to another name (to:)", s.To, t.Name, earlierRun(who)))
			} else if who != owner {
				problems = append(problems, fmt.Sprintf("store %s: table %s already exists and was not created by this migration: drop or rename it, or map the table to another name (to:)", s.To, t.Name))
			}
		}
	}
	return problems
}

// tableProblems checks one source table against the target (to may be nil
// when it is unreachable).
func tableProblems(ctx context.Context, from, to *datastore.Store, s *Spec, owner, name string) []string {
	t, err := from.Introspect(ctx, name)
	if err != nil {
		return []string{stores.Problem(s.From, err)}
	}
	var problems []string
	if err := t.CheckCopyable(); err != nil && !s.withoutKey(name) {
		problems = append(problems, fmt.Sprintf("store %s: table %s has no primary key: Godwit copies by key, so add one (or a unique not-null key made primary), or list it in fullCopy here and in the copy phase to copy it in one pass that is not resumable", s.From, name))
	}
	if to == nil {
		// The database does not exist yet (createDatabase): the types
		// still have to map, which needs only the target's engine.
		if r := s.unopenedTarget(); r != nil && len(t.PrimaryKey) > 0 && s.DDL == nil {
			if _, _, err := r.CreateTableSQL(t, s.TypeOverrides); err != nil {
				problems = append(problems, fmt.Sprintf("table %s cannot be created in %s: %v", name, s.To, err))
			}
		}
		return problems
	}
	if _, _, err := to.CreateTableSQL(t, s.TypeOverrides); err != nil && len(t.PrimaryKey) > 0 && s.DDL == nil {
		problems = append(problems, fmt.Sprintf("table %s cannot be created in %s: %v", name, s.To, err))
	} else if err := to.UndefinedTypes(ctx, t, s.TypeOverrides); err != nil && s.DDL == nil {
		problems = append(problems, fmt.Sprintf("table %s cannot be created in %s: %v", name, s.To, err))
	} else if err := to.DeclaredTypes(ctx, t, s.TypeOverrides); err != nil && s.DDL == nil {
		problems = append(problems, fmt.Sprintf("table %s cannot be created in %s: %v (fix it under typeOverrides)", name, s.To, err))
	}
	if _, err := to.Introspect(ctx, name); err == nil {
		switch who, err := to.ProvisionOwner(ctx, name); {
		case err != nil:
			problems = append(problems, stores.Problem(s.To, err))
		case who == owner:
			// Created by an earlier attempt of this run: a retry keeps it.
		case sameMigration(who, owner):
			problems = append(problems, fmt.Sprintf("store %s: table %s already exists, created by %s: it holds what that run moved, and this run would take it over (its rollback would drop it). Drop it yourself if it is not needed, or give this run another target or another migration name", s.To, name, earlierRun(who)))
		case who != "":
			problems = append(problems, fmt.Sprintf("store %s: table %s already exists, created by %s: drop it, or leave it out of tables", s.To, name, activities.DescribeOwner(who)))
		default:
			problems = append(problems, fmt.Sprintf("store %s: table %s already exists and was not created by Godwit: drop or rename it, or leave it out of tables (a copy phase alone can fill an existing table)", s.To, name))
		}
	}
	return problems
}

// unopenedTarget is the target's engine as an unopened store (it renders
// DDL) when provision creates the target's database, which preflight
// cannot open yet; nil otherwise.
func (s *Spec) unopenedTarget() *datastore.Store {
	if !s.CreateDatabase {
		return nil
	}
	engine, err := datastore.ParseEngine(s.Stores[s.To].Engine)
	if err != nil {
		return nil
	}
	r, err := datastore.Unopened(engine)
	if err != nil {
		return nil
	}
	return r
}

// withoutKey reports whether fullCopy lets the table be created without a
// primary key.
func (s *Spec) withoutKey(table string) bool {
	for _, p := range s.FullCopy {
		if ok, _ := glob.Match(p, table); ok {
			return true
		}
	}
	return false
}

// MappingName is the mapping the section names (config.MappingUser).
func (s *Spec) MappingName() string { return s.Mapping }

// TakeMapping takes the mapping's stores before the spec is checked
// (config.MappingUser).
func (s *Spec) TakeMapping(m *mapping.Spec) { stores.TakeMapping(m, &s.From, &s.To) }

// sameMigration says whether two owners are runs of one migration (an
// owner without a run key, recorded before runs had one, is a run of its
// name too).
func sameMigration(a, b string) bool {
	na, _ := activities.SplitOwner(a)
	nb, _ := activities.SplitOwner(b)
	return na == nb
}

// earlierRun names the run of this migration that recorded owner.
func earlierRun(owner string) string {
	if _, run := activities.SplitOwner(owner); run != "" {
		return "an earlier run of this migration (run " + run + ")"
	}
	return "an earlier run of this migration"
}

// SuccessCriteria is what a person checks once the phase is done (the
// plan's and runbook's success criteria).
func (s *Spec) SuccessCriteria() []string {
	if m := s.MappingSpec; m != nil {
		var pairs []string
		for _, src := range slices.Sorted(maps.Keys(m.Tables)) {
			to := m.Tables[src].To
			if to == "" {
				to = mapping.ApplyRule(m.Names, src)
			}
			pairs = append(pairs, src+" → "+to)
		}
		return []string{fmt.Sprintf("the tables of mapping %s exist in %s as it maps them (%s): renamed, with their computed and cast columns "+
			"and without the dropped ones, each with its primary key", s.Mapping, s.To, strings.Join(pairs, ", "))}
	}
	tables := "the tables " + strings.Join(s.Tables, ", ")
	if len(s.Tables) == 0 {
		tables = "the tables of mapping " + s.Mapping
	}
	return []string{fmt.Sprintf("%s of %s exist in %s with their columns and primary keys", tables, s.From, s.To)}
}
