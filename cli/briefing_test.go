package cli

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/gateway/api"
	"github.com/godwit/godwit/migration"
	"github.com/godwit/godwit/workflows"
)

// testTrafficSpec stands in for the traffic driver's section: it names
// the gateway its phase drives.
type testTrafficSpec struct {
	Admin    string           `yaml:"admin" json:"admin"`
	Route    string           `yaml:"route" json:"route"`
	TokenRef config.SecretRef `yaml:"token" json:"token"`
}

func (s *testTrafficSpec) Check(*config.CheckContext) {}
func (s *testTrafficSpec) GatewayRoute() (string, config.SecretRef, string) {
	return s.Admin, s.TokenRef, s.Route
}

func init() {
	config.RegisterDriver("testtraffic", func() config.DriverSpec { return &testTrafficSpec{} })
}

// GetWorkflowHistory serves the run's start event with the spec the test
// put in startSpec.
func (c *fakeClient) GetWorkflowHistory(_ context.Context, _, _ string, _ bool, _ enums.HistoryEventFilterType) client.HistoryEventIterator {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.histories++
	return &fakeHistory{spec: c.startSpec}
}

type fakeHistory struct {
	spec *config.Spec
	done bool
}

func (h *fakeHistory) HasNext() bool { return !h.done && h.spec != nil }

func (h *fakeHistory) Next() (*historypb.HistoryEvent, error) {
	h.done = true
	p, err := converter.GetDefaultDataConverter().ToPayloads(workflows.Input{Spec: *h.spec})
	if err != nil {
		return nil, err
	}
	return &historypb.HistoryEvent{
		EventType: enums.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
		Attributes: &historypb.HistoryEvent_WorkflowExecutionStartedEventAttributes{
			WorkflowExecutionStartedEventAttributes: &historypb.WorkflowExecutionStartedEventAttributes{Input: p},
		},
	}, nil
}

// shiftingReport moves traffic: copy done, shift-traffic running.
func shiftingReport() *migration.Report {
	r := migration.NewReport("orders", "", []migration.Phase{migration.PhaseCopy, migration.PhaseShiftTraffic}, nil, t0)
	r.Phases[0].State, r.Phases[0].Progress, r.Phases[0].Records = migration.PhaseCompleted, 100, 1000
	r.Phases[1].State, r.Phases[1].Progress, r.Phases[1].StartTime = migration.PhaseRunning, 40, t0.Add(time.Minute)
	r.CurrentIndex = 1
	r.Refresh(t0.Add(2 * time.Minute))
	return r
}

// fakeGateway answers the admin API's stats of route users, and checks
// the bearer token when one is set.
func fakeGateway(t *testing.T, token string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token != "" && r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusUnauthorized)
			_ = json.NewEncoder(w).Encode(api.Error{Error: "bad token"})
			return
		}
		if r.URL.Path != "/v1/routes/users/stats" {
			w.WriteHeader(http.StatusNotFound)
			_ = json.NewEncoder(w).Encode(api.Error{Error: "no route"})
			return
		}
		_ = json.NewEncoder(w).Encode(api.RouteStats{Route: "users", WindowSeconds: 60,
			Legacy: api.SideStats{Requests: 150, Errors: 0, P95Ms: 20},
			New:    api.SideStats{Requests: 50, Errors: 2, P95Ms: 25}})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func withWorkerLoad(r *migration.Report, load string) *migration.Report {
	r.WorkerLoad = load
	return r
}

func TestStatusFormats(t *testing.T) {
	t.Setenv("TEST_LEGACY_DSN", filepath.Join(t.TempDir(), "legacy.db"))
	gw := fakeGateway(t, "")
	secured := fakeGateway(t, "s3cret-admin-token")
	t.Setenv("TEST_GW_TOKEN", "s3cret-admin-token")
	tests := []struct {
		name      string
		args      []string
		report    *migration.Report
		ended     bool
		spec      *config.Spec
		want      []string
		absent    []string
		wantErr   string
		histories int
	}{
		{
			name:   "exec of a run without traffic reads no gateway",
			args:   []string{"status", "orders", "--format", "exec"},
			report: completedReport(),
			ended:  true,
			want: []string{
				"Migration Status: COMPLETED\n", "Current Phase: 1 of 1: done\n",
				"- System Availability: not measured: no traffic phase\n",
				"- Data Migration Progress: 100.00% (1000 records copied)\n",
				"Rollback Status: NOT_AVAILABLE (the migration has completed)\n",
			},
		},
		{
			name:   "team",
			args:   []string{"status", "orders", "--format", "team"},
			report: only(runningReport()),
			want:   []string{"Phase: copy - RUNNING\n", "🔄 copy - 50% complete (500 records)\n", "✓ validate"},
			// The run's spec is read (once) for its stores' load.
			histories: 1,
		},
		{
			name:   "system load from the worker's heartbeats and the spec's stores",
			args:   []string{"status", "orders", "--format", "team"},
			report: withWorkerLoad(only(runningReport()), "worker w1: load 0.50 0.40 0.30 on 2 CPUs, memory 35% used"),
			spec: &config.Spec{Name: "orders", Stores: map[string]config.StoreSpec{
				"legacy": {Engine: "sqlite", DSN: config.SecretRef{FromEnv: "TEST_LEGACY_DSN"}},
				"new":    {Engine: "postgres", DSN: config.SecretRef{FromEnv: "NO_SUCH_DSN_VAR"}},
			}, Phases: []config.PhaseSpec{{Phase: migration.PhaseCopy, Name: "copy", Driver: &config.Hook{}}}},
			want: []string{"System Load: worker w1: load 0.50 0.40 0.30 on 2 CPUs, memory 35% used; legacy (sqlite): a single-file database, ",
				"; new (postgres): not measured: its DSN cannot be read here (environment variable NO_SUCH_DSN_VAR is not set for this process (cli.test))"},
			histories: 1,
		},
		{
			name:      "markdown",
			args:      []string{"status", "orders", "--format", "markdown"},
			report:    only(runningReport()),
			want:      []string{"## Migration orders\n", "### Executive summary\n", "### Technical team update\n", "**Migration Status:** IN_PROGRESS  \n"},
			histories: 1,
		},
		{
			name:   "figures from the gateway given by flags",
			args:   []string{"status", "orders", "--format", "exec", "--gateway", gw.URL, "--gateway-route", "users"},
			report: shiftingReport(),
			want: []string{
				"- System Availability: 99.00% (198 of 200 requests answered without error over the last 1m0s, gateway " + gw.URL + ", route users)\n",
				"- Performance Impact: +25% p95 latency (new 25.0 ms vs legacy 20.0 ms over the last 1m0s, gateway " + gw.URL + ", route users)\n",
			},
			histories: 1,
		},
		{
			name:   "figures from the gateway the spec names, with its token",
			args:   []string{"status", "orders", "--format", "exec"},
			report: shiftingReport(),
			spec: &config.Spec{Name: "orders", Phases: []config.PhaseSpec{
				{Phase: migration.PhaseCopy, Name: "copy", Driver: &config.Hook{}},
				{Phase: migration.PhaseShiftTraffic, Name: "shift-traffic", Driver: &testTrafficSpec{
					Admin: secured.URL, Route: "users", TokenRef: config.SecretRef{FromEnv: "TEST_GW_TOKEN"}}},
			}},
			want:      []string{"- System Availability: 99.00% (198 of 200 requests"},
			absent:    []string{"s3cret-admin-token"},
			histories: 1,
		},
		{
			name:   "a traffic phase whose driver names no gateway says so",
			args:   []string{"status", "orders", "--format", "exec"},
			report: shiftingReport(),
			spec: &config.Spec{Name: "orders", Phases: []config.PhaseSpec{
				{Phase: migration.PhaseCopy, Name: "copy", Driver: &config.Hook{}},
				{Phase: migration.PhaseShiftTraffic, Name: "shift-traffic", Driver: &config.Hook{}},
			}},
			want:      []string{"- System Availability: not measured: traffic phase shift-traffic's hook driver names no gateway; give --gateway and --gateway-route\n"},
			histories: 1,
		},
		{
			name:      "a gateway that refuses the token: the token is not shown",
			args:      []string{"status", "orders", "--format", "exec", "--gateway", secured.URL, "--gateway-route", "users", "--gateway-token-env", "NO_SUCH_VAR_FOR_TEST"},
			report:    shiftingReport(),
			want:      []string{"- System Availability: not measured: the token of gateway " + secured.URL + ", route users cannot be read here: environment variable NO_SUCH_VAR_FOR_TEST is not set for this process (cli.test)\n"},
			absent:    []string{"s3cret-admin-token"},
			histories: 1,
		},
		{
			name:      "a gateway that does not answer",
			args:      []string{"status", "orders", "--format", "exec", "--gateway", "http://127.0.0.1:1", "--gateway-route", "users"},
			report:    shiftingReport(),
			want:      []string{"- System Availability: not measured: gateway http://127.0.0.1:1, route users did not answer: stats of route users: "},
			histories: 1,
		},
		{
			name:    "format and json do not mix",
			args:    []string{"status", "orders", "--format", "exec", "-o", "json"},
			report:  only(runningReport()),
			wantErr: "--format and --output json do not go together",
		},
		{
			name:    "unknown format",
			args:    []string{"status", "orders", "--format", "pdf"},
			report:  only(runningReport()),
			wantErr: `--format "pdf": use exec, team or markdown`,
		},
		{
			name:    "gateway without route",
			args:    []string{"status", "orders", "--format", "exec", "--gateway", gw.URL},
			report:  only(runningReport()),
			wantErr: "--gateway and --gateway-route go together",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &fakeClient{states: []wfState{{report: tt.report, ended: tt.ended}}, startSpec: tt.spec}
			out, errOut, err := godwit(t, c.dial, tt.args...)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err, errOut)
			for _, w := range tt.want {
				assert.Contains(t, out, w)
			}
			for _, a := range tt.absent {
				assert.NotContains(t, out+errOut, a)
			}
			assert.False(t, strings.Contains(out, "[X"), "no placeholder left:\n%s", out)
			assert.Equal(t, tt.histories, c.histories, "history reads")
		})
	}
}
