package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	historypb "go.temporal.io/api/history/v1"

	"github.com/godwit/godwit/cdc/cdctest"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/migration"
	"github.com/godwit/godwit/workflows"
)

const plannedPhases = `  - phase: validate
    hook:
      steps:
        - {name: look, run: {command: ["true"]}}
        - {gate: looked}
        - {name: settle, wait: 1s}
        - {name: check, run: {command: ["true"]}}
  - phase: provision
    provision: {from: legacy, to: new, tables: [kitchen, pantry]}
  - phase: provision
    name: capture
    replicate: {from: legacy, to: new, tables: [kitchen], mode: setup}
  - phase: copy
    copy: {from: legacy, to: new, tables: [kitchen, pantry], fanOut: 2}
  - phase: copy
    name: replicate
    replicate: {from: legacy, to: new, tables: [kitchen], maxLag: 2s, holdFor: 1s, background: true}
  - phase: shift-traffic
    name: reads
    approval: {gate: reads-moved, requireLag: 30s}
    hook:
      run: {command: ["true"]}
  - phase: decommission
    name: stop-replication
    replicate: {from: legacy, to: new, tables: [kitchen], mode: stop}
`

// TestARunStartedByGodwitCarriesItsPlan: `godwit start` makes the plan
// (steps, fan-out, the background follower, captures) and the run decides
// with it (plans-as-data): a phase of steps with a gate, a copy fanned out
// by table, a replication in the background while a requireLag gate waits,
// and the stop once that replication ended. Recorded as plans-data.json.
func TestARunStartedByGodwitCarriesItsPlan(t *testing.T) {
	t.Parallel()
	cdctest.StopWhenDone(t)
	ctx := context.Background()
	src, dst := cdctest.NewLogicalDB(t), dbtest.New(t, datastore.SQLite)
	dbtest.Exec(t, src.Store, dbtest.KitchenDDL(src.Store.Engine, "kitchen")...)
	dbtest.Exec(t, src.Store, dbtest.KitchenDDL(src.Store.Engine, "pantry")...)
	for _, table := range []string{"kitchen", "pantry"} {
		k, err := src.Store.Introspect(ctx, table)
		require.NoError(t, err)
		require.NoError(t, src.Store.WriteBatch(ctx, k, dbtest.KitchenRows(0, 200)))
	}
	name := "it-plans-data"
	r := newDataRun(t, name, src, dst, plannedPhases)
	r.start()
	r.waitFor("the looked gate", waitingAt("looked"))
	out, err := godwit(t, "approve", name, "--gate", "looked")
	require.NoError(t, err, out)
	r.waitFor("the reads-moved gate", waitingAt("reads-moved"))
	for i := 0; i < 10; i++ {
		dbtest.Exec(t, src.Store, fmt.Sprintf("UPDATE kitchen SET qty = qty + 3 WHERE id = %d", i))
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err = godwit(t, "approve", name, "--gate", "reads-moved")
		if err == nil {
			break
		}
		require.True(t, time.Now().Before(deadline), "the lag never came under the gate's limit: %s", out)
		time.Sleep(time.Second)
	}
	final, err := r.result()
	require.NoError(t, err, "%+v", final)
	require.Equal(t, migration.StatusCompleted, final.Status)
	require.Equal(t, 4, final.Phases[0].Steps)
	require.Equal(t, "2 of 2 units done, 0 running", final.Phases[3].Step)
	for _, table := range []string{"kitchen", "pantry"} {
		dbtest.AssertSameRows(t, src.Store, dst.Store, table)
	}

	events := runHistory(t, name, "").Events
	var in workflows.Input
	require.NoError(t, json.Unmarshal(events[0].GetWorkflowExecutionStartedEventAttributes().GetInput().GetPayloads()[0].GetData(), &in))
	require.NotNil(t, in.Plan, "godwit start sends the plan")
	require.Len(t, in.Plan.Phases[0].Steps, 4)
	require.Equal(t, 2, in.Plan.Phases[3].FanOut)
	require.True(t, in.Plan.Phases[4].Background)
	require.True(t, in.Plan.Phases[4].Follows)
	require.Equal(t, "legacy", in.Plan.Phases[6].CaptureSource)
	require.True(t, hasEvent(events, func(ev *historypb.HistoryEvent) bool {
		return ev.GetMarkerRecordedEventAttributes().GetMarkerName() == "Version" &&
			string(ev.GetMarkerRecordedEventAttributes().GetDetails()["change-id"].GetPayloads()[0].GetData()) == `"plans-as-data"`
	}), "the run took the plans-as-data path")
	require.False(t, hasEvent(events, func(ev *historypb.HistoryEvent) bool {
		m := ev.GetMarkerRecordedEventAttributes()
		return m.GetMarkerName() == "SideEffect" && strings.Contains(string(m.GetDetails()["data"].GetPayloads()[0].GetData()), `"plan":`)
	}), "a plan sent by godwit start is not made again")
	recordHistory(t, name)
}

// TestARunStartedWithoutAPlanMakesItOnce: `temporal workflow start` sends
// only a spec; the run makes its plan once, in a recorded side effect,
// and follows it. Recorded as plans-temporal-cli.json.
func TestARunStartedWithoutAPlanMakesItOnce(t *testing.T) {
	t.Parallel()
	d := &demo{t: t, name: "it-plans-temporal-cli"}
	startWithTemporalCLI(t, d.name, fmt.Sprintf(`{"spec":{"name":%q,"phases":[`+
		`{"phase":"validate","hook":{"steps":[{"run":{"command":["true"]}},{"wait":"1s"},{"run":{"command":["true"]}}]}},`+
		`{"phase":"copy","hook":{"run":{"command":["true"]}}}]}}`, d.name))
	final, err := d.result()
	require.NoError(t, err)
	require.Equal(t, migration.StatusCompleted, final.Status)
	require.Equal(t, 3, final.Phases[0].Steps)
	events := runHistory(t, d.name, "").Events
	require.True(t, hasEvent(events, func(ev *historypb.HistoryEvent) bool {
		m := ev.GetMarkerRecordedEventAttributes()
		return m.GetMarkerName() == "SideEffect" && strings.Contains(string(m.GetDetails()["data"].GetPayloads()[0].GetData()), `"plan":{"phases":[{"driver":"hook","steps":[`)
	}), "the plan is made once and recorded")
	recordHistory(t, d.name)
}
