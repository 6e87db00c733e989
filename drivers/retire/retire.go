// Package retire is the `retire` phase driver, for decommission phases: it
// takes a store's tables out of service — renamed out of the way (the
// default; a person can rename them back), dropped, or kept — and its
// summary names what it did. A rename's compensation renames the tables
// back; a drop has none (it is the point of no return), nor has keep.
// With `mapping: NAME` it retires the tables the mapping carries, in the
// store the mapping reads from (docs/mapping.md). The work is
// datastore.Retire's.
package retire

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/drivers/stores"
	"github.com/godwit/godwit/glob"
	"github.com/godwit/godwit/mapping"
)

// Key is the section key of the driver in a phase.
const Key = "retire"

func init() { config.RegisterDriver(Key, func() config.DriverSpec { return &Spec{} }) }

// Spec is a phase's `retire:` section.
type Spec struct {
	// Store is the store whose tables are retired (the legacy one); with a
	// mapping, the mapping's from.
	Store string `yaml:"store" json:"store"`
	// Tables are table names or glob patterns; with a mapping, its source
	// tables (patterns included), matched against the live schema as the
	// copy matches them.
	Tables []string `yaml:"tables" json:"tables"`
	// Mapping names a mapping of the spec whose source tables are retired.
	Mapping string `yaml:"mapping" json:"mapping,omitempty"`
	// Mode is rename (default), drop or keep.
	Mode string `yaml:"mode" json:"mode,omitempty"`
	// RenameTo is the new name for mode rename, holding {table}
	// (default "{table}_retired").
	RenameTo string `yaml:"renameTo" json:"renameTo,omitempty"`
	// Stores holds the store's spec, copied from the spec's stores: when
	// the spec is checked (the activity sees only its phase).
	Stores map[string]config.StoreSpec `yaml:"-" json:"stores,omitempty"`
}

// Check reports an unknown store or mapping, bad patterns, an unknown mode
// and a rename pattern without {table}.
func (s *Spec) Check(c *config.CheckContext) {
	if s.Mapping != "" {
		if !s.useMapping(c) {
			return
		}
	} else {
		stores.CheckStoreRef(c, "store", s.Store)
	}
	stores.CheckTables(c, "tables", s.Tables)
	switch datastore.RetireMode(s.Mode) {
	case "", datastore.RetireRename, datastore.RetireDrop, datastore.RetireKeep:
	default:
		c.Errorf("mode", "%q is not a choice: use rename (default: out of the way, can be renamed back), drop or keep", s.Mode)
	}
	if s.RenameTo != "" {
		switch {
		case datastore.RetireMode(s.Mode) == datastore.RetireDrop || datastore.RetireMode(s.Mode) == datastore.RetireKeep:
			c.Errorf("renameTo", "is for mode rename only, not %s", s.Mode)
		case !strings.Contains(s.RenameTo, "{table}") || s.RenameTo == "{table}":
			c.Errorf("renameTo", "must hold {table} and more, e.g. \"{table}_retired\" or \"old_{table}\"")
		}
	}
	s.Stores = stores.Pick(c.Spec, s.Store)
}

// useMapping takes the store and tables from the mapping the section
// names: the mapping's source store and its source tables (the mapping's
// stores are checked at the mapping). False when the spec has no such
// mapping (reported).
func (s *Spec) useMapping(c *config.CheckContext) bool {
	m := c.Mapping(s.Mapping)
	if m == nil {
		return false
	}
	if s.Store != "" && s.Store != m.From {
		c.Errorf("store", "is %s but mapping %s reads from %s: leave store out (the mapping names the store whose tables are retired)", s.Store, s.Mapping, m.From)
	}
	s.Store = m.From
	var to string
	stores.UseMapping(c, s.Mapping, &s.Store, &to, &s.Tables)
	return true
}

// MappingName is the mapping the section names (config.MappingUser).
func (s *Spec) MappingName() string { return s.Mapping }

// TakeMapping takes the mapping's source store before the spec is checked
// (config.MappingUser).
func (s *Spec) TakeMapping(m *mapping.Spec) {
	if s.Store == "" {
		s.Store = m.From
	}
}

// ApplyDefaults sets the mode to rename.
func (s *Spec) ApplyDefaults(*config.PhaseSpec) {
	if s.Mode == "" {
		s.Mode = string(datastore.RetireRename)
	}
}

// Resources are the retired tables.
func (s *Spec) Resources(spec *config.Spec) []string {
	return stores.Resources(spec, s.Store, s.Tables)
}

// HasCompensation is true only for rename: the tables are renamed back.
func (s *Spec) HasCompensation() bool { return datastore.RetireMode(s.Mode) == datastore.RetireRename }

func (s *Spec) options() datastore.RetireOptions {
	return datastore.RetireOptions{Tables: s.Tables, Mode: datastore.RetireMode(s.Mode), RenameTo: s.RenameTo}
}

// Driver runs retire phases.
type Driver struct {
	activities.Driver
	Logger hclog.Logger
}

// New returns the retire driver.
func New(logger hclog.Logger) *Driver {
	d := &Driver{Logger: logger.Named(Key)}
	d.Driver = activities.Adapt(logger, activities.Phase[*Spec]{Key: Key, Run: d.do, Compensate: d.do, Preflight: d.preflight,
		Ready: func(s *Spec) bool { return s.Stores != nil }, Errors: stores.Errors})
	return d
}

// do retires the tables (run) or renames them back (compensate). Both can
// be repeated: a retry finds what an earlier attempt did.
func (d *Driver) do(ctx context.Context, c *activities.Call[*Spec]) (activities.PhaseResult, error) {
	s, action, log := c.Spec, c.Action, c.Log
	st, err := stores.Open(ctx, s.Stores, s.Store)
	if err != nil {
		return activities.PhaseResult{}, fmt.Errorf("retire: %w", err)
	}
	defer st.Close()
	if action == activities.ActionCompensate {
		back, err := datastore.Unretire(ctx, st, s.options())
		if err != nil {
			return activities.PhaseResult{}, fmt.Errorf("retire: rename back: %w", err)
		}
		log.Info("renamed retired tables back", "tables", back)
		if len(back) == 0 {
			return activities.PhaseResult{Summary: "no retired table to rename back in " + s.Store}, nil
		}
		return activities.PhaseResult{Records: int64(len(back)), Summary: fmt.Sprintf("renamed %s back in %s", strings.Join(back, ", "), s.Store)}, nil
	}
	res, err := datastore.Retire(ctx, st, s.options())
	if err != nil {
		return activities.PhaseResult{}, fmt.Errorf("retire in %s: %w", s.Store, err)
	}
	log.Info("retired tables", "mode", res.Mode, "done", res.Done, "already", res.Already)
	return activities.PhaseResult{Records: int64(len(res.Done) + len(res.Already)), Summary: Summary(s.Store, res)}, nil
}

// Summary says what a retire did, naming every table: "renamed orders to
// orders_retired in legacy", "dropped orders in legacy", "kept orders in
// legacy as they are".
func Summary(store string, res datastore.RetireResult) string {
	names := make([]string, 0, len(res.Done))
	for n := range res.Done {
		names = append(names, n)
	}
	sort.Strings(names)
	var parts []string
	if len(names) > 0 {
		switch res.Mode {
		case datastore.RetireRename:
			var pairs []string
			for _, n := range names {
				pairs = append(pairs, n+" to "+res.Done[n])
			}
			parts = append(parts, fmt.Sprintf("renamed %s in %s (rename them back to undo)", strings.Join(pairs, ", "), store))
		case datastore.RetireDrop:
			parts = append(parts, fmt.Sprintf("dropped %s in %s", strings.Join(names, ", "), store))
		case datastore.RetireKeep:
			parts = append(parts, fmt.Sprintf("kept %s in %s as they are (mode: keep)", strings.Join(names, ", "), store))
		}
	}
	if len(res.Already) > 0 {
		verb := "renamed"
		if res.Mode == datastore.RetireDrop {
			verb = "dropped"
		}
		parts = append(parts, fmt.Sprintf("%s already %s by an earlier attempt", strings.Join(res.Already, ", "), verb))
	}
	if len(parts) == 0 {
		return "nothing to retire in " + store
	}
	return strings.Join(parts, "; ")
}

// preflight checks, changing nothing, that the store answers and every
// pattern matches a table (or one retired earlier).
func (d *Driver) preflight(ctx context.Context, spec *config.Spec, phase config.PhaseSpec, s *Spec) []string {
	plan := stores.Before(spec, phase.Name)
	st, err := stores.OpenReadOnly(ctx, spec.Stores, s.Store)
	if err != nil {
		if errors.Is(err, datastore.ErrNoDatabase) && plan.Database(s.Store) {
			return nil
		}
		return []string{stores.Unreachable(s.Store, spec.Stores, err)}
	}
	defer st.Close()
	all, err := st.ListTables(ctx)
	if err != nil {
		return []string{stores.Problem(s.Store, err)}
	}
	var problems []string
	for _, p := range s.Tables {
		// A table an earlier phase creates (a provision) will be there.
		found := plan.Table(s.Store, p)
		for _, n := range all {
			if ok, _ := glob.Match(p, n); ok {
				found = true
				break
			}
			// A table an earlier attempt renamed counts too.
			if orig, ok := datastore.RetiredOriginal(s.RenameTo, n); ok && s.Mode != string(datastore.RetireDrop) {
				if m, _ := glob.Match(p, orig); m {
					found = true
					break
				}
			}
		}
		if !found {
			problems = append(problems, fmt.Sprintf("store %s: no table matches %q to retire", s.Store, p))
		}
	}
	return problems
}
