// Package compatdriver is the `compat` phase driver: in a validate phase it
// runs the checks of `godwit check-compat` as a gate — two schemas (each a
// schema description file or a live store, exported with
// compat.ExportSchema) and two OpenAPI documents — and fails the phase,
// before anything changes, when it finds changes as serious as failOn. Its
// result holds the reports' summaries, the reports themselves (bounded)
// and the migration's plan (plan.FromSpec).
package compatdriver

import (
	"fmt"
	"strings"

	"github.com/godwit/godwit/compat"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/drivers/stores"
	"github.com/godwit/godwit/migration"
	"github.com/godwit/godwit/plan"
)

// Key is the section key of the driver in a phase.
const Key = "compat"

func init() { config.RegisterDriver(Key, func() config.DriverSpec { return &Spec{} }) }

// FailOn values.
const (
	// FailOnBreaking fails the gate on breaking changes (the default).
	FailOnBreaking = "breaking"
	// FailOnWarning fails it on potentially breaking changes too.
	FailOnWarning = "warning"
)

// maxPlanBytes bounds the plan carried in the section (it travels in the
// workflow's history with the spec).
const maxPlanBytes = 4 << 10

// Spec is a phase's `compat:` section.
type Spec struct {
	// Before and After are the two schemas compared; both or neither.
	Before *Source `yaml:"before" json:"before,omitempty"`
	After  *Source `yaml:"after" json:"after,omitempty"`
	// OpenAPI compares two OpenAPI 3 documents.
	OpenAPI *OpenAPI `yaml:"openapi" json:"openapi,omitempty"`
	// FailOn is breaking (default) or warning (potentially breaking too).
	FailOn string `yaml:"failOn" json:"failOn,omitempty"`
	// NoRenames reports renamed columns and tables as a drop and an add.
	NoRenames bool `yaml:"noRenames" json:"noRenames,omitempty"`
	// Stores holds the specs (engine and DSN reference, never a DSN) of
	// the stores the sources name, copied from the spec's stores: when the
	// spec is checked, since the activity sees only its phase.
	Stores map[string]config.StoreSpec `yaml:"-" json:"stores,omitempty"`
	// Plan is the migration's plan as a table (plan.FromSpec, bounded),
	// made when the spec is checked: the phase reports it.
	Plan string `yaml:"-" json:"plan,omitempty"`
}

// Source is one schema: a schema description file on the worker, or a
// store of the spec whose live schema is exported.
type Source struct {
	File  string `yaml:"file" json:"file,omitempty"`
	Store string `yaml:"store" json:"store,omitempty"`
	// Tables limits a store's export to these tables (names or globs).
	Tables []string `yaml:"tables" json:"tables,omitempty"`
}

// String names the source in reports: the file, or store:NAME.
func (s Source) String() string {
	if s.Store != "" {
		return "store:" + s.Store
	}
	return s.File
}

// OpenAPI names two OpenAPI 3 documents on the worker.
type OpenAPI struct {
	Before string `yaml:"before" json:"before"`
	After  string `yaml:"after" json:"after"`
}

// Threshold is the least serious severity that fails the gate.
func (s *Spec) Threshold() compat.Severity {
	if s.FailOn == FailOnWarning {
		return compat.PotentiallyBreaking
	}
	return compat.Breaking
}

// Check reports a section that compares nothing, half a pair, a source
// that is both or neither a file and a store, an unknown store, a bad
// failOn, and a compat section outside a validate phase. It also records
// the stores and the plan the activity will need.
func (s *Spec) Check(c *config.CheckContext) {
	if c.Phase.Phase != migration.PhaseValidate {
		c.Errorf("", "runs in a validate phase (it changes nothing and gates what follows): use phase: validate, or move the checks to one")
	}
	switch {
	case s.Before == nil && s.After == nil && s.OpenAPI == nil:
		c.Errorf("", "compares nothing: give before and after (schemas: {file: PATH} or {store: NAME}) and/or openapi: {before: v1.yaml, after: v2.yaml}")
	case s.Before == nil && s.After != nil:
		c.Errorf("before", "is required with after: the schema before the migration ({file: PATH} or {store: NAME})")
	case s.After == nil && s.Before != nil:
		c.Errorf("after", "is required with before: the schema after the migration ({file: PATH} or {store: NAME})")
	}
	var names []string
	for _, f := range []struct {
		field string
		src   *Source
	}{{"before", s.Before}, {"after", s.After}} {
		field, src := f.field, f.src
		if src == nil {
			continue
		}
		switch {
		case src.File == "" && src.Store == "":
			c.Errorf(field, "needs file (a schema description on the worker) or store (one of the spec's stores)")
		case src.File != "" && src.Store != "":
			c.Errorf(field, "sets both file and store: choose one")
		case src.Store != "":
			stores.CheckStoreRef(c, field+".store", src.Store)
			names = append(names, src.Store)
		}
		if len(src.Tables) > 0 && src.Store == "" {
			c.Errorf(field+".tables", "selects the tables of a store's export: remove it for a file")
		}
		for i, p := range src.Tables {
			if err := datastore.ValidatePattern(p); err != nil {
				c.Errorf(fmt.Sprintf("%s.tables[%d]", field, i), "%v", err)
			}
		}
	}
	if o := s.OpenAPI; o != nil {
		if o.Before == "" {
			c.Errorf("openapi.before", "is required: the OpenAPI 3 document before the migration")
		}
		if o.After == "" {
			c.Errorf("openapi.after", "is required: the OpenAPI 3 document after the migration")
		}
	}
	switch s.FailOn {
	case "", FailOnBreaking, FailOnWarning:
	default:
		c.Errorf("failOn", "%q: use breaking (fail on breaking changes) or warning (on potentially breaking ones too)", s.FailOn)
	}
	s.Stores = stores.Pick(c.Spec, names...)
	s.Plan = planText(c.Spec)
}

// HasCompensation is false: comparing changes nothing.
func (s *Spec) HasCompensation() bool { return false }

// planText is the spec's plan as a table, cut to maxPlanBytes at a line.
func planText(spec *config.Spec) string {
	t := plan.FromSpec(spec, plan.Options{}).Table()
	if len(t) <= maxPlanBytes {
		return t
	}
	t = t[:maxPlanBytes]
	if i := strings.LastIndexByte(t, '\n'); i > 0 {
		t = t[:i+1]
	}
	return t + "… (cut: godwit plan -f SPEC shows it all)\n"
}
