package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/worker"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/connect"
	"github.com/godwit/godwit/control"
	"github.com/godwit/godwit/dashboard"
	"github.com/godwit/godwit/migration"
	"github.com/godwit/godwit/workflows"
)

// lastKnownSpec runs to a gate before its last phase; the phase names
// carry a marker, to look for in the memo's raw bytes.
const lastKnownSpec = `name: %s
defaults:
  timeout: 1m
  retry: {maxAttempts: 1}
phases:
  - phase: validate
    hook: {run: {command: ["true"]}}
  - phase: copy
    name: copy-m3k
    hook: {run: {command: ["true"]}, compensate: {command: ["true"]}}
  - phase: shift-traffic
    name: shift-m3k
    approval: {gate: go-live}
    hook: {run: {command: ["true"]}, compensate: {command: ["true"]}}
`

// stoppableWorker runs a worker on queue (encrypting with keys, when not
// empty) until its stop is called (or the test ends).
func stoppableWorker(t *testing.T, queue, keys string) (stop func()) {
	t.Helper()
	logger := hclog.New(&hclog.LoggerOptions{Name: "it-lastknown", Level: hclog.Warn})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := connect.Dial(ctx, config.TemporalSettings{
		Address: env.address, Namespace: "default", Codec: config.CodecSettings{KeysFile: keys},
	}, logger)
	require.NoError(t, err)
	w := worker.New(c, queue, worker.Options{Identity: "it-lastknown-worker"})
	workflows.Register(w)
	activities.Register(w, activities.New(logger))
	require.NoError(t, w.Start())
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			w.Stop()
			c.Close()
		}
	}
	t.Cleanup(stop)
	return stop
}

// TestStatusShowsTheLastKnownStateWhenNoWorkerAnswers: a migration waits
// at its gate, its worker stops, and `godwit status` shows the phase and
// gate it last knew with their time and the warning, and exits with an
// error; the same with payload encryption on, where the memo's raw bytes
// hold no phase name. Then a worker comes back and the run completes; its
// history is recorded for the replay test (memo-gate.json).
func TestStatusShowsTheLastKnownStateWhenNoWorkerAnswers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	keys := filepath.Join(dir, "codec-keys")
	require.NoError(t, os.WriteFile(keys, []byte("it-lk:"+randomKey(t)+"\n"), 0o600))

	for _, tc := range []struct {
		name, queue, keys string
	}{
		{"it-lastknown", "godwit-it-lastknown", ""},
		{"it-lastknown-encrypted", "godwit-it-lastknown-enc", keys},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			withKeys := func(args ...string) []string {
				if tc.keys != "" {
					args = append(args, "--codec-keys-file", tc.keys)
				}
				return args
			}
			spec := filepath.Join(dir, tc.name+".yaml")
			require.NoError(t, os.WriteFile(spec, fmt.Appendf(nil, lastKnownSpec, tc.name), 0o644))
			stop := stoppableWorker(t, tc.queue, tc.keys)
			var out, errOut bytes.Buffer
			text, err := godwitOn(t, tc.queue, &out, &errOut, withKeys("start", "-f", spec)...)
			require.NoError(t, err, text)
			require.Eventually(t, func() bool {
				_, err := godwitOn(t, tc.queue, &out, &errOut, withKeys("status", tc.name, "-o", "json")...)
				var rep migration.Report
				return err == nil && json.Unmarshal(out.Bytes(), &rep) == nil && rep.WaitingGate == "go-live"
			}, time.Minute, 200*time.Millisecond, "the run reaches its gate")

			stop()
			before := time.Now().UTC().Add(-time.Minute)
			text, err = godwitOn(t, tc.queue, &out, &errOut, withKeys("status", tc.name)...)
			require.Error(t, err, "no worker: the status is not live and the command fails\n%s", text)
			assert.Contains(t, err.Error(), "no worker answered its status query")
			shown := out.String()
			assert.Contains(t, shown, "Migration "+tc.name+" — last known at ")
			assert.Contains(t, shown, "Status: WAITING_APPROVAL")
			assert.Contains(t, shown, "Phase: 3 of 3: shift-m3k (PENDING)")
			assert.Contains(t, shown, "Waiting gate: go-live")
			at := strings.Fields(strings.SplitN(shown, "last known at ", 2)[1])[0]
			when, perr := time.Parse(time.RFC3339, at)
			require.NoError(t, perr, shown)
			assert.True(t, when.After(before) && when.Before(time.Now().Add(time.Second)), "the time is the gate's: %s", when)

			desc, err := env.client.DescribeWorkflowExecution(context.Background(), tc.name, "")
			require.NoError(t, err)
			raw := desc.GetWorkflowExecutionInfo().GetMemo().GetFields()[workflows.MemoSummary]
			require.NotNil(t, raw, "the run keeps its summary in its memo")
			if tc.keys != "" {
				assert.False(t, holds(string(raw.GetData()), "shift-m3k"), "the memo is encrypted: %q", raw.GetData())
				assert.Equal(t, "binary/encrypted", string(raw.GetMetadata()["encoding"]))
				// Without the keys the CLI says why it cannot show it.
				text, err = godwitOn(t, tc.queue, &out, &errOut, "status", tc.name)
				require.Error(t, err)
				assert.NotContains(t, text, "shift-m3k")
				assert.Contains(t, err.Error(), "the last known state cannot be shown", "%T", errors.Unwrap(err))
			} else {
				assert.True(t, holds(string(raw.GetData()), "shift-m3k"), "control: a plain memo holds the phase name")
			}

			// The list (godwit list, the dashboard) brings the summary along.
			dc, err := connect.DataConverter(config.CodecSettings{KeysFile: tc.keys})
			require.NoError(t, err)
			ms := control.Migrations{Client: env.client, DC: dc, Namespace: "default"}
			require.Eventually(t, func() bool {
				listed, err := ms.List(context.Background(), migration.StatusWaitingApproval, 100)
				for _, l := range listed {
					if l.Name == tc.name && l.LastKnown != nil {
						return err == nil && l.LastKnown.Gate == "go-live" && l.LastKnown.Phase == "shift-m3k"
					}
				}
				return false
			}, 30*time.Second, 200*time.Millisecond, "the visibility list carries the memo summary")

			// The dashboard's run page shows it too, marked as last known.
			page := dashboardPage(t, ms, tc.name)
			assert.Contains(t, page, `data-page="lastknown"`)
			assert.Contains(t, page, `id="run-status">WAITING_APPROVAL</span>`)
			assert.Contains(t, page, "<strong>Last known at <time datetime=\""+when.Format(time.RFC3339)+"\">")
			assert.Contains(t, page, "no worker answered its status query")
			assert.Contains(t, page, `<dd id="waiting-gate">go-live</dd>`)
			// In a browser (when there is one), the page turns live by
			// itself once a worker answers again.
			bin, inBrowser := findChromium()
			var ctx context.Context
			if inBrowser && tc.keys == "" {
				ctx = browser(t, bin)
				srv := dashboardServerOver(t, ms)
				require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/migrations/"+tc.name),
					chromedp.WaitVisible(chromedp.CSS("#last-known"))))
			}

			// A worker comes back: the run goes on from its gate.
			stoppableWorker(t, tc.queue, tc.keys)
			if ctx != nil {
				// A poll inside the page ends with its reload: ask from here.
				for deadline := time.Now().Add(time.Minute); ; time.Sleep(300 * time.Millisecond) {
					kind, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.getAttribute("data-page") : ""`))
					if kind == "run" {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("waited a minute for the last known page to turn into the live run page once a worker answers; the page is %q", kind)
					}
				}
				waitText(t, ctx, "#waiting-gate", "go-live")
			}
			text, err = godwitOn(t, tc.queue, &out, &errOut, withKeys("approve", tc.name, "--gate", "go-live")...)
			require.NoError(t, err, text)
			run := env.client.GetWorkflow(context.Background(), tc.name, "")
			require.NoError(t, run.Get(context.Background(), nil))
			if tc.keys == "" {
				recordRun(t, tc.name, "", "memo-gate.json")
			}
		})
	}
}

// dashboardServerOver serves a read-only dashboard over ms, refreshing
// its pages every second.
func dashboardServerOver(t *testing.T, ms control.Migrations) *httptest.Server {
	t.Helper()
	h, err := dashboard.New(dashboard.Options{Source: ms, Refresh: time.Second})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// dashboardPage reads a run's page from a dashboard over ms; the page
// must answer 200.
func dashboardPage(t *testing.T, ms control.Migrations, name string) string {
	t.Helper()
	srv := dashboardServerOver(t, ms)
	resp, err := http.Get(srv.URL + "/migrations/" + name)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "the run page of %s: %s", name, body)
	return string(body)
}
