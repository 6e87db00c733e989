package terraform

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/infra"
)

// binary returns the Terraform binary for the tests, skipping (and saying
// why) only when there is none at all.
func binary(t *testing.T) string {
	t.Helper()
	if os.Getenv(infra.BinaryEnv) == "" {
		if p, err := filepath.Abs("../../bin/terraform"); err == nil {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	p, err := infra.FindBinary("")
	if err != nil {
		t.Skipf("no Terraform binary: %v (./scripts/test.sh installs one into bin/)", err)
	}
	return p
}

// fixture is a copy of the example module with a driver on it.
type fixture struct {
	t   *testing.T
	dir string
	bin string
	d   *Driver
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join("..", "..", "examples", "blue-green", "main.tf"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.tf"), src, 0o644))
	d := New(hclog.NewNullLogger())
	d.PlanDir = t.TempDir()
	return &fixture{t: t, dir: dir, bin: binary(t), d: d}
}

// phase parses a one-phase spec whose terraform section is section (YAML,
// indented under `terraform:`), with dir and binary filled in.
func (f *fixture) phase(kind, outputs, section string) config.PhaseSpec {
	f.t.Helper()
	text := "name: t\nphases:\n  - phase: " + kind + "\n    outputs: [" + outputs + "]\n    terraform:\n" +
		"      dir: " + f.dir + "\n      binary: " + f.bin + "\n      workspace: w\n" + indent(section, "      ")
	spec, err := config.ParseSpec([]byte(text))
	require.NoError(f.t, err, text)
	return spec.Phases[0]
}

func indent(s, by string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := range lines {
		lines[i] = by + lines[i]
	}
	return strings.Join(lines, "\n") + "\n"
}

func (f *fixture) do(action activities.Action, p config.PhaseSpec, step int, prior map[string]string) (activities.PhaseResult, error) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	in := activities.PhaseInput{Migration: "t", Phase: p, Step: step, Prior: prior}
	if action == activities.ActionCompensate {
		in.StepsDone = step
	}
	return f.d.Do(ctx, action, in, activities.Heartbeat{}, func(activities.Heartbeat) {})
}

// run runs the phase's steps as the workflow would with its gate approved:
// plan, then apply with the plan's outputs as Prior.
func (f *fixture) run(p config.PhaseSpec) activities.PhaseResult {
	f.t.Helper()
	plan, err := f.do(activities.ActionRun, p, 1, nil)
	require.NoError(f.t, err)
	res, err := f.do(activities.ActionRun, p, len(p.Driver.(*Spec).PlanSteps()), plan.Outputs)
	require.NoError(f.t, err)
	return res
}

// module opens the fixture's module directly, as another user would.
func (f *fixture) module() *infra.Module {
	m, err := infra.New(infra.Options{Dir: f.dir, Binary: f.bin, Workspace: "w", PlanDir: f.t.TempDir()})
	require.NoError(f.t, err)
	return m
}

func (f *fixture) resources() []string {
	f.t.Helper()
	st, err := f.module().State(context.Background())
	require.NoError(f.t, err)
	return st.Resources
}

// applyDirectly moves the state behind the driver's back.
func (f *fixture) applyDirectly(migrationPhase string) {
	f.t.Helper()
	m := f.module()
	ctx := context.Background()
	require.NoError(f.t, m.Init(ctx))
	p, err := m.Plan(ctx, infra.Vars{Plain: map[string]string{"migration_phase": migrationPhase}})
	require.NoError(f.t, err)
	require.NoError(f.t, m.Apply(ctx, p))
}

func appError(t *testing.T, err error) *temporal.ApplicationError {
	t.Helper()
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "want an application error, got %v", err)
	return appErr
}

const provision = `
apply: {vars: {migration_phase: execution}}
compensate: {vars: {migration_phase: preparation}}
approve: {gate: green-plan}`

const blue = "terraform_data.blue[0]"
const green = "terraform_data.green[0]"

func TestProvisionPlansThenAppliesAndHandsOnOutputs(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.applyDirectly("preparation")
	p := f.phase("provision", "green_address, plan_hash", provision)

	plan, err := f.do(activities.ActionRun, p, 1, nil)
	require.NoError(t, err)
	hash := plan.Outputs[OutputPlanHash]
	require.True(t, strings.HasPrefix(hash, "sha256:"))
	assert.Equal(t, "plan "+infra.ShortHash(hash)+": 1 to add, 0 to change, 0 to destroy: + "+green+
		` {id: (known after apply), input.address: "http://shop-green.internal:8080", input.name: "shop-green", input.release: "v2", input.with_token: false, output: (known after apply)}`,
		plan.Summary, "the plan shows the values it sets")
	assert.Equal(t, []string{blue}, f.resources(), "the plan step changes nothing")

	res, err := f.do(activities.ActionRun, p, 3, plan.Outputs)
	require.NoError(t, err)
	assert.Equal(t, "applied plan "+infra.ShortHash(hash)+": 1 to add, 0 to change, 0 to destroy: + "+green, res.Summary)
	assert.Equal(t, "http://shop-green.internal:8080", res.Outputs["green_address"])
	assert.NotEmpty(t, res.Outputs[OutputStateSerial])
	assert.NotContains(t, res.Outputs, "blue_address", "only the outputs the phase declares")
	assert.Equal(t, []string{blue, green}, f.resources())
	assert.Contains(t, res.Output, "Apply complete!")

	// A retry of the apply step (its result lost with a worker) finds
	// nothing left to do and succeeds.
	again, err := f.do(activities.ActionRun, p, 3, plan.Outputs)
	require.NoError(t, err)
	assert.Equal(t, "plan "+infra.ShortHash(hash)+" already applied: no changes left", again.Summary)
	assert.Equal(t, "http://shop-green.internal:8080", again.Outputs["green_address"])
}

func TestAPlanThatChangedSinceApprovalIsRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.applyDirectly("preparation")
	p := f.phase("provision", "", provision)
	plan, err := f.do(activities.ActionRun, p, 1, nil)
	require.NoError(t, err)

	// While the plan waits at its gate, someone retires blue.
	f.applyDirectly("completion")
	_, err = f.do(activities.ActionRun, p, 3, plan.Outputs)
	require.Error(t, err)
	appErr := appError(t, err)
	assert.Equal(t, activities.ErrTypeStepsAgain, appErr.Type())
	assert.True(t, appErr.NonRetryable())
	assert.Contains(t, err.Error(), "the plan changed since it was approved: approved plan "+infra.ShortHash(plan.Outputs[OutputPlanHash]))
	assert.Contains(t, err.Error(), "now also + "+blue+"; no longer + "+green)
	assert.Equal(t, []string{green}, f.resources(), "nothing was applied")
}

func TestAPlanDestroyingWhatIsNotAllowedFailsBeforeApply(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name         string
		allowDestroy string
		wantErr      bool
	}{
		{"no allowDestroy", "", true},
		{"another resource allowed", `allowDestroy: ["terraform_data.green*"]`, true},
		{"blue allowed", `allowDestroy: ["terraform_data.blue[*]"]`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.applyDirectly("execution")
			p := f.phase("decommission", "", "apply: {vars: {migration_phase: completion}}\napprove: {gate: g}\n"+c.allowDestroy)
			_, err := f.do(activities.ActionRun, p, 1, nil)
			if !c.wantErr {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			appErr := appError(t, err)
			assert.Equal(t, ErrTypeDestroyNotAllowed, appErr.Type())
			assert.True(t, appErr.NonRetryable())
			assert.Contains(t, err.Error(), "the plan would destroy "+blue+", which allowDestroy does not name")
			assert.Equal(t, []string{blue, green}, f.resources())
		})
	}
}

func TestCompensationRestoresThePreviousValues(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.applyDirectly("preparation")
	p := f.phase("provision", "", provision)
	applied := f.run(p)
	require.Equal(t, []string{blue, green}, f.resources())

	res, err := f.do(activities.ActionCompensate, p, 3, applied.Outputs)
	require.NoError(t, err)
	assert.Equal(t, "restored (the state had serial "+applied.Outputs[OutputStateSerial]+" before the phase): 0 to add, 0 to change, 1 to destroy: - "+green, res.Summary)
	assert.Equal(t, []string{blue}, f.resources(), "back to blue only")

	again, err := f.do(activities.ActionCompensate, p, 3, applied.Outputs)
	require.NoError(t, err, "a retried compensation is safe")
	assert.Contains(t, again.Summary, "nothing to undo")
	assert.Equal(t, []string{blue}, f.resources())
}

func TestDestroyCompensationRemovesEverything(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	p := f.phase("provision", "", "apply: {vars: {migration_phase: execution}}\ncompensate: {destroy: true}")
	f.run(p)
	require.Equal(t, []string{blue, green}, f.resources())
	for range 2 { // idempotent
		res, err := f.do(activities.ActionCompensate, p, 2, nil)
		require.NoError(t, err)
		assert.Equal(t, "destroyed the workspace's resources", res.Summary)
		assert.Empty(t, f.resources())
	}
}

func TestSecretVariablesAreReadOnTheWorkerAndRedacted(t *testing.T) {
	const secret = "tok-42-do-not-print"
	t.Setenv("GODWIT_TF_TEST_TOKEN", secret)
	f := newFixture(t)
	p := f.phase("provision", "", `
secretVars: {deploy_token: {fromEnv: GODWIT_TF_TEST_TOKEN}}
apply: {vars: {migration_phase: execution}}`)
	res := f.run(p)
	assert.NotContains(t, res.Output, secret)
	js, err := json.Marshal(res)
	require.NoError(t, err)
	assert.NotContains(t, string(js), secret)
	m := f.module()
	out, err := m.Outputs(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "blue,green", out["environments"].Value)

	t.Setenv("GODWIT_TF_TEST_TOKEN", "")
	os.Unsetenv("GODWIT_TF_TEST_TOKEN")
	_, err = f.do(activities.ActionRun, p, 1, nil)
	require.Error(t, err)
	assert.True(t, appError(t, err).NonRetryable())
	assert.Contains(t, err.Error(), "secret variable deploy_token: environment variable GODWIT_TF_TEST_TOKEN is not set for this process")
}

// A secret given the way Terraform reads one from its environment,
// secretEnv: {TF_VAR_name: ...}, reaches the module as the variable name
// (it used to be dropped: Terraform saw the default), and is in neither
// the phase's result nor the worker's log.
func TestATFVarSecretReachesTerraformAndNothingElse(t *testing.T) {
	const secret = "tok-77-do-not-print"
	t.Setenv("GODWIT_TF_TEST_TFVAR", secret)
	f := newFixture(t)
	var logs strings.Builder
	f.d.Logger = hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Trace})
	p := f.phase("provision", "", `
secretEnv: {TF_VAR_deploy_token: {fromEnv: GODWIT_TF_TEST_TFVAR}}
apply: {vars: {migration_phase: execution}}`)
	plan, err := f.do(activities.ActionRun, p, 1, nil)
	require.NoError(t, err)
	assert.Contains(t, plan.Output, "with_token = true", "the module saw a non-empty deploy_token")
	res := f.run(p)
	for what, text := range map[string]string{"plan": mustJSON(t, plan), "apply": mustJSON(t, res), "log": logs.String()} {
		assert.NotContains(t, text, secret, what)
	}
	assert.Empty(t, f.d.Preflight(context.Background(), nil, p), "preflight counts it as the module's variable")

	for _, c := range []struct{ section, want string }{
		{"secretEnv: {TF_VAR_deploy_token: {fromEnv: A}}\nsecretVars: {deploy_token: {fromEnv: B}}", "gives the variable deploy_token, which secretVars.deploy_token gives too"},
		{"secretEnv: {TF_VAR_app: {fromEnv: A}}", "gives the variable app, which vars, apply.vars or compensate.vars gives too"},
		{"secretEnv: {TF_CLI_ARGS_apply: {fromEnv: A}}", "TF_CLI_ARGS_apply would change what Terraform does behind the spec's back"},
	} {
		text := "name: t\nphases:\n  - phase: provision\n    terraform:\n      dir: " + f.dir + "\n      vars: {app: shop}\n" +
			indent(c.section+"\napply: {vars: {migration_phase: execution}}", "      ")
		_, err := config.ParseSpec([]byte(text))
		require.Error(t, err, c.section)
		assert.Contains(t, err.Error(), c.want)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func TestAHeldLockIsRetryableAndNamesItsHolder(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.applyDirectly("preparation")
	stateDir := filepath.Join(f.dir, "terraform.tfstate.d", "w")
	file, err := os.OpenFile(filepath.Join(stateDir, "terraform.tfstate"), os.O_RDWR, 0)
	require.NoError(t, err)
	defer file.Close()
	require.NoError(t, syscall.FcntlFlock(file.Fd(), syscall.F_SETLK, &syscall.Flock_t{Type: syscall.F_WRLCK}))
	info := `{"ID":"lock-1","Operation":"OperationTypeApply","Who":"carol@ops-box","Version":"1.6.6","Created":"2026-11-25T10:00:00Z","Path":"terraform.tfstate"}`
	require.NoError(t, os.WriteFile(filepath.Join(stateDir, ".terraform.tfstate.lock.info"), []byte(info), 0o644))

	_, err = f.do(activities.ActionRun, f.phase("provision", "", provision), 1, nil)
	require.Error(t, err)
	appErr := appError(t, err)
	assert.Equal(t, ErrTypeLocked, appErr.Type())
	assert.False(t, appErr.NonRetryable())
	assert.Contains(t, err.Error(), "the state is locked by someone else: carol@ops-box")
}

func TestPreflightFindsWhatWouldStopThePhase(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cases := []struct {
		name    string
		outputs string
		section string
		want    []string
	}{
		{"everything in place", "green_address, plan_hash", provision, nil},
		{"missing values and unknown variables", "", `
vars: {colour: teal}
apply: {vars: {app: x}}
compensate: {vars: {migration_phase: preparation}}`, []string{
			"apply: the module's variable migration_phase has no default and no value: add it to vars, apply.vars or secretVars",
			"the module declares no variable colour: remove it from the spec or declare it in the module",
		}},
		{"outputs the module lacks", "nope", provision, []string{`outputs: the module has no output "nope"`}},
		{"unreadable secret", "", provision + "\nsecretVars: {deploy_token: {fromFile: /nonexistent/token}}", []string{
			"secret variable deploy_token: read secret file: open /nonexistent/token: no such file or directory",
		}},
	}
	for _, c := range cases {
		p := f.phase("provision", c.outputs, c.section)
		got := f.d.Preflight(context.Background(), nil, p)
		assert.Equal(t, c.want, got, c.name)
	}

	p := f.phase("provision", "", provision)
	p.Driver.(*Spec).Dir = filepath.Join(f.dir, "missing")
	assert.Equal(t, []string{"module directory " + filepath.Join(f.dir, "missing") + " does not exist on this worker"},
		f.d.Preflight(context.Background(), nil, p))
	// A module outside the worker's files directory is not read.
	p = f.phase("provision", "", provision)
	p.Driver.(*Spec).Dir = "/etc"
	got := f.d.Preflight(context.Background(), nil, p)
	require.Len(t, got, 1)
	assert.Contains(t, got[0], "terraform.dir /etc is outside the directory the worker reads spec files from")
	p = f.phase("provision", "", provision)
	p.Driver.(*Spec).Binary = "no-such-terraform"
	assert.Equal(t, []string{"no-such-terraform is not in this machine's PATH"}, f.d.Preflight(context.Background(), nil, p))
}
