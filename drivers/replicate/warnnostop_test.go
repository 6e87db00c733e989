package replicate_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/config"
)

// A setup no later phase stops is valid (a later run of the migration may
// stop it) but leaves the capture on the source once the run completes: a
// trial's run COMPLETED with 55 triggers on legacy, and nothing had said
// so. The spec now loads with a warning naming the field and the phase to
// add; with a stop phase, none.
func TestASetupThatNoPhaseStopsLoadsWithAWarning(t *testing.T) {
	setup := `  - phase: provision
    name: capture
    replicate: {from: legacy, to: new, tables: [orders], mode: setup}
  - phase: copy
    copy: {from: legacy, to: new, tables: [orders]}
  - phase: reconcile
    replicate: {from: legacy, to: new, tables: [orders]}
`
	spec, err := config.ParseSpec([]byte(storesYAML + setup))
	require.NoError(t, err)
	require.Len(t, spec.Warnings(), 1)
	assert.Equal(t, "phases[0].replicate.mode (line 8): sets up a change capture on legacy that no later phase stops: when the run completes, "+
		"the capture stays there (its triggers record every write, or its replication slot holds WAL back) until godwit cleanup cdc removes it; "+
		"add a last phase replicate: {from: legacy, to: new, tables: [...], mode: stop} (after the writes move, behind a gate: docs/cdc.md)",
		spec.Warnings()[0])

	spec, err = config.ParseSpec([]byte(storesYAML + setup + `  - phase: decommission
    replicate: {from: legacy, to: new, tables: [orders], mode: stop}
`))
	require.NoError(t, err)
	assert.Empty(t, spec.Warnings())
}
