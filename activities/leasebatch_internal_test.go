package activities

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestForEachRunsAtMostSixteenAtOnce(t *testing.T) {
	var now, most, done atomic.Int64
	err := forEach(context.Background(), 200, func(context.Context, int) error {
		n := now.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(time.Millisecond)
		now.Add(-1)
		done.Add(1)
		return nil
	}, nil)
	require.NoError(t, err)
	require.EqualValues(t, 200, done.Load())
	require.EqualValues(t, leaseStarts, most.Load())
}

func TestForEachStopsStartingAfterAnErrorButFinishesThoseUnderWay(t *testing.T) {
	boom := errors.New("held")
	var started, finished atomic.Int64
	err := forEach(context.Background(), 1000, func(_ context.Context, i int) error {
		started.Add(1)
		defer finished.Add(1)
		if i == 20 {
			return boom
		}
		time.Sleep(2 * time.Millisecond)
		return nil
	}, nil)
	require.ErrorIs(t, err, boom)
	require.Less(t, started.Load(), int64(1000), "no more started after the error")
	require.Equal(t, started.Load(), finished.Load(), "every one started finished before it returned")
}
