package integration

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/migration"
)

const fkWarningPhases = `  - phase: provision
    provision: {from: legacy, to: new, tables: [rental, payment]}
  - phase: provision
    name: capture
    replicate: {from: legacy, to: new, tables: [rental, payment], mode: setup}
  - phase: copy
    copy: {from: legacy, to: new, tables: [rental, payment]}
  - phase: copy
    name: catch-up
    replicate: {from: legacy, to: new, tables: [rental, payment], maxLag: 2s, holdFor: 1s}
  - phase: decommission
    name: stop-replication
    replicate: {from: legacy, to: new, tables: [rental, payment], mode: stop}
`

// TestAForeignKeyTheSourceViolatesIsAnIssueOfTheRun: a SQLite source
// holding an orphan (it does not enforce foreign keys) leaves the key off
// the PostgreSQL target; the catch-up and stop phases try it again, still
// cannot add it, and the run's issues (godwit status) say so while the run
// completes. Records the history of change phase-warnings for the replay
// test.
func TestAForeignKeyTheSourceViolatesIsAnIssueOfTheRun(t *testing.T) {
	t.Parallel()
	src, dst := dbtest.New(t, datastore.SQLite), dbtest.New(t, datastore.Postgres)
	dbtest.Exec(t, src.Store,
		"CREATE TABLE rental (id INTEGER PRIMARY KEY, title TEXT NOT NULL)",
		"CREATE TABLE payment (id INTEGER PRIMARY KEY, rental_id INTEGER NOT NULL REFERENCES rental (id), amount DECIMAL(6,2))",
		"INSERT INTO rental VALUES (1, 'a'), (2, 'b')",
		"INSERT INTO payment VALUES (10, 1, 2.50), (11, 2, 3.00), (12, 999, 1.00)")
	name := "it-fk-warning"
	r := newDataRun(t, name, src, dst, fkWarningPhases)
	r.start()
	final, err := r.result()
	require.NoError(t, err, "%+v", final)
	require.Equal(t, migration.StatusCompleted, final.Status)
	var found bool
	for _, is := range final.Issues {
		if is.Severity == migration.SeverityWarning && strings.Contains(is.Message, "foreign key still NOT carried to new: payment.") {
			found = true
		}
	}
	for _, p := range final.Phases {
		t.Log(p.Phase, ": ", p.Summary)
	}
	require.True(t, found, "no issue says the key is still not carried: %+v", final.Issues)
	recordHistory(t, name)
}
