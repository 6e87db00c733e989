package cdc

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
)

// A logical stream with nothing pending that has passed the source's WAL
// position is not behind: lag 0, through now, whatever the age of the last
// probe back. Anything pending or any WAL not yet passed keeps the probe's
// bound.
func TestLogicalLag(t *testing.T) {
	now := time.Date(2024, 1, 1, 12, 0, 10, 0, time.UTC)
	started := now.Add(-10 * time.Second)
	seen := now.Add(-1050 * time.Millisecond) // the probe sent at the last measurement
	pending := []txn{{commit: now.Add(-2 * time.Second), changes: make([]tableChange, 3)}}
	cases := []struct {
		name            string
		seen            time.Time
		ready           []txn
		open            *txn
		passed, current pglogrepl.LSN
		secs            float64
		changes, bytes  int64
		through         time.Time
	}{
		{"idle, WAL passed: 0", seen, nil, nil, 500, 500, 0, 0, 0, now},
		{"idle, stream ahead of the position read: 0", seen, nil, nil, 600, 500, 0, 0, 0, now},
		{"nothing pending, WAL not passed: the probe's age", seen, nil, nil, 400, 500, 1.05, 0, 100, seen},
		{"a transaction ready: its commit's age", seen, pending, nil, 500, 500, 2, 3, 0, pending[0].commit},
		{"a transaction open: the probe's age", seen, nil, &txn{changes: make([]tableChange, 2)}, 500, 500, 1.05, 2, 0, seen},
		{"no probe back yet, WAL not passed: since the start", time.Time{}, nil, nil, 400, 500, 10, 0, 100, time.Time{}},
		{"no probe back yet, WAL passed: 0", time.Time{}, nil, nil, 500, 500, 0, 0, 0, now},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := logicalLag(now, started, c.seen, c.ready, c.open, c.passed, c.current)
			if l.Seconds < c.secs-1e-9 || l.Seconds > c.secs+1e-9 || l.Changes != c.changes || l.Bytes != c.bytes || !l.Through.Equal(c.through) || !l.Measured.Equal(now) {
				t.Fatalf("got %.3fs, %d changes, %d bytes, through %s; want %.3fs, %d changes, %d bytes, through %s",
					l.Seconds, l.Changes, l.Bytes, l.Through.Format(time.StampMilli), c.secs, c.changes, c.bytes, c.through.Format(time.StampMilli))
			}
		})
	}
}

// An idle source with maxLag 1s, measured at the default interval (1s),
// completes its catch-up for every method: the lag of a capture with
// nothing behind is 0, not the probe interval.
func TestIdleSourceCatchesUpUnderOneSecond(t *testing.T) {
	for _, pc := range pairs() {
		t.Run(pc.name, func(t *testing.T) {
			src, dst := pc.open(t)
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			tbl := seed(t, src.Store, dst.Store, 5)
			o := runOpts(src, dst, captureName(t), pc.method)
			o.LagEvery, o.Wait = DefaultLagEvery, DefaultWait
			if _, err := Setup(ctx, o.Options); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { Teardown(context.Background(), o.Options) })
			(&writer{s: src.Store, tbl: tbl}).write(t, 10)
			const maxLag, hold = time.Second, 3 * time.Second
			caught := CaughtUp(maxLag, hold)
			var seen []string
			var last Progress
			o.Until = func(p Progress) bool {
				last = p
				seen = append(seen, p.Lag.Duration().Round(time.Millisecond).String())
				return caught(p)
			}
			// The hold needs 4 measurements under 1s: 30 s means the lag
			// never stayed under it.
			runCtx, stop := context.WithTimeout(ctx, 30*time.Second)
			defer stop()
			if _, err := Run(runCtx, o, Checkpoint{}, nil); err != nil {
				t.Fatalf("catch-up with maxLag %s, hold %s on an idle source did not complete: %v; lags measured: %v", maxLag, hold, err, seen)
			}
			if last.Lag.Seconds != 0 || last.Lag.Changes != 0 {
				t.Fatalf("idle source: last lag %.3fs, %d changes behind; want 0 and 0 (lags measured: %v)", last.Lag.Seconds, last.Lag.Changes, seen)
			}
		})
	}
}
