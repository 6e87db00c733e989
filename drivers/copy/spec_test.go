package copy_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/config"
	copydriver "github.com/godwit/godwit/drivers/copy"
	"github.com/godwit/godwit/drivers/provision"
)

const storesYAML = `name: data
stores:
  legacy: {engine: sqlite, dsn: {fromEnv: LEGACY_DSN}}
  new: {engine: postgres, dsn: {fromFile: /run/secrets/new}}
phases:
`

func TestSpecChecks(t *testing.T) {
	tests := []struct {
		name   string
		phases string
		want   []string // substrings of the error; none: valid
	}{
		{"provision then copy is valid", `
  - phase: provision
    provision: {from: legacy, to: new, tables: [customers, "orders_*"], deferIndexes: true}
  - phase: copy
    copy: {from: legacy, to: new, tables: [customers, "orders_*"], batchRows: 1000, concurrency: 2, rowsPerSecond: 5000,
           catchUp: {column: updated_at, overlap: 30s}, createIndexes: true}
`, nil},
		{"unknown store names the spec's stores", `
  - phase: copy
    copy: {from: legacy, to: nwe, tables: [t]}
`, []string{`phases[0].copy.to: "nwe" is not one of the spec's stores (did you mean "new"?) (the spec has legacy, new)`}},
		{"missing stores and tables are required", `
  - phase: provision
    provision: {}
`, []string{"phases[0].provision.from: is required", "phases[0].provision.to: is required", "phases[0].provision.tables: is required"}},
		{"bad table patterns are refused with their index", `
  - phase: copy
    copy: {from: legacy, to: new, tables: [ok, "orders_%", "public.users", "bad["]}
`, []string{"tables[1]: bad table pattern", "tables[2]: bad table pattern", "tables[3]: bad table pattern"}},
		{"impossible numbers are refused", `
  - phase: copy
    copy: {from: legacy, to: new, tables: [t], batchRows: -1, concurrency: 1000, rowsPerSecond: -5, catchUp: {overlap: -1s}}
`, []string{"batchRows: must be between 1 and 100000", "concurrency: must be between 1 and 32", "rowsPerSecond: must not be negative",
			"catchUp.column: is required", "catchUp.overlap: must not be negative"}},
		{"from and to must differ", `
  - phase: copy
    copy: {from: legacy, to: legacy, tables: [t]}
`, []string{"copy.to: is the same store as from"}},
		{"unknown onRollback choice", `
  - phase: copy
    copy: {from: legacy, to: new, tables: [t], onRollback: truncate}
`, []string{`onRollback: "truncate" is not a choice`}},
		{"deferred indexes need a copy that creates them", `
  - phase: provision
    provision: {from: legacy, to: new, tables: [t], deferIndexes: true}
  - phase: copy
    copy: {from: legacy, to: new, tables: [t]}
`, []string{"provision.deferIndexes: leaves the secondary indexes to a later copy phase"}},
		{"type overrides are keyed table.column", `
  - phase: provision
    provision: {from: legacy, to: new, tables: [t], typeOverrides: {every: "VARCHAR(64)", "jobs.x": ""}}
`, []string{"typeOverrides.every: must be keyed table.column", "typeOverrides.jobs.x: needs the column's type"}},
		{"key ranges with concurrency or fanOut are valid", `
  - phase: copy
    copy: {from: legacy, to: new, tables: [a], splitRows: 1000000, concurrency: 4}
  - phase: copy
    name: copy2
    copy: {from: legacy, to: new, tables: [b], splitRows: 500000, fanOut: 8}
`, nil},
		{"key ranges need parallelism and a sensible size", `
  - phase: copy
    copy: {from: legacy, to: new, tables: [a], splitRows: 1000000}
  - phase: copy
    name: copy2
    copy: {from: legacy, to: new, tables: [b], splitRows: 500, fanOut: 2}
  - phase: copy
    name: copy3
    copy: {from: legacy, to: new, tables: [c], splitRows: 20000, batchRows: 50000, concurrency: 2}
`, []string{"phases[0].copy.splitRows: needs concurrency above 1 or fanOut",
			"phases[1].copy.splitRows: must be at least 10000 rows per key range",
			"phases[2].copy.splitRows: is 20000 rows per key range, less than one batch (batchRows: 50000)"}},
		{"splitStreams needs splitRows and a count within fanOut's bound", `
  - phase: copy
    copy: {from: legacy, to: new, tables: [a], splitStreams: 4, concurrency: 4}
  - phase: copy
    name: copy2
    copy: {from: legacy, to: new, tables: [b], splitRows: 500000, splitStreams: -1, fanOut: 8}
  - phase: copy
    name: copy3
    copy: {from: legacy, to: new, tables: [c], splitRows: 500000, splitStreams: 4, fanOut: 8}
`, []string{"phases[0].copy.splitStreams: applies to key ranges: set splitRows too",
			"phases[1].copy.splitStreams: must be between 1 and 256"}},
		{"a throttle probe is valid", `
  - phase: copy
    copy: {from: legacy, to: new, tables: [t], throttle: {probe: {name: replication_lag, store: legacy, query: "SELECT 1", max: 0, every: 2s, attempts: 5}}}
`, nil},
		{"a throttle probe needs a known store, a query and a max", `
  - phase: copy
    copy: {from: legacy, to: new, tables: [t], throttle: {probe: {store: replica, query: " "}}}
`, []string{`copy.throttle.probe.store: "replica" is not one of the spec's stores (the spec has legacy, new)`,
			"copy.throttle.probe.query: is required: a query returning one number",
			"copy.throttle.probe.max: is required: the highest value at which the copy goes on writing"}},
		{"a throttle probe's interval and attempts must be possible", `
  - phase: copy
    copy: {from: legacy, to: new, tables: [t], throttle: {probe: {name: "lag now", store: legacy, query: "SELECT 1", max: 5, every: 1ms, attempts: 100}}}
`, []string{"copy.throttle.probe.every: must be between 100ms and 10m0s (default 1s), not 1ms",
			"copy.throttle.probe.attempts: must be between 1 and 20 (default 3), not 100",
			`copy.throttle.probe.name: "lag now" must be a short word`}},
		{"a throttle without a probe is refused", `
  - phase: copy
    copy: {from: legacy, to: new, tables: [t], throttle: {}}
`, []string{"copy.throttle.probe: is required in throttle: {probe: {store, query, max}}"}},
		{"a throttle probe's unknown fields are refused", `
  - phase: copy
    copy: {from: legacy, to: new, tables: [t], throttle: {probe: {store: legacy, query: "SELECT 1", max: 5, maximum: 3}}}
`, []string{"copy.throttle.probe.maximum: unknown field"}},
		{"a batchRows or concurrency written as 0 is refused with its range, not made the default", `
  - phase: copy
    copy: {from: legacy, to: new, tables: [t], batchRows: 0, concurrency: 0}
`, []string{"phases[0].copy.batchRows: must be between 1 and 100000 (rows per read and per target transaction), not 0 (a 0 written in the spec is not taken as the default",
			"phases[0].copy.concurrency: must be between 1 and 32 (tables copied at once), not 0"}},
		{"rowsPerSecond: 0 means no limit and stays", `
  - phase: copy
    copy: {from: legacy, to: new, tables: [t], rowsPerSecond: 0, fanOut: 0}
`, nil},
		{"unknown fields are refused", `
  - phase: copy
    copy: {from: legacy, to: new, tables: [t], batchrows: 5}
`, []string{"phases[0].copy.batchrows: unknown field"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.ParseSpec([]byte(storesYAML + strings.TrimPrefix(tt.phases, "\n")))
			if len(tt.want) == 0 {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, withoutLines(err), w)
			}
		})
	}
}

func TestSpecDefaultsResourcesAndStores(t *testing.T) {
	spec, err := config.ParseSpec([]byte(storesYAML + `
  - phase: provision
    provision: {from: legacy, to: new, tables: [customers, "orders_*"]}
  - phase: copy
    copy: {from: legacy, to: new, tables: [customers, "orders_*"]}
`))
	require.NoError(t, err)
	c := spec.Phases[1].Driver.(*copydriver.Spec)
	assert.Equal(t, 5000, c.BatchRows)
	assert.Equal(t, 1, c.Concurrency)
	assert.Equal(t, copydriver.OnRollbackEmpty, c.OnRollback)
	assert.True(t, c.Pausable())
	assert.Equal(t, []string{"store:file:/run/secrets/new/customers", "store:file:/run/secrets/new/orders_*"}, spec.AllResources(),
		"provision and copy claim the same target tables, once")
	// The activity sees only its phase: the section carries its stores'
	// references (never a DSN), through the workflow's JSON.
	assert.Equal(t, map[string]config.StoreSpec{
		"legacy": {Engine: "sqlite", DSN: config.SecretRef{FromEnv: "LEGACY_DSN"}},
		"new":    {Engine: "postgres", DSN: config.SecretRef{FromFile: "/run/secrets/new"}},
	}, c.Stores)
	p := spec.Phases[0].Driver.(*provision.Spec)
	assert.True(t, p.Provides("new", "orders_2024"))
	assert.False(t, p.Provides("legacy", "orders_2024"))
	assert.False(t, p.Provides("new", "users"))
}

func TestInlineDSNIsRefused(t *testing.T) {
	_, err := config.ParseSpec([]byte(`name: data
stores:
  legacy: {engine: sqlite, dsn: "postgres://u:hunter2@host/db"}
phases:
  - phase: copy
    copy: {from: legacy, to: legacy, tables: [t]}
`))
	require.Error(t, err)
	assert.Contains(t, withoutLines(err), "stores.legacy.dsn: must not be written in the spec")
	assert.NotContains(t, err.Error(), "hunter2")
}

// withoutLines drops the " (line N)" after each path of a spec error.
func withoutLines(err error) string {
	return regexp.MustCompile(` \(line \d+\)`).ReplaceAllString(err.Error(), "")
}

// TestAFannedOutCopyPlansItsForeignKeysAfterItsUnits: the plan of a copy
// with fanOut has a step after its units (the foreign keys), and
// provision leaves the keys to it; a plain copy makes them in its one
// activity, and a target whose DDL came from a file gets none.
func TestAFannedOutCopyPlansItsForeignKeysAfterItsUnits(t *testing.T) {
	tests := []struct {
		name      string
		ddl, copy string
		finish    bool
	}{
		{"fanOut", "", ", fanOut: 2", true},
		{"plain", "", "", false},
		{"fanOut onto a DDL file's tables", ", ddl: {fromFile: shop.sql}", ", fanOut: 2", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec, err := config.ParseSpec([]byte(storesYAML + `
  - phase: provision
    provision: {from: legacy, to: new, tables: [customers, orders]` + tc.ddl + `}
  - phase: copy
    copy: {from: legacy, to: new, tables: [customers, orders]` + tc.copy + `}
`))
			require.NoError(t, err)
			plan := config.PlanSpec(spec)
			assert.Equal(t, tc.finish, plan.Phases[1].FinishUnits)
			p := spec.Phases[0].Driver.(*provision.Spec)
			assert.False(t, p.ForeignKeysNow, "the copy makes them")
			assert.Empty(t, p.ForeignKeysLeft, "no reason to leave them off")
		})
	}
}
