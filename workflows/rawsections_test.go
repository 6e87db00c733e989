package workflows

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/migration"
)

// reshaped stands for a driver whose section type changed in a way that
// no longer reads what runs in flight carry (a field whose type changed):
// while reshapedRefuses is set, decoding a section fails. Every decode is
// counted: a workflow on plans as data must never decode one.
type reshaped struct {
	Rows int `yaml:"rows" json:"rows"`
}

var (
	reshapedRefuses atomic.Bool
	reshapedDecodes atomic.Int32
)

func (*reshaped) Check(*config.CheckContext) {}

func (s *reshaped) UnmarshalJSON(data []byte) error {
	reshapedDecodes.Add(1)
	if reshapedRefuses.Load() {
		return errors.New("reshaped: the section's type changed since the run started")
	}
	type plain reshaped
	return json.Unmarshal(data, (*plain)(s))
}

func init() {
	config.RegisterDriver("reshaped", func() config.DriverSpec { return &reshaped{} })
}

// withReshapedRefusing makes reshaped sections undecodable for one test
// and counts their decodes from zero.
func withReshapedRefusing(t *testing.T) {
	t.Helper()
	reshapedRefuses.Store(true)
	reshapedDecodes.Store(0)
	t.Cleanup(func() { reshapedRefuses.Store(false) })
}

// TestAReplayNeverDecodesADriverSection: recorded runs replay on a worker
// whose drivers' section types no longer read what the runs carry (every
// section of their specs moved under the reshaped driver, which refuses
// to decode). A run on plans as data replays all the same, decoding
// nothing, whether `godwit start` sent its plan or the run made it in a
// side effect. A run from before plans-as-data asks its drivers as it
// replays, so it decodes them and cannot.
func TestAReplayNeverDecodesADriverSection(t *testing.T) {
	for _, tc := range []struct {
		history string
		old     bool
	}{
		{"plans-data.json", false},
		{"plans-temporal-cli.json", false},
		{"plans-continue-run2.json", false},
		{"demo-complete.json", true},
	} {
		t.Run(tc.history, func(t *testing.T) {
			file := reshapedHistory(t, filepath.Join("testdata/histories", tc.history))
			withReshapedRefusing(t)
			r, err := worker.NewWorkflowReplayerWithOptions(worker.WorkflowReplayerOptions{})
			require.NoError(t, err)
			Register(r)
			err = r.ReplayWorkflowHistoryFromJSONFile(nil, file)
			if tc.old {
				require.Error(t, err, "a run from before plans-as-data decodes its sections")
				require.NotZero(t, reshapedDecodes.Load())
				return
			}
			require.NoError(t, err)
			require.Zero(t, reshapedDecodes.Load(), "sections decoded while replaying")
		})
	}
}

// reshapedHistory writes a copy of a recorded history whose specs (the
// run's input and the spec a side effect recorded) have every phase's
// driver section under the reshaped driver's key, and returns its path.
func reshapedHistory(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	var h map[string]any
	require.NoError(t, json.Unmarshal(b, &h))
	moved := 0
	for _, ev := range h["events"].([]any) {
		ev := ev.(map[string]any)
		var payloads []any
		if a, ok := ev["workflowExecutionStartedEventAttributes"].(map[string]any); ok {
			payloads = a["input"].(map[string]any)["payloads"].([]any)
		}
		if a, ok := ev["markerRecordedEventAttributes"].(map[string]any); ok && a["markerName"] == "SideEffect" {
			payloads = a["details"].(map[string]any)["data"].(map[string]any)["payloads"].([]any)
		}
		for _, p := range payloads {
			p := p.(map[string]any)
			data, err := base64.StdEncoding.DecodeString(p["data"].(string))
			require.NoError(t, err)
			var v map[string]any
			if json.Unmarshal(data, &v) != nil {
				continue
			}
			spec, ok := v["spec"].(map[string]any)
			if !ok {
				continue
			}
			for _, ph := range spec["phases"].([]any) {
				ph := ph.(map[string]any)
				for _, key := range config.DriverKeys() {
					if section, ok := ph[key]; ok && key != "reshaped" {
						delete(ph, key)
						ph["reshaped"] = section
						moved++
					}
				}
			}
			data, err = json.Marshal(v)
			require.NoError(t, err)
			p["data"] = base64.StdEncoding.EncodeToString(data)
		}
	}
	require.NotZero(t, moved, "%s: no driver section to move", file)
	out, err := json.Marshal(h)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), filepath.Base(file))
	require.NoError(t, os.WriteFile(path, out, 0o600))
	return path
}

// TestAContinuedRunCarriesItsSectionsRaw: a run continues as new, and by
// then its driver's section type no longer reads what it carries. The
// next run reads its input, decides with its plan, and hands the section
// to the activity as the run started with it: the workflow decodes no
// section, the activity does (activities.PhaseInput.Applied).
func TestAContinuedRunCarriesItsSectionsRaw(t *testing.T) {
	spec := mustSpec(t, `name: test
phases:
  - {phase: copy, reshaped: {rows: 5}}
  - {phase: reconcile, reshaped: {rows: 7}}
`)
	plan := config.PlanSpec(&spec)
	var suite testsuite.WorkflowTestSuite
	var (
		mu   sync.Mutex
		sent []activities.PhaseInput
	)
	env := func() *testsuite.TestWorkflowEnvironment {
		env := suite.NewTestWorkflowEnvironment()
		env.RegisterWorkflowWithOptions(Migration, workflowRegisterOptions())
		env.RegisterActivityWithOptions(func(_ context.Context, in activities.PhaseInput) (activities.PhaseResult, error) {
			mu.Lock()
			defer mu.Unlock()
			sent = append(sent, in)
			return activities.PhaseResult{Phase: in.Phase.Name, Action: activities.ActionRun, Attempt: 1}, nil
		}, activity.RegisterOptions{Name: activities.RunPhaseName})
		return env
	}

	first := env()
	first.ExecuteWorkflow(WorkflowName, Input{Spec: spec, Plan: &plan, ActivitiesPerRun: 1})
	require.True(t, first.IsWorkflowCompleted())
	var can *workflow.ContinueAsNewError
	require.ErrorAs(t, first.GetWorkflowError(), &can)
	var in Input
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &in))

	withReshapedRefusing(t) // a worker upgrade changed the section's type
	next := env()
	next.ExecuteWorkflow(WorkflowName, in)
	require.True(t, next.IsWorkflowCompleted())
	require.NoError(t, next.GetWorkflowError())
	var rep migration.Report
	require.NoError(t, next.GetWorkflowResult(&rep))
	require.Equal(t, migration.StatusCompleted, rep.Status)
	require.Zero(t, reshapedDecodes.Load(), "the workflow decoded a section")

	require.Len(t, sent, 2)
	for k, want := range []string{`{"rows":5}`, `{"rows":7}`} {
		require.Nil(t, sent[k].Phase.Driver, "the activity decodes the section itself")
		require.Equal(t, "reshaped", sent[k].Phase.DriverKey())
		require.JSONEq(t, want, string(sent[k].Phase.Section()), "the section as the run started with it")
	}
	_, err := sent[1].Applied(activities.ActionRun)
	require.ErrorContains(t, err, "phase reconcile: reshaped section: reshaped: the section's type changed",
		"the activity, not the workflow, meets the changed type")
}
