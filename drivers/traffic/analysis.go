package traffic

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/godwit/godwit/gateway/api"
	"github.com/godwit/godwit/gateway/client"
)

// statsSource reads a route's figures over the last window; the gateway
// client is one.
type statsSource interface {
	Stats(ctx context.Context, route string, window time.Duration) (api.RouteStats, error)
}

// AnalysisState is an analysis's progress: its checkpoint (a retry on any
// worker goes on from the samples already taken) and what status shows.
type AnalysisState struct {
	Samples      int `json:"samples"`
	Passed       int `json:"passed"`
	Failed       int `json:"failed"`
	Inconclusive int `json:"inconclusive"`
	// Last is the latest sample's verdict with its figures.
	Last *client.Verdict `json:"last,omitempty"`
}

// AnalysisError is an analysis that did not pass: Outcome is fail (the
// failure limit was reached) or inconclusive (no sample passed, and the
// analysis does not accept that).
type AnalysisError struct {
	Outcome client.Outcome
	State   AnalysisState
	Limit   int
}

func (e *AnalysisError) Error() string {
	reasons := ""
	if e.State.Last != nil && len(e.State.Last.Reasons) > 0 {
		reasons = ": " + strings.Join(e.State.Last.Reasons, "; ")
	}
	if e.Outcome == client.Inconclusive {
		return fmt.Sprintf("analysis inconclusive: none of %d samples had enough requests on new to judge it%s", e.State.Samples, reasons)
	}
	return fmt.Sprintf("analysis failed: %d of %d samples breached a threshold (limit %d)%s",
		e.State.Failed, e.State.Samples, e.Limit, reasons)
}

// analysisRun is one analysis step's sampling loop, apart from Temporal so
// it can be tested with a fake clock and gateway.
type analysisRun struct {
	source statsSource
	route  string
	spec   Analysis
	// wait sleeps d or until ctx ends (returning its error); the driver's
	// heartbeats while it waits, so a rollback reaches it within seconds.
	wait func(ctx context.Context, d time.Duration) error
	// report is told of every sample (the driver heartbeats the state).
	report func(AnalysisState)
	// external judges the Prometheus and HTTP checks; nil when none.
	external *externalSources
}

// sample takes one verdict: the gateway's figures when the analysis uses
// them, then each external check; any failure fails the sample, else any
// inconclusive check makes it inconclusive.
func (a analysisRun) sample(ctx context.Context, th client.Thresholds, interval time.Duration) (client.Verdict, error) {
	v := client.Verdict{Outcome: client.Pass}
	if a.spec.usesGateway() {
		stats, err := a.source.Stats(ctx, a.route, sampleWindow(interval))
		if err != nil {
			return v, err
		}
		v = client.Analyze(stats, th)
	}
	if a.external != nil {
		for _, c := range a.external.judge(ctx, a.spec) {
			v = combine(v, c)
		}
	}
	return v, nil
}

// run takes the samples still due after state and judges each against the
// thresholds. It returns an *AnalysisError when the analysis does not pass
// and other errors (the gateway unreachable, ctx ended) as they come, with
// the state reached so far.
func (a analysisRun) run(ctx context.Context, state AnalysisState) (AnalysisState, error) {
	total, limit := a.spec.Samples(), max(1, a.spec.FailureLimit)
	th := thresholds(a.spec)
	interval := a.spec.Interval.D()
	for state.Samples < total {
		if err := a.wait(ctx, interval); err != nil {
			return state, err
		}
		v, err := a.sample(ctx, th, interval)
		if err != nil {
			return state, fmt.Errorf("analysis sample %d of %d: %w", state.Samples+1, total, err)
		}
		state.Samples++
		state.Last = &v
		switch v.Outcome {
		case client.Pass:
			state.Passed++
		case client.Fail:
			state.Failed++
		default:
			state.Inconclusive++
		}
		if a.report != nil {
			a.report(state)
		}
		if state.Failed >= limit {
			return state, &AnalysisError{Outcome: client.Fail, State: state, Limit: limit}
		}
	}
	if state.Passed == 0 && a.spec.OnInconclusive != InconclusivePass {
		return state, &AnalysisError{Outcome: client.Inconclusive, State: state, Limit: limit}
	}
	return state, nil
}

// sampleWindow is the stats window of a sample covering the last interval.
// The gateway counts in whole seconds and its newest second is still
// filling, so a window of the interval alone would miss part of it (a 1s
// window is only the current, partial second): one second more covers the
// whole interval, at the cost of sharing a boundary second with the
// previous sample.
func sampleWindow(interval time.Duration) time.Duration {
	return interval + time.Second
}

// thresholds converts the spec's limits to the gateway client's, where 0
// disables a check: a written maxErrorRate of 0 (no error allowed) becomes
// the smallest positive rate.
func thresholds(a Analysis) client.Thresholds {
	t := client.Thresholds{
		MinRequests: uint64(max(0, a.MinRequests)),
		MaxP95Ms:    float64(a.MaxP95.D()) / float64(time.Millisecond),
		MaxP99Ms:    float64(a.MaxP99.D()) / float64(time.Millisecond),
	}
	if a.MaxErrorRate != nil {
		t.MaxErrorRate = max(*a.MaxErrorRate, 1e-12)
	}
	if a.MaxShadowMismatchRate != nil {
		t.MaxShadowMismatchRate = max(*a.MaxShadowMismatchRate, 1e-12)
	}
	return t
}

// describe says where an analysis stands, for status and summaries.
func describe(s AnalysisState, total, limit int) string {
	b := fmt.Sprintf("analysis %d of %d samples: %d passed, %d failed (limit %d), %d inconclusive",
		s.Samples, total, s.Passed, s.Failed, limit, s.Inconclusive)
	if v := s.Last; v != nil {
		b += fmt.Sprintf("; last: %s, new %d requests, error rate %.4f, p95 %.1fms, p99 %.1fms, breaker %s",
			v.Outcome, v.Requests, v.ErrorRate, v.P95Ms, v.P99Ms, v.Breaker)
	}
	return b
}
