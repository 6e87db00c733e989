package gateway

import (
	"testing"
	"time"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestWindowSummary(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_000_000, 0)}
	w := newWindow(60*time.Second, clock.now)

	// 30 s ago: 100 slow failing requests, outside a 10 s window.
	for i := 0; i < 100; i++ {
		w.record(true, 2*time.Second)
	}
	clock.advance(30 * time.Second)
	// Now: 98 requests at 10 ms, 2 at 500 ms (one failed), 1 never answered.
	for i := 0; i < 98; i++ {
		w.record(false, 10*time.Millisecond)
	}
	w.record(false, 500*time.Millisecond)
	w.record(true, 500*time.Millisecond)
	w.record(true, -1)

	recent := w.summary(10 * time.Second)
	if recent.Requests != 101 || recent.Errors != 2 {
		t.Fatalf("10s window: requests=%d errors=%d, want 101 and 2", recent.Requests, recent.Errors)
	}
	if !near(recent.P50Ms, 10, 0.15) {
		t.Errorf("p50 = %vms, want about 10ms", recent.P50Ms)
	}
	if !near(recent.P99Ms, 500, 0.15) {
		t.Errorf("p99 = %vms, want about 500ms", recent.P99Ms)
	}
	if !near(recent.ErrorRate, 2.0/101, 0.001) || !near(recent.SuccessRate, 99.0/101, 0.001) {
		t.Errorf("rates error=%v success=%v", recent.ErrorRate, recent.SuccessRate)
	}

	all := w.summary(60 * time.Second)
	if all.Requests != 201 || all.Errors != 102 || all.TotalRequests != 201 {
		t.Fatalf("60s window: %+v, want 201 requests and 102 errors", all)
	}
	if !near(all.P99Ms, 2000, 0.15) {
		t.Errorf("p99 over 60s = %vms, want about 2000ms", all.P99Ms)
	}

	// A ring slot reused after a full turn forgets its old second.
	clock.advance(60 * time.Second)
	w.record(false, time.Millisecond)
	if got := w.summary(60 * time.Second); got.Requests != 1 {
		t.Fatalf("after a full turn: %d requests in window, want 1", got.Requests)
	}
}

func TestWindowEmpty(t *testing.T) {
	w := newWindow(10*time.Second, time.Now)
	s := w.summary(10 * time.Second)
	if s.Requests != 0 || s.ErrorRate != 0 || s.SuccessRate != 0 || s.P99Ms != 0 {
		t.Fatalf("empty window: %+v", s)
	}
}

func near(got, want, rel float64) bool {
	d := got - want
	if d < 0 {
		d = -d
	}
	return d <= rel*want
}
