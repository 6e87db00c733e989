// Package contract is the `contract` phase driver, the last phase of an
// expand/contract change, for decommission phases: it removes the
// dual-write triggers the earlier expand phases installed on the store and
// then applies the contract SQL (dropping the old column). Like every
// decommission it is the point of no return: it has no compensation.
package contract

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/drivers/expand"
	"github.com/godwit/godwit/drivers/stores"
	"github.com/godwit/godwit/schemachange"
)

// Key is the section key of the driver in a phase.
const Key = "contract"

func init() { config.RegisterDriver(Key, func() config.DriverSpec { return &Spec{} }) }

// Spec is a phase's `contract:` section.
type Spec struct {
	Store string `yaml:"store" json:"store"`
	// SQL removes the old shape (drops the old column).
	SQL *expand.Source `yaml:"sql" json:"sql"`
	// LockTimeout bounds each wait for a table's lock (default 2s).
	LockTimeout config.Duration `yaml:"lockTimeout" json:"lockTimeout,omitempty"`
	// Online is prefer (the default) or require, as the expand's.
	Online string `yaml:"online" json:"online,omitempty"`
	// DualWriteTables are the tables earlier expand phases dual-write in
	// the store, filled when the spec is checked: their triggers go first.
	DualWriteTables []string `yaml:"-" json:"dualWriteTables,omitempty"`
	// Stores holds the store's spec, copied from the spec's stores.
	Stores map[string]config.StoreSpec `yaml:"-" json:"stores,omitempty"`
}

// Check reports an unknown store or a missing script, and collects the
// tables the earlier expand phases dual-write.
func (s *Spec) Check(c *config.CheckContext) {
	stores.CheckStoreRef(c, "store", s.Store)
	expand.CheckSource(c, "sql", s.SQL, "removes the old shape (drops the old column)")
	expand.CheckOnline(c, s.Online)
	s.DualWriteTables = nil
	for _, p := range c.PhasesBefore() {
		if e, ok := p.Driver.(*expand.Spec); ok && e.Store == s.Store {
			s.DualWriteTables = append(s.DualWriteTables, e.Tables()...)
		}
	}
	s.Stores = stores.Pick(c.Spec, s.Store)
}

// HasCompensation is false: contract is the point of no return.
func (s *Spec) HasCompensation() bool { return false }

// Resources are the dual-written tables.
func (s *Spec) Resources(spec *config.Spec) []string {
	return stores.Resources(spec, s.Store, s.DualWriteTables)
}

// Driver runs contract phases.
type Driver struct {
	activities.Driver
	Logger hclog.Logger
}

// New returns the contract driver: it has no compensation (the point of
// no return).
func New(logger hclog.Logger) *Driver {
	d := &Driver{Logger: logger.Named(Key)}
	d.Driver = activities.Adapt(logger, activities.Phase[*Spec]{Key: Key, Run: d.run, Preflight: d.preflight,
		NoCompensation: "contract has no compensation (the point of no return)",
		Ready:          func(s *Spec) bool { return s.Stores != nil }, Errors: expand.Errors})
	return d
}

// run removes the dual-write triggers and applies the contract SQL, as one
// change (one transaction on PostgreSQL and SQLite); repeated, it finds
// the change recorded and does nothing.
func (d *Driver) run(ctx context.Context, c *activities.Call[*Spec]) (activities.PhaseResult, error) {
	s, in, log := c.Spec, c.In, c.Log
	st, err := stores.Open(ctx, s.Stores, s.Store)
	if err != nil {
		return activities.PhaseResult{}, fmt.Errorf("contract: %w", err)
	}
	defer st.Close()
	up, err := expand.ReadContract(st.Engine, s.SQL)
	if err != nil {
		return activities.PhaseResult{}, err
	}
	name := expand.RecordName(in.Migration, in.Phase.Name)
	tables := s.DualWriteTables
	if tables == nil {
		tables = []string{}
	}
	change := schemachange.Change{Name: name, Run: in.Run, Up: up, RemoveDualWrite: tables, LockTimeout: s.LockTimeout.D(), RequireOnline: s.Online == expand.OnlineRequire}
	res, err := schemachange.Apply(ctx, st, change, log)
	if err != nil {
		return activities.PhaseResult{}, fmt.Errorf("contract in %s: %w", s.Store, err)
	}
	// The change is final: the earlier phases' records go (this one's stays,
	// so a retry finds it done).
	if err := schemachange.ForgetExcept(ctx, st, expand.RecordName(in.Migration, ""), name); err != nil {
		return activities.PhaseResult{}, fmt.Errorf("contract in %s: %w", s.Store, err)
	}
	log.Info("contracted", "statements", res.Statements, "already", res.Already)
	sum := fmt.Sprintf("applied %s to %s", s.SQL.Path(), s.Store)
	switch {
	case res.OtherRun && res.OtherRunKey != "":
		sum = fmt.Sprintf("%s was already applied to %s by an earlier run of this migration (run %s)", s.SQL.Path(), s.Store, res.OtherRunKey)
	case res.OtherRun:
		sum = fmt.Sprintf("%s was already applied to %s by an earlier run of this migration", s.SQL.Path(), s.Store)
	case res.Already:
		sum = fmt.Sprintf("%s was already applied to %s by an earlier attempt", s.SQL.Path(), s.Store)
	}
	if len(s.DualWriteTables) > 0 {
		sum += "; removed the dual-write triggers on " + strings.Join(s.DualWriteTables, ", ")
	}
	return activities.PhaseResult{Summary: sum}, nil // a schema change moves no records
}

// Preflight checks, changing nothing, that the store answers and the
// contract SQL can be read.
func (d *Driver) preflight(ctx context.Context, spec *config.Spec, _ config.PhaseSpec, s *Spec) []string {
	st, err := stores.OpenReadOnly(ctx, spec.Stores, s.Store)
	if err != nil {
		return []string{stores.Unreachable(s.Store, spec.Stores, err)}
	}
	defer st.Close()
	if s.SQL != nil && s.SQL.Path() != "" {
		if _, err := expand.ContractScript(st.Engine, s.SQL); err != nil {
			return []string{err.Error()}
		}
	}
	return nil
}

// RecordStore is the store the contract's record is kept in.
func (s *Spec) RecordStore() string { return s.Store }

var _ expand.RecordKeeper = (*Spec)(nil)

// SuccessCriteria is what a person checks once the phase is done (the
// plan's and runbook's success criteria).
func (s *Spec) SuccessCriteria() []string {
	var out []string
	if len(s.DualWriteTables) > 0 {
		out = append(out, fmt.Sprintf("the dual-write triggers on %s are removed", strings.Join(s.DualWriteTables, ", ")))
	}
	return append(out, fmt.Sprintf("%s is applied to %s: the old shape is gone", s.SQL.Path(), s.Store))
}
