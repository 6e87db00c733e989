package integration

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/migration"
)

// TestStatusOfAFannedOutCopySumsItsUnits reads `godwit status` again and
// again while a copy split into 8 units (7 key ranges and a table without
// a key) runs two at a time, and checks that what it shows is the whole
// phase, summed over its units, never one unit standing for it: the
// progress and the rows never go back between two reads, and at the end
// the rows copied are the tables' rows.
func TestStatusOfAFannedOutCopySumsItsUnits(t *testing.T) {
	t.Parallel()
	src, dst := dbtest.New(t, datastore.SQLite), dbtest.New(t, datastore.Postgres)
	dbtest.Exec(t, src.Store, "CREATE TABLE plain (id INTEGER PRIMARY KEY, label VARCHAR(40) NOT NULL)")
	seedPlain(t, src, 70_000)
	dbtest.Exec(t, src.Store, "CREATE TABLE audit (who VARCHAR(40), n INTEGER)",
		"INSERT INTO audit SELECT 'u' || (id % 9), id % 4 FROM plain WHERE id <= 3000",
		"INSERT INTO audit SELECT 'u' || (id % 9), id % 4 FROM plain WHERE id <= 3000")
	r := newDataRun(t, "it-fanstatus", src, dst, `
  - phase: provision
    provision: {from: legacy, to: new, tables: [plain, audit], fullCopy: [audit]}
  - phase: copy
    copy: {from: legacy, to: new, tables: [plain, audit], fanOut: 2, batchRows: 500, rowsPerSecond: 4000, splitRows: 10000, splitStreams: 8, fullCopy: [audit]}
`)
	r.start()
	r.waitFor("the copy to start", func(rep migration.Report) bool { return rep.Phases[1].State == migration.PhaseRunning })

	var reads []migration.PhaseReport
	var overall []float64
	summed := false
	for {
		rep := r.status()
		p := rep.Phases[1]
		if rep.Status.Final() || p.State != migration.PhaseRunning {
			break
		}
		if p.Units == 0 { // still listing its units
			time.Sleep(100 * time.Millisecond)
			continue
		}
		require.Equal(t, 8, p.Units, "7 key ranges of plain and audit")
		require.LessOrEqual(t, p.Progress, 100.0)
		// Rows of the planned total, as a copy in one activity reads
		// (SQLite has no estimate: the planner counted them).
		require.Equal(t, int64(76_000), p.RowsTotal)
		require.Equal(t, 2, p.TablesTotal)
		require.InDelta(t, min(100*float64(p.Records)/76_000, 99.9), p.Progress, 1e-9, "rows of the total, not units")
		head, _, _ := strings.Cut(p.Detail, "\n")
		require.Regexp(t, `^all 2 tables: [0-9,]+ / about 76,000 rows, [0-9,]+ rows/s`, head)
		if n := len(reads); n > 0 {
			prev := reads[n-1]
			require.GreaterOrEqual(t, p.Progress, prev.Progress, "the phase's progress went back between two reads: %+v then %+v", prev, p)
			require.GreaterOrEqual(t, p.Records, prev.Records, "the phase's rows went back between two reads")
			require.GreaterOrEqual(t, p.UnitsDone, prev.UnitsDone)
			require.GreaterOrEqual(t, rep.OverallProgress, overall[n-1])
		}
		// Not "at least the share of units done": progress is rows of the
		// total (asserted above), and the small audit unit (6,000 of
		// 76,000 rows) done first is one unit in 8 but 7.9 % of the rows.
		require.Equal(t, rep.Metrics.RecordsCopied, p.Records)
		if p.Records > 10_000 {
			summed = true // more rows than any one unit holds
		}
		reads = append(reads, p)
		overall = append(overall, rep.OverallProgress)
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("%d reads while the units ran; last: %d of 8 units done, %d rows, %.1f%%", len(reads), reads[len(reads)-1].UnitsDone, reads[len(reads)-1].Records, reads[len(reads)-1].Progress)
	require.GreaterOrEqual(t, len(reads), 2, "the copy ran too fast to be read twice: make it slower (rows, rowsPerSecond)")
	require.True(t, summed, "no read showed the units summed: %+v", reads)

	final, err := r.result()
	require.NoError(t, err, "%+v", final)
	require.Equal(t, migration.StatusCompleted, final.Status)
	require.Equal(t, int64(70_000+6000), final.Metrics.RecordsCopied, "every row of both tables, once")
	require.Equal(t, int64(70_000+6000), final.Phases[1].Records)
	require.Equal(t, 8, final.Phases[1].UnitsDone)
	require.Empty(t, final.Phases[1].RunningUnits)
	require.Zero(t, final.Metrics.ErrorRate)
	dbtest.AssertSameRows(t, src.Store, dst.Store, "plain")
	recordHistory(t, r.name)
}
