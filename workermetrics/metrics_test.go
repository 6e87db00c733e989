package workermetrics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/migration"
)

// countingDriver heartbeats the given record counts, then returns final
// records (or err).
type countingDriver struct {
	beats []int64
	final int64
	err   error
}

func (d countingDriver) Do(_ context.Context, _ activities.Action, _ activities.PhaseInput, _ activities.Heartbeat, beat func(activities.Heartbeat)) (activities.PhaseResult, error) {
	for _, n := range d.beats {
		beat(activities.Heartbeat{Records: n})
	}
	return activities.PhaseResult{Records: d.final}, d.err
}

func (countingDriver) Preflight(context.Context, *config.Spec, config.PhaseSpec) []string { return nil }

// scrape returns the value of every sample, by "name{labels}" as Prometheus
// prints them, labels sorted.
func scrape(t *testing.T, h http.Handler) map[string]float64 {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	res, err := http.Get(srv.URL)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return parseSamples(t, string(body))
}

func parseSamples(t *testing.T, text string) map[string]float64 {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(strings.NewReader(text))
	require.NoError(t, err, text)
	out := map[string]float64{}
	for _, mf := range families {
		vec, err := expfmt.ExtractSamples(&expfmt.DecodeOptions{Timestamp: model.Now()}, mf)
		require.NoError(t, err)
		for _, s := range vec {
			out[s.Metric.String()] = float64(s.Value)
		}
	}
	return out
}

func runPhase(t *testing.T, m *Metrics, d countingDriver, kind migration.Phase, resume *activities.Heartbeat) error {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.SetWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{m.Interceptor()}})
	a := &activities.Activities{Logger: hclog.NewNullLogger(), Drivers: map[string]activities.Driver{"hook": d}}
	activities.Register(env, a)
	if resume != nil {
		env.SetHeartbeatDetails(*resume)
	}
	in := activities.PhaseInput{Migration: "m", Phase: config.PhaseSpec{Phase: kind, Name: string(kind), Driver: &config.Hook{}}}
	_, err := env.ExecuteActivity(activities.RunPhaseName, in)
	return err
}

func TestPhaseMetrics(t *testing.T) {
	m, err := New(hclog.NewNullLogger())
	require.NoError(t, err)
	// A copy that heartbeats 100 then 250 rows and ends with 300.
	require.NoError(t, runPhase(t, m, countingDriver{beats: []int64{100, 250}, final: 300}, migration.PhaseCopy, nil))
	// A retry that resumes from 300 (already counted) and ends at 500.
	require.NoError(t, runPhase(t, m, countingDriver{beats: []int64{300, 400}, final: 500}, migration.PhaseCopy,
		&activities.Heartbeat{Records: 300}))
	// A reconcile that fails.
	require.Error(t, runPhase(t, m, countingDriver{err: errors.New("boom")}, migration.PhaseReconcile, nil))

	got := scrape(t, m.HTTPHandler())
	assert.Equal(t, 500.0, got[`godwit_phase_records_total{action="run", kind="copy"}`], "records counted once across the retry")
	assert.Equal(t, 2.0, got[`godwit_phase_attempts_total{action="run", kind="copy", outcome="completed"}`])
	assert.Equal(t, 1.0, got[`godwit_phase_attempts_total{action="run", kind="reconcile", outcome="failed"}`])
	assert.Equal(t, 2.0, got[`godwit_phase_attempt_duration_seconds_count{action="run", kind="copy", outcome="completed"}`])
	assert.Contains(t, got, `godwit_phase_attempt_duration_seconds_bucket{action="run", kind="copy", le="3600", outcome="completed"}`,
		"durations in seconds buckets up to hours")
	assert.Contains(t, got, "go_goroutines")
}

func TestServe(t *testing.T) {
	m, err := New(hclog.NewNullLogger())
	require.NoError(t, err)
	addr, stop, err := m.Serve("127.0.0.1:0")
	require.NoError(t, err)
	res, err := http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Contains(t, string(body), "process_start_time_seconds")
	require.NoError(t, stop(t.Context()))
	_, err = http.Get("http://" + addr + "/metrics")
	assert.Error(t, err, "stopped")

	_, _, err = m.Serve(addr + "x")
	assert.ErrorContains(t, err, "metrics: listen on")
}
