package copy_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	copydriver "github.com/godwit/godwit/drivers/copy"
	"github.com/godwit/godwit/drivers/provision"
)

func keylessSpec(t *testing.T, src, dst dbtest.DB, optIn bool) *config.Spec {
	t.Helper()
	dir := t.TempDir()
	file := func(n, dsn string) string {
		p := filepath.Join(dir, n)
		require.NoError(t, os.WriteFile(p, []byte(dsn+"\n"), 0o600))
		return p
	}
	extra := ""
	if optIn {
		extra = ", fullCopy: [audit]"
	}
	text := fmt.Sprintf(`name: keyless
stores:
  legacy: {engine: %s, dsn: {fromFile: %s}}
  new: {engine: %s, dsn: {fromFile: %s}}
phases:
  - phase: provision
    provision: {from: legacy, to: new, tables: [plain, audit]%s}
  - phase: copy
    copy: {from: legacy, to: new, tables: [plain, audit], batchRows: 100, catchUp: {column: id, maxPasses: 1}%s}
`, src.Store.Engine, file("legacy", src.DSN), dst.Store.Engine, file("new", dst.DSN), extra, extra)
	spec, err := config.ParseSpec([]byte(text))
	require.NoError(t, err, text)
	return spec
}

// TestFullCopyThroughTheDrivers: preflight refuses a table without a key
// unless fullCopy lists it; with it, provision creates the table without
// a key and copy copies it in one pass, saying so in its status and
// summary (the catch-up column is not asked of it: a full copy has none).
func TestFullCopyThroughTheDrivers(t *testing.T) {
	for _, engine := range []datastore.Engine{datastore.Postgres, datastore.MySQL} {
		t.Run("sqlite to "+string(engine), func(t *testing.T) {
			ctx := context.Background()
			src, dst := dbtest.New(t, datastore.SQLite), dbtest.New(t, engine)
			seed(t, src, 400)
			dbtest.Exec(t, src.Store, `CREATE TABLE audit (who VARCHAR(40), n INTEGER)`)
			for i := 0; i < 5; i++ {
				dbtest.Exec(t, src.Store, `INSERT INTO audit SELECT 'u' || (id % 7), id % 3 FROM plain`)
			}
			prov, cp := provision.New(logger()), copydriver.New(logger())

			refused := keylessSpec(t, src, dst, false)
			problems := append(prov.Preflight(ctx, refused, refused.Phases[0]), cp.Preflight(ctx, refused, refused.Phases[1])...)
			require.Len(t, problems, 3, "%v", problems)
			assert.Equal(t, "store legacy: table audit has no column id for catchUp.column", problems[2])
			for _, p := range problems[:2] {
				assert.Contains(t, p, "store legacy: table audit has no primary key")
				assert.Contains(t, p, "fullCopy")
			}

			spec := keylessSpec(t, src, dst, true)
			assert.Empty(t, prov.Preflight(ctx, spec, spec.Phases[0]))
			assert.Empty(t, cp.Preflight(ctx, spec, spec.Phases[1]))
			_, err := prov.Do(ctx, activities.ActionRun, input(spec, 0), activities.Heartbeat{}, func(activities.Heartbeat) {})
			require.NoError(t, err)
			var details []string
			for attempt := 0; attempt < 2; attempt++ { // the second: a retry after success
				res, err := cp.Do(ctx, activities.ActionRun, input(spec, 1), activities.Heartbeat{}, func(hb activities.Heartbeat) { details = append(details, hb.Detail) })
				require.NoError(t, err)
				assert.Contains(t, res.Summary, "audit without a key copied in full, in one pass of multi-row INSERTs (not resumable)")
				assert.Equal(t, int64(200+1000), res.Records)
				assert.Equal(t, int64(1000), rowsIn(t, dst.Store, "audit"), "a retry doubles nothing")
			}
			assert.True(t, anyContains(details, "audit: ") && anyContains(details, "no key: full copy, restarts from zero if interrupted"), "%q", details)
			dbtest.AssertSameRows(t, src.Store, dst.Store, "plain")
		})
	}
}

func anyContains(ss []string, sub string) bool {
	for _, s := range ss {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
