package integration

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestWorkerServesPrometheusMetrics runs the godwit-worker binary with
// --metrics-listen, runs a small migration on it (a copy hook that reports
// 1234 records, then a reconcile that fails, so the copy is compensated)
// and scrapes /metrics: the Temporal SDK's worker metrics and Godwit's own
// are there, with the run's numbers.
func TestWorkerServesPrometheusMetrics(t *testing.T) {
	t.Parallel()
	ports, err := freePorts(1)
	require.NoError(t, err)
	listen := fmt.Sprintf("127.0.0.1:%d", ports[0])
	queue := "it-worker-metrics"
	logs := &syncBuffer{}
	w := exec.Command(buildWorker(t), "--address", env.address, "--task-queue", queue, "--log-format", "json",
		"--metrics-listen", listen)
	w.Stdout, w.Stderr = logs, logs
	require.NoError(t, w.Start())
	t.Cleanup(func() { _ = w.Process.Kill(); _, _ = w.Process.Wait() })

	dir := t.TempDir()
	spec := filepath.Join(dir, "spec.yaml")
	require.NoError(t, os.WriteFile(spec, []byte(`name: it-worker-metrics
phases:
  - phase: copy
    hook:
      run: {command: [sh, -c, 'echo godwit:records=1000; echo godwit:records=1234']}
      compensate: {command: ["true"]}
  - phase: reconcile
    retry: {maxAttempts: 2, initialInterval: 100ms}
    hook:
      run: {command: [sh, -c, 'echo "42 rows differ" >&2; exit 1']}
`), 0o644))
	var out, errOut bytes.Buffer
	res, err := godwitOn(t, queue, &out, &errOut, "start", "-f", spec, "--wait")
	require.Error(t, err, res)
	require.Contains(t, err.Error(), "ended ROLLED_BACK")

	// The SDK counts a workflow's end after it told the server, which may
	// be after the CLI saw the end: scrape until the figures are in.
	wants := []struct {
		sample string
		value  float64
	}{
		{`godwit_phase_records_total{action="run",kind="copy"}`, 1234},
		{`godwit_phase_attempts_total{action="run",kind="copy",outcome="completed"}`, 1},
		{`godwit_phase_attempts_total{action="run",kind="reconcile",outcome="failed"}`, 2},
		{`godwit_phase_attempts_total{action="compensate",kind="copy",outcome="completed"}`, 1},
		{`godwit_phase_attempt_duration_seconds_count{action="run",kind="copy",outcome="completed"}`, 1},
	}
	// The SDK's own worker metrics, tagged with the task queue.
	sdkWants := []*regexp.Regexp{
		regexp.MustCompile(`(?m)^temporal_activity_execution_latency_seconds_count\{.*task_queue="` + queue + `".*\} [1-9]`),
		regexp.MustCompile(`(?m)^temporal_workflow_failed_total\{.*workflow_type="Migration".*\} 1$`), // ROLLED_BACK ends as a failed workflow
		// The workflow's own: phases by outcome, the end, the rollback.
		regexp.MustCompile(`(?m)^godwit_phases_total\{.*kind="copy".*outcome="completed".*\} 1$`),
		regexp.MustCompile(`(?m)^godwit_phases_total\{.*kind="reconcile".*outcome="failed".*\} 1$`),
		regexp.MustCompile(`(?m)^godwit_phases_total\{.*kind="copy".*outcome="compensated".*\} 1$`),
		regexp.MustCompile(`(?m)^godwit_migrations_total\{.*status="ROLLED_BACK".*\} 1$`),
		regexp.MustCompile(`(?m)^godwit_rollbacks_total\{.*outcome="rolled_back".*\} 1$`),
	}
	var metrics string
	complete := func() bool {
		metrics = scrapeMetrics(t, "http://"+listen+"/metrics", logs)
		for _, w := range wants {
			if sample(t, metrics, w.sample) != w.value {
				return false
			}
		}
		for _, re := range sdkWants {
			if !re.MatchString(metrics) {
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(15 * time.Second)
	for !complete() && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	for _, w := range wants {
		require.Equal(t, w.value, sample(t, metrics, w.sample), "%s in:\n%s", w.sample, metrics)
	}
	for _, re := range sdkWants {
		require.Regexp(t, re, metrics)
	}
	require.Contains(t, logs.String(), `"@message":"metrics endpoint started"`)
}

func scrapeMetrics(t *testing.T, url string, logs *syncBuffer) string {
	t.Helper()
	var body []byte
	require.Eventually(t, func() bool {
		res, err := http.Get(url)
		if err != nil {
			return false
		}
		defer res.Body.Close()
		body, err = io.ReadAll(res.Body)
		return err == nil && res.StatusCode == http.StatusOK
	}, 10*time.Second, 100*time.Millisecond, "metrics endpoint %s; worker logs:\n%s", url, logs)
	return string(body)
}

// sample returns the value of the sample whose name and labels (in
// Prometheus' order) are exactly s; -1 when there is none.
func sample(t *testing.T, metrics, s string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(s) + ` (\S+)$`).FindStringSubmatch(metrics)
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(m[1], 64)
	require.NoError(t, err)
	return v
}
