package cli

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// validate (and start, before it dials) prints what the spec's check found
// valid but likely not meant: here a change capture no phase stops.
func TestValidatePrintsTheSpecsWarnings(t *testing.T) {
	path := writeSpec(t, `name: capture-left
stores:
  legacy: {engine: postgres, dsn: {fromEnv: LEGACY_DSN}}
  new: {engine: postgres, dsn: {fromEnv: NEW_DSN}}
phases:
  - phase: provision
    replicate: {from: legacy, to: new, tables: [orders], mode: setup}
  - phase: copy
    copy: {from: legacy, to: new, tables: [orders]}
`)
	out, errOut, err := godwit(t, noDial(t), "validate", "-f", path)
	require.NoError(t, err)
	assert.Contains(t, out, "spec is valid")
	assert.Contains(t, errOut, "godwit: warning: phases[0].replicate.mode (line 7): sets up a change capture on legacy that no later phase stops")
	assert.Contains(t, errOut, "godwit cleanup capture-left removes it")
}
