// Package replicate is the `replicate` phase driver: change data capture
// from a source store to a target store, around a backfill. One section,
// three modes, each a phase of its own:
//
//   - setup, before the copy: creates the capture (a PostgreSQL slot and
//     publication, or change triggers and changelog tables); its
//     compensation removes them.
//   - catchUp (the default), after the copy: applies the changes captured
//     since setup to the target, and completes once the lag has stayed
//     under maxLag for holdFor — "caught up" — so that the next phase (a
//     traffic switch) runs against a target that is seconds behind.
//   - stop, later: drains what is left (until the lag is zero) and removes
//     the capture; the point of no return for replication.
//
// The work is package cdc's; this package reads the section, connects,
// checks, heartbeats the position and the lag, and classifies errors.
package replicate

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/godwit/godwit/cdc"
	"github.com/godwit/godwit/config"
	copydriver "github.com/godwit/godwit/drivers/copy"
	"github.com/godwit/godwit/drivers/stores"
	"github.com/godwit/godwit/mapping"
)

// Key is the section key of the driver in a phase.
const Key = "replicate"

func init() { config.RegisterDriver(Key, func() config.DriverSpec { return &Spec{} }) }

// The modes.
const (
	ModeSetup   = "setup"
	ModeCatchUp = "catchUp"
	ModeStop    = "stop"
)

// Defaults.
const (
	DefaultMaxLag  = 5 * time.Second
	DefaultHoldFor = 5 * time.Second
	MaxBatch       = 50_000
)

// Spec is a phase's `replicate:` section.
type Spec struct {
	// From is the store whose changes are captured; To the store they are
	// applied to (its tables exist: provision them).
	From string `yaml:"from" json:"from"`
	To   string `yaml:"to" json:"to"`
	// Tables are table names or glob patterns, resolved on From; the same
	// list in every replicate phase of a capture.
	Tables []string `yaml:"tables" json:"tables"`
	// Mapping names a mapping of the spec (docs/mapping.md): its from, to
	// and tables are the capture's, and each change reaches the target
	// through it (by either method: each changed key is read back from
	// the source through the mapping).
	Mapping string `yaml:"mapping" json:"mapping,omitempty"`
	// MappingSpec is the mapping Mapping names, resolved by Check.
	MappingSpec *mapping.Spec `yaml:"-" json:"mappingSpec,omitempty"`
	// Mode is setup, catchUp (default) or stop.
	Mode string `yaml:"mode" json:"mode,omitempty"`
	// Method (setup only) is auto (default: logical replication on a
	// PostgreSQL with wal_level=logical, triggers otherwise), logical or
	// triggers.
	Method string `yaml:"method" json:"method,omitempty"`
	// MaxLag is the lag under which the target counts as caught up
	// (default 5s).
	MaxLag config.Duration `yaml:"maxLag" json:"maxLag,omitempty"`
	// HoldFor is how long the lag must stay under MaxLag (default 5s).
	HoldFor config.Duration `yaml:"holdFor" json:"holdFor,omitempty"`
	// BatchChanges bounds the changes per target transaction (default
	// cdc.DefaultBatchChanges).
	BatchChanges int `yaml:"batchChanges" json:"batchChanges,omitempty"`
	// Background (catchUp only) keeps the replication running once the
	// phase is done, across the following phases, until a phase that
	// uses the capture (a cut-over, a stop) starts, or the run ends.
	Background bool `yaml:"background" json:"background,omitempty"`
	// RunFor, set by the workflow (never in a spec), bounds a catchUp: it
	// applies changes for about that long and returns with the lag, caught
	// up or not (the loop that keeps a gate's lag fresh).
	RunFor config.Duration `yaml:"-" json:"runFor,omitempty"`
	// Stores holds the from and to stores' specs, copied from the spec's
	// stores: when the spec is checked (the activity sees only its phase).
	Stores map[string]config.StoreSpec `yaml:"-" json:"stores,omitempty"`
}

func (s *Spec) mode() string {
	if s.Mode == "" {
		return ModeCatchUp
	}
	return s.Mode
}

// Check reports unknown stores, bad patterns and modes, and phases out of
// order: catchUp and stop need an earlier setup of the same capture, and a
// setup must come before any copy between the same stores.
func (s *Spec) Check(c *config.CheckContext) {
	var ok bool
	if s.MappingSpec, ok = stores.CheckStoresOrMapping(c, s.Mapping, &s.From, &s.To, &s.Tables); !ok {
		return // the unknown mapping is the error
	}
	if s.From != "" && s.From == s.To {
		c.Errorf("to", "is the same store as from (%s): replicate applies changes to another store", s.From)
	}
	stores.CheckTables(c, "tables", s.Tables)
	switch s.Mode {
	case "", ModeSetup, ModeCatchUp, ModeStop:
	default:
		c.Errorf("mode", "%q is not a mode: use setup (before the copy), catchUp (after it; the default) or stop", s.Mode)
	}
	if _, err := cdc.ParseMethod(s.Method); err != nil {
		c.Errorf("method", "%q is not a method: use auto, logical (PostgreSQL) or triggers", s.Method)
	} else if s.Method != "" && s.mode() != ModeSetup {
		c.Errorf("method", "is chosen by the setup phase; leave it out of a %s phase", s.mode())
	}
	if s.MaxLag < 0 {
		c.Errorf("maxLag", "must not be negative (default %s)", DefaultMaxLag)
	}
	if m, floor := s.lagFloor(c); s.MaxLag > 0 && s.MaxLag.D() < floor {
		c.Errorf("maxLag", "%s is under what the %s method can measure (%s): the lag would never be judged under it; use at least %s", s.MaxLag, m, floor, floor)
	}
	if s.HoldFor < 0 {
		c.Errorf("holdFor", "must not be negative (default %s)", DefaultHoldFor)
	}
	if s.Background && s.mode() != ModeCatchUp {
		c.Errorf("background", "applies to a catchUp, which keeps replicating after it caught up; leave it out of a %s phase", s.mode())
	}
	if s.BatchChanges < 1 || s.BatchChanges > MaxBatch {
		c.Errorf("batchChanges", "must be between 1 and %d, not %d", MaxBatch, s.BatchChanges)
	}
	s.checkOrder(c)
	s.Stores = stores.Pick(c.Spec, s.From, s.To)
}

// lagFloor names the capture's method, as its setup phase chooses it,
// and the smallest maxLag it can judge (cdc.LagFloor). Auto is logical on
// a PostgreSQL source (it may be chosen there), triggers elsewhere.
func (s *Spec) lagFloor(c *config.CheckContext) (string, time.Duration) {
	method := s.Method
	if s.mode() != ModeSetup {
		for i := range c.Spec.Phases {
			if o, ok := c.Spec.Phases[i].Driver.(*Spec); ok && o.From == s.From && o.mode() == ModeSetup {
				method = o.Method
				break
			}
		}
	}
	m, err := cdc.ParseMethod(method)
	if err != nil {
		m = cdc.MethodAuto
	}
	if m == cdc.MethodAuto {
		if st, ok := c.Spec.Stores[s.From]; ok && st.Engine != "postgres" {
			m = cdc.MethodTriggers
		} else {
			return "auto (logical on PostgreSQL)", cdc.LagFloor(cdc.MethodLogical)
		}
	}
	return string(m), cdc.LagFloor(m)
}

// checkOrder looks at the other phases of the spec.
func (s *Spec) checkOrder(c *config.CheckContext) {
	switch s.mode() {
	case ModeSetup, ModeCatchUp, ModeStop:
	default:
		return // the mode's own error says it
	}
	var setup *Spec
	before := true
	for i := range c.Spec.Phases {
		p := &c.Spec.Phases[i]
		if p == c.Phase {
			before = false
			continue
		}
		other, ok := p.Driver.(*Spec)
		if !ok {
			if cp, ok := p.Driver.(*copydriver.Spec); ok && before && s.mode() == ModeSetup {
				if cp.From == s.From && cp.To == s.To {
					c.Errorf("mode", "setup must come before the copy phase %s: changes made during the copy are captured only once setup has run", p.Name)
				}
			}
			continue
		}
		if other.From != s.From || other.mode() != ModeSetup {
			continue
		}
		if s.mode() == ModeSetup {
			if before {
				c.Errorf("from", "phase %s already sets up a capture of %s: one setup per source store", p.Name, s.From)
			}
			continue
		}
		if before {
			setup = other
		}
	}
	if s.mode() == ModeSetup {
		s.warnNoStop(c)
		return
	}
	if setup == nil {
		c.Errorf("mode", "%s needs an earlier replicate phase with mode: setup and from: %s (before the copy), which creates the capture", s.mode(), s.From)
		return
	}
	if setup.Mapping != s.Mapping {
		c.Errorf("mapping", "must be the setup phase's (%q, not %q): one capture, one mapping", setup.Mapping, s.Mapping)
		return
	}
	if setup.To != s.To || !sameSet(setup.Tables, s.Tables) {
		c.Errorf("tables", "must be the setup phase's (to: %s, tables: %s): one capture, one list", setup.To, strings.Join(setup.Tables, ", "))
	}
}

// warnNoStop warns about a setup that no later phase stops: the run
// completes with the capture still on the source (triggers recording
// every write, or a slot holding WAL back) until someone removes it. A
// later run of the migration may stop it, so it is a warning; a trial
// found 55 triggers left on legacy after a run that had COMPLETED.
func (s *Spec) warnNoStop(c *config.CheckContext) {
	for _, p := range c.PhasesAfter() {
		if other, ok := p.Driver.(*Spec); ok && other.From == s.From && other.mode() == ModeStop {
			return
		}
	}
	c.Warnf("mode", "sets up a change capture on %s that no later phase stops: when the run completes, the capture stays there "+
		"(its triggers record every write, or its replication slot holds WAL back) until godwit cleanup %s removes it; "+
		"add a last phase replicate: {from: %s, to: %s, tables: [...], mode: stop} (after the writes move, behind a gate: docs/cdc.md)",
		s.From, c.Spec.Name, s.From, s.To)
}

func sameSet(a, b []string) bool {
	x := append([]string(nil), a...)
	y := append([]string(nil), b...)
	sort.Strings(x)
	sort.Strings(y)
	return fmt.Sprint(x) == fmt.Sprint(y)
}

// ApplyDefaults fills the mode, the lag limit and the hold.
func (s *Spec) ApplyDefaults(*config.PhaseSpec) {
	if s.Mode == "" {
		s.Mode = ModeCatchUp
	}
	if s.MaxLag == 0 {
		s.MaxLag = config.Duration(DefaultMaxLag)
	}
	if s.HoldFor == 0 && s.Mode == ModeCatchUp {
		s.HoldFor = config.Duration(DefaultHoldFor)
	}
	if s.BatchChanges == 0 {
		s.BatchChanges = cdc.DefaultBatchChanges
	}
}

// Resources are the target tables (a mapping's: by their target names):
// two migrations must not write the same tables.
func (s *Spec) Resources(spec *config.Spec) []string {
	return stores.WrittenResources(spec, s.To, s.MappingSpec, s.Tables)
}

// Pausable: catchUp and stop stop at their next batch and resume from the
// checkpoint; setup is short.
func (s *Spec) Pausable() bool { return s.mode() != ModeSetup }

// MovesData is the replication's flow, from to to; none for a stop
// (stores.DataMover).
func (s *Spec) MovesData() stores.Flow {
	if s.mode() == ModeStop {
		return stores.Flow{}
	}
	return stores.Flow{From: s.From, To: s.To}
}

// Replications says that a setup or a catch-up leaves the capture of
// from's changes for to in place, and that a stop ends it and the reverse
// capture a cut-over started (stores.Replicator).
func (s *Spec) Replications() (started, stopped []stores.Flow) {
	f := stores.Flow{From: s.From, To: s.To}
	if s.mode() == ModeStop {
		return nil, []stores.Flow{f, {From: s.To, To: s.From}}
	}
	return []stores.Flow{f}, nil
}

// HasCompensation: setup's removes the capture. Undoing catchUp would mean
// undoing changes on the target: the copy's compensation empties it; stop
// cannot be undone (the capture is gone).
func (s *Spec) HasCompensation() bool { return s.mode() == ModeSetup }

// FollowFor: a catchUp can run bounded, for the lag a gate requires.
func (s *Spec) FollowFor(d time.Duration) (config.DriverSpec, bool) {
	if s.mode() != ModeCatchUp {
		return nil, false
	}
	c := *s
	c.RunFor = config.Duration(d)
	return &c, true
}

// MappingName is the mapping the section names (config.MappingUser).
func (s *Spec) MappingName() string { return s.Mapping }

// TakeMapping takes the mapping's stores before the spec is checked
// (config.MappingUser).
func (s *Spec) TakeMapping(m *mapping.Spec) { stores.TakeMapping(m, &s.From, &s.To) }

// CaptureSource: every replicate phase uses the capture of From.
func (s *Spec) CaptureSource() string { return s.From }

// InBackground: a catchUp with background: true goes on after its phase.
func (s *Spec) InBackground() bool { return s.Background && s.mode() == ModeCatchUp }

// SuccessCriteria is what a person checks once the phase is done (the
// plan's and runbook's success criteria), by mode.
func (s *Spec) SuccessCriteria() []string {
	tables := strings.Join(s.Tables, ", ")
	if len(s.Tables) == 0 {
		tables = "the tables of mapping " + s.Mapping
	}
	switch s.mode() {
	case ModeSetup:
		return []string{fmt.Sprintf("change capture of %s is set up on %s: every change to them from here on is kept for %s", tables, s.From, s.To)}
	case ModeStop:
		return []string{fmt.Sprintf("every captured change of %s is applied to %s", tables, s.To),
			fmt.Sprintf("the capture is gone from %s: no replication slot, publication, changelog table or capture trigger of this migration is left", s.From)}
	}
	maxLag, holdFor := s.MaxLag.D(), s.HoldFor.D()
	if maxLag <= 0 {
		maxLag = DefaultMaxLag
	}
	if holdFor <= 0 {
		holdFor = DefaultHoldFor
	}
	return []string{fmt.Sprintf("%s is caught up with %s on %s: the replication lag stays under %s for %s", s.To, s.From, tables, maxLag, holdFor)}
}
