package traffic

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/gateway/api"
	"github.com/godwit/godwit/gateway/client"
)

// fakeStats answers one prepared sample per call and records the windows
// asked for.
type fakeStats struct {
	samples []api.RouteStats
	err     error // returned once the samples run out
	windows []time.Duration
}

func (f *fakeStats) Stats(_ context.Context, route string, window time.Duration) (api.RouteStats, error) {
	f.windows = append(f.windows, window)
	if len(f.samples) == 0 {
		if f.err != nil {
			return api.RouteStats{}, f.err
		}
		panic("more samples taken than the test prepared")
	}
	s := f.samples[0]
	f.samples = f.samples[1:]
	return s, nil
}

// sample is new's figures: requests, errors, p99 in ms.
func sample(requests, errs uint64, p99 float64) api.RouteStats {
	s := api.RouteStats{Breaker: api.BreakerClosed, New: api.SideStats{Requests: requests, Errors: errs, P99Ms: p99}}
	if requests > 0 {
		s.New.ErrorRate = float64(errs) / float64(requests)
	}
	return s
}

var (
	healthy = sample(100, 0, 20)
	failing = sample(100, 30, 20)
	slow    = sample(100, 0, 900)
	idle    = sample(3, 0, 5)
)

func analysisSpec(samples, limit int, onInconclusive string) Analysis {
	rate := 0.01
	return Analysis{
		Window: config.Duration(time.Duration(samples) * 10 * time.Second), Interval: config.Duration(10 * time.Second),
		MinRequests: 20, MaxErrorRate: &rate, MaxP99: config.Duration(500 * time.Millisecond),
		FailureLimit: limit, OnInconclusive: onInconclusive,
	}
}

func TestAnalysisVerdicts(t *testing.T) {
	cases := []struct {
		name           string
		spec           Analysis
		samples        []api.RouteStats
		wantOutcome    client.Outcome // "" = passes
		wantSamples    int
		wantFailed     int
		wantReasonPart string
	}{
		{"healthy new passes", analysisSpec(3, 2, InconclusiveFail), []api.RouteStats{healthy, healthy, healthy}, "", 3, 0, ""},
		{"one breach under the limit passes", analysisSpec(3, 2, InconclusiveFail), []api.RouteStats{healthy, failing, healthy}, "", 3, 1, ""},
		{"the limit of breaches fails at once", analysisSpec(6, 2, InconclusiveFail), []api.RouteStats{healthy, failing, slow}, client.Fail, 3, 2, "p99 900.0ms above 500.0ms"},
		{"failures need not be consecutive", analysisSpec(5, 2, InconclusiveFail), []api.RouteStats{failing, healthy, failing}, client.Fail, 3, 2, "error rate 0.3000 above 0.0100"},
		{"an open breaker fails even with few requests", analysisSpec(3, 1, InconclusiveFail),
			[]api.RouteStats{{Breaker: api.BreakerOpen, New: api.SideStats{Requests: 2, Errors: 2, ErrorRate: 1}}}, client.Fail, 1, 1, "circuit breaker on new is open"},
		{"too little traffic throughout fails by default", analysisSpec(3, 1, ""), []api.RouteStats{idle, idle, idle}, client.Inconclusive, 3, 0, "3 requests on new, 20 needed"},
		{"too little traffic accepted when asked", analysisSpec(3, 1, InconclusivePass), []api.RouteStats{idle, idle, idle}, "", 3, 0, ""},
		{"one passing sample among idle ones passes", analysisSpec(3, 1, InconclusiveFail), []api.RouteStats{idle, healthy, idle}, "", 3, 0, ""},
		{"no requests at all is not a pass", Analysis{Window: config.Duration(10 * time.Second), Interval: config.Duration(10 * time.Second), MinRequests: 1, MaxP99: config.Duration(time.Second)},
			[]api.RouteStats{sample(0, 0, 0)}, client.Inconclusive, 1, 0, "0 requests on new"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := &fakeStats{samples: c.samples}
			var reported []AnalysisState
			run := analysisRun{source: src, route: "users", spec: c.spec,
				wait:   func(ctx context.Context, _ time.Duration) error { return ctx.Err() },
				report: func(s AnalysisState) { reported = append(reported, s) }}
			state, err := run.run(context.Background(), AnalysisState{})
			assert.Equal(t, c.wantSamples, state.Samples)
			assert.Equal(t, c.wantFailed, state.Failed)
			assert.Len(t, reported, c.wantSamples, "every sample is reported (heartbeat)")
			assert.Empty(t, src.samples, "samples left untaken")
			for _, w := range src.windows {
				assert.Equal(t, c.spec.Interval.D()+time.Second, w, "each sample covers the last interval and the gateway's current second")
			}
			if c.wantOutcome == "" {
				require.NoError(t, err)
				return
			}
			var ae *AnalysisError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, c.wantOutcome, ae.Outcome)
			assert.Contains(t, err.Error(), c.wantReasonPart)
		})
	}
}

func TestZeroMaxErrorRateAllowsNoError(t *testing.T) {
	zero := 0.0
	spec := Analysis{Window: config.Duration(time.Second), Interval: config.Duration(time.Second), MinRequests: 1, MaxErrorRate: &zero, FailureLimit: 1}
	run := analysisRun{source: &fakeStats{samples: []api.RouteStats{sample(1000, 1, 5)}}, route: "users", spec: spec,
		wait: func(ctx context.Context, _ time.Duration) error { return nil }}
	_, err := run.run(context.Background(), AnalysisState{})
	var ae *AnalysisError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, client.Fail, ae.Outcome)
}

func TestAnalysisResumesFromItsCheckpoint(t *testing.T) {
	// Two of four samples were taken (one failed) before the worker died:
	// the retry takes the last two, and the earlier failure still counts.
	src := &fakeStats{samples: []api.RouteStats{healthy, failing}}
	run := analysisRun{source: src, route: "users", spec: analysisSpec(4, 2, InconclusiveFail),
		wait: func(ctx context.Context, _ time.Duration) error { return nil }}
	state, err := run.run(context.Background(), AnalysisState{Samples: 2, Passed: 1, Failed: 1})
	var ae *AnalysisError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, AnalysisState{Samples: 4, Passed: 2, Failed: 2, Last: state.Last}, state)
	assert.Len(t, src.windows, 2)
}

func TestAnalysisStopsOnGatewayErrorAndCancellation(t *testing.T) {
	down := errors.New("connection refused")
	src := &fakeStats{samples: []api.RouteStats{healthy}, err: down}
	run := analysisRun{source: src, route: "users", spec: analysisSpec(3, 1, InconclusiveFail),
		wait: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }}
	state, err := run.run(context.Background(), AnalysisState{})
	require.ErrorIs(t, err, down)
	assert.Contains(t, err.Error(), "analysis sample 2 of 3")
	assert.Equal(t, 1, state.Samples, "the checkpoint keeps the sample taken")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = run.run(ctx, AnalysisState{})
	require.ErrorIs(t, err, context.Canceled)
}

func TestWaitEndsWithItsContextOrByItself(t *testing.T) {
	// A long wait ends when its context does (a rollback cancelling the
	// activity); the adapter's keep-alive heartbeats meanwhile.
	ctx, cancel := context.WithCancel(context.Background())
	go cancel()
	require.ErrorIs(t, wait(ctx, time.Hour), context.Canceled)
	require.NoError(t, wait(context.Background(), time.Millisecond), "a wait ends by itself")
}
