package client

import (
	"testing"

	"github.com/godwit/godwit/gateway/api"
)

func TestAnalyze(t *testing.T) {
	th := Thresholds{MinRequests: 100, MaxErrorRate: 0.01, MaxP99Ms: 500}
	cases := []struct {
		name  string
		stats api.RouteStats
		want  Outcome
	}{
		{"healthy", stats(1000, 2, 120, api.BreakerClosed), Pass},
		{"too few requests", stats(50, 0, 10, api.BreakerClosed), Inconclusive},
		{"error rate breached", stats(1000, 20, 120, api.BreakerClosed), Fail},
		{"p99 breached", stats(1000, 0, 900, api.BreakerClosed), Fail},
		{"breaches fail even with few requests", stats(10, 10, 0, api.BreakerClosed), Fail},
		{"open breaker fails", stats(1000, 0, 10, api.BreakerOpen), Fail},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := Analyze(c.stats, th)
			if v.Outcome != c.want {
				t.Fatalf("outcome %s (%v), want %s", v.Outcome, v.Reasons, c.want)
			}
			if v.Outcome != Pass && len(v.Reasons) == 0 {
				t.Fatal("a verdict other than pass must say why")
			}
		})
	}
}

func stats(requests, errors uint64, p99 float64, breaker string) api.RouteStats {
	s := api.RouteStats{Breaker: breaker, New: api.SideStats{Requests: requests, Errors: errors, P99Ms: p99}}
	if requests > 0 {
		s.New.ErrorRate = float64(errors) / float64(requests)
	}
	return s
}

func TestErrorPermanence(t *testing.T) {
	cases := []struct {
		err  *Error
		want bool
	}{
		{&Error{Status: 400}, true},
		{&Error{Status: 401}, true},
		{&Error{Status: 404}, true},
		{&Error{Status: 408}, false},
		{&Error{Status: 429}, false},
		{&Error{Status: 500}, false},
		{&Error{Status: 503}, false},
		{&Error{Err: errTest}, false},
	}
	for _, c := range cases {
		if got := c.err.Permanent(); got != c.want {
			t.Errorf("status %d err %v: permanent %v, want %v", c.err.Status, c.err.Err, got, c.want)
		}
	}
}

type testErr struct{}

func (testErr) Error() string { return "connection refused" }

var errTest = testErr{}
