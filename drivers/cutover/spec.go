// Package cutover is the `cutover` phase driver: the write cut-over of a
// route of the Godwit gateway from legacy to new, with no write lost, and
// back. One action:
//
//  1. hold the route's writes at the gateway (they wait there);
//  2. wait until the writes already past the hold have finished;
//  3. drain the change capture (package cdc, set up by a replicate phase
//     with mode: setup) until the target has every change (lag 0);
//  4. set up reverse replication: a capture on new (new → legacy), so
//     every write new takes from now on is captured;
//  5. set the route's read and write weights to 100 (all on new);
//  6. release the writes: they go on to new.
//
// Steps 2 to 4 together must finish within the timeout (default 30s).
// Past it the switch is cancelled, as Vitess' SwitchTraffic does: writes
// are released to legacy, the weights are left as they were, the reverse
// capture is removed, and the phase fails with a retryable error
// (ErrTypeCatchUpTimeout).
//
// The compensation is the same move the other way (Vitess'
// ReverseTraffic): hold the writes, drain the reverse capture to legacy,
// weights back to 0/0, release, remove the reverse capture; every write
// made on new is then on legacy. A drain that does not finish within the
// timeout fails the compensation (retryable) with writes released to new.
// The replicate phase with mode: stop (decommission) ends the reverse
// replication. Until then the workflow runs it in the background, in
// bounded actions of this section with RunFor set (FollowFor), which only
// apply the reverse capture to legacy and return its lag: legacy stays
// current and a rollback's drain is short.
package cutover

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/drivers/replicate"
	"github.com/godwit/godwit/drivers/stores"
	"github.com/godwit/godwit/drivers/traffic"
	"github.com/godwit/godwit/mapping"
)

// Key is the section key of the driver in a phase.
const Key = "cutover"

func init() { config.RegisterDriver(Key, func() config.DriverSpec { return &Spec{} }) }

// Limits and defaults.
const (
	DefaultTimeout = 30 * time.Second
	// MaxTimeout bounds how long writes may be held: clients of the
	// gateway wait (or get 503) for that long.
	MaxTimeout = 10 * time.Minute
)

// Spec is a phase's `cutover:` section.
type Spec struct {
	// Gateway is the godwit-gateway whose admin API the driver calls (as in
	// the traffic section).
	Gateway traffic.Gateway `yaml:"gateway" json:"gateway"`
	// Route is the gateway route whose writes move.
	Route string `yaml:"route" json:"route"`
	// From, To and Tables name the capture, as the replicate setup phase
	// names them.
	From   string   `yaml:"from" json:"from"`
	To     string   `yaml:"to" json:"to"`
	Tables []string `yaml:"tables" json:"tables"`
	// Mapping names the mapping of the replicate setup phase (its from,
	// to and tables are the mapping's): the catch-up drains through it,
	// and reverse replication applies new's changes to legacy through its
	// inverse (mapping.Table.Inverse), so the mapping must have one
	// (docs/mapping.md).
	Mapping string `yaml:"mapping" json:"mapping,omitempty"`
	// MappingSpec is the mapping Mapping names, resolved by Check.
	MappingSpec *mapping.Spec `yaml:"-" json:"mappingSpec,omitempty"`
	// Timeout bounds the wait for writes in flight plus the catch-up: how
	// long writes are held at most before the switch (default 30s).
	Timeout config.Duration `yaml:"timeout" json:"timeout,omitempty"`
	// Stores holds the from and to stores' specs, copied from the spec's
	// stores when the spec is checked (the activity sees only its phase).
	Stores map[string]config.StoreSpec `yaml:"-" json:"stores,omitempty"`
	// RunFor, set by the workflow (never in a spec), makes the action the
	// reverse replication instead of the cut-over: it applies new's
	// changes to legacy for about that long and returns with the lag
	// (FollowFor). The gateway is not called.
	RunFor config.Duration `yaml:"-" json:"runFor,omitempty"`
}

// Check reports a missing gateway or route, unknown stores, a bad timeout,
// and a cut-over without an earlier replicate setup of the same capture
// (nothing would bring the target up to date).
func (s *Spec) Check(c *config.CheckContext) {
	// The cut-over sets up reverse replication: a mapping with no inverse
	// is refused for that first, naming its rule.
	c.RefuseNonInvertible(s.Mapping, "cutover")
	s.Gateway.Check(c, "gateway")
	if s.Route == "" {
		c.Errorf("route", "is required: the name of the gateway route whose writes move (routes[].name in the gateway's configuration)")
	}
	var ok bool
	if s.MappingSpec, ok = stores.CheckStoresOrMapping(c, s.Mapping, &s.From, &s.To, &s.Tables); !ok {
		return // the unknown mapping is the error
	}
	if s.From != "" && s.From == s.To {
		c.Errorf("to", "is the same store as from (%s)", s.From)
	}
	stores.CheckTables(c, "tables", s.Tables)
	if s.Timeout < 0 || s.Timeout.D() > MaxTimeout {
		c.Errorf("timeout", "must be between 1s and %s (default %s): writes are held that long at most", MaxTimeout, DefaultTimeout)
	}
	s.checkCapture(c)
	s.Stores = stores.Pick(c.Spec, s.From, s.To)
}

// checkCapture finds the earlier replicate setup phase of the same
// capture.
func (s *Spec) checkCapture(c *config.CheckContext) {
	if s.From == "" {
		return
	}
	for i := range c.Spec.Phases {
		p := &c.Spec.Phases[i]
		if p == c.Phase {
			break
		}
		r, ok := p.Driver.(*replicate.Spec)
		if !ok || r.From != s.From || r.Mode != replicate.ModeSetup {
			continue
		}
		if r.Mapping != s.Mapping {
			c.Errorf("mapping", "must be the replicate setup phase %s's (%q, not %q): one capture, one mapping", p.Name, r.Mapping, s.Mapping)
		} else if r.To != s.To || !sameSet(r.Tables, s.Tables) {
			c.Errorf("tables", "must be the replicate setup phase %s's (to: %s, tables: %s): one capture, one list", p.Name, r.To, strings.Join(r.Tables, ", "))
		}
		return
	}
	c.Errorf("from", "needs an earlier replicate phase with mode: setup and from: %s (before the copy): the cut-over drains that capture", s.From)
}

func sameSet(a, b []string) bool {
	x := append([]string(nil), a...)
	y := append([]string(nil), b...)
	sort.Strings(x)
	sort.Strings(y)
	return fmt.Sprint(x) == fmt.Sprint(y)
}

// ApplyDefaults fills the timeout, and makes the phase's compensation run
// even when the phase failed or was interrupted: a cut-over cut short
// after the weights moved has let writes reach new, which only the
// compensation brings back to legacy (it tolerates a switch that never
// happened: no reverse capture, weights back to 0/0).
func (s *Spec) ApplyDefaults(p *config.PhaseSpec) {
	if s.Timeout == 0 {
		s.Timeout = config.Duration(DefaultTimeout)
	}
	if p != nil {
		p.CompensatePartial = true
	}
}

// Resources are the gateway route (as the traffic driver names it) and
// the target tables.
func (s *Spec) Resources(spec *config.Spec) []string {
	return append(s.Gateway.Resources(s.Route), stores.WrittenResources(spec, s.To, s.MappingSpec, s.Tables)...)
}

// MappingName is the mapping the section names (config.MappingUser).
func (s *Spec) MappingName() string { return s.Mapping }

// TakeMapping takes the mapping's stores before the spec is checked
// (config.MappingUser).
func (s *Spec) TakeMapping(m *mapping.Spec) { stores.TakeMapping(m, &s.From, &s.To) }

// MovesData is the cut-over's flow, from to to (stores.DataMover).
func (s *Spec) MovesData() stores.Flow { return stores.Flow{From: s.From, To: s.To} }

// Replications says that the cut-over leaves the reverse capture running:
// every write on to is captured for from, until a replicate stop
// (stores.Replicator).
func (s *Spec) Replications() (started, stopped []stores.Flow) {
	return []stores.Flow{{From: s.To, To: s.From}}, nil
}

// HasCompensation: the writes made on new back to legacy, then the route.
func (s *Spec) HasCompensation() bool { return true }

// CaptureSource: the catch-up drains the capture of From, so a background
// replication of it stops before the cut-over starts.
func (s *Spec) CaptureSource() string { return s.From }

// FollowFor: once the cut-over is done, its reverse replication (new →
// legacy) runs bounded, in the background and for a gate's requireLag
// (config.LagFollower), so legacy stays current and the lag is measured.
func (s *Spec) FollowFor(d time.Duration) (config.DriverSpec, bool) {
	c := *s
	c.RunFor = config.Duration(d)
	return &c, true
}

// InBackground: the reverse replication goes on after the cut-over, across
// the following phases (config.Background).
func (s *Spec) InBackground() bool { return true }

// FollowsReverse: what goes on is the reverse replication, of the capture
// on To; a stop, a decommission or a rollback ends it (config.Reverser).
func (s *Spec) FollowsReverse() bool { return true }
