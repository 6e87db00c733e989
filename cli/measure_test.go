package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/datastore"
	_ "github.com/godwit/godwit/drivers"
)

func TestPlanMeasuresTheLiveSourceStore(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "legacy.db")
	s, err := datastore.Open(context.Background(), datastore.SQLite, src)
	require.NoError(t, err)
	_, err = s.DB.Exec(`CREATE TABLE orders (id INTEGER PRIMARY KEY, note TEXT NOT NULL)`)
	require.NoError(t, err)
	var values []string
	for i := 1; i <= 3000; i++ {
		values = append(values, fmt.Sprintf("(%d, 'a note of some forty bytes, order %05d')", i, i))
	}
	_, err = s.DB.Exec("INSERT INTO orders VALUES " + strings.Join(values, ","))
	require.NoError(t, err)
	require.NoError(t, s.Close())
	t.Setenv("TEST_MEASURE_LEGACY", src)
	t.Setenv("TEST_MEASURE_NEW", filepath.Join(dir, "new.db"))
	spec := filepath.Join(dir, "spec.yaml")
	require.NoError(t, os.WriteFile(spec, []byte(`name: measured
stores:
  legacy: {engine: sqlite, dsn: {fromEnv: TEST_MEASURE_LEGACY}}
  new: {engine: sqlite, dsn: {fromEnv: TEST_MEASURE_NEW}}
phases:
  - phase: provision
    provision: {from: legacy, to: new, tables: [orders]}
  - phase: copy
    copy: {from: legacy, to: new, tables: [orders]}
`), 0o644))

	out, errOut, err := godwit(t, noDial(t), "plan", "-f", spec, "--measure")
	require.NoError(t, err, errOut)
	assert.Contains(t, out, `"estimate_basis": "`)
	assert.Regexp(t, `measured on legacy: 3000 rows estimated in 1 table, \d+ bytes a row, read at \d+ rows/s over a 3000-row sample`, out)
	_, err = os.Stat(filepath.Join(dir, "new.db"))
	assert.True(t, os.IsNotExist(err), "planning wrote nothing to the target")

	t.Setenv("TEST_MEASURE_LEGACY", "")
	os.Unsetenv("TEST_MEASURE_LEGACY")
	_, _, err = godwit(t, noDial(t), "plan", "-f", spec, "--measure")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "--measure: store legacy: cannot read its DSN here: environment variable TEST_MEASURE_LEGACY is not set")
}
