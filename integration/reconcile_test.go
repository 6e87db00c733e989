package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/migration"
)

// A migration from PostgreSQL to MariaDB whose copy lost two rows and
// changed one: its reconcile phase finds them, fails beyond the tolerance
// and the migration rolls back on its own (the hooks' compensations run).
// The tables are made here; provision and copy are hooks that leave marks.
func TestReconcilePhaseFindsDifferencesAndRollsBack(t *testing.T) {
	t.Parallel()
	legacy, target := dbtest.New(t, datastore.Postgres), dbtest.New(t, datastore.MySQL)
	dbtest.Exec(t, legacy.Store, "CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, plan varchar(16), credit numeric(10,2))",
		"INSERT INTO users SELECT i, 'user' || i || '@example.com', CASE WHEN i % 3 = 0 THEN 'pro' END, i / 8.0 FROM generate_series(1, 5000) i")
	dbtest.Exec(t, target.Store, "CREATE TABLE users (id BIGINT PRIMARY KEY, email VARCHAR(255) NOT NULL, plan VARCHAR(16), credit DECIMAL(10,2)) COLLATE utf8mb4_bin",
		"INSERT INTO users SELECT seq, CONCAT('user', seq, '@example.com'), IF(seq % 3 = 0, 'pro', NULL), seq / 8 FROM seq_1_to_5000",
		"DELETE FROM users WHERE id IN (42, 4242)",
		"UPDATE users SET credit = credit + 1 WHERE id = 100")
	// In-process workers read the DSNs from this process's environment.
	for k, v := range map[string]string{"IT_RC_LEGACY_DSN": legacy.DSN, "IT_RC_NEW_DSN": target.DSN} {
		require.NoError(t, os.Setenv(k, v))
		t.Cleanup(func() { os.Unsetenv(k) })
	}
	dir := t.TempDir()
	name := "it-reconcile-rollback"
	spec := filepath.Join(dir, "spec.yaml")
	mark := func(what string) string {
		return fmt.Sprintf(`{command: [sh, -c, "echo %s >> %s/marks"]}`, what, dir)
	}
	require.NoError(t, os.WriteFile(spec, []byte(`name: `+name+`
stores:
  legacy: {engine: postgres, dsn: {fromEnv: IT_RC_LEGACY_DSN}}
  new: {engine: mysql, dsn: {fromEnv: IT_RC_NEW_DSN}}
defaults:
  timeout: 1m
  retry: {maxAttempts: 2, initialInterval: 1s}
phases:
  - phase: provision
    hook: {run: `+mark("provisioned")+`, compensate: `+mark("unprovisioned")+`}
  - phase: copy
    hook: {run: `+mark("copied")+`, compensate: `+mark("uncopied")+`}
  - phase: reconcile
    name: verify-copy
    reconcile:
      from: legacy
      to: new
      tables: [users]
      threshold: 50
      tolerance: {maxMismatched: 1}
`), 0o644))
	out, err := godwit(t, "validate", "-f", spec)
	require.NoError(t, err, out)
	out, err = godwit(t, "start", "-f", spec)
	require.NoError(t, err, out)

	d := &demo{t: t, name: name, dir: dir}
	final, err := d.result()
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	require.Equal(t, migration.StatusRolledBack, final.Status)
	require.Contains(t, final.Error, "beyond tolerance: 2 missing_in_target, tolerance 0")
	require.NotContains(t, final.Error, "mismatched, tolerance", "one mismatch is within the tolerance")
	require.Contains(t, final.Error, "1 table, 5000 source rows: 2 missing_in_target, 0 extra_in_target, 1 mismatched (truth: legacy")
	require.Equal(t, migration.PhaseFailed, final.Phases[2].State)
	require.Equal(t, "provisioned\ncopied\nuncopied\nunprovisioned\n", d.read("marks"), "compensations ran last first")
	require.NotContains(t, final.Error, legacy.DSN)

	// The phase's output names the keys (a bounded sample), never a DSN.
	out, err = godwit(t, "output", name, "verify-copy")
	require.NoError(t, err, out)
	require.Contains(t, out, "missing_in_target  key=42")
	require.Contains(t, out, "missing_in_target  key=4242")
	require.Contains(t, out, "mismatched         key=100 columns=credit")
	require.NotContains(t, out, "IT_RC_LEGACY_DSN=")
}
