package stores_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/drivers/stores"
	"github.com/godwit/godwit/mapping"
)

// otherName reaches the same PostgreSQL database under another DSN: the
// host by name instead of address, the parameters in another order.
func otherName(t *testing.T, dsn string) string {
	t.Helper()
	require.Contains(t, dsn, "127.0.0.1")
	other := strings.Replace(dsn, "127.0.0.1", "localhost", 1)
	return strings.Replace(other, "?sslmode=disable", "?application_name=godwit-lease-test&sslmode=disable", 1)
}

func TestLeaseKeysOfOneDatabaseUnderTwoDSNsAreOne(t *testing.T) {
	db := dbtest.New(t, datastore.Postgres)
	other := dbtest.New(t, datastore.Postgres)
	t.Setenv("LEASE_UT_A_DSN", db.DSN)
	t.Setenv("LEASE_UT_B_DSN", otherName(t, db.DSN))
	t.Setenv("LEASE_UT_C_DSN", other.DSN)
	t.Setenv("LEASE_UT_NEW_DSN", strings.Replace(db.DSN, "godwit_data_", "godwit_lease_absent_", 1))
	absent := filepath.Join(t.TempDir(), "absent.db")
	t.Setenv("LEASE_UT_FILE_DSN", absent)
	t.Setenv("LEASE_UT_DENIED_DSN", strings.Replace(db.DSN, "postgres@", "godwit_no_such_role@", 1))
	spec := &config.Spec{Name: "keys", Stores: map[string]config.StoreSpec{
		"a":      {Engine: "postgres", DSN: config.SecretRef{FromEnv: "LEASE_UT_A_DSN"}},
		"b":      {Engine: "postgres", DSN: config.SecretRef{FromEnv: "LEASE_UT_B_DSN"}},
		"c":      {Engine: "postgres", DSN: config.SecretRef{FromEnv: "LEASE_UT_C_DSN"}},
		"new":    {Engine: "postgres", DSN: config.SecretRef{FromEnv: "LEASE_UT_NEW_DSN"}},
		"file":   {Engine: "sqlite", DSN: config.SecretRef{FromEnv: "LEASE_UT_FILE_DSN"}},
		"denied": {Engine: "postgres", DSN: config.SecretRef{FromEnv: "LEASE_UT_DENIED_DSN"}},
		"unset":  {Engine: "postgres", DSN: config.SecretRef{FromEnv: "LEASE_UT_UNSET_DSN"}},
	}}
	resources := []string{
		"store:env:LEASE_UT_A_DSN/items",
		"store:env:LEASE_UT_B_DSN/items",
		"store:env:LEASE_UT_A_DSN/orders",
		"store:env:LEASE_UT_C_DSN/items",
		"store:env:LEASE_UT_NEW_DSN/items",
		"store:env:LEASE_UT_FILE_DSN/items",
		"route:http://gw:8080/orders",
		"store:env:LEASE_UT_DENIED_DSN/items",
		"store:env:LEASE_UT_UNSET_DSN/items",
	}
	keys, err := stores.LeaseKeys(context.Background(), spec, resources)
	require.NoError(t, err)
	require.Len(t, keys, len(resources))

	require.Equal(t, keys[0].Key, keys[1].Key, "one database under two DSNs is one lease")
	require.True(t, strings.HasPrefix(keys[0].Key, "store:postgres:"), keys[0].Key)
	require.NotEqual(t, keys[0].Key, keys[2].Key, "another table is another lease")
	require.NotEqual(t, keys[0].Key, keys[3].Key, "another database on the same server is another lease")
	require.Equal(t, "table items of store a", keys[0].Name)
	require.Equal(t, "table items of store b", keys[1].Name)
	require.Equal(t, resources[4], keys[4].Key, "a database not created yet is keyed as written")
	require.Equal(t, resources[5], keys[5].Key, "a SQLite file not created yet is keyed as written, and not created")
	require.NoFileExists(t, absent)
	require.Equal(t, resources[6], keys[6].Key, "a route is keyed as written")
	require.Equal(t, resources[7], keys[7].Key, "a store that refuses the login is keyed as written (preflight says why)")
	require.Equal(t, resources[8], keys[8].Key, "a store whose DSN is not set is keyed as written (preflight says why)")
	for i, k := range keys[:4] {
		id := activities.LeaseKeyID(k.Key)
		require.True(t, strings.HasPrefix(id, activities.LeaseIDPrefix), id)
		for _, name := range []string{"items", "orders", "LEASE_UT", "postgres"} {
			require.NotContains(t, id, name, "lease ID of %s", resources[i])
		}
	}
}

func TestParseResourceReadsBackWhatResourcesWrote(t *testing.T) {
	spec := &config.Spec{Stores: map[string]config.StoreSpec{
		"new":  {Engine: "postgres", DSN: config.SecretRef{FromEnv: "NEW_DSN"}},
		"file": {Engine: "sqlite", DSN: config.SecretRef{FromFile: "/run/secrets/new"}},
	}}
	for _, store := range []string{"new", "file"} {
		res := stores.Resources(spec, store, []string{"public.orders"})[0]
		got, table, ok := stores.ParseResource(spec, res)
		require.True(t, ok, res)
		require.Equal(t, store, got)
		require.Equal(t, "public.orders", table)
	}
	for _, res := range []string{"store:orders/public.users", "route:http://gw/orders", "terraform:infra#default", "store:env:OTHER_DSN/t"} {
		_, _, ok := stores.ParseResource(spec, res)
		require.False(t, ok, res)
	}
}

// A mapping that selects tables by pattern ("*") writes tables it does not
// name: its lease must still collide with a migration that names one of
// them, on the key that migration takes for it.
func TestAPatternLeasesTheTablesItStandsFor(t *testing.T) {
	legacy := dbtest.New(t, datastore.Postgres)
	target := dbtest.New(t, datastore.Postgres)
	dbtest.Exec(t, legacy.Store,
		"CREATE TABLE invoice_line (id int PRIMARY KEY)",
		"CREATE TABLE customer (id int PRIMARY KEY)")
	dbtest.Exec(t, target.Store, "CREATE TABLE \"Existing\" (id int PRIMARY KEY)")
	t.Setenv("LEASE_PT_LEGACY_DSN", legacy.DSN)
	t.Setenv("LEASE_PT_NEW_DSN", target.DSN)
	storesOf := map[string]config.StoreSpec{
		"legacy": {Engine: "postgres", DSN: config.SecretRef{FromEnv: "LEASE_PT_LEGACY_DSN"}},
		"new":    {Engine: "postgres", DSN: config.SecretRef{FromEnv: "LEASE_PT_NEW_DSN"}},
	}
	m := mapping.Spec{From: "legacy", To: "new", Names: "PascalCase", Tables: map[string]mapping.TableSpec{"*": {}}}
	byPattern := &config.Spec{Name: "a", Stores: storesOf, Mappings: map[string]mapping.Spec{"shop": m}}
	patternRes := stores.WrittenResources(byPattern, "new", &m, nil)
	require.Equal(t, []string{"store:env:LEASE_PT_NEW_DSN/*"}, patternRes)
	keys, err := stores.LeaseKeys(context.Background(), byPattern, patternRes)
	require.NoError(t, err)
	require.Len(t, keys, 1)

	byName := &config.Spec{Name: "b", Stores: storesOf}
	named, err := stores.LeaseKeys(context.Background(), byName, stores.Resources(byName, "new", []string{"InvoiceLine", "Customer", "Existing", "invoice_line"}))
	require.NoError(t, err)
	also := map[string]string{}
	for _, k := range keys[0].Also {
		also[k.Key] = k.Name
	}
	require.Len(t, also, 3, "the mapped source tables and the target's own: %v", also)
	for _, k := range named[:3] {
		require.Contains(t, also, k.Key, "the pattern leases %s under the key a spec naming it takes", k.Name)
	}
	require.NotContains(t, also, named[3].Key, "a source name the mapping renames is not leased as it is")
	require.Equal(t, "table InvoiceLine of store new (by *)", also[named[0].Key])

	// Without a mapping, a copy's pattern keeps the source's names.
	plain := &config.Spec{Name: "c", Stores: storesOf}
	keys, err = stores.LeaseKeys(context.Background(), plain, stores.Resources(plain, "new", []string{"inv*"}))
	require.NoError(t, err)
	require.Len(t, keys[0].Also, 1)
	require.Equal(t, named[3].Key, keys[0].Also[0].Key)
	require.Equal(t, "store:env:LEASE_PT_NEW_DSN/invoice_line", keys[0].Also[0].Legacy)
}
