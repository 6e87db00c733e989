package cli

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/compat"
	"github.com/godwit/godwit/datastore/dbtest"
)

func TestSchemaExportThenCheckCompatAgainstTheDatabase(t *testing.T) {
	for _, engine := range dbtest.Engines {
		t.Run(string(engine), func(t *testing.T) {
			db := dbtest.New(t, engine)
			dbtest.Exec(t, db.Store,
				"CREATE TABLE users (id BIGINT PRIMARY KEY, email VARCHAR(255) NOT NULL, age INTEGER)",
				"CREATE TABLE orders (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL REFERENCES users(id), total DECIMAL(10,2))")
			dir := isolate(t)
			t.Setenv("SHOP_DSN", db.DSN)
			spec := writeSpec(t, "name: m\nstores:\n  shop: {engine: "+string(engine)+", dsn: {fromEnv: SHOP_DSN}}\n"+
				"phases:\n  - phase: validate\n    hook: {run: {command: [\"true\"]}}\n")
			file := filepath.Join(dir, "shop.json")

			_, errOut, err := run(t, noDial(t), "schema", "export", "--store", "shop", "-f", spec, "-o", file)
			require.NoError(t, err, errOut)
			assert.Contains(t, errOut, "wrote "+file+": 2 tables")
			exported, err := compat.LoadSchema(file)
			require.NoError(t, err)
			assert.Contains(t, exported.Tables["users"].Columns, "age")

			// The same database given by engine and DSN variable.
			out, _, err := run(t, noDial(t), "schema", "export", "--engine", string(engine), "--dsn-env", "SHOP_DSN")
			require.NoError(t, err)
			data, err := os.ReadFile(file)
			require.NoError(t, err)
			assert.JSONEq(t, string(data), out)

			report := filepath.Join(dir, "report.json")
			_, errOut, err = run(t, noDial(t), "check-compat", "--before", file, "--after-store", "shop", "-f", spec, "-o", report)
			require.NoError(t, err, errOut)
			assert.Contains(t, errOut, "fully_compatible: 0 change(s)")

			dbtest.Exec(t, db.Store, "ALTER TABLE users DROP COLUMN age")
			_, errOut, err = run(t, noDial(t), "check-compat", "--before", file, "--after-store", "shop", "-f", spec, "-o", report)
			var exit *exitError
			require.ErrorAs(t, err, &exit)
			assert.Equal(t, 2, exit.code)
			assert.Contains(t, errOut, "BREAKING             tables.users.columns.age: column users.age removed")
			rep, err := readCompatReport(report)
			require.NoError(t, err)
			assert.Equal(t, "store:shop", rep.After)
		})
	}
}

func TestSchemaFlagsAreChecked(t *testing.T) {
	spec := writeSpec(t, "name: m\nstores:\n  shop: {engine: sqlite, dsn: {fromEnv: SHOP_DSN}}\nphases:\n  - phase: validate\n    hook: {run: {command: [\"true\"]}}\n")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no database", []string{"schema", "export"}, "name the database: --store NAME -f SPEC, or --engine ENGINE --dsn-env VAR"},
		{"a store without a spec", []string{"schema", "export", "--store", "shop"}, "--store shop needs -f SPEC"},
		{"an unknown store", []string{"schema", "export", "--store", "nope", "-f", spec}, `has no store "nope" (it has shop)`},
		{"an engine without its DSN", []string{"schema", "export", "--engine", "postgres"}, "--engine needs --dsn-env VAR"},
		{"an unknown engine", []string{"schema", "export", "--engine", "oracle", "--dsn-env", "X"}, `--engine "oracle": use one of postgres, mysql, sqlite`},
		{"both ways", []string{"schema", "export", "--store", "shop", "-f", spec, "--engine", "sqlite"}, "not both"},
		{"a file and a store for one side", []string{"check-compat", "--before", "a.json", "--before-store", "shop", "--after", "b.json"}, "each side is a file or a store"},
		{"a store without a spec", []string{"check-compat", "--before", "a.json", "--after-store", "shop"}, "give it with -f SPEC"},
		{"an unknown store to compare", []string{"check-compat", "--before-store", "nope", "--after-store", "shop", "-f", spec}, `has no store "nope" (it has shop)`},
		{"an unset DSN variable", []string{"check-compat", "--before-store", "shop", "--after-store", "shop", "-f", spec}, "store shop: cannot read its DSN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := godwit(t, noDial(t), tc.args...)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
