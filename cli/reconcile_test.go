package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/reconcile"
)

// twoUserTables makes a PostgreSQL and a SQLite users table, equal but for
// the changes, with their DSNs in RC_A and RC_B.
func twoUserTables(t *testing.T, changes ...string) {
	t.Helper()
	a, b := dbtest.New(t, datastore.Postgres), dbtest.New(t, datastore.SQLite)
	dbtest.Exec(t, a.Store, "CREATE TABLE users (id int PRIMARY KEY, email text, score numeric(6,2))",
		"INSERT INTO users SELECT i, 'u' || i || '@example.com', i / 4.0 FROM generate_series(1, 2000) i")
	dbtest.Exec(t, b.Store, "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT, score DECIMAL_TEXT(6,2))",
		"WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 2000) "+
			"INSERT INTO users SELECT i, 'u' || i || '@example.com', printf('%.2f', i / 4.0) FROM s")
	dbtest.Exec(t, b.Store, changes...)
	t.Setenv("RC_A", a.DSN)
	t.Setenv("RC_B", b.DSN)
}

func TestDiffCommand(t *testing.T) {
	args := []string{"diff", "--from-engine", "postgres", "--from-dsn-env", "RC_A", "--from-table", "users",
		"--to-engine", "sqlite", "--to-dsn-env", "RC_B"}
	t.Run("equal tables exit 0", func(t *testing.T) {
		twoUserTables(t)
		out, _, err := run(t, noDial(t), args...)
		require.NoError(t, err, out)
		require.Contains(t, out, "0 missing_in_target, 0 extra_in_target, 0 mismatched")
	})
	t.Run("differences exit 2, named in text and JSON", func(t *testing.T) {
		twoUserTables(t, "DELETE FROM users WHERE id = 10", "UPDATE users SET score = '0.01' WHERE id = 20")
		out, _, err := run(t, noDial(t), args...)
		require.Equal(t, 2, exitCode(err), out)
		require.Contains(t, out, "missing_in_target  key=10")
		require.Contains(t, out, "mismatched         key=20 columns=score")
		out, _, err = run(t, noDial(t), append(args, "-o", "json")...)
		require.Equal(t, 2, exitCode(err))
		var rep reconcile.Report
		require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
		require.Len(t, rep.Tables[0].Differences, 2)
		require.Equal(t, []string{"score"}, rep.Tables[0].Differences[1].Columns)
	})
	t.Run("ignored column and unset variable", func(t *testing.T) {
		twoUserTables(t, "UPDATE users SET score = '0.01' WHERE id = 20")
		_, _, err := run(t, noDial(t), append(args, "--ignore", "score")...)
		require.NoError(t, err)
		_, _, err = run(t, noDial(t), "diff", "--from-engine", "postgres", "--from-dsn-env", "RC_UNSET_X", "--from-table", "users",
			"--to-engine", "sqlite", "--to-dsn-env", "RC_B")
		require.ErrorContains(t, err, "environment variable RC_UNSET_X is not set")
	})
}

// --concurrency sets how many key ranges each side checks at once: the
// first pass over two PostgreSQL tables runs one checksum query per range
// and side, so four ranges run four more queries than the default two.
func TestDiffConcurrency(t *testing.T) {
	a, b := dbtest.New(t, datastore.Postgres), dbtest.New(t, datastore.Postgres)
	for _, db := range []dbtest.DB{a, b} {
		dbtest.Exec(t, db.Store, "CREATE TABLE users (id int PRIMARY KEY, email text)",
			"INSERT INTO users SELECT i, 'u' || i || '@example.com' FROM generate_series(1, 5000) i")
	}
	t.Setenv("RC_A", a.DSN)
	t.Setenv("RC_B", b.DSN)
	queries := func(extra ...string) int64 {
		t.Helper()
		out, _, err := run(t, noDial(t), append([]string{"diff", "--from-engine", "postgres", "--from-dsn-env", "RC_A", "--from-table", "users",
			"--to-engine", "postgres", "--to-dsn-env", "RC_B", "-o", "json"}, extra...)...)
		require.NoError(t, err, out)
		var rep reconcile.Report
		require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
		return rep.Tables[0].Checksums
	}
	require.Equal(t, queries()+4, queries("--concurrency", "4"), "four ranges at once: two more checksum queries a side")
	_, _, err := run(t, noDial(t), "diff", "--from-engine", "postgres", "--from-dsn-env", "RC_A", "--from-table", "users",
		"--to-engine", "postgres", "--to-dsn-env", "RC_B", "--concurrency", "-1")
	require.ErrorContains(t, err, "--concurrency -1: want 1 or more")
}

func TestReconcileCommandUsesTheSpecTolerance(t *testing.T) {
	spec := func(tol string) string {
		return writeSpec(t, `name: rc-cli
stores:
  legacy: {engine: postgres, dsn: {fromEnv: RC_A}}
  new: {engine: sqlite, dsn: {fromEnv: RC_B}}
phases:
  - phase: reconcile
    name: verify
    reconcile: {from: legacy, to: new, tables: [users]`+tol+`}
`)
	}
	twoUserTables(t, "DELETE FROM users WHERE id = 10")
	out, errOut, err := run(t, noDial(t), "reconcile", "-f", spec(""))
	require.Equal(t, 2, exitCode(err), out)
	require.Contains(t, errOut, "verify: beyond tolerance: 1 missing_in_target, tolerance 0")
	out, _, err = run(t, noDial(t), "reconcile", "-f", spec(", tolerance: {maxMissing: 1}"), "-o", "json")
	require.NoError(t, err, out)
	var res struct {
		Phases []phaseCheck `json:"phases"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	require.True(t, res.Phases[0].Passed)
	require.Equal(t, int64(1), res.Phases[0].Report.Tables[0].Missing)
	_, _, err = run(t, noDial(t), "reconcile", "-f", spec(""), "--phase", "nope")
	require.ErrorContains(t, err, `no reconcile phase named "nope" (its reconcile phases: verify)`)
	require.False(t, strings.Contains(out, "postgres://"), "a DSN leaked into the output")
}

func TestReconcileCommandRepairs(t *testing.T) {
	spec := writeSpec(t, `name: rc-cli
stores:
  legacy: {engine: postgres, dsn: {fromEnv: RC_A}}
  new: {engine: sqlite, dsn: {fromEnv: RC_B}}
phases:
  - phase: reconcile
    name: verify
    reconcile: {from: legacy, to: new, tables: [users]}
`)
	twoUserTables(t, "DELETE FROM users WHERE id = 10", "UPDATE users SET score = '0.01' WHERE id = 20",
		"INSERT INTO users VALUES (5000, 'x@example.com', '1.00')")
	// Without deletes the extra row stays and fails the gate.
	out, errOut, err := run(t, noDial(t), "reconcile", "-f", spec, "--repair")
	require.Equal(t, 2, exitCode(err), out)
	require.Contains(t, out, "repaired: 2 rows re-copied from legacy, 0 deleted, 1 extra kept")
	require.Contains(t, errOut, "1 extra_in_target, tolerance 0")
	out, _, err = run(t, noDial(t), "reconcile", "-f", spec, "--delete-extra")
	require.NoError(t, err, out)
	require.Contains(t, out, "repaired: 0 rows re-copied from legacy, 1 deleted; re-check: clean")
	out, _, err = run(t, noDial(t), "reconcile", "-f", spec)
	require.NoError(t, err, out)
	require.Contains(t, out, "0 missing_in_target, 0 extra_in_target, 0 mismatched")
}

func TestLimitsStopWithAClearMessage(t *testing.T) {
	spec := writeSpec(t, `name: rc-cli
stores:
  legacy: {engine: postgres, dsn: {fromEnv: RC_A}}
  new: {engine: sqlite, dsn: {fromEnv: RC_B}}
phases:
  - phase: reconcile
    name: verify
    reconcile: {from: legacy, to: new, tables: [users], threshold: 10, concurrency: 1, maxDifferences: 3, tolerance: {maxMismatched: 1000}}
`)
	twoUserTables(t, "UPDATE users SET email = 'x' WHERE id % 50 = 0") // 40 differences
	out, errOut, err := run(t, noDial(t), "reconcile", "-f", spec)
	require.Equal(t, 2, exitCode(err), out)
	require.Contains(t, out, "users (incomplete)")
	require.Contains(t, out, "INCOMPLETE: maxDifferences (3) reached")
	require.Contains(t, errOut, "verify: beyond tolerance: the check is incomplete: maxDifferences (3) reached")

	args := []string{"diff", "--from-engine", "postgres", "--from-dsn-env", "RC_A", "--from-table", "users",
		"--to-engine", "sqlite", "--to-dsn-env", "RC_B", "--max-duration", "1ns"}
	out, _, err = run(t, noDial(t), args...)
	require.Equal(t, 2, exitCode(err), out)
	require.Contains(t, out, "INCOMPLETE: maxDuration (1ns) reached")
	out, _, err = run(t, noDial(t), append(args, "-o", "json")...)
	require.Equal(t, 2, exitCode(err), out)
	var rep reconcile.Report
	require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
	require.Equal(t, "maxDuration (1ns) reached", rep.Stopped)
	require.False(t, rep.Complete())
}
