package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/gateway/gatewaytest"
	"github.com/godwit/godwit/migration"
)

// badEnv is a broken environment: a valid spec that cannot run where it
// is, and the exact problem a worker's preflight must report.
type badEnv struct {
	name string
	// setup prepares the environment and returns the phases of the spec
	// (after its validate phase), the stores section, and the values to
	// put back into the message in place of {PLACEHOLDERS}.
	setup func(t *testing.T, dir string) (stores, phases string, vars map[string]string)
	// want is the problem, as "phase NAME: message", with placeholders.
	want string
}

var badEnvs = []badEnv{
	{
		name: "DSN variable not set on the worker",
		setup: func(t *testing.T, dir string) (string, string, map[string]string) {
			src := sqliteWithOrders(t)
			return storesYAML(src.DSN, "postgres", `{fromEnv: IT_BADENV_UNSET_DSN}`, dir),
				copyPhase(`[orders]`), nil
		},
		want: "phase copy: store new: cannot read its DSN: environment variable IT_BADENV_UNSET_DSN is not set for this process (integration.test)",
	},
	{
		name: "wrong password",
		setup: func(t *testing.T, dir string) (string, string, map[string]string) {
			src := sqliteWithOrders(t)
			dst := dbtest.New(t, datastore.MySQL)
			dsn := strings.Replace(dst.DSN, "root@", "root:not-the-password@", 1)
			return storesYAML(src.DSN, "mysql", fileRef(t, dir, "new.dsn", dsn), dir), copyPhase(`[orders]`), nil
		},
		want: "phase copy: store new: access denied (check the user and password in its DSN, and its privileges): open mysql store: access denied: Error 1045 (28000): Access denied for user 'root'@'127.0.0.1' (using password: YES)",
	},
	{
		name: "unreachable host",
		setup: func(t *testing.T, dir string) (string, string, map[string]string) {
			src := sqliteWithOrders(t)
			addr := freeAddr(t)
			dsn := "postgres://postgres@" + addr + "/shop?sslmode=disable&connect_timeout=2"
			return storesYAML(src.DSN, "postgres", fileRef(t, dir, "new.dsn", dsn), dir), copyPhase(`[orders]`),
				map[string]string{"ADDR": addr}
		},
		want: "phase copy: store new (postgres) is not reachable from this worker: open postgres store: failed to connect to `user=postgres database=shop`: {ADDR} (127.0.0.1): dial error: dial tcp {ADDR}: connect: connection refused",
	},
	{
		name: "table missing in the source",
		setup: func(t *testing.T, dir string) (string, string, map[string]string) {
			src := sqliteWithOrders(t)
			dst := dbtest.New(t, datastore.Postgres)
			dbtest.Exec(t, dst.Store, "CREATE TABLE orders (id INTEGER PRIMARY KEY, total NUMERIC(10,2))")
			return storesYAML(src.DSN, "postgres", fileRef(t, dir, "new.dsn", dst.DSN), dir), copyPhase(`[orders, ordres]`), nil
		},
		want: `phase copy: store legacy: table "ordres" does not exist (it has orders)`,
	},
	{
		name: "source table without a primary key",
		setup: func(t *testing.T, dir string) (string, string, map[string]string) {
			src := sqliteWithOrders(t)
			dbtest.Exec(t, src.Store, "CREATE TABLE events (at TEXT, what TEXT)")
			dst := dbtest.New(t, datastore.Postgres)
			return storesYAML(src.DSN, "postgres", fileRef(t, dir, "new.dsn", dst.DSN), dir), provisionPhase(`[events]`), nil
		},
		want: "phase provision: store legacy: table events has no primary key: Godwit copies by key, so add one (or a unique not-null key made primary), or list it in fullCopy here and in the copy phase to copy it in one pass that is not resumable",
	},
	{
		name: "target table of another shape",
		setup: func(t *testing.T, dir string) (string, string, map[string]string) {
			src := sqliteWithOrders(t)
			dst := dbtest.New(t, datastore.Postgres)
			dbtest.Exec(t, dst.Store, "CREATE TABLE orders (id INTEGER PRIMARY KEY, amount NUMERIC(10,2))")
			return storesYAML(src.DSN, "postgres", fileRef(t, dir, "new.dsn", dst.DSN), dir), copyPhase(`[orders]`), nil
		},
		want: `phase copy: store new: table orders lacks the source's column "total" (it has id, amount): add it, or drop the table and let a provision phase create it`,
	},
	{
		name: "read-only target",
		setup: func(t *testing.T, dir string) (string, string, map[string]string) {
			src := sqliteWithOrders(t)
			role := readOnlyRole(t)
			dst := dbtest.New(t, datastore.Postgres)
			dbtest.Exec(t, dst.Store, "CREATE TABLE orders (id INTEGER PRIMARY KEY, total NUMERIC(10,2))",
				"GRANT SELECT ON orders TO "+role)
			dsn := strings.Replace(dst.DSN, "postgres@", role+"@", 1)
			return storesYAML(src.DSN, "postgres", fileRef(t, dir, "new.dsn", dsn), dir), copyPhase(`[orders]`),
				map[string]string{"ROLE": role}
		},
		want: "phase copy: store new: the copy cannot write there: access denied: the user lacks INSERT and UPDATE on table orders",
	},
	{
		name: "route unknown to the gateway",
		setup: func(t *testing.T, dir string) (string, string, map[string]string) {
			gw := gatewaytest.Start(t, gatewaytest.Options{Legacy: "http://127.0.0.1:1", New: "http://127.0.0.1:2", Token: trafficToken})
			return "", trafficPhase(gw.AdminURL, "orders", fileRef(t, dir, "token", trafficToken)), map[string]string{"ADMIN": gw.AdminURL}
		},
		want: `phase shift-traffic: route "orders" does not exist on the gateway at {ADMIN} (its routes: users)`,
	},
	{
		name: "gateway token wrong",
		setup: func(t *testing.T, dir string) (string, string, map[string]string) {
			gw := gatewaytest.Start(t, gatewaytest.Options{Legacy: "http://127.0.0.1:1", New: "http://127.0.0.1:2", Token: trafficToken})
			return "", trafficPhase(gw.AdminURL, "users", fileRef(t, dir, "token", "not-"+trafficToken)),
				map[string]string{"ADMIN": gw.AdminURL, "DIR": dir}
		},
		want: "phase shift-traffic: the gateway at {ADMIN} refused the token from file {DIR}/token: it must be the gateway's admin token (its admin.tokenEnv or admin.tokenFile)",
	},
	{
		name: "Terraform module directory missing",
		setup: func(t *testing.T, dir string) (string, string, map[string]string) {
			return "", `  - phase: provision
    terraform:
      dir: ` + dir + `/infra/blue-green
      compensate: {destroy: true}
`, map[string]string{"DIR": dir}
		},
		want: "phase provision: module directory {DIR}/infra/blue-green does not exist on this worker",
	},
	{
		name: "DSN file missing on the worker",
		setup: func(t *testing.T, dir string) (string, string, map[string]string) {
			src := sqliteWithOrders(t)
			return storesYAML(src.DSN, "postgres", "{fromFile: "+dir+"/secrets/new.dsn}", dir), copyPhase(`[orders]`),
				map[string]string{"DIR": dir}
		},
		want: "phase copy: store new: cannot read its DSN: read secret file: open {DIR}/secrets/new.dsn: no such file or directory",
	},
	{
		name: "target database missing",
		setup: func(t *testing.T, dir string) (string, string, map[string]string) {
			src := sqliteWithOrders(t)
			dsn := missingDatabase(t, datastore.MySQL)
			return storesYAML(src.DSN, "mysql", fileRef(t, dir, "new.dsn", dsn), dir), copyPhase(`[orders]`),
				map[string]string{"DB": datastore.DatabaseName(datastore.MySQL, dsn)}
		},
		want: "phase copy: store new: database {DB} does not exist: create it, or let the provision phase into new create it (provision: {createDatabase: true})",
	},
	{
		name: "SQLite target file missing (and not created by the preflight)",
		setup: func(t *testing.T, dir string) (string, string, map[string]string) {
			src := sqliteWithOrders(t)
			path := filepath.Join(dir, "new.db")
			t.Cleanup(func() {
				if _, err := os.Stat(path); err == nil {
					t.Errorf("the preflight created %s", path)
				}
			})
			return storesYAML(src.DSN, "sqlite", fileRef(t, dir, "new.dsn", path), dir), copyPhase(`[orders]`),
				map[string]string{"PATH": path}
		},
		want: "phase copy: store new: SQLite database file {PATH} does not exist: create it, or let the provision phase into new create it (provision: {createDatabase: true})",
	},
	{
		name: "one database under two store names",
		setup: func(t *testing.T, dir string) (string, string, map[string]string) {
			src := sqliteWithOrders(t)
			id, err := src.Store.Identity(context.Background())
			require.NoError(t, err)
			return storesYAML(src.DSN, "sqlite", fileRef(t, dir, "new.dsn", "file:"+src.DSN), dir), copyPhase(`[orders]`),
				map[string]string{"ID": id.String()}
		},
		want: "phase copy: stores legacy and new are the same database ({ID}): the phase would read and write one database, and its rollback would empty the source; point new's DSN at the other database",
	},
	{
		name: "hook program missing",
		setup: func(t *testing.T, dir string) (string, string, map[string]string) {
			return "", `  - phase: copy
    hook: {run: {command: [./copy-orders.sh], dir: ` + dir + `}}
`, map[string]string{"DIR": dir}
		},
		want: "phase copy: run: program ./copy-orders.sh is not on this worker",
	},
}

// TestBrokenEnvironmentsAreReportedBeforeAnythingRuns: for each broken
// environment, `godwit preflight` names the exact problem, and a migration
// started anyway stops in its validate phase with the same problem, before
// any other phase ran.
func TestBrokenEnvironmentsAreReportedBeforeAnythingRuns(t *testing.T) {
	t.Parallel()
	require.GreaterOrEqual(t, len(badEnvs), 10)
	for i, tc := range badEnvs {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			stores, phases, vars := tc.setup(t, dir)
			want := tc.want
			for k, v := range vars {
				want = strings.ReplaceAll(want, "{"+k+"}", v)
			}
			name := fmt.Sprintf("it-badenv-%d", i+1)
			spec := filepath.Join(dir, "spec.yaml")
			require.NoError(t, os.WriteFile(spec, []byte(fmt.Sprintf(`name: %s
defaults: {timeout: 1m, retry: {maxAttempts: 1}}
%sphases:
  - phase: validate
    hook: {run: {command: ["true"]}}
%s`, name, stores, phases)), 0o644))

			out, err := godwit(t, "preflight", "-f", spec)
			require.Error(t, err, out)
			require.EqualError(t, err, "preflight of "+name+" found 1 problem(s); nothing was started", out)
			var problems []string
			for _, line := range strings.Split(out, "\n") {
				if p, ok := strings.CutPrefix(line, "  ✗ "); ok {
					problems = append(problems, p)
				}
			}
			require.Equal(t, []string{want}, problems, out)

			d := &demo{t: t, name: name, dir: dir, spec: spec}
			d.start()
			final, err := d.result()
			require.Error(t, err)
			require.Equal(t, migration.PhaseFailed, final.Phases[0].State)
			require.Equal(t, "preflight found 1 problem: "+want, final.Phases[0].Error)
			require.Equal(t, migration.PhasePending, final.Phases[1].State, "nothing ran after the failed preflight")
		})
	}
}

// sqliteWithOrders is a source with one table, orders.
func sqliteWithOrders(t *testing.T) dbtest.DB {
	t.Helper()
	src := dbtest.New(t, datastore.SQLite)
	dbtest.Exec(t, src.Store, "CREATE TABLE orders (id INTEGER PRIMARY KEY, total DECIMAL(10,2))",
		"INSERT INTO orders VALUES (1, 9.99)")
	return src
}

// storesYAML is a stores section: legacy (SQLite, its DSN in a file) and
// new (engine, DSN reference as given).
func storesYAML(srcDSN, engine, newRef, dir string) string {
	_ = os.WriteFile(filepath.Join(dir, "legacy.dsn"), []byte(srcDSN+"\n"), 0o600)
	return fmt.Sprintf("stores:\n  legacy: {engine: sqlite, dsn: {fromFile: %s/legacy.dsn}}\n  new: {engine: %s, dsn: %s}\n", dir, engine, newRef)
}

// fileRef writes value into dir/name and returns the {fromFile: ...}
// reference to it.
func fileRef(t *testing.T, dir, name, value string) string {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(value+"\n"), 0o600))
	return "{fromFile: " + filepath.Join(dir, name) + "}"
}

func copyPhase(tables string) string {
	return "  - phase: copy\n    copy: {from: legacy, to: new, tables: " + tables + "}\n"
}

func provisionPhase(tables string) string {
	return "  - phase: provision\n    provision: {from: legacy, to: new, tables: " + tables + "}\n"
}

func trafficPhase(admin, route, tokenRef string) string {
	return fmt.Sprintf(`  - phase: shift-traffic
    traffic:
      gateway: {admin: %s, token: %s}
      route: %s
      writeConsistency: sharedStore
      steps: [{setWeight: 100}]
`, admin, tokenRef, route)
}

// readOnlyRole creates a PostgreSQL login role that may only read, and
// drops it when the test ends (after its database is gone).
func readOnlyRole(t *testing.T) string {
	t.Helper()
	admin := dbtest.New(t, datastore.Postgres)
	role := "godwit_badenv_ro_" + strings.TrimPrefix(filepath.Base(admin.DSN[:strings.Index(admin.DSN, "?")]), "godwit_data_")
	dbtest.Exec(t, admin.Store, "CREATE ROLE "+role+" LOGIN")
	t.Cleanup(func() {
		_, _ = admin.Store.DB.ExecContext(context.Background(), "DROP ROLE IF EXISTS "+role)
	})
	return role
}
