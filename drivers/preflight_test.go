package drivers_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/drivers"
	"github.com/godwit/godwit/plan"
)

// shopDDL is a small source schema of a few tables, in each engine's DDL.
func shopDDL(engine datastore.Engine) []string {
	money, text := "NUMERIC(10,2)", "TEXT"
	if engine == datastore.MySQL {
		money, text = "DECIMAL(10,2)", "VARCHAR(200)"
	}
	return []string{
		"CREATE TABLE customers (id INTEGER PRIMARY KEY, name " + text + " NOT NULL)",
		"CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, total " + money + ")",
		"INSERT INTO customers VALUES (1, 'Zoë'), (2, 'Ada')",
		"INSERT INTO orders VALUES (10, 1, 12.50), (11, 2, 7.00)",
	}
}

// preflight runs the worker's Preflight activity over the spec, as
// `godwit preflight` and the first validate phase do, and returns its
// problems as "phase: message".
func preflight(t *testing.T, yaml string) []string {
	t.Helper()
	spec, err := config.ParseSpec([]byte(yaml))
	require.NoError(t, err, yaml)
	res, err := drivers.Activities(hclog.NewNullLogger()).Preflight(context.Background(), activities.PreflightInput{Spec: *spec})
	require.NoError(t, err)
	var out []string
	for _, p := range res.Problems {
		out = append(out, p.Phase+": "+p.Message)
	}
	return out
}

// uniqueEnv sets a uniquely named environment variable to value for the
// test and returns its name.
func uniqueEnv(t *testing.T, value string) string {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "GODWIT_PF_" + strings.ToUpper(hex.EncodeToString(b))
	t.Setenv(name, value)
	return name
}

// plainSpec is validate → provision → copy → reconcile of every table
// ("*") from legacy into new, as a user writes it from the docs.
func plainSpec(name string, legacy datastore.Engine, legacyEnv string, newEngine datastore.Engine, newEnv string, provisionExtra string) string {
	return fmt.Sprintf(`name: %s
stores:
  legacy: {engine: %s, dsn: {fromEnv: %s}}
  new: {engine: %s, dsn: {fromEnv: %s}}
phases:
  - phase: validate
    hook: {run: {command: ["true"]}}
  - phase: provision
    provision: {from: legacy, to: new, tables: ["*"]%s}
  - phase: copy
    copy: {from: legacy, to: new, tables: ["*"]}
  - phase: reconcile
    reconcile: {from: legacy, to: new, tables: ["*"]}
`, name, legacy, legacyEnv, newEngine, newEnv, provisionExtra)
}

// Item 1: the tables a provision phase creates count as present for the
// phases after it, so the plan passes preflight into an empty target on
// every engine pair (reconcile used to demand them: "no such table").
func TestPreflightReasonsOverThePlan(t *testing.T) {
	pairs := [][2]datastore.Engine{
		{datastore.Postgres, datastore.MySQL},
		{datastore.Postgres, datastore.SQLite},
		{datastore.MySQL, datastore.Postgres},
	}
	for _, pair := range pairs {
		t.Run(string(pair[0])+"_to_"+string(pair[1]), func(t *testing.T) {
			src, dst := dbtest.New(t, pair[0]), dbtest.New(t, pair[1])
			dbtest.Exec(t, src.Store, shopDDL(pair[0])...)
			spec := plainSpec("pf-plan", pair[0], uniqueEnv(t, src.DSN), pair[1], uniqueEnv(t, dst.DSN), "")
			require.Empty(t, preflight(t, spec))
			tables, err := dst.Store.ListTables(context.Background())
			require.NoError(t, err)
			require.Empty(t, tables, "preflight changed nothing on the target")
		})
	}
	t.Run("reverse reconcile of tables a provision creates", func(t *testing.T) {
		src, dst := dbtest.New(t, datastore.Postgres), dbtest.New(t, datastore.SQLite)
		dbtest.Exec(t, src.Store, shopDDL(datastore.Postgres)...)
		spec := plainSpec("pf-reverse", datastore.Postgres, uniqueEnv(t, src.DSN), datastore.SQLite, uniqueEnv(t, dst.DSN), "")
		spec = strings.Replace(spec, "reconcile: {from: legacy, to: new, tables: [\"*\"]}", "reconcile: {from: legacy, to: new, tables: [\"*\"], direction: reverse}", 1)
		require.Empty(t, preflight(t, spec))
	})
	t.Run("a table nobody creates is still reported", func(t *testing.T) {
		src, dst := dbtest.New(t, datastore.Postgres), dbtest.New(t, datastore.MySQL)
		dbtest.Exec(t, src.Store, shopDDL(datastore.Postgres)...)
		spec := strings.Replace(plainSpec("pf-partial", datastore.Postgres, uniqueEnv(t, src.DSN), datastore.MySQL, uniqueEnv(t, dst.DSN), ""),
			`provision: {from: legacy, to: new, tables: ["*"]}`, `provision: {from: legacy, to: new, tables: [customers]}`, 1)
		problems := preflight(t, spec)
		require.NotEmpty(t, problems)
		for _, p := range problems {
			require.Contains(t, p, "orders", "only orders, which nothing creates, is missing: %v", problems)
		}
	})
}

// Item 2: a target database that does not exist is said to be missing,
// naming it and the store (not "access denied"); with createDatabase: true
// preflight passes, since provision will create it.
func TestPreflightMissingTargetDatabase(t *testing.T) {
	for _, engine := range []datastore.Engine{datastore.MySQL, datastore.Postgres} {
		t.Run(string(engine), func(t *testing.T) {
			src := dbtest.New(t, datastore.Postgres)
			dbtest.Exec(t, src.Store, shopDDL(datastore.Postgres)...)
			dsn, name := missingServerDSN(t, engine)
			srcEnv, dstEnv := uniqueEnv(t, src.DSN), uniqueEnv(t, dsn)
			problems := preflight(t, plainSpec("pf-nodb", datastore.Postgres, srcEnv, engine, dstEnv, ""))
			require.NotEmpty(t, problems)
			for _, p := range problems {
				require.Contains(t, p, "store new: database "+name+" does not exist")
				require.NotContains(t, p, "access denied")
			}
			require.Empty(t, preflight(t, plainSpec("pf-nodb", datastore.Postgres, srcEnv, engine, dstEnv, ", createDatabase: true")))
			exists, err := datastore.DatabaseExists(context.Background(), engine, dsn)
			require.NoError(t, err)
			require.False(t, exists, "preflight created the database")
		})
	}
}

func missingServerDSN(t *testing.T, engine datastore.Engine) (string, string) {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "godwit_missing_" + hex.EncodeToString(b)
	if engine == datastore.MySQL {
		return envOr("GODWIT_TEST_MYSQL", "root@tcp(127.0.0.1:3306)/") + name, name
	}
	u, err := url.Parse(envOr("GODWIT_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"))
	require.NoError(t, err)
	u.Path = "/" + name
	return u.String(), name
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// Item 3: preflight creates no SQLite file; a missing one is reported with
// its path and store; with createDatabase: true it passes.
func TestPreflightLeavesAMissingSQLiteFileMissing(t *testing.T) {
	src := dbtest.New(t, datastore.Postgres)
	dbtest.Exec(t, src.Store, shopDDL(datastore.Postgres)...)
	path := filepath.Join(t.TempDir(), "new.db")
	srcEnv, dstEnv := uniqueEnv(t, src.DSN), uniqueEnv(t, path)
	problems := preflight(t, plainSpec("pf-sqlite", datastore.Postgres, srcEnv, datastore.SQLite, dstEnv, ""))
	require.NotEmpty(t, problems)
	for _, p := range problems {
		require.Contains(t, p, "store new: SQLite database file "+path+" does not exist")
	}
	_, err := os.Stat(path)
	require.True(t, errors.Is(err, os.ErrNotExist), "preflight created %s", path)
	require.Empty(t, preflight(t, plainSpec("pf-sqlite", datastore.Postgres, srcEnv, datastore.SQLite, dstEnv, ", createDatabase: true")))
	_, err = os.Stat(path)
	require.True(t, errors.Is(err, os.ErrNotExist), "preflight created %s", path)
}

// Item 6: one database under two store names is refused by every phase
// that reads one side and writes (or compares) the other.
func TestPreflightRefusesOneDatabaseUnderTwoNames(t *testing.T) {
	for _, engine := range dbtest.Engines {
		t.Run(string(engine), func(t *testing.T) {
			db := dbtest.New(t, engine)
			dbtest.Exec(t, db.Store, shopDDL(engine)...)
			other := db.DSN
			switch engine {
			case datastore.SQLite:
				other = "file:" + db.DSN
			case datastore.Postgres:
				other = strings.Replace(db.DSN, "127.0.0.1", "localhost", 1)
			case datastore.MySQL:
				other = db.DSN + "?timeout=5s"
			}
			spec := fmt.Sprintf(`name: pf-same
stores:
  legacy: {engine: %[1]s, dsn: {fromEnv: %[2]s}}
  new: {engine: %[1]s, dsn: {fromEnv: %[3]s}}
phases:
  - phase: validate
    hook: {run: {command: ["true"]}}
  - phase: copy
    copy: {from: legacy, to: new, tables: [orders]}
  - phase: reconcile
    reconcile: {from: legacy, to: new, tables: [orders]}
`, engine, uniqueEnv(t, db.DSN), uniqueEnv(t, other))
			problems := preflight(t, spec)
			var same []string
			for _, p := range problems {
				if strings.Contains(p, "same database") {
					require.Contains(t, p, "stores legacy and new")
					same = append(same, strings.SplitN(p, ":", 2)[0])
				}
			}
			require.Equal(t, []string{"copy", "reconcile"}, same, "problems: %v", problems)
		})
	}
}

// Item 1: a spec written by `godwit init --description` passes the
// worker's preflight once its placeholders are filled in (the stores'
// variables, the commands), into an empty target: its provision creates
// the tables that its copy and reconcile need.
func TestInitSpecPassesPreflightOnceFilled(t *testing.T) {
	src, dst := dbtest.New(t, datastore.MySQL), dbtest.New(t, datastore.Postgres)
	dbtest.Exec(t, src.Store, shopDDL(datastore.MySQL)...)
	d, err := plan.LoadDescription(filepath.Join("..", "plan", "testdata", "database.json"))
	require.NoError(t, err)
	data, err := plan.InitSpec(d, plan.Options{})
	require.NoError(t, err)
	vars := map[string]string{"LEGACY_DSN": uniqueEnv(t, src.DSN), "NEW_DSN": uniqueEnv(t, dst.DSN)}
	filled := regexp.MustCompile(`fromEnv: 'TODO\(godwit init\)[^\n]*\(e\.g\. (\w+)\)'`).ReplaceAllStringFunc(string(data), func(m string) string {
		example := regexp.MustCompile(`\(e\.g\. (\w+)\)`).FindStringSubmatch(m)[1]
		return "fromEnv: " + vars[example]
	})
	filled = regexp.MustCompile(`command: \[TODO-[\w-]+-command\]`).ReplaceAllString(filled, `command: ["true"]`)
	require.NotRegexp(t, `: .?TODO`, filled, "every placeholder value filled (comments may keep theirs)")
	require.Empty(t, preflight(t, filled), "init's spec, filled in:\n%s", filled)
}

// TestPreflightProblemsHideASecretTheServerEchoes: a gateway admin API
// that answers 500 and echoes the request's bearer token in its body. The
// problem that quotes the answer goes into the preflight workflow's
// history and `godwit preflight`'s output: the token must not. Its variable
// is not named like a secret, so only the preflight's own read of it makes
// the worker know it.
func TestPreflightProblemsHideASecretTheServerEchoes(t *testing.T) {
	token := "gwEcho" + hex.EncodeToString([]byte(t.Name()))[:16]
	admin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no such route; you sent "+r.Header.Get("Authorization"), http.StatusInternalServerError)
	}))
	t.Cleanup(admin.Close)
	tokenEnv := uniqueEnv(t, token)
	problems := preflight(t, fmt.Sprintf(`name: pf-echo
phases:
  - phase: shift-traffic
    traffic:
      gateway: {admin: %q, token: {fromEnv: %s}}
      route: users
      writeConsistency: sharedStore
      steps: [{setWeight: 10}]
`, admin.URL, tokenEnv))
	require.NotEmpty(t, problems, "the gateway answers 500")
	text := strings.Join(problems, "\n")
	require.Contains(t, text, "answered 500", "the problem says what the gateway answered")
	require.NotContains(t, text, token, "the echoed token is redacted")
	require.Contains(t, text, "Bearer ***")
}
