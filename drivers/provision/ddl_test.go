package provision_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	copydriver "github.com/godwit/godwit/drivers/copy"
	"github.com/godwit/godwit/drivers/provision"
	"github.com/godwit/godwit/specfiles"
)

// targetDDL creates the source's customers and orders on each engine, in
// its own terms (an extra column, a foreign key, an index).
var targetDDL = map[datastore.Engine]string{
	datastore.Postgres: `-- the new shop
CREATE TABLE customers (id bigint PRIMARY KEY, name varchar(100) NOT NULL, tier text);
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint REFERENCES customers (id), total numeric(12,2));
CREATE INDEX orders_by_customer ON orders (customer_id);
`,
	datastore.MySQL: "CREATE TABLE customers (id BIGINT PRIMARY KEY, name VARCHAR(100) NOT NULL, tier TEXT) COLLATE=utf8mb4_bin;\n" +
		"CREATE TABLE orders (id BIGINT PRIMARY KEY, customer_id BIGINT, total DECIMAL(12,2), FOREIGN KEY (customer_id) REFERENCES customers (id)) COLLATE=utf8mb4_bin;\n",
	datastore.SQLite: "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, tier TEXT);\n" +
		"CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers (id), total DECIMAL_TEXT(12,2));\n",
}

func ddlSpec(t *testing.T, src, dst dbtest.DB, ddl string) *config.Spec {
	t.Helper()
	// The worker reads spec files under its files directory only.
	t.Setenv(specfiles.DirEnv, os.TempDir())
	dir := t.TempDir()
	file := func(n, text string) string {
		p := filepath.Join(dir, n)
		require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
		return p
	}
	text := fmt.Sprintf(`name: ddl-%s
stores:
  legacy: {engine: %s, dsn: {fromFile: %s}}
  new: {engine: %s, dsn: {fromFile: %s}}
phases:
  - phase: provision
    provision: {from: legacy, to: new, tables: [customers, orders], ddl: {fromFile: %s}}
  - phase: copy
    copy: {from: legacy, to: new, tables: [customers, orders], batchRows: 2}
`, dst.Store.Engine, src.Store.Engine, file("legacy", src.DSN), dst.Store.Engine, file("new", dst.DSN), file("shop.sql", ddl))
	spec, err := config.ParseSpec([]byte(text))
	require.NoError(t, err, text)
	return spec
}

func seedShop(t *testing.T, db dbtest.DB) {
	dbtest.Exec(t, db.Store,
		"CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
		"CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers (id), total DECIMAL(10,2))",
		"INSERT INTO customers VALUES (1, 'Ann'), (2, 'Bő'), (3, 'Cy')",
		"INSERT INTO orders VALUES (10, 1, 9.99), (11, 2, 0.01), (12, 3, NULL), (13, 1, 100)")
}

func in(spec *config.Spec, i int) activities.PhaseInput {
	return activities.PhaseInput{Migration: spec.Name, Phase: spec.Phases[i]}
}

func none(activities.Heartbeat) {}

// TestProvisionFromDDLFileThenCopy: on each target engine the tables come
// from the spec's DDL file, the copy fills them, and the compensations
// empty and drop exactly them.
func TestProvisionFromDDLFileThenCopy(t *testing.T) {
	for _, engine := range dbtest.Engines {
		t.Run(string(engine), func(t *testing.T) {
			ctx := context.Background()
			src, dst := dbtest.New(t, datastore.SQLite), dbtest.New(t, engine)
			seedShop(t, src)
			spec := ddlSpec(t, src, dst, targetDDL[engine])
			prov, cp := provision.New(hclog.NewNullLogger()), copydriver.New(hclog.NewNullLogger())
			require.Empty(t, prov.Preflight(ctx, spec, spec.Phases[0]))
			res, err := prov.Do(ctx, activities.ActionRun, in(spec, 0), activities.Heartbeat{}, none)
			require.NoError(t, err)
			assert.Equal(t, "created 2 tables in new: customers, orders", res.Summary)
			tier, err := dst.Store.Introspect(ctx, "customers")
			require.NoError(t, err)
			assert.NotNil(t, tier.Column("tier"), "the file's DDL, not a rendered one")

			res, err = cp.Do(ctx, activities.ActionRun, in(spec, 1), activities.Heartbeat{}, none)
			require.NoError(t, err)
			assert.Equal(t, int64(7), res.Records, res.Summary)
			assert.NotContains(t, res.Summary, "foreign key", "the script says which foreign keys exist: the copy adds none")
			dbtest.AssertSameRows(t, src.Store, dst.Store, "customers")
			dbtest.AssertSameRows(t, src.Store, dst.Store, "orders")

			// The tables reference each other: emptied all the same.
			_, err = cp.Do(ctx, activities.ActionCompensate, in(spec, 1), activities.Heartbeat{}, none)
			require.NoError(t, err)
			assert.Zero(t, count(t, dst.Store, "customers")+count(t, dst.Store, "orders"))
			res, err = prov.Do(ctx, activities.ActionCompensate, in(spec, 0), activities.Heartbeat{}, none)
			require.NoError(t, err)
			assert.Equal(t, "dropped 2 tables this migration created in new: customers, orders", res.Summary)
			tables, err := dst.Store.ListTables(ctx)
			require.NoError(t, err)
			assert.Empty(t, tables)
		})
	}
}

// TestDDLFileProblems: preflight names a missing file and a script that
// creates a table not listed; the run refuses them without retrying and
// creates nothing.
func TestDDLFileProblems(t *testing.T) {
	ctx := context.Background()
	src, dst := dbtest.New(t, datastore.SQLite), dbtest.New(t, datastore.MySQL)
	seedShop(t, src)
	prov := provision.New(hclog.NewNullLogger())

	spec := ddlSpec(t, src, dst, targetDDL[datastore.MySQL]+"CREATE TABLE audit (id INT PRIMARY KEY);\n")
	problems := prov.Preflight(ctx, spec, spec.Phases[0])
	require.Len(t, problems, 1, "%v", problems)
	assert.Contains(t, problems[0], "statement 3 (line 3) creates table audit, which is not in tables (customers, orders)")
	_, err := prov.Do(ctx, activities.ActionRun, in(spec, 0), activities.Heartbeat{}, none)
	assertConfigError(t, err, "creates table audit, which is not in tables")

	p := spec.Phases[0].Driver.(*provision.Spec)
	p.DDL.FromFile = filepath.Join(t.TempDir(), "gone.sql")
	problems = prov.Preflight(ctx, spec, spec.Phases[0])
	require.Len(t, problems, 1, "%v", problems)
	assert.Regexp(t, regexp.MustCompile(`^ddl.fromFile .*gone.sql cannot be read on this worker: `), problems[0])
	_, err = prov.Do(ctx, activities.ActionRun, in(spec, 0), activities.Heartbeat{}, none)
	assertConfigError(t, err, "gone.sql cannot be read on this worker")

	// Outside the files directory: refused, and its content never quoted.
	secretFile := filepath.Join(t.TempDir(), "passwd")
	require.NoError(t, os.WriteFile(secretFile, []byte("root:hunter2-pw:0:0\n"), 0o600))
	t.Setenv(specfiles.DirEnv, t.TempDir())
	for _, path := range []string{secretFile, "../" + filepath.Base(filepath.Dir(secretFile)) + "/passwd", "../../../../../../etc/passwd"} {
		p.DDL.FromFile = path
		problems = prov.Preflight(ctx, spec, spec.Phases[0])
		require.Len(t, problems, 1, "%v", problems)
		assert.Contains(t, problems[0], "is outside the directory the worker reads spec files from")
		assert.NotContains(t, problems[0], "hunter2")
		_, err = prov.Do(ctx, activities.ActionRun, in(spec, 0), activities.Heartbeat{}, none)
		assertConfigError(t, err, "GODWIT_FILES_DIR")
		assert.NotContains(t, err.Error(), "root:")
	}

	tables, err := dst.Store.ListTables(ctx)
	require.NoError(t, err)
	assert.Empty(t, tables)
}

func assertConfigError(t *testing.T, err error, want string) {
	t.Helper()
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "%v", err)
	assert.True(t, appErr.NonRetryable())
	assert.Equal(t, activities.ErrTypeConfig, appErr.Type())
	assert.Contains(t, appErr.Error(), want)
}

func TestDDLSpecChecks(t *testing.T) {
	for _, tt := range []struct{ name, section, want string }{
		{"fromFile is required", `ddl: {}`, "provision.ddl.fromFile: is required"},
		{"no type overrides with a file", `ddl: {fromFile: s.sql}, typeOverrides: {t.c: TEXT}`, "provision.typeOverrides: applies to rendered DDL only"},
		{"no deferred indexes with a file", `ddl: {fromFile: s.sql}, deferIndexes: true`, "provision.deferIndexes: applies to rendered DDL only"},
		{"unknown fields", `ddl: {fromfile: s.sql}`, "provision.ddl.fromfile: unknown field"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.ParseSpec([]byte(`name: d
stores:
  legacy: {engine: sqlite, dsn: {fromEnv: A}}
  new: {engine: postgres, dsn: {fromEnv: B}}
phases:
  - phase: provision
    provision: {from: legacy, to: new, tables: [t], ` + tt.section + `}
`))
			require.Error(t, err)
			assert.Contains(t, regexp.MustCompile(` \(line \d+\)`).ReplaceAllString(err.Error(), ""), tt.want)
		})
	}
}

func count(t *testing.T, s *datastore.Store, table string) int64 {
	t.Helper()
	n, err := s.Count(context.Background(), table)
	require.NoError(t, err)
	return n
}

// mappedDDL creates the mapped shop's target tables (PascalCase, SalesLine
// for order_line, Price for unit_price, legacy_note dropped, LineTotal
// added) on each engine, as a DBA would write them.
var mappedDDL = map[datastore.Engine]string{
	datastore.Postgres: `CREATE TABLE "CustomerAccount" ("CustomerAccountId" bigint PRIMARY KEY, "FullName" varchar(100) NOT NULL);
CREATE TABLE "SalesLine" ("OrderLineId" bigint PRIMARY KEY, "Quantity" integer, "Price" numeric(10,2), "LineTotal" numeric(12,2),
  "CustomerAccountId" bigint REFERENCES "CustomerAccount" ("CustomerAccountId"));
CREATE INDEX sales_line_by_account ON "SalesLine" ("CustomerAccountId");
`,
	datastore.MySQL: "CREATE TABLE CustomerAccount (CustomerAccountId BIGINT PRIMARY KEY, FullName VARCHAR(100) NOT NULL);\n" +
		"CREATE TABLE SalesLine (OrderLineId BIGINT PRIMARY KEY, CustomerAccountId BIGINT, Price DECIMAL(10,2), Quantity INT, LineTotal DECIMAL(12,2),\n" +
		"  INDEX sales_line_by_account (CustomerAccountId), FOREIGN KEY (CustomerAccountId) REFERENCES CustomerAccount (CustomerAccountId));\n",
	datastore.SQLite: "CREATE TABLE CustomerAccount (CustomerAccountId INTEGER PRIMARY KEY, FullName TEXT NOT NULL);\n" +
		"CREATE TABLE SalesLine (OrderLineId INTEGER PRIMARY KEY, CustomerAccountId INTEGER REFERENCES CustomerAccount (CustomerAccountId), Price DECIMAL_TEXT(10,2), Quantity INTEGER, LineTotal DECIMAL_TEXT(12,2));\n",
}

// TestMappedProvisionFromADDLFile: a mapped provision takes its target
// tables from a DDL file written in the mapping's names; the file is
// checked against the mapped tables (a column the mapping carries that
// the file leaves out is refused, naming it, and nothing is left
// created), and a mapped copy fills what it created.
func TestMappedProvisionFromADDLFile(t *testing.T) {
	for _, engine := range dbtest.Engines {
		t.Run(string(engine), func(t *testing.T) {
			ctx := context.Background()
			src, dst := dbtest.New(t, datastore.SQLite), dbtest.New(t, engine)
			dbtest.Exec(t, src.Store,
				"CREATE TABLE customer_account (customer_account_id INTEGER PRIMARY KEY, full_name TEXT NOT NULL)",
				"CREATE TABLE order_line (order_line_id INTEGER PRIMARY KEY, customer_account_id INTEGER REFERENCES customer_account (customer_account_id), unit_price DECIMAL(10,2), quantity INTEGER, legacy_note TEXT)",
				"INSERT INTO customer_account VALUES (1, 'Ann'), (2, 'Bő')",
				"INSERT INTO order_line VALUES (10, 1, 9.99, 2, 'x'), (11, 2, 0.50, 4, NULL), (12, 1, 100, 1, 'y')")
			t.Setenv(specfiles.DirEnv, os.TempDir())
			dir := t.TempDir()
			file := func(n, text string) string {
				p := filepath.Join(dir, n)
				require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
				return p
			}
			ddl := file("shop.sql", mappedDDL[engine])
			text := fmt.Sprintf(`name: mapped-ddl-%s
stores:
  legacy: {engine: sqlite, dsn: {fromFile: %s}}
  new: {engine: %s, dsn: {fromFile: %s}}
mappings:
  shop:
    from: legacy
    to: new
    names: PascalCase
    tables:
      order_line:
        to: SalesLine
        columns: {unit_price: Price}
        drop: [legacy_note]
        add: {LineTotal: {expr: "unit_price * quantity", type: "decimal(12,2)"}}
      customer_account: {}
phases:
  - phase: provision
    provision: {mapping: shop, ddl: {fromFile: %s}}
  - phase: copy
    copy: {mapping: shop, batchRows: 2}
`, engine, file("legacy", src.DSN), engine, file("new", dst.DSN), ddl)
			spec, err := config.ParseSpec([]byte(text))
			require.NoError(t, err)
			prov, cp := provision.New(hclog.NewNullLogger()), copydriver.New(hclog.NewNullLogger())
			require.Empty(t, prov.Preflight(ctx, spec, spec.Phases[0]))
			res, err := prov.Do(ctx, activities.ActionRun, in(spec, 0), activities.Heartbeat{}, none)
			require.NoError(t, err)
			assert.Equal(t, "created 2 tables in new: CustomerAccount, SalesLine", res.Summary)
			res, err = cp.Do(ctx, activities.ActionRun, in(spec, 1), activities.Heartbeat{}, none)
			require.NoError(t, err)
			assert.Equal(t, int64(5), res.Records, res.Summary)
			var total string
			q := map[datastore.Engine]string{datastore.Postgres: `SELECT CAST("LineTotal" AS text) FROM "SalesLine" WHERE "OrderLineId" = 11`}[engine]
			if q == "" {
				q = "SELECT CAST(LineTotal AS CHAR) FROM SalesLine WHERE OrderLineId = 11"
				if engine == datastore.SQLite {
					q = "SELECT CAST(LineTotal AS TEXT) FROM SalesLine WHERE OrderLineId = 11"
				}
			}
			require.NoError(t, dst.Store.DB.QueryRowContext(ctx, q).Scan(&total))
			assert.Contains(t, []string{"2.00", "2"}, total, "LineTotal computed by the source")
			_, err = cp.Do(ctx, activities.ActionCompensate, in(spec, 1), activities.Heartbeat{}, none)
			require.NoError(t, err)
			_, err = prov.Do(ctx, activities.ActionCompensate, in(spec, 0), activities.Heartbeat{}, none)
			require.NoError(t, err)

			// A file that leaves out a column the mapping carries.
			without := strings.NewReplacer(`, "Price" numeric(10,2)`, "", ", Price DECIMAL(10,2)", "", ", Price DECIMAL_TEXT(10,2)", "").Replace(mappedDDL[engine])
			require.NotEqual(t, mappedDDL[engine], without)
			require.NoError(t, os.WriteFile(ddl, []byte(without), 0o600))
			_, err = prov.Do(ctx, activities.ActionRun, in(spec, 0), activities.Heartbeat{}, none)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "table SalesLine")
			assert.Contains(t, err.Error(), "Price")
			tables, err := dst.Store.ListTables(ctx)
			require.NoError(t, err)
			assert.Empty(t, tables, "nothing left created")
		})
	}
}
