package traffic

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/config"
)

// specWith wraps a traffic section (indented under `traffic:`) and extra
// top-level YAML into a whole spec.
func specWith(top, section string) string {
	var b strings.Builder
	b.WriteString("name: t\n" + top + "phases:\n  - phase: shift-traffic\n    timeout: 10m\n    traffic:\n")
	for _, l := range strings.Split(strings.TrimSpace(section), "\n") {
		b.WriteString("      " + l + "\n")
	}
	return b.String()
}

// RefusedSpecProblems parses yaml, which must be refused, and returns its
// problems as "path: message" (exported for the external tests).
func RefusedSpecProblems(t *testing.T, yaml string) []string {
	t.Helper()
	_, err := config.ParseSpec([]byte(yaml))
	require.Error(t, err)
	var errs config.FieldErrors
	require.ErrorAs(t, err, &errs)
	var got []string
	for _, e := range errs {
		got = append(got, e.Path+": "+e.Message)
	}
	return got
}

const gatewayLines = "gateway: {admin: http://127.0.0.1:9090, token: {fromEnv: GW_TOKEN}}\nroute: users\n"

const twoStores = "stores:\n  legacy: {engine: postgres, dsn: {fromEnv: A}}\n  target: {engine: postgres, dsn: {fromEnv: B}}\n"

func TestParseTrafficSection(t *testing.T) {
	spec, err := config.ParseSpec([]byte(specWith("", gatewayLines+`
move: reads
newUpstream: http://10.0.0.7:8080
steps:
  - setWeight: 10
  - hold: 2m
  - analysis: {window: 1m, interval: 10s, maxErrorRate: 0, maxP99: 500ms, minRequests: 20, failureLimit: 2}
  - setWeight: {reads: 50, writes: 0}
  - gate: go-100
  - name: all in
    setWeight: 100
`)))
	require.NoError(t, err)
	s := spec.Phases[0].Driver.(*Spec)
	ten, fifty, zero, hundred := 10, 50, 0, 100
	rate0 := 0.0
	assert.Equal(t, &Spec{
		Gateway: Gateway{Admin: AdminURLs{"http://127.0.0.1:9090"}, Token: &config.SecretRef{FromEnv: "GW_TOKEN"}},
		Route:   "users", Move: MoveReads, NewUpstream: "http://10.0.0.7:8080",
		Steps: []Step{
			{SetWeight: &Weight{All: &ten}},
			{Hold: config.Duration(2 * time.Minute)},
			{Analysis: &Analysis{Window: config.Duration(time.Minute), Interval: config.Duration(10 * time.Second),
				MaxErrorRate: &rate0, MaxP99: config.Duration(500 * time.Millisecond), MinRequests: 20, FailureLimit: 2,
				OnInconclusive: InconclusiveFail}},
			{SetWeight: &Weight{Reads: &fifty, Writes: &zero}},
			{Gate: "go-100"},
			{Name: "all in", SetWeight: &Weight{All: &hundred}},
		},
	}, s)

	assert.Equal(t, []config.Step{
		{Name: "set weight reads 10%", Action: true},
		{Name: "hold 2m0s", Wait: 2 * time.Minute},
		{Name: "analysis for 1m0s", Action: true, Check: true},
		{Name: "set weight reads 50%, writes 0%", Action: true},
		{Name: "gate go-100", Gate: "go-100"},
		{Name: "all in", Action: true},
	}, s.PlanSteps())
	assert.Equal(t, []string{"route:http://127.0.0.1:9090/users"}, spec.AllResources())

	// The workflow carries the spec as JSON: both weight forms survive it.
	raw, err := json.Marshal(spec)
	require.NoError(t, err)
	var back config.Spec
	require.NoError(t, json.Unmarshal(raw, &back))
	assert.Equal(t, s, back.Phases[0].Driver)
	assert.Empty(t, back.Check())
}

func TestAnalysisDefaults(t *testing.T) {
	spec, err := config.ParseSpec([]byte(specWith("", gatewayLines+`
steps:
  - setWeight: 5
  - analysis: {window: 1m, interval: 20s, maxP95: 200ms}
`)))
	require.NoError(t, err)
	s := spec.Phases[0].Driver.(*Spec)
	a := s.Steps[1].Analysis
	assert.Equal(t, MoveBoth, s.Move)
	assert.Equal(t, 1, a.MinRequests, "a sample without requests must not pass")
	assert.Equal(t, 1, a.FailureLimit)
	assert.Equal(t, InconclusiveFail, a.OnInconclusive)
	assert.Equal(t, 3, a.Samples())
	assert.Equal(t, "set weight 5%", s.PlanSteps()[0].Name, "a plain weight moves reads and writes by default")
}

func TestCheckReportsEveryProblemWithItsPath(t *testing.T) {
	cases := []struct {
		name    string
		top     string
		section string
		want    []string // "path: message fragment"
	}{
		{"gateway and route required", "", "steps: [{setWeight: 5}]", []string{
			"phases[0].traffic.gateway.admin: is required",
			"phases[0].traffic.route: is required",
		}},
		{"inline token refused", "", "gateway: {admin: http://127.0.0.1:9090, token: hunter2}\nroute: users\nsteps: [{setWeight: 5}]", []string{
			"phases[0].traffic.gateway.token: must not be written in the spec",
		}},
		{"credentials in the admin URL refused", "", "gateway: {admin: http://u:p@127.0.0.1:9090}\nroute: users\nsteps: [{setWeight: 5}]", []string{
			"phases[0].traffic.gateway.admin: must not hold credentials",
		}},
		{"a bad or repeated replica is named by its index", "", "gateway: {admin: [http://10.0.0.1:9090, ftp://x, http://10.0.0.1:9090]}\nroute: users\nsteps: [{setWeight: 5}]", []string{
			"phases[0].traffic.gateway.admin[1]: \"ftp://x\" is not a URL",
			"phases[0].traffic.gateway.admin[2]: http://10.0.0.1:9090 is listed twice",
		}},
		{"token with both sources", "", "gateway: {admin: http://127.0.0.1:9090, token: {fromEnv: A, fromFile: /b}}\nroute: users\nsteps: [{setWeight: 5}]", []string{
			"phases[0].traffic.gateway.token: sets both fromEnv and fromFile",
		}},
		{"haproxy router incomplete", "", "router: {haproxy: {socket: /run/haproxy.sock}}\nsteps: [{setWeight: 5}]", []string{
			"phases[0].traffic.router.haproxy.backend: is required",
			"phases[0].traffic.router.haproxy.legacyServer: is required",
			"phases[0].traffic.router.haproxy.newServer: is required",
		}},
		{"haproxy cannot split reads from writes", "", "router: {haproxy: {socket: /s, backend: be, legacyServer: s1, newServer: s2}}\nmove: reads\nsteps: [{setWeight: {reads: 50, writes: 0}}]", []string{
			`phases[0].traffic.move: "reads" cannot be done with HAProxy`,
			"phases[0].traffic.steps[0].setWeight: gives reads and writes different weights",
		}},
		{"haproxy beside a gateway", "", gatewayLines + "router: {haproxy: {socket: /s, backend: be, legacyServer: s1, newServer: s2}}\nsteps: [{setWeight: 5}]", []string{
			"phases[0].traffic.gateway: is set beside router.haproxy",
		}},
		{"steps required", "", gatewayLines, []string{"phases[0].traffic.steps: is required"}},
		{"weights out of range", "", gatewayLines + "steps: [{setWeight: 101}, {setWeight: {reads: -1, writes: 200}}]", []string{
			"phases[0].traffic.steps[0].setWeight: 101 is not a percentage",
			"phases[0].traffic.steps[1].setWeight.reads: -1 is not a percentage",
			"phases[0].traffic.steps[1].setWeight.writes: 200 is not a percentage",
		}},
		{"weight of the wrong shape", "", gatewayLines + "steps: [{setWeight: ten}, {setWeight: {read: 5}}, {setWeight: {}}]", []string{
			`phases[0].traffic.steps[0].setWeight: must be a whole percentage 0..100, not "ten"`,
			`phases[0].traffic.steps[1].setWeight: unknown field "read"; known fields here: reads, writes`,
			"phases[0].traffic.steps[2].setWeight: needs reads, writes or both",
		}},
		{"a weight that goes down without rampDown", "", gatewayLines + "steps: [{setWeight: 50}, {hold: 1m}, {setWeight: 5}]", []string{
			"phases[0].traffic.steps[2].setWeight: sets reads to 5%, down from 50% at an earlier step: a weight that goes down moves traffic back to legacy; if that is meant, add rampDown: true",
			"phases[0].traffic.steps[2].setWeight: sets writes to 5%, down from 50%",
		}},
		{"one side that goes down", "", gatewayLines + "steps: [{setWeight: {reads: 50, writes: 20}}, {setWeight: {writes: 10}}]", []string{
			"phases[0].traffic.steps[1].setWeight: sets writes to 10%, down from 20%",
		}},
		{"rampDown on a step that sets no weight", "", gatewayLines + "steps: [{setWeight: 50}, {hold: 1m, rampDown: true}]", []string{
			"phases[0].traffic.steps[1].rampDown: applies to a setWeight step",
		}},
		{"a step with two kinds", "", gatewayLines + "steps: [{setWeight: 5, hold: 1m}, {}]", []string{
			"phases[0].traffic.steps[0]: needs exactly one of setWeight, hold, analysis, gate and retireLegacy, not 2",
			"phases[0].traffic.steps[1]: needs exactly one of setWeight, hold, analysis, gate and retireLegacy, not 0",
		}},
		{"a gate or hold before any weight", "", gatewayLines + "steps: [{gate: early}, {hold: 1m}, {setWeight: 5}]", []string{
			"phases[0].traffic.steps[0].gate: comes before any weight is set: put it on the phase instead, as approval: {gate: early}",
			"phases[0].traffic.steps[1].hold: comes before any weight is set",
		}},
		{"gate names checked with the spec's gates", "", gatewayLines + "steps: [{setWeight: 5}, {gate: a}, {gate: a}, {gate: 'no spaces'}]", []string{
			`phases[0].traffic.steps[2].gate: "a" is already the gate of phases[0].traffic.steps[1]`,
			`phases[0].traffic.steps[3].gate: "no spaces" is not a valid gate name`,
		}},
		{"analysis settings", "", gatewayLines + `steps:
  - setWeight: 5
  - analysis: {window: 20m, interval: 500ms, maxErrorRate: 2, maxShadowMismatchRate: -1, failureLimit: -1, minRequests: -3, onInconclusive: maybe}
  - analysis: {window: 1m, interval: 2m}
  - analysis: {window: 1m, interval: 30s, failureLimit: 3, maxP99: 1s}`, []string{
			"phases[0].traffic.steps[1].analysis.window: 20m0s is not shorter than the phase timeout 10m0s",
			"phases[0].traffic.steps[1].analysis.interval: 500ms is shorter than the gateway's 1s statistics slots",
			"phases[0].traffic.steps[1].analysis.minRequests: must not be negative",
			"phases[0].traffic.steps[1].analysis.failureLimit: must be at least 1",
			"phases[0].traffic.steps[1].analysis.maxErrorRate: 2 is not a rate",
			"phases[0].traffic.steps[1].analysis.maxShadowMismatchRate: -1 is not a rate",
			`phases[0].traffic.steps[1].analysis.onInconclusive: "maybe" is not a choice`,
			"phases[0].traffic.steps[2].analysis.interval: 2m0s is longer than the window 1m0s",
			"phases[0].traffic.steps[2].analysis: checks nothing",
			"phases[0].traffic.steps[3].analysis.failureLimit: 3 is more than the 2 samples",
		}},
		{"move and consistency choices", "", gatewayLines + "move: sideways\nwriteConsistency: hope\nsteps: [{setWeight: 5}]", []string{
			`phases[0].traffic.move: "sideways" is not a choice`,
			`phases[0].traffic.writeConsistency: "hope" is not a choice`,
		}},
		{"stores must be the spec's", twoStores, gatewayLines + "stores: {legacy: legacy, new: nowhere}\nmove: reads\nsteps: [{setWeight: 5}]", []string{
			`phases[0].traffic.stores.new: "nowhere" is not one of the spec's stores`,
		}},
		// The split-stores rule (over the plan: plan_test.go).
		{"writes over named split stores", twoStores, gatewayLines + "stores: {legacy: legacy, new: target}\nmove: writes\nsteps: [{setWeight: 100}]", []string{
			"phases[0].traffic.steps[0].setWeight: sends 100% of writes to new, but legacy uses store legacy and new store target",
		}},
		{"pinned writes move all at once", twoStores, gatewayLines + "writeConsistency: pinned\nsteps: [{setWeight: {reads: 50, writes: 0}}, {setWeight: {writes: 30}}]", []string{
			"phases[0].traffic.steps[1].setWeight: sends 30% of writes to new, but writeConsistency pinned keeps all writes on one side",
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := RefusedSpecProblems(t, specWith(c.top, c.section))
			require.Len(t, got, len(c.want), strings.Join(got, "\n"))
			for i, w := range c.want {
				assert.True(t, strings.HasPrefix(got[i], w), "problem %d:\n got %s\nwant %s…", i, got[i], w)
			}
		})
	}
}

// TestWeightsGoDownOnlyWithRampDown: a step that lowers a weight is
// accepted when it says so; raising, or setting the other side, is not
// going down.
func TestWeightsGoDownOnlyWithRampDown(t *testing.T) {
	for name, steps := range map[string]string{
		"rampDown says it is meant": "[{setWeight: 50}, {setWeight: 0, rampDown: true}]",
		"weights that only go up":   "[{setWeight: 5}, {setWeight: 5}, {setWeight: 100}]",
		"reads up, writes set once": "[{setWeight: {reads: 50}}, {setWeight: {writes: 10}}, {setWeight: {reads: 100}}]",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := config.ParseSpec([]byte(specWith("", gatewayLines+"steps: "+steps)))
			require.NoError(t, err)
		})
	}
}

func TestSplitStoresRuleAccepts(t *testing.T) {
	cases := []struct{ name, top, section string }{
		{"reads only over split stores", twoStores, "move: reads\nsteps: [{setWeight: 50}]"},
		{"writes kept at 0", twoStores, "steps: [{setWeight: {reads: 100, writes: 0}}]"},
		{"pinned writes cut over at once", twoStores, "writeConsistency: pinned\nsteps: [{setWeight: {reads: 50, writes: 0}}, {setWeight: 100}]"},
		{"reverse replication", twoStores, "writeConsistency: reverseReplication\nsteps: [{setWeight: 25}]"},
		{"one store named for both", twoStores, "stores: {legacy: legacy, new: legacy}\nsteps: [{setWeight: 25}]"},
		{"no stores in the spec", "", "steps: [{setWeight: 25}]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := config.ParseSpec([]byte(specWith(c.top, gatewayLines+c.section)))
			require.NoError(t, err)
		})
	}
}

func TestWeightTargets(t *testing.T) {
	five, zero := 5, 0
	cases := []struct {
		name          string
		w             Weight
		move          string
		reads, writes *int
	}{
		{"plain moves both", Weight{All: &five}, MoveBoth, &five, &five},
		{"plain moves reads", Weight{All: &five}, MoveReads, &five, nil},
		{"plain moves writes", Weight{All: &five}, MoveWrites, nil, &five},
		{"mapping ignores move", Weight{Reads: &five, Writes: &zero}, MoveWrites, &five, &zero},
		{"a side left out keeps its weight", Weight{Reads: &five}, MoveBoth, &five, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, w := c.w.Targets(c.move)
			assert.Equal(t, c.reads, r)
			assert.Equal(t, c.writes, w)
		})
	}
}
