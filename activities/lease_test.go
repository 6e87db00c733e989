package activities_test

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
)

func TestPreflightListsEachLeaseOnceUnderItsHashedKey(t *testing.T) {
	a := activities.New(hclog.NewNullLogger())
	// Two names of one database key alike, as stores.LeaseKeys does.
	a.LeaseKeyer = oneDatabaseKeyer(nil)
	spec := config.Spec{Name: "x", Resources: []string{"store:env:A_DSN/orders", "store:env:B_DSN/orders", "store:env:A_DSN/items"}}
	res, err := a.Preflight(context.Background(), activities.PreflightInput{Spec: spec, Leases: true})
	require.NoError(t, err)
	require.Empty(t, res.Problems)
	require.Len(t, res.Leases, 2, "one database under two DSNs is one lease")
	byName := map[string]activities.LeaseResource{}
	for _, l := range res.Leases {
		byName[l.Name] = l
		require.True(t, strings.HasPrefix(l.ID, activities.LeaseIDPrefix+"k:"), l.ID)
		require.NotContains(t, l.ID, "DSN")
	}
	require.Equal(t, activities.LeaseKeyID("store:db-1/orders"), byName["table orders"].ID)
	require.Equal(t, []string{"store:env:A_DSN/orders", "store:env:B_DSN/orders"}, byName["table orders"].Legacy,
		"both old forms are checked")
	require.Less(t, res.Leases[0].ID, res.Leases[1].ID, "sorted by ID")

	res, err = a.Preflight(context.Background(), activities.PreflightInput{Spec: spec})
	require.NoError(t, err)
	require.Empty(t, res.Leases, "only asked for, since they need I/O")
}

func TestLeaseKeyIDsDifferFromOldFormIDs(t *testing.T) {
	require.Equal(t, "godwit-lease:store:orders", activities.LeaseWorkflowID("store:orders"))
	id := activities.LeaseKeyID("store:orders")
	require.Len(t, id, len("godwit-lease:k:")+32)
	require.NotEqual(t, id, activities.LeaseKeyID("store:orders2"))
	require.NotContains(t, id, "orders")
}

func TestPreflightListsThePatternsTablesAsLeasesOfTheirOwn(t *testing.T) {
	a := activities.New(hclog.NewNullLogger())
	a.LeaseKeyer = oneDatabaseKeyer(map[string][]string{"*": {"Customer", "Invoice"}})
	spec := config.Spec{Name: "x", Resources: []string{"store:env:A_DSN/*", "store:env:B_DSN/Invoice"}}
	res, err := a.Preflight(context.Background(), activities.PreflightInput{Spec: spec, Leases: true})
	require.NoError(t, err)
	byName := map[string]activities.LeaseResource{}
	for _, l := range res.Leases {
		byName[l.Name] = l
	}
	require.Len(t, res.Leases, 3, "the pattern, and each of its tables once: %v", res.Leases)
	require.Equal(t, activities.LeaseKeyID("store:db-1/Customer"), byName["table Customer (by *)"].ID)
	require.Equal(t, []string{"store:env:A_DSN/Customer"}, byName["table Customer (by *)"].Legacy)
	require.Equal(t, []string{"store:env:B_DSN/Invoice", "store:env:A_DSN/Invoice"}, byName["table Invoice"].Legacy,
		"a table also named by name is one lease, under its own name, checking both old forms")
}

// oneDatabaseKeyer keys every resource's table in one database (db-1),
// whatever DSN names it, as stores.LeaseKeys does; a pattern in also
// stands for the tables listed, each leased on its own.
func oneDatabaseKeyer(also map[string][]string) activities.LeaseKeyer {
	return func(_ context.Context, _ *config.Spec, resources []string) ([]activities.LeaseKey, error) {
		out := make([]activities.LeaseKey, len(resources))
		for i, r := range resources {
			table := r[strings.LastIndex(r, "/")+1:]
			out[i] = activities.LeaseKey{Key: "store:db-1/" + table, Name: "table " + table}
			for _, n := range also[table] {
				out[i].Also = append(out[i].Also, activities.LeaseKey{Key: "store:db-1/" + n, Name: "table " + n + " (by " + table + ")", Legacy: "store:env:A_DSN/" + n})
			}
		}
		return out, nil
	}
}
