package config

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/migration"
)

const okHook = `{run: {command: [./x.sh]}}`

func TestRepeatedKindsWithNamesAreValid(t *testing.T) {
	spec, err := ParseSpec([]byte(`name: m
phases:
  - {phase: validate, hook: ` + okHook + `}
  - {phase: validate, name: validate-schema, hook: ` + okHook + `}
  - {phase: copy, hook: ` + okHook + `}
  - {phase: reconcile, name: reconcile-after-copy, hook: ` + okHook + `}
  - {phase: shift-traffic, name: reads, hook: ` + okHook + `}
  - {phase: copy, name: copy-again, hook: ` + okHook + `}
  - {phase: shift-traffic, name: writes, hook: ` + okHook + `}
  - {phase: decommission, name: retire-tables, hook: ` + okHook + `}
  - {phase: decommission, name: retire-route, hook: ` + okHook + `}
`))
	require.NoError(t, err)
	names := []string{}
	for _, p := range spec.Phases {
		names = append(names, p.Name)
	}
	assert.Equal(t, []string{"validate", "validate-schema", "copy", "reconcile-after-copy", "reads", "copy-again", "writes", "retire-tables", "retire-route"}, names)
	assert.Equal(t, migration.PhaseShiftTraffic, spec.Phases[6].Phase)
	outline := spec.Outline()
	assert.Contains(t, outline[7], "retire-tables (decommission)")
	assert.Contains(t, outline[7], "(point of no return)")
	assert.NotContains(t, outline[8], "point of no return", "only the first decommission is the point of no return")
}

func TestSpineSpecErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{
			name: "decommission before another kind",
			yaml: "name: m\nphases:\n  - {phase: decommission, hook: " + okHook + "}\n  - {phase: reconcile, hook: " + okHook + "}\n",
			want: "phases[1].phase (line 4): reconcile must come before the decommission phase \"decommission\": move it up; decommission entries come last, since the first to start is the point of no return",
		},
		{
			name: "validate after a changing phase",
			yaml: "name: m\nphases:\n  - {phase: provision, name: db, hook: " + okHook + "}\n  - {phase: validate, hook: " + okHook + "}\n",
			want: "phases[1].phase (line 4): validate must come before the phases that change things, but db comes earlier: move it up",
		},
		{
			name: "two phases with one name",
			yaml: "name: m\nphases:\n  - {phase: copy, name: move, hook: " + okHook + "}\n  - {phase: reconcile, name: move, hook: " + okHook + "}\n",
			want: `phases[1].name (line 4): "move" is already the name of phases[0]: give each phase of the same name a unique name, e.g. name: move-2`,
		},
		{
			name: "bad phase name",
			yaml: "name: m\nphases:\n  - {phase: copy, name: Copy Users, hook: " + okHook + "}\n",
			want: `phases[0].name (line 3): "Copy Users" is not a valid phase name: use 1-63 lowercase letters, digits, '-', '_' or '.', starting and ending with a letter or digit`,
		},
		{
			name: "reference to an unknown phase",
			yaml: "name: m\nphases:\n  - {phase: copy, hook: {run: {command: [./x.sh, '${phases.infra.outputs.url}']}}}\n",
			want: `phases[0].hook (line 3): ${phases.infra.outputs.url} refers to phase "infra", which the spec does not have (phases: copy)`,
		},
		{
			name: "reference to a later phase",
			yaml: "name: m\nphases:\n  - {phase: copy, hook: {run: {command: [./x.sh, '${phases.infra.outputs.url}']}}}\n  - {phase: reconcile, name: infra, outputs: [url], hook: " + okHook + "}\n",
			want: `phases[0].hook (line 3): ${phases.infra.outputs.url} refers to phase "infra", which runs at or after this one: only earlier phases' outputs are known`,
		},
		{
			name: "reference to an undeclared output",
			yaml: "name: m\nphases:\n  - {phase: provision, name: infra, outputs: [host], hook: " + okHook + "}\n  - {phase: copy, hook: {run: {command: [./x.sh], env: {URL: '${phases.infra.outputs.url}'}}}}\n",
			want: `phases[1].hook (line 4): ${phases.infra.outputs.url}: phase "infra" declares only host; add url to its outputs`,
		},
		{
			name: "misspelt reference",
			yaml: "name: m\nphases:\n  - {phase: provision, name: infra, outputs: [url], hook: " + okHook + "}\n  - {phase: copy, hook: {run: {command: [./x.sh, '${phases.infra.output.url}']}}}\n",
			want: `phases[1].hook (line 4): ${phases.infra.output.url} is not a reference Godwit knows: write ${phases.PHASE.outputs.NAME}`,
		},
		{
			name: "bad output name",
			yaml: "name: m\nphases:\n  - {phase: provision, outputs: [my-url], hook: " + okHook + "}\n",
			want: `phases[0].outputs[0] (line 3): "my-url" is not a valid output name: use letters, digits and '_'`,
		},
		{
			name: "step with two things to do",
			yaml: "name: m\nphases:\n  - phase: shift-traffic\n    hook:\n      steps:\n        - {run: {command: [./x.sh]}, wait: 1m}\n",
			want: "phases[0].hook.steps[0] (line 6): needs exactly one of run (a command), wait (a duration) and gate (an approval), not 2",
		},
		{
			name: "steps and run together",
			yaml: "name: m\nphases:\n  - phase: shift-traffic\n    hook:\n      run: {command: [./x.sh]}\n      steps: [{wait: 1m}]\n",
			want: "phases[0].hook.steps (line 6): cannot be given with run: use run for one command, steps for several",
		},
		{
			name: "a step gate named like a phase gate",
			yaml: "name: m\nphases:\n  - {phase: copy, approval: {gate: go}, hook: " + okHook + "}\n  - phase: shift-traffic\n    hook:\n      steps: [{gate: go}]\n",
			want: `phases[1].hook.steps[0].gate (line 6): "go" is already the gate of phases[0]: gate names must be unique`,
		},
		{
			name: "two drivers in one phase",
			yaml: "name: m\nphases:\n  - phase: copy\n    hook: " + okHook + "\n    hook2: {}\n",
			want: "phases[0].hook2 (line 5): unknown field (did you mean \"hook\"?); known fields here: phase, name, outputs, timeout, heartbeatTimeout, retry, approval, compensatePartial, disruptive, hook",
		},
		{
			name: "store with an inline DSN",
			yaml: "name: m\nstores:\n  legacy: {engine: postgres, dsn: 'postgres://u:hunter2@db/x'}\nphases:\n  - {phase: copy, hook: " + okHook + "}\n",
			want: "stores.legacy.dsn (line 3): must not be written in the spec, where it would be stored in workflow history in plain text: write {fromEnv: VAR} (a variable in the worker's environment) or {fromFile: PATH} (a file on the worker)",
		},
		{
			name: "store with an unknown engine",
			yaml: "name: m\nstores:\n  legacy: {engine: oracle, dsn: {fromEnv: LEGACY_DSN}}\nphases:\n  - {phase: copy, hook: " + okHook + "}\n",
			want: `stores.legacy.engine (line 3): "oracle" is not an engine Godwit knows: use one of postgres, mysql, sqlite`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSpec([]byte(tc.yaml))
			require.Error(t, err)
			assert.Equal(t, tc.want, err.Error())
			assert.NotContains(t, err.Error(), "hunter2", "a secret never appears in an error")
		})
	}
}

func TestResolveReplacesReferencesWithValues(t *testing.T) {
	spec, err := ParseSpec([]byte(`name: m
phases:
  - {phase: provision, name: infra, outputs: [url], hook: ` + okHook + `}
  - phase: copy
    hook: {run: {command: [./x.sh, "--to=${phases.infra.outputs.url}"], env: {A: "${phases.infra.outputs.url}"}}}
`))
	require.NoError(t, err)
	got, err := spec.Phases[1].Resolve(Outputs{"infra": {"url": "http://green"}})
	require.NoError(t, err)
	assert.Equal(t, []string{"./x.sh", "--to=http://green"}, got.Hook().Run.Command)
	assert.Equal(t, "http://green", got.Hook().Run.Env["A"])
	assert.Equal(t, "--to=${phases.infra.outputs.url}", spec.Phases[1].Hook().Run.Command[1], "the spec itself is unchanged")

	_, err = spec.Phases[1].Resolve(Outputs{})
	require.EqualError(t, err, "phase copy: no value for ${phases.infra.outputs.url}, ${phases.infra.outputs.url}: the phase that should produce it did not report it")
}

func TestPhaseSpecJSONRoundTripKeepsTheDriver(t *testing.T) {
	spec, err := ParseSpec([]byte("name: m\nphases:\n  - {phase: copy, name: c1, hook: {run: {command: [./x.sh]}}}\n"))
	require.NoError(t, err)
	data, err := spec.Phases[0].MarshalJSON()
	require.NoError(t, err)
	assert.Contains(t, string(data), `"hook":{"run":{"command":["./x.sh"]`)
	var back PhaseSpec
	require.NoError(t, back.UnmarshalJSON(data))
	assert.Equal(t, spec.Phases[0], back)

	var old PhaseSpec // a history from before phases had names
	require.NoError(t, old.UnmarshalJSON([]byte(`{"phase":"copy","hook":{"run":{"command":["x"]}}}`)))
	assert.Equal(t, "copy", old.Name)
	assert.Equal(t, []string{"x"}, old.Hook().Run.Command)

	err = old.UnmarshalJSON([]byte(`{"phase":"copy","teleport":{}}`))
	require.ErrorContains(t, err, `driver "teleport" is not part of this build of godwit`)
}

// TestARawSpecKeepsItsSectionsAsWritten: a workflow reads its input as a
// RawSpec, which runs no driver's code: each section stays the JSON it
// was (even one no driver of this build knows, or whose type would no
// longer read it), is written back byte for byte, and is decoded only
// when asked (Decoded), with the errors a typed decode gives.
func TestARawSpecKeepsItsSectionsAsWritten(t *testing.T) {
	// A phase's keys sorted, as PhaseSpec writes them.
	input := `{"name":"m","defaults":{},"phases":[` +
		`{"hook":{"run":{"command":["./x.sh"]},"since":"v2"},"name":"c1","phase":"copy"},` +
		`{"name":"gone","phase":"reconcile","teleport":{"to":"mars"}},` +
		`{"hook":{"run":{"command":1}},"name":"retire","phase":"decommission"}]}`
	var raw RawSpec
	require.NoError(t, json.Unmarshal([]byte(input), &raw))
	spec := Spec(raw)
	require.Len(t, spec.Phases, 3)
	for i, key := range []string{"hook", "teleport", "hook"} {
		assert.Nil(t, spec.Phases[i].Driver, "phase %d decoded", i)
		assert.Equal(t, key, spec.Phases[i].DriverKey())
	}
	assert.JSONEq(t, `{"run":{"command":["./x.sh"]},"since":"v2"}`, string(spec.Phases[0].Section()))
	out, err := json.Marshal(spec)
	require.NoError(t, err)
	assert.Equal(t, input, string(out), "written back as read, fields the type lacks included")

	first, err := spec.Phases[0].Decoded()
	require.NoError(t, err)
	assert.Equal(t, []string{"./x.sh"}, first.Hook().Run.Command)
	assert.Nil(t, first.Section())
	assert.NotNil(t, spec.Phases[0].Section(), "the raw phase is left as it is")
	_, err = spec.Phases[1].Decoded()
	assert.ErrorContains(t, err, `phase gone: driver "teleport" is not part of this build of godwit`)
	_, err = spec.Phases[2].Decoded()
	assert.ErrorContains(t, err, "phase retire: hook section: json: cannot unmarshal number")
	decoded, err := spec.Decoded()
	assert.ErrorContains(t, err, "teleport")
	assert.ErrorContains(t, err, "phase retire")
	assert.NotNil(t, decoded.Phases[0].Hook())
	assert.Nil(t, spec.Phases[0].Driver, "the spec's own phases are left raw")

	var typed Spec
	err = json.Unmarshal([]byte(input), &typed)
	require.ErrorContains(t, err, `driver "teleport" is not part of this build of godwit`, "a Spec decodes typed, as the CLI reads it")

	var two RawPhase
	err = json.Unmarshal([]byte(`{"phase":"copy","hook":{},"teleport":{}}`), &two)
	require.EqualError(t, err, "phase copy: has two drivers, hook and teleport")
}
