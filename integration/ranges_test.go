package integration

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/migration"
)

// TestACopyFannedOutByKeyRangeCompletesWithEveryRow splits one big table
// into key-range units (splitRows) that the test server's workers share,
// beside a table without a key copied in full (fullCopy), and checks every
// row arrived once and the sequence is past the highest key.
func TestACopyFannedOutByKeyRangeCompletesWithEveryRow(t *testing.T) {
	t.Parallel()
	src, dst := dbtest.New(t, datastore.SQLite), dbtest.New(t, datastore.Postgres)
	dbtest.Exec(t, src.Store, "CREATE TABLE plain (id INTEGER PRIMARY KEY, label VARCHAR(40) NOT NULL)")
	seedPlain(t, src, 35_000)
	dbtest.Exec(t, src.Store, "CREATE TABLE audit (who VARCHAR(40), n INTEGER)",
		"INSERT INTO audit SELECT 'u' || (id % 9), id % 4 FROM plain WHERE id <= 3000",
		"INSERT INTO audit SELECT 'u' || (id % 9), id % 4 FROM plain WHERE id <= 3000")
	r := newDataRun(t, "it-data-ranges", src, dst, `
  - phase: provision
    provision: {from: legacy, to: new, tables: [plain, audit], fullCopy: [audit]}
  - phase: copy
    copy: {from: legacy, to: new, tables: [plain, audit], fanOut: 3, batchRows: 1000, splitRows: 10000, splitStreams: 8, fullCopy: [audit]}
`)
	r.start()
	final, err := r.result()
	require.NoError(t, err, "%+v", final)
	require.Equal(t, migration.StatusCompleted, final.Status)
	require.Equal(t, int64(35_000+6000), final.Phases[1].Records)
	require.Equal(t, "5 of 5 units done, 0 running", final.Phases[1].Step)
	require.True(t, strings.HasPrefix(final.Phases[1].Summary,
		"5 units: audit: copied 6,000 rows of 1 table from legacy to new"), final.Phases[1].Summary)
	require.Contains(t, final.Phases[1].Summary, "plain [, 10001): copied 10,000 rows of 1 table from legacy to new in 1 key range")
	require.Contains(t, final.Phases[1].Summary, "plain [30001, ): copied 5,000 rows")
	require.Contains(t, final.Phases[1].Summary, "audit without a key copied in full, in one pass of multi-row INSERTs (not resumable)")
	dbtest.AssertSameRows(t, src.Store, dst.Store, "plain")
	n, err := dst.Store.Count(context.Background(), "audit")
	require.NoError(t, err)
	require.Equal(t, int64(6000), n)
	var id int64
	require.NoError(t, dst.Store.DB.QueryRow(`INSERT INTO plain (label) VALUES ('new') RETURNING id`).Scan(&id))
	require.Equal(t, int64(35_001), id, "the sequence is past every range's keys")
	out, err := godwit(t, "output", r.name, "copy")
	require.NoError(t, err, out)
	require.Equal(t, 5, strings.Count(out, "== copy run, attempt"), "one activity per key range and per table:\n%s", out)
}

// TestDataPlaneSplitCopyResumesAfterWorkerKilled copies one table as four
// key ranges inside one activity, two at a time, kills the worker with
// SIGKILL in the middle, and checks that the new worker resumed every
// range from the heartbeat's checkpoint (the ranges kept, not planned
// again) and that the target holds exactly the source's rows.
func TestDataPlaneSplitCopyResumesAfterWorkerKilled(t *testing.T) {
	t.Parallel()
	bin := buildWorker(t)
	queue := "it-data-split-crash"
	first, _ := startWorker(t, bin, queue)

	const rows = 40_000
	src, dst := dbtest.New(t, datastore.SQLite), dbtest.New(t, datastore.Postgres)
	dbtest.Exec(t, src.Store, "CREATE TABLE plain (id INTEGER PRIMARY KEY, label VARCHAR(40) NOT NULL)")
	seedPlain(t, src, rows)
	r := newDataRun(t, "it-data-split-crash", src, dst, `  - phase: provision
    provision: {from: legacy, to: new, tables: [plain]}
  - phase: copy
    heartbeatTimeout: 3s
    copy: {from: legacy, to: new, tables: [plain], batchRows: 500, rowsPerSecond: 5000, splitRows: 10000, splitStreams: 8, concurrency: 2}
`)
	var out, errOut bytes.Buffer
	res, err := godwitOn(t, queue, &out, &errOut, "start", "-f", r.spec)
	require.NoError(t, err, res)

	running := r.waitFor("the copy to be a fifth done", func(rep migration.Report) bool {
		return rep.Phases[1].State == migration.PhaseRunning && rep.Phases[1].Progress >= 20
	})
	require.Regexp(t, `^plain: [\d,]+ / 40,000 rows \([0-4] of 4 key ranges done\), [\d,]+ rows/s, ETA \d+s$`, running.Phases[1].Detail)
	require.NoError(t, first.Process.Signal(syscall.SIGKILL))
	_, _ = first.Process.Wait()
	copiedBefore, err := dst.Store.Count(context.Background(), "plain")
	require.NoError(t, err)
	require.Less(t, copiedBefore, int64(rows), "killed mid-copy")

	_, logs := startWorker(t, bin, queue)
	final, err := r.result()
	require.NoError(t, err, "%+v", final)
	require.Equal(t, migration.StatusCompleted, final.Status)
	require.GreaterOrEqual(t, final.Phases[1].Attempts, 2, "the copy ran a second attempt on the new worker")
	require.Equal(t, int64(rows), final.Phases[1].Records)
	require.Contains(t, final.Phases[1].Summary, "copied 40,000 rows of 1 table from legacy to new in 4 key ranges")
	dbtest.AssertSameRows(t, src.Store, dst.Store, "plain")

	resumed := regexp.MustCompile(`"@message":"resuming from checkpoint"[^\n]*"rows_done":(\d+)`).FindStringSubmatch(logs.String())
	require.NotNil(t, resumed, "the second worker resumed from a checkpoint:\n%s", logs.String())
	require.NotEqual(t, "0", resumed[1])
	require.NotContains(t, logs.String(), `"@message":"split into key ranges"`, "the ranges were kept, not planned again")
}
