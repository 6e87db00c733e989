package integration

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/cdc"
	"github.com/godwit/godwit/cdc/cdctest"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/migration"
)

// TestStatusWarnsAboutACaptureLeftByAFailedRun sets a logical capture up
// (a slot and a publication on PostgreSQL) and fails past the point of no
// return, so nothing is undone and the capture stays: `godwit status`
// warns about the slot and names `godwit cleanup`, which removes it; then
// the warning is gone and the source holds no godwit_ object.
func TestStatusWarnsAboutACaptureLeftByAFailedRun(t *testing.T) {
	t.Parallel()
	cdctest.StopWhenDone(t)
	src, dst := cdctest.NewLogicalDB(t), dbtest.New(t, datastore.SQLite)
	dbtest.Exec(t, src.Store, dbtest.KitchenDDL(src.Store.Engine, "kitchen")...)
	name := "it-leftovers"
	r := newDataRun(t, name, src, dst, `  - phase: provision
    provision: {from: legacy, to: new, tables: [kitchen]}
  - phase: provision
    name: capture
    replicate: {from: legacy, to: new, tables: [kitchen], mode: setup}
  - phase: decommission
    retry: {maxAttempts: 1}
    hook:
      run: {command: ["false"]}
`)
	r.start()
	final, err := r.result()
	require.Error(t, err)
	require.Equal(t, migration.StatusFailed, final.Status)

	out, err := godwit(t, "status", name)
	require.NoError(t, err, out)
	slot := "slot godwit_" + cdc.CaptureName(name, "file:"+r.dir+"/legacy.dsn")
	require.Contains(t, out, "WARNING: the migration ended FAILED but its change capture objects remain", out)
	require.Contains(t, out, "⚠ legacy (postgres): "+slot, out)
	require.Contains(t, out, "remove them: godwit cleanup "+name, out)
	t.Log(out)

	out, err = godwit(t, "cleanup", name)
	require.NoError(t, err, out)
	require.Contains(t, out, "removed: legacy "+slot, out)
	left, err := cdc.Leftovers(context.Background(), src.Store)
	require.NoError(t, err)
	require.Empty(t, left, "cleanup removed the slot and the publication")

	out, err = godwit(t, "status", name)
	require.NoError(t, err, out)
	require.False(t, strings.Contains(out, "WARNING"), out)
}
