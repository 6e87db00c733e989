package plan

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/migration"
)

// repeated is a spec in which kinds repeat: reads are shifted before
// writes, and the data is reconciled after each shift.
const repeated = `name: m
phases:
  - phase: copy
    hook: {run: {command: [c]}, compensate: {command: [u]}}
  - phase: shift-traffic
    name: shift-reads
    approval: {gate: reads}
    hook: {run: {command: [s, reads]}, compensate: {command: [b, reads]}}
  - phase: reconcile
    name: reconcile-reads
    hook: {run: {command: [r]}}
  - phase: shift-traffic
    name: shift-writes
    hook: {run: {command: [s, writes]}, compensate: {command: [b, writes]}}
  - phase: reconcile
    name: reconcile-writes
    hook: {run: {command: [r]}}
`

func TestFromSpecPlansEachRepeatedPhaseUnderItsName(t *testing.T) {
	spec, err := config.ParseSpec([]byte(repeated))
	require.NoError(t, err)
	p := FromSpec(spec, Options{})
	var names []string
	for _, ph := range p.Phases {
		names = append(names, ph.Name)
	}
	assert.Equal(t, []string{"copy", "shift-reads", "reconcile-reads", "shift-writes", "reconcile-writes"}, names)
	assert.Equal(t, "runs the compensation: b writes", p.Phases[3].RollbackStep)
	assert.Equal(t, "reads", p.Phases[1].Gate)
	var canary *RiskFactor
	for i, f := range p.RiskFactors {
		if f.Factor == FactorNoCanary {
			canary = &p.RiskFactors[i]
		}
	}
	require.NotNil(t, canary, "the ungated second shift is a big-bang cut-over")
	assert.Contains(t, canary.Detail, "shift-writes")
	assert.NotContains(t, canary.Detail, "shift-reads")
}

func TestStepsMakeAShiftStagedAndSetItsEstimate(t *testing.T) {
	spec, err := config.ParseSpec([]byte(`name: m
phases:
  - phase: shift-traffic
    timeout: 5h
    hook:
      steps:
        - {name: "10%", run: {command: [w, "10"]}}
        - {wait: 10m}
        - {name: "50%", run: {command: [w, "50"]}}
        - {wait: 20m}
        - {name: "100%", run: {command: [w, "100"]}}
      compensate: {command: [w, "0"]}
`))
	require.NoError(t, err)
	p := FromSpec(spec, Options{})
	ph := p.Phases[0]
	assert.Equal(t, 30.0, ph.EstimatedMinutes, "the sum of the holds, not the 5h timeout")
	assert.Equal(t, 5, ph.Steps)
	for _, f := range p.RiskFactors {
		assert.NotEqual(t, FactorNoCanary, f.Factor, "traffic moves in three steps")
	}
}

func TestSpecNamesAreDistinctAndValid(t *testing.T) {
	for _, tc := range []struct {
		name   string
		phases []Phase
		want   []string
	}{
		{"unique kinds keep their kind", []Phase{{Name: "Prep", Kind: migration.PhaseProvision}, {Name: "Go", Kind: migration.PhaseShiftTraffic}},
			[]string{"provision", "shift-traffic"}},
		{"repeated kinds take their described names", []Phase{{Name: "Move Reads!", Kind: migration.PhaseShiftTraffic}, {Name: "move writes", Kind: migration.PhaseShiftTraffic}},
			[]string{"move-reads", "move-writes"}},
		{"a name already taken falls back to the kind", []Phase{{Name: "copy", Kind: migration.PhaseCopy}, {Name: "x", Kind: migration.PhaseReconcile}, {Name: "reconcile", Kind: migration.PhaseCopy}},
			[]string{"copy", "reconcile", "copy-2"}},
		{"names without letters fall back to the kind", []Phase{{Name: "!!", Kind: migration.PhaseCopy}, {Name: "??", Kind: migration.PhaseCopy}},
			[]string{"copy", "copy-2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, SpecNames(tc.phases))
		})
	}
}

func TestDetailsShowsThePlanWithinItsBound(t *testing.T) {
	spec, err := config.ParseSpec([]byte(repeated))
	require.NoError(t, err)
	p := FromSpec(spec, Options{})
	d := p.Details(0)
	for _, ph := range p.Phases {
		assert.Contains(t, d, "| "+ph.Name+" |")
		assert.Contains(t, d, ph.RollbackStep)
	}
	assert.Contains(t, d, "risk **"+p.OverallRisk+"**")
	assert.Contains(t, d, "no_canary_or_shadow")

	var b strings.Builder
	b.WriteString("name: big\nphases:\n")
	for i := 0; i < 300; i++ {
		fmt.Fprintf(&b, "  - phase: copy\n    name: copy-%d\n    hook: {run: {command: [c]}, compensate: {command: [%s]}}\n", i, strings.Repeat("x", 200))
	}
	big, err := config.ParseSpec([]byte(b.String()))
	require.NoError(t, err)
	for _, limit := range []int{0, 2000, 300} {
		d := FromSpec(big, Options{}).Details(limit)
		want := limit
		if want == 0 {
			want = DefaultDetailsBytes
		}
		assert.LessOrEqual(t, len(d), want)
		assert.Contains(t, d, "more line(s)")
	}
}
