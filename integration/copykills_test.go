package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/migration"
	"github.com/godwit/godwit/workflows"
)

// TestCopySharedByWorkersSurvivesRepeatedKills copies one table split into
// key ranges, fanned out so that several worker processes share it, while
// workers are killed with SIGKILL at random moments, six times, each
// replaced by a fresh one; and one worker kills itself right after a
// batch committed and before its checkpoint was heartbeated (the fault
// point GODWIT_FAULT_KILL_AFTER_BATCHES). Every range resumes from its
// last checkpoint on whichever worker picks it up; at the end the target
// holds exactly the source's rows, each key once.
func TestCopySharedByWorkersSurvivesRepeatedKills(t *testing.T) {
	t.Parallel()
	const rows = 80_000
	const kills = 6
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, seed>>1))
	t.Logf("random kill points from seed %d", seed)

	queue := "it-copy-kills"
	selfKiller := startWorkerAt(t, env.address, queue, "GODWIT_FAULT_KILL_AFTER_BATCHES=7")
	workers := []*workerProc{startWorkerAt(t, env.address, queue), startWorkerAt(t, env.address, queue)}

	src, dst := dbtest.New(t, datastore.Postgres), dbtest.New(t, datastore.MySQL)
	dbtest.Exec(t, src.Store, "CREATE TABLE plain (id INTEGER PRIMARY KEY, label VARCHAR(40) NOT NULL)")
	seedPlain(t, src, rows)
	// rowsPerSecond holds each of the 4 units to 800 rows/s, so the copy
	// (80,000 rows, 25 s or more) outlasts the six kills (at most 2.5 s
	// apart): a quiet machine copied the rows at 1,500 before the sixth.
	r := newDataRun(t, "it-copy-kills", src, dst, `  - phase: provision
    provision: {from: legacy, to: new, tables: [plain]}
  - phase: copy
    heartbeatTimeout: 3s
    retry: {maxAttempts: 30, initialInterval: 200ms, maxInterval: 1s}
    copy: {from: legacy, to: new, tables: [plain], batchRows: 500, rowsPerSecond: 800, splitRows: 10000, splitStreams: 8, fanOut: 4}
`)
	var out, errOut bytes.Buffer
	res, err := godwitOn(t, queue, &out, &errOut, "start", "-f", r.spec)
	require.NoError(t, err, res)
	r.waitFor("the copy to start", func(rep migration.Report) bool { return rep.Phases[1].State == migration.PhaseRunning })

	done := make(chan struct{})
	var final migration.Report
	var runErr error
	// Waited for in a goroutine of its own, so it must not fail the test
	// (a require there, after a failed assertion ended the test, panics
	// and aborts the whole package): it only records the outcome, and the
	// wait ends with the test.
	waitCtx, stopWaiting := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(func() { stopWaiting(); <-done })
	go func() {
		defer close(done)
		runErr = env.client.GetWorkflow(waitCtx, r.name, "").Get(waitCtx, &final)
		if f, ok := workflows.ReportFromError(runErr); ok {
			final = *f
		}
	}()
	killed := 0
	var lastRead migration.PhaseReport
	for killed < kills {
		select {
		case <-done:
			t.Fatalf("the copy ended after only %d of %d kills: make it longer (rows, rowsPerSecond)", killed, kills)
		case <-time.After(time.Duration(700+rng.IntN(1800)) * time.Millisecond):
		}
		i := rng.IntN(len(workers))
		workers[i].kill()
		killed++
		copied, err := dst.Store.Count(context.Background(), "plain")
		require.NoError(t, err)
		t.Logf("kill %d: worker %d, %d rows on the target", killed, i, copied)
		workers[i] = startWorkerAt(t, env.address, queue)
		if rep := statusAnswered(t, r.name); rep.Phases[1].State == migration.PhaseRunning && rep.Phases[1].Units > 0 {
			// The status sums the units, and a killed one goes on from
			// its checkpoint: what it shows never goes back.
			p := rep.Phases[1]
			require.GreaterOrEqual(t, p.Progress, lastRead.Progress, "progress went back after a kill: %+v then %+v", lastRead, p)
			require.GreaterOrEqual(t, p.Records, lastRead.Records, "rows went back after a kill")
			require.GreaterOrEqual(t, p.FailedAttempts, lastRead.FailedAttempts)
			lastRead = p
		}
	}
	<-done
	require.NoError(t, runErr, "%+v", final)
	require.Equal(t, migration.StatusCompleted, final.Status)
	require.Greater(t, final.Phases[1].Attempts, 1, "killed units ran again")
	require.Positive(t, final.Metrics.FailedAttempts, "the killed attempts are counted")
	require.Zero(t, final.Metrics.ErrorRate, "killed attempts that retries finished are no failed work")
	require.Equal(t, migration.RiskLow, final.Risk)
	require.Equal(t, int64(rows), final.Metrics.RecordsCopied)
	require.Contains(t, selfKiller.logs.String(), "fault injection: killing this worker between a batch's commit and its checkpoint",
		"the self-killing worker took part in the copy")

	n, err := dst.Store.Count(context.Background(), "plain")
	require.NoError(t, err)
	require.Equal(t, int64(rows), n)
	var distinct int64
	require.NoError(t, dst.Store.DB.QueryRowContext(context.Background(), "SELECT COUNT(DISTINCT id) FROM plain").Scan(&distinct))
	require.Equal(t, int64(rows), distinct, "a key copied twice")
	dbtest.AssertSameRows(t, src.Store, dst.Store, "plain")
	resumed := 0
	for _, w := range append(workers, selfKiller) {
		resumed += strings.Count(w.logs.String(), `"@message":"resuming from checkpoint"`)
	}
	t.Logf("units resumed from a checkpoint: %d (in the surviving workers' logs)", resumed)
}

// statusAnswered reads a run's status, waiting while no worker answers:
// each kill starts a worker again, and the one just started may not have
// polled yet when the others are gone too (the self-killing worker).
func statusAnswered(t *testing.T, name string) migration.Report {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, err := godwit(t, "status", name, "-o", "json")
		if err == nil {
			var rep migration.Report
			require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
			return rep
		}
		if time.Now().After(deadline) || !strings.Contains(err.Error(), "no worker answered") {
			require.NoError(t, err, out)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
