package replicate_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/drivers/replicate"
)

// A run whose validate failed before provision created the target
// database, or whose rollback dropped it, left no database: `godwit
// status` said "? store new not checked for change capture objects: …
// database trialfk_emp does not exist", as if it could not look. A
// database that does not exist holds no capture object: nothing to say.
func TestADatabaseThatDoesNotExistHoldsNoCaptureObjects(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("LO_ABSENT_LEGACY", filepath.Join(dir, "legacy.db"))
	t.Setenv("LO_ABSENT_NEW", filepath.Join(dir, "new.db"))
	spec, err := config.ParseSpec([]byte(`name: absent
stores:
  legacy: {engine: sqlite, dsn: {fromEnv: LO_ABSENT_LEGACY}}
  new: {engine: sqlite, dsn: {fromEnv: LO_ABSENT_NEW}}
phases:
  - {phase: provision, name: capture, replicate: {from: legacy, to: new, tables: [customers], mode: setup}}
`))
	require.NoError(t, err)
	scan := replicate.FindLeftovers(context.Background(), spec, "absent")
	assert.Empty(t, scan.Problems)
	assert.Empty(t, scan.Found)
	// Nor does looking create the SQLite files (it did).
	for _, f := range []string{"legacy.db", "new.db"} {
		_, err := os.Stat(filepath.Join(dir, f))
		assert.True(t, os.IsNotExist(err), "%s created by looking for capture objects", f)
	}
}
