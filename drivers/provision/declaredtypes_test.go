package provision_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/drivers/provision"
)

// A type declared in the spec that the target does not take — misspelt,
// or another engine's — is a preflight problem naming the table, column
// and type, not a provision that fails once the run started (the
// music-store trial's add.LineTotal {type: money2}, MariaDB →
// PostgreSQL); so is one under typeOverrides without a mapping.
func TestPreflightChecksTheDeclaredTypesOnTheTarget(t *testing.T) {
	src, dst := dbtest.New(t, datastore.MySQL), dbtest.New(t, datastore.Postgres)
	dbtest.Exec(t, src.Store, "CREATE TABLE invoice_line (invoice_line_id INT PRIMARY KEY, unit_price DECIMAL(10,2), quantity INT, note VARCHAR(20))")
	t.Setenv("DT_LEGACY", src.DSN)
	t.Setenv("DT_NEW", dst.DSN)
	spec := func(section, mappings string) *config.Spec {
		s, err := config.ParseSpec([]byte(fmt.Sprintf(`name: dt
stores:
  legacy: {engine: mysql, dsn: {fromEnv: DT_LEGACY}}
  new: {engine: postgres, dsn: {fromEnv: DT_NEW}}
%s
phases:
  - phase: provision
    provision: %s
`, mappings, section)))
		require.NoError(t, err)
		return s
	}
	mapped := func(typ string) *config.Spec {
		return spec("{mapping: m}", `mappings:
  m:
    from: legacy
    to: new
    names: PascalCase
    tables:
      invoice_line:
        to: InvoiceItem
        add: {LineTotal: {expr: "unit_price * quantity", type: "`+typ+`"}}
        cast: {note: {type: "varchar(40)"}}`)
	}
	d := provision.New(hclog.NewNullLogger())
	ctx := context.Background()
	require.Empty(t, d.Preflight(ctx, mapped("decimal(12,2)"), mapped("decimal(12,2)").Phases[0]))
	for _, typ := range []string{"money2", "tinyint", "decimal(12,2"} {
		s := mapped(typ)
		problems := d.Preflight(ctx, s, s.Phases[0])
		require.Len(t, problems, 1, typ)
		require.Contains(t, problems[0], fmt.Sprintf(`table InvoiceItem cannot be created in new: the target does not take the declared type: column LineTotal: type %q: `, typ))
		require.True(t, strings.HasSuffix(problems[0], "(fix the type under the mapping's add: or cast:)"), problems[0])
	}
	s := spec(`{from: legacy, to: new, tables: [invoice_line], typeOverrides: {invoice_line.note: "nvarchar(20)"}}`, "")
	problems := d.Preflight(ctx, s, s.Phases[0])
	require.Len(t, problems, 1)
	require.Contains(t, problems[0], `table invoice_line cannot be created in new: the target does not take the declared type: column note: type "nvarchar(20)": `)
}
