package config

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestPlanSpecHoldsWhatTheDriversAnswer: the plan is the drivers' answers
// as data, and survives JSON (the workflow's input) unchanged.
func TestPlanSpecHoldsWhatTheDriversAnswer(t *testing.T) {
	spec, err := ParseSpec([]byte(`name: m
resources: [queue:orders]
phases:
  - phase: provision
    name: infra.green
    outputs: [url]
    hook: {run: {command: [./up.sh]}, resumable: true}
  - phase: shift-traffic
    hook:
      steps:
        - {name: shift, run: {command: [./shift.sh, "${phases.infra.green.outputs.url}"]}}
        - {gate: looks-good}
        - {wait: 5m}
`))
	require.NoError(t, err)
	plan := PlanSpec(spec)
	require.Equal(t, Plan{
		Resources: []string{"queue:orders"},
		Phases: []PhasePlan{
			{Driver: "hook", Pausable: true},
			{Driver: "hook", References: []string{"infra.green.url"}, Steps: []Step{
				{Name: "shift", Action: true},
				{Name: "gate looks-good", Gate: "looks-good"},
				{Name: "wait 5m0s", Wait: 5 * time.Minute},
			}},
		},
	}, plan)
	b, err := json.Marshal(plan)
	require.NoError(t, err)
	var back Plan
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, plan, back)
	require.True(t, back.Fits(2))
	require.False(t, (*Plan)(nil).Fits(2))
}

// TestOutputsForAReferenceWordsAMissingValueAsResolveDoes: the workflow
// checks a phase's references on the plan; its error reads as the one
// Resolve gave when the workflow resolved the section itself.
func TestOutputsForAReferenceWordsAMissingValueAsResolveDoes(t *testing.T) {
	spec, err := ParseSpec([]byte(`name: m
phases:
  - {phase: provision, name: infra.green, outputs: [url, ip], hook: {run: {command: [./up.sh]}}}
  - phase: copy
    hook: {run: {command: [./x.sh, "${phases.infra.green.outputs.url}", "${phases.infra.green.outputs.ip}"]}}
`))
	require.NoError(t, err)
	p := spec.Phases[1]
	refs := PlanSpec(spec).Phases[1].References
	partial := Outputs{"infra.green": {"url": "http://g"}, "other": {"x": "y"}}
	_, resolveErr := p.Resolve(partial)
	_, forErr := partial.For(p.Name, refs)
	require.EqualError(t, forErr, resolveErr.Error())
	require.Equal(t, Outputs{"infra.green": {"url": "http://g"}}, partial.Known(refs), "only what the phase names")

	full := Outputs{"infra.green": {"url": "http://g", "ip": "10.0.0.1"}, "other": {"x": "y"}}
	some, err := full.For(p.Name, refs)
	require.NoError(t, err)
	require.Equal(t, Outputs{"infra.green": {"url": "http://g", "ip": "10.0.0.1"}}, some)
	require.Equal(t, "to http://g and ${phases.x.outputs.y}", full.Expand("to ${phases.infra.green.outputs.url} and ${phases.x.outputs.y}"))
	resolved, err := p.Resolve(some)
	require.NoError(t, err)
	require.Equal(t, []string{"./x.sh", "http://g", "10.0.0.1"}, resolved.Hook().Run.Command)
}
