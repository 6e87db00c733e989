package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/migration"
)

// TestFaultDatabaseFaultsDuringCopy copies between PostgreSQL and MariaDB
// (both ways) with both databases behind fault-injecting proxies, and
// while the copy runs: every answer is late (latency), the target's
// connections are reset, and the source's connections go silent mid-batch
// until they time out. Each fault fails the attempt it hits; the next
// attempt resumes from the last committed batch's checkpoint (not from the
// start), and the target ends with exactly the source's rows.
func TestFaultDatabaseFaultsDuringCopy(t *testing.T) {
	t.Parallel()
	for _, pair := range []struct{ from, to datastore.Engine }{
		{datastore.Postgres, datastore.MySQL},
		{datastore.MySQL, datastore.Postgres},
	} {
		t.Run(string(pair.from)+" to "+string(pair.to), func(t *testing.T) {
			t.Parallel()
			name := fmt.Sprintf("it-fault-db-%s-%s", pair.from, pair.to)
			src, dst := dbtest.New(t, pair.from), dbtest.New(t, pair.to)
			seedKitchen(t, src, 6000)
			const plainRows = 30_000
			seedPlain(t, src, plainRows)

			srcProxy := newFaultProxy(t, name+"-src", serverAddr(t, pair.from, src.DSN))
			dstProxy := newFaultProxy(t, name+"-dst", serverAddr(t, pair.to, dst.DSN))
			r := newDataRun(t, name, src, dst, `  - phase: provision
    provision: {from: legacy, to: new, tables: [kitchen, plain]}
  - phase: copy
    heartbeatTimeout: 10s
    retry: {maxAttempts: 20, initialInterval: 300ms, maxInterval: 1s}
    copy: {from: legacy, to: new, tables: [kitchen, plain], batchRows: 500, rowsPerSecond: 6000, concurrency: 2}
  - phase: reconcile
    approval: {gate: check}
    heartbeatTimeout: 10s
    retry: {maxAttempts: 20, initialInterval: 300ms, maxInterval: 1s}
    reconcile: {from: legacy, to: new, tables: [kitchen, plain], threshold: 64}
`)
			// The worker reaches both databases through the proxies.
			for file, dsn := range map[string]string{
				"legacy.dsn": viaProxy(t, pair.from, src.DSN, srcProxy.Addr),
				"new.dsn":    viaProxy(t, pair.to, dst.DSN, dstProxy.Addr),
			} {
				require.NoError(t, os.WriteFile(filepath.Join(r.dir, file), []byte(dsn+"\n"), 0o600))
			}
			queue := name
			worker := startWorkerAt(t, env.address, queue)
			for _, p := range []*faultProxy{srcProxy, dstProxy} {
				p.add("latency", "latency", "downstream", map[string]any{"latency": 5, "jitter": 5})
			}
			out, err := godwitAt(t, env.address, queue, "start", "-f", r.spec)
			require.NoError(t, err, out)

			copied := func(n int64) func() bool {
				return func() bool {
					got, err := dst.Store.Count(context.Background(), "plain")
					return err == nil && got >= n
				}
			}
			waitUntil(t, "a fifth of plain copied", copied(plainRows/5))
			// Connection resets: every connection to the target is cut
			// with RST as soon as it carries data, for half a second.
			dstProxy.add("reset", "reset_peer", "upstream", map[string]any{"timeout": 0})
			time.Sleep(500 * time.Millisecond)
			dstProxy.remove("reset")

			before, err := dst.Store.Count(context.Background(), "plain")
			require.NoError(t, err)
			waitUntil(t, "more rows after the resets", copied(before+2000))
			// A timeout mid-batch: the source stops answering; after 2s the
			// proxy closes the connections.
			srcProxy.add("silence", "timeout", "downstream", map[string]any{"timeout": 2000})
			time.Sleep(2500 * time.Millisecond)
			srcProxy.remove("silence")

			// The reconcile meets the faults too: its connections to the
			// target are reset until one of its attempts has failed.
			d := &demo{t: t, name: name}
			statusAt := func() migration.Report {
				out, err := godwitAt(t, env.address, queue, "status", name, "-o", "json")
				require.NoError(t, err, out)
				var rep migration.Report
				require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
				return rep
			}
			deadline := time.Now().Add(90 * time.Second)
			for statusAt().WaitingGate != "check" {
				require.True(t, time.Now().Before(deadline), "timed out waiting for the check gate")
				time.Sleep(200 * time.Millisecond)
			}
			dstProxy.add("reset", "reset_peer", "upstream", map[string]any{"timeout": 0})
			out, err = godwitAt(t, env.address, queue, "approve", name, "--gate", "check")
			require.NoError(t, err, out)
			for rep := statusAt(); rep.Phases[2].Attempts < 2; rep = statusAt() {
				require.True(t, time.Now().Before(deadline), "the reconcile never failed an attempt under resets")
				time.Sleep(100 * time.Millisecond)
			}
			dstProxy.remove("reset")

			final, err := d.result()
			require.NoError(t, err, "%+v\nworker:\n%s", final, worker.logs.String())
			require.Equal(t, migration.StatusCompleted, final.Status)
			require.GreaterOrEqual(t, final.Phases[2].Attempts, 2, "the reset failed an attempt of the reconcile, which then passed")
			require.GreaterOrEqual(t, final.Phases[1].Attempts, 3, "each fault failed an attempt of the copy")
			require.Equal(t, int64(6000+plainRows), final.Phases[1].Records)
			dbtest.AssertSameRows(t, src.Store, dst.Store, "kitchen")
			dbtest.AssertSameRows(t, src.Store, dst.Store, "plain")

			resumed := 0
			for _, l := range worker.logLines() {
				if l["@message"] == "resuming from checkpoint" && l["migration"] == name {
					require.NotEqual(t, float64(0), l["rows_done"], "a later attempt started over")
					resumed++
				}
			}
			require.GreaterOrEqual(t, resumed, 2, "each later attempt resumed from a checkpoint")
			t.Logf("copy completed in %d attempts through latency, resets and a timeout", final.Phases[1].Attempts)
		})
	}
}

// waitUntil polls cond for at most a minute.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		require.True(t, time.Now().Before(deadline), "timed out waiting for %s", what)
		time.Sleep(20 * time.Millisecond)
	}
}
