package cli

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/migration"
	"github.com/godwit/godwit/schemachange"
)

// An ended run's dual-write trigger on a partitioned PostgreSQL table (one
// from before tags: godwit_dw_payment) is listed once, as the run's own,
// and cleanup removes it. PostgreSQL clones it onto every partition: the
// clones were listed too, as another migration's triggers (not on a table
// the run dual-writes) with a DROP that PostgreSQL refuses.
func TestStatusAndCleanupOfAPartitionedTablesDualWrite(t *testing.T) {
	isolate(t)
	ctx := context.Background()
	db := dbtest.New(t, datastore.Postgres)
	t.Setenv("LO_APP_DSN", db.DSN)
	dbtest.Exec(t, db.Store,
		`CREATE TABLE payment (payment_id integer NOT NULL, paid_at date NOT NULL, amount numeric(5,2), amount_cents integer, PRIMARY KEY (paid_at, payment_id)) PARTITION BY RANGE (paid_at)`,
		`CREATE TABLE payment_p2022_01 PARTITION OF payment FOR VALUES FROM ('2022-01-01') TO ('2022-02-01')`,
		`CREATE TABLE payment_p2022_02 PARTITION OF payment FOR VALUES FROM ('2022-02-01') TO ('2022-03-01')`,
		`INSERT INTO payment (payment_id, paid_at, amount) VALUES (1, '2022-01-05', 1.99), (2, '2022-02-05', 2.99)`)
	_, err := schemachange.Apply(ctx, db.Store, schemachange.Change{Name: "orders/expand",
		DualWrite: map[string][]datastore.DualWriteRule{"payment": {{Column: "amount_cents", Expr: "round(amount * 100)"}}}}, hclog.NewNullLogger())
	require.NoError(t, err)
	spec, err := config.ParseSpec([]byte(strings.Replace(fmt.Sprintf(dualWriteSpec, datastore.Postgres),
		`{users: {email_address: "email"}}`, `{payment: {amount_cents: "round(amount * 100)"}}`, 1)))
	require.NoError(t, err)

	ended := &fakeClient{states: []wfState{{report: endedReport(migration.StatusFailed), ended: true}}, startSpec: spec}
	out, _, err := run(t, ended.dial, "status", "orders")
	require.NoError(t, err)
	assert.Equal(t, 1, strings.Count(out, "dual-write trigger godwit_dw_payment"), "the trigger is listed once:\n%s", out)
	assert.NotContains(t, out, "payment_p2022", "a partition's clone of the trigger is listed")
	assert.NotContains(t, out, "dual-write triggers of another migration")

	out, _, err = run(t, ended.dial, "cleanup", "orders")
	require.NoError(t, err)
	assert.Contains(t, out, "removed: app dual-write trigger godwit_dw_payment")
	var left int
	require.NoError(t, db.Store.DB.QueryRow(`SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'godwit%'`).Scan(&left))
	assert.Zero(t, left, "triggers left after cleanup, clones included")
}
