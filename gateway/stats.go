package gateway

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/godwit/godwit/gateway/api"
)

// The latency histogram's bins grow by latencyGrowth from latencyBase, so
// a reported percentile is within about 15% of the true value from 100 µs
// to about a minute; slower requests land in the last bin.
const (
	latencyBins   = 100
	latencyBase   = 100 * time.Microsecond
	latencyGrowth = 1.15
)

var logLatencyGrowth = math.Log(latencyGrowth)

// latencyBin returns the bin whose upper bound is the first >= d.
func latencyBin(d time.Duration) int {
	if d <= latencyBase {
		return 0
	}
	i := int(math.Ceil(math.Log(float64(d)/float64(latencyBase)) / logLatencyGrowth))
	if i >= latencyBins {
		return latencyBins - 1
	}
	return i
}

// binUpper is the upper bound of bin i.
func binUpper(i int) time.Duration {
	return time.Duration(float64(latencyBase) * math.Pow(latencyGrowth, float64(i)))
}

// second is one second of a side's traffic. Its counters are atomics so
// that recording takes no lock; only the first request of a new second
// clears the slot, under the window's mutex.
type second struct {
	unix     atomic.Int64
	requests atomic.Uint64
	errors   atomic.Uint64
	timed    atomic.Uint64
	latency  [latencyBins]atomic.Uint32
}

// window keeps one side's traffic per second over a ring of seconds, so a
// summary over any recent window costs a scan of that many seconds and
// recording costs a few atomic adds.
type window struct {
	mu   sync.Mutex // taken once a second to recycle a slot, never per request
	ring []second
	now  func() time.Time

	// Totals since start, for the summary's context.
	totalRequests atomic.Uint64
	totalErrors   atomic.Uint64
}

func newWindow(span time.Duration, now func() time.Time) *window {
	n := int(span / time.Second)
	if n < 1 {
		n = 1
	}
	return &window{ring: make([]second, n), now: now}
}

// slot returns the ring entry for unix second t, cleared if it held an older
// second. The counters are zeroed before the new second is published, so a
// request that sees the slot as current never adds to a count that is then
// cleared.
func (w *window) slot(t int64) *second {
	s := &w.ring[int(t%int64(len(w.ring)))]
	if s.unix.Load() == t {
		return s
	}
	w.mu.Lock()
	if s.unix.Load() != t {
		s.requests.Store(0)
		s.errors.Store(0)
		s.timed.Store(0)
		for i := range s.latency {
			s.latency[i].Store(0)
		}
		s.unix.Store(t)
	}
	w.mu.Unlock()
	return s
}

// record counts one request; latency < 0 means no response was timed (the
// request never reached the side, e.g. an open breaker).
func (w *window) record(failed bool, latency time.Duration) {
	s := w.slot(w.now().Unix())
	s.requests.Add(1)
	w.totalRequests.Add(1)
	if failed {
		s.errors.Add(1)
		w.totalErrors.Add(1)
	}
	if latency >= 0 {
		s.timed.Add(1)
		s.latency[latencyBin(latency)].Add(1)
	}
}

// SideStats summarises one side of a route over a window.
type SideStats = api.SideStats

// summary covers the last span (rounded up to whole seconds, at most the ring).
func (w *window) summary(span time.Duration) SideStats {
	n := int64((span + time.Second - 1) / time.Second)
	if n < 1 {
		n = 1
	}
	if n > int64(len(w.ring)) {
		n = int64(len(w.ring))
	}
	now := w.now().Unix()
	var out SideStats
	var hist [latencyBins]uint64
	var timed uint64
	// Read without the lock: a summary racing with recording may miss the
	// requests of that instant, which the next sample sees.
	for i := range w.ring {
		s := &w.ring[i]
		if u := s.unix.Load(); u > now-n && u <= now {
			out.Requests += s.requests.Load()
			out.Errors += s.errors.Load()
			timed += s.timed.Load()
			for b := range s.latency {
				hist[b] += uint64(s.latency[b].Load())
			}
		}
	}
	out.TotalRequests, out.TotalErrors = w.totalRequests.Load(), w.totalErrors.Load()
	if out.Requests > 0 {
		out.ErrorRate = float64(out.Errors) / float64(out.Requests)
		out.SuccessRate = 1 - out.ErrorRate
	}
	out.P50Ms = percentile(hist[:], timed, 0.50)
	out.P95Ms = percentile(hist[:], timed, 0.95)
	out.P99Ms = percentile(hist[:], timed, 0.99)
	return out
}

// percentile returns the q-quantile in milliseconds, interpolated within its bin.
func percentile(hist []uint64, total uint64, q float64) float64 {
	if total == 0 {
		return 0
	}
	rank := q * float64(total)
	var seen float64
	for i, c := range hist {
		if c == 0 {
			continue
		}
		if seen+float64(c) >= rank {
			lo := time.Duration(0)
			if i > 0 {
				lo = binUpper(i - 1)
			}
			hi := binUpper(i)
			frac := (rank - seen) / float64(c)
			d := float64(lo) + frac*float64(hi-lo)
			return math.Round(d/float64(time.Millisecond)*1000) / 1000
		}
		seen += float64(c)
	}
	return float64(binUpper(len(hist)-1)) / float64(time.Millisecond)
}
