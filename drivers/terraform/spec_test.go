package terraform

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/config"
)

func parse(section string) (*config.Spec, error) {
	text := "name: t\nphases:\n  - phase: provision\n    terraform:\n" + indent(section, "      ")
	return config.ParseSpec([]byte(text))
}

func TestCheckReportsImpossibleSections(t *testing.T) {
	cases := []struct {
		name, section string
		want          string
	}{
		{"no dir", "apply: {vars: {a: b}}", "phases[0].terraform.dir (line 4): is required: the Terraform module's directory on the worker"},
		{"secret-looking plain var", "dir: m\nvars: {db_password: hunter2}", "phases[0].terraform.vars.db_password (line 6): looks like a secret"},
		{"secret given twice", "dir: m\napply: {vars: {token_x: ''}}\nsecretVars: {token_x: {fromEnv: T}}", "phases[0].terraform.apply.vars.token_x (line 6): is also in secretVars"},
		{"secret without source", "dir: m\nsecretVars: {t: {}}", "phases[0].terraform.secretVars.t (line 6): needs fromEnv"},
		{"inherits a variable that is not TF_*", "dir: m\ninheritEnv: [ORDERS_DSN]", `phases[0].terraform.inheritEnv[0] (line 6): "ORDERS_DSN" is not a TF_* variable`},
		{"inherits a TF_VAR_", "dir: m\ninheritEnv: [TF_PLUGIN_CACHE_DIR, TF_VAR_region]", "phases[0].terraform.inheritEnv[1] (line 6): TF_VAR_region would change what Terraform does"},
		{"secret env without source", "dir: m\nsecretEnv: {AWS_SECRET_ACCESS_KEY: {}}", "phases[0].terraform.secretEnv.AWS_SECRET_ACCESS_KEY (line 6): needs fromEnv"},
		{"compensation that does nothing", "dir: m\ncompensate: {}", "phases[0].terraform.compensate (line 6): needs vars"},
		{"gate without name", "dir: m\napprove: {gate: ''}", "phases[0].terraform.approve.gate (line 6): is required"},
		{"bad workspace", "dir: m\nworkspace: 'a/b'", `phases[0].terraform.workspace (line 6): "a/b" is not a valid workspace name`},
		{"bad variable name", "dir: m\nvars: {'9x': y}", "phases[0].terraform.vars.9x (line 6): is not a valid Terraform variable name"},
		{"destroys with nobody seeing the plan", "dir: m\nallowDestroy: [a.b]", "phases[0].terraform.allowDestroy (line 6): lets the plan destroy a.b, and nobody would see that plan before it is applied: add approve: {gate: NAME}"},
	}
	for _, c := range cases {
		_, err := parse(c.section)
		require.Error(t, err, c.name)
		assert.Contains(t, err.Error(), c.want, c.name)
	}
}

func TestGatesAreCheckedAcrossTheSpec(t *testing.T) {
	text := `name: t
phases:
  - phase: provision
    approval: {gate: g}
    terraform: {dir: m, approve: {gate: g}}
`
	_, err := config.ParseSpec([]byte(text))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"g" is already the gate of phases[0]`)
}

func TestStepsAndResources(t *testing.T) {
	spec, err := parse("dir: infra/bg/\napply: {vars: {migration_phase: execution}}")
	require.NoError(t, err)
	s := spec.Phases[0].Driver.(*Spec)
	assert.Equal(t, []config.Step{{Name: "plan", Action: true, ReadOnly: true}, {Name: "apply", Action: true}}, s.PlanSteps())
	assert.Equal(t, []string{"terraform:infra/bg#default"}, spec.AllResources())
	assert.False(t, s.HasCompensation())

	spec, err = parse("dir: m\nworkspace: green\napprove: {gate: look}\ncompensate: {destroy: true}")
	require.NoError(t, err)
	s = spec.Phases[0].Driver.(*Spec)
	assert.Equal(t, []config.Step{{Name: "plan", Action: true, ReadOnly: true}, {Name: "approve the plan (gate look)", Gate: "look"}, {Name: "apply", Action: true}}, s.PlanSteps())
	assert.Equal(t, []string{"terraform:m#green"}, spec.AllResources())
	assert.True(t, s.HasCompensation())
	assert.True(t, strings.Contains(strings.Join(spec.Outline(), "\n"), "terraform, timeout 10m0s, 3 attempts, 3 steps"))
}

func TestGlobMatch(t *testing.T) {
	cases := []struct {
		pattern, text string
		want          bool
	}{
		{"terraform_data.blue[*]", "terraform_data.blue[0]", true},
		{"terraform_data.blue[*]", "terraform_data.blue", false},
		{"terraform_data.blue", "terraform_data.blue", true},
		{"terraform_data.blue", "terraform_data.blue[0]", false},
		{"module.blue.*", "module.blue.aws_instance.web[1]", true},
		{"*", "anything", true},
		{"*.blue*", "terraform_data.green[0]", false},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "aXcYb", false},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, globMatch(c.pattern, c.text), "%s ~ %s", c.pattern, c.text)
	}
}

func TestSpecJSONRoundTrip(t *testing.T) {
	spec, err := parse("dir: m\nvars: {app: x}\nsecretVars: {tok: {fromEnv: T}}\napply: {vars: {p: e}}\ncompensate: {vars: {p: q}}\napprove: {gate: g}\nallowDestroy: [a]")
	require.NoError(t, err)
	b, err := spec.Phases[0].MarshalJSON()
	require.NoError(t, err)
	var back config.PhaseSpec
	require.NoError(t, back.UnmarshalJSON(b))
	assert.Equal(t, spec.Phases[0], back)
	assert.Contains(t, string(b), `"terraform":{"dir":"m","workspace":"default"`)
}

// TestAPhaseGateWaitsAfterThePlan: a terraform phase's own gate (the
// decommission's, in examples/blue-green.yaml) waits after its read-only
// plan, so it can show what the apply will destroy; allowDestroy is then
// seen at that gate.
func TestAPhaseGateWaitsAfterThePlan(t *testing.T) {
	text := "name: t\nphases:\n  - phase: decommission\n    approval: {gate: retire}\n    terraform:\n" +
		indent("dir: m\napply: {vars: {p: c}}\nallowDestroy: [a.b]", "      ")
	spec, err := config.ParseSpec([]byte(text))
	require.NoError(t, err)
	require.True(t, spec.Phases[0].GateAfterReadOnly())
	steps := spec.Phases[0].Driver.(*Spec).PlanSteps()
	require.True(t, steps[0].ReadOnly, "the plan changes nothing")
	require.Equal(t, 1, config.FirstChange(steps), "the apply is the first step that changes something")
	assert.Contains(t, spec.Outline()[0], `gate "retire" after its plan, 2 steps, no compensation (point of no return)`)
}

// TestClipCutsOnACharacter: a long summary (a plan's values hold "→") is
// cut on a character boundary.
func TestClipCutsOnACharacter(t *testing.T) {
	for n := 0; n < 4; n++ {
		s := clip(strings.Repeat("x", maxSummary-2+n) + "→ y")
		assert.True(t, utf8.ValidString(s), "%q", s[len(s)-8:])
		assert.True(t, strings.HasSuffix(s, "…"))
	}
}
