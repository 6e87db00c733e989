package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/migration"
)

// compatPhases gate a hook on the compat check of the two stores: the hook
// leaves a file behind when it runs.
const compatPhases = `  - phase: validate
    name: schema-gate
    outputs: [compatibility]
    compat:
      before: {store: legacy}
      after: {store: new}
  - phase: copy
    hook: {run: {command: [touch, "%[1]s/copied"]}}
`

func TestCompatGateStopsABreakingMigration(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		newDDL   string
		status   migration.Status
		summary  string
		copyRuns bool
	}{
		{"it-compat-same", "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(255) NOT NULL, age INTEGER)",
			migration.StatusCompleted, "schema: fully_compatible: 0 change(s)", true},
		{"it-compat-breaking", "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(255) NOT NULL)",
			migration.StatusRolledBack, "schema: breaking: 1 change(s): 1 breaking", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src, dst := dbtest.New(t, datastore.SQLite), dbtest.New(t, datastore.SQLite)
			dbtest.Exec(t, src.Store, "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(255) NOT NULL, age INTEGER)")
			dbtest.Exec(t, dst.Store, tc.newDDL)
			marks := t.TempDir()
			r := newDataRun(t, tc.name, src, dst, fmt.Sprintf(compatPhases, marks))
			r.start()
			final, _ := r.result()
			require.Equal(t, tc.status, final.Status, final.Error)
			gate := final.Phases[0]
			require.Contains(t, gate.Summary+gate.Error+final.Error, tc.summary)
			_, err := os.Stat(filepath.Join(marks, "copied"))
			require.Equal(t, tc.copyRuns, err == nil, "the copy runs only after the gate passes")
			recordHistory(t, tc.name)
			if tc.copyRuns {
				require.Contains(t, gate.Summary, "plan: migration "+tc.name+": 2 phases")
				require.Equal(t, map[string]string{"compatibility": "fully_compatible"}, gate.Outputs)
			} else {
				require.Contains(t, final.Error, "column users.age removed")
			}
		})
	}
}
