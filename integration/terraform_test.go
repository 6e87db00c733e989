package integration

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/infra"
	"github.com/godwit/godwit/migration"
)

// terraformBinary returns the Terraform the tests use: $GODWIT_TERRAFORM_BIN,
// the repository's bin/terraform or terraform/tofu on PATH. The tests skip
// only when there is none at all (scripts/test.sh installs it).
func terraformBinary(t *testing.T) string {
	t.Helper()
	if os.Getenv(infra.BinaryEnv) == "" {
		if p, err := filepath.Abs("../bin/terraform"); err == nil {
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

// blueGreen is a run of examples/blue-green.yaml on a copy of its module
// whose workspace starts with blue up, as the example's comment says.
type blueGreen struct {
	*demo
	module string
	bin    string
}

const bgWorkspace = "blue-green-demo"

func newBlueGreen(t *testing.T, name string) *blueGreen {
	t.Helper()
	bin := terraformBinary(t)
	dir := t.TempDir()
	module := filepath.Join(dir, "module")
	require.NoError(t, os.MkdirAll(module, 0o755))
	src, err := os.ReadFile(filepath.Join("..", "examples", "blue-green", "main.tf"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(module, "main.tf"), src, 0o644))

	text, err := os.ReadFile(filepath.Join("..", "examples", "blue-green.yaml"))
	require.NoError(t, err)
	spec := string(text)
	require.Contains(t, spec, "dir: examples/blue-green\n", "the example's module moved: update newBlueGreen")
	spec = strings.ReplaceAll(spec, "dir: examples/blue-green\n", "dir: "+module+"\n      binary: "+bin+"\n")
	spec = regexp.MustCompile(`(?m)^name: .*$`).ReplaceAllString(spec, "name: "+name)
	path := filepath.Join(dir, "spec.yaml")
	require.NoError(t, os.WriteFile(path, []byte(spec), 0o644))

	bg := &blueGreen{demo: &demo{t: t, name: name, dir: dir, spec: path}, module: module, bin: bin}
	bg.applyDirectly("preparation")
	require.Equal(t, []string{"terraform_data.blue[0]"}, bg.resources())
	return bg
}

func (b *blueGreen) open() *infra.Module {
	b.t.Helper()
	m, err := infra.New(infra.Options{Dir: b.module, Binary: b.bin, Workspace: bgWorkspace, PlanDir: b.t.TempDir(),
		Logger: hclog.NewNullLogger()})
	require.NoError(b.t, err)
	return m
}

// applyDirectly moves the workspace as someone outside Godwit would.
func (b *blueGreen) applyDirectly(phase string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m := b.open()
	require.NoError(b.t, m.Init(ctx))
	p, err := m.Plan(ctx, infra.Vars{Plain: map[string]string{"migration_phase": phase}})
	require.NoError(b.t, err)
	require.NoError(b.t, m.Apply(ctx, p))
}

func (b *blueGreen) resources() []string {
	b.t.Helper()
	st, err := b.open().State(context.Background())
	require.NoError(b.t, err)
	return st.Resources
}

func (b *blueGreen) approve(gate string) {
	b.t.Helper()
	out, err := godwit(b.t, "approve", b.name, "--gate", gate, "--by", "it")
	require.NoError(b.t, err, out)
}

var planSummary = regexp.MustCompile(`^plan [0-9a-f]{12}: `)

// retireBlueAsksWithItsPlan waits for the decommission's gate and checks
// that it shows what the apply will destroy, before anything is destroyed,
// while a rollback is still possible.
func (b *blueGreen) retireBlueAsksWithItsPlan() migration.Report {
	b.t.Helper()
	rep := b.waitFor("the retire-blue gate", waitingAt("retire-blue"))
	retire := rep.Phases[3]
	require.Equal(b.t, "2 of 2: gate retire-blue, then apply", retire.Step)
	require.Regexp(b.t, planSummary, retire.Summary, "the decommission planned before its gate")
	require.Contains(b.t, retire.Summary, ": 0 to add, 0 to change, 1 to destroy: - terraform_data.blue[0] {", retire.Summary)
	require.Contains(b.t, retire.Summary, `input.address: "http://shop-blue.internal:8080"`, "the gate shows the values it destroys")
	require.Equal(b.t, migration.RollbackAvailable, rep.Rollback, "only planned: %s", rep.RollbackNote)
	require.Equal(b.t, []string{"terraform_data.blue[0]", "terraform_data.green[0]"}, b.resources(), "nothing destroyed before the approval")
	out, err := godwit(b.t, "status", b.name)
	require.NoError(b.t, err, out)
	require.Contains(b.t, out, "1 to destroy: - terraform_data.blue[0]", "godwit status shows the plan at the gate")
	// The plan in full, with the values it destroys, is the plan step's
	// output (as the Temporal UI's Current Details say).
	out, err = godwit(b.t, "output", b.name, "retire-blue")
	require.NoError(b.t, err, out)
	require.Contains(b.t, out, `terraform_data.blue[0] will be destroyed`, out)
	require.Contains(b.t, out, `"http://shop-blue.internal:8080"`, "the plan shows the values, not only the addresses")
	return rep
}

func TestTerraformBlueGreenWithGatesCompletes(t *testing.T) {
	t.Parallel()
	// Recorded as tf-decom-approve.json; tf-bluegreen.json is the same run
	// before changeGateAfterPlan (the decommission's gate before its plan).
	b := newBlueGreen(t, "it-tf-decom-approve")
	b.start()

	rep := b.waitFor("the green-plan gate", waitingAt("green-plan"))
	provision := rep.Phases[1]
	require.Equal(t, "2 of 3: approve the plan (gate green-plan)", provision.Step)
	require.Regexp(t, planSummary, provision.Summary)
	require.Contains(t, provision.Summary, ": 1 to add, 0 to change, 0 to destroy: + terraform_data.green[0] {", provision.Summary)
	require.Contains(t, provision.Summary, `input.release: "v2"`, "the gate shows the values the plan sets")
	require.Equal(t, []string{"terraform_data.blue[0]"}, b.resources(), "nothing applied before the approval")
	b.approve("green-plan")

	rep = b.retireBlueAsksWithItsPlan()
	require.Equal(t, migration.PhaseCompleted, rep.Phases[1].State)
	require.Equal(t, "http://shop-green.internal:8080", rep.Phases[1].Outputs["green_address"])
	require.True(t, strings.HasPrefix(rep.Phases[1].Summary, "applied plan "), rep.Phases[1].Summary)
	require.Equal(t, "traffic now goes to http://shop-green.internal:8080", rep.Phases[2].Summary, "the output reached a later phase")
	require.Equal(t, []string{"terraform_data.blue[0]", "terraform_data.green[0]"}, b.resources())
	b.approve("retire-blue")

	final, err := b.result()
	require.NoError(t, err)
	require.Equal(t, migration.StatusCompleted, final.Status)
	require.True(t, strings.HasSuffix(final.Phases[3].Summary, ": 0 to add, 0 to change, 1 to destroy: - terraform_data.blue[0]"), final.Phases[3].Summary)
	require.Equal(t, []string{"terraform_data.green[0]"}, b.resources())
	out, err := godwit(t, "output", b.name, "retire-blue")
	require.NoError(t, err, out)
	require.Contains(t, out, "Apply complete! Resources: 0 added, 0 changed, 1 destroyed.")
	recordHistory(t, b.name)
}

func TestTerraformRollbackRestoresBlueOnly(t *testing.T) {
	t.Parallel()
	// Recorded as tf-decom-rollback.json; tf-rollback.json is the same run
	// before changeGateAfterPlan.
	b := newBlueGreen(t, "it-tf-decom-rollback")
	b.start()
	b.waitFor("the green-plan gate", waitingAt("green-plan"))
	b.approve("green-plan")
	b.retireBlueAsksWithItsPlan()

	out, err := godwit(t, "rollback", b.name, "--reason", "green is slow")
	require.NoError(t, err, out)
	final, _ := b.result()
	require.Equal(t, migration.StatusRolledBack, final.Status)
	require.Equal(t, migration.PhaseCompensated, final.Phases[1].State)
	require.Regexp(t, `^restored \(the state had serial \d+ before the phase\): 0 to add, 0 to change, 1 to destroy: - terraform_data.green\[0\]$`, final.Phases[1].Summary)
	require.Equal(t, migration.PhaseCancelled, final.Phases[3].State, "the decommission only planned: nothing to undo")
	require.True(t, strings.HasPrefix(final.Phases[3].Error, "stopped before it changed anything: rollback requested by "), final.Phases[3].Error)
	require.Equal(t, []string{"terraform_data.blue[0]"}, b.resources(), "back to blue only")
	recordHistory(t, b.name)
}

func TestTerraformPlanChangedAtTheGateIsNotApplied(t *testing.T) {
	t.Parallel()
	b := newBlueGreen(t, "it-tf-changed")
	b.start()
	b.waitFor("the green-plan gate", waitingAt("green-plan"))

	// While the plan waits for approval, the module changes: green would
	// run another release than the one shown at the gate.
	path := filepath.Join(b.module, "main.tf")
	src, err := os.ReadFile(path)
	require.NoError(t, err)
	changed := strings.Replace(string(src), `default     = "v2"`, `default     = "v3"`, 1)
	require.NotEqual(t, string(src), changed)
	require.NoError(t, os.WriteFile(path, []byte(changed), 0o644))
	b.approve("green-plan")

	// Nothing is applied: the phase plans again and its gate asks again,
	// showing the new plan.
	rep := b.waitFor("the gate to ask again", func(r migration.Report) bool {
		return r.WaitingGate == "green-plan" && len(r.Issues) > 0
	})
	require.Contains(t, rep.Issues[len(rep.Issues)-1].Message, "starts its steps again")
	require.Contains(t, rep.Issues[len(rep.Issues)-1].Message, "the plan changed since it was approved: approved plan ")
	require.Contains(t, rep.Issues[len(rep.Issues)-1].Message, "the same resources change, but to other values")
	require.Equal(t, []string{"terraform_data.blue[0]"}, b.resources(), "nothing that was not shown was applied")

	out, err := godwit(t, "rollback", b.name, "--reason", "not this release")
	require.NoError(t, err, out)
	final, err := b.result()
	require.NoError(t, err, "a requested rollback that undid every phase completes the run")
	require.Equal(t, migration.StatusRolledBack, final.Status)
	require.Equal(t, []string{"terraform_data.blue[0]"}, b.resources(), "back to blue only")
}

// TestTerraformSecretAsTFVarReachesTheModuleOnly: a secret given the way
// Terraform reads one from its environment (secretEnv: {TF_VAR_x: ...},
// as docs/infrastructure.md shows) reaches the module as variable x — the
// plan shows the module saw a token — and is in no status, output, worker
// log or history.
func TestTerraformSecretAsTFVarReachesTheModuleOnly(t *testing.T) {
	t.Parallel()
	name := "it-tf-tfvar"
	bin := terraformBinary(t)
	dir := t.TempDir()
	module := filepath.Join(dir, "module")
	require.NoError(t, os.MkdirAll(module, 0o755))
	src, err := os.ReadFile(filepath.Join("..", "examples", "blue-green", "main.tf"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(module, "main.tf"), src, 0o644))
	secret := randomSecret(t, "tfTok", "")
	worker := startWorkerAt(t, env.address, name, "IT_TF_DEPLOY_TOKEN="+secret, "GODWIT_FILES_DIR="+dir)
	spec := filepath.Join(dir, "spec.yaml")
	require.NoError(t, os.WriteFile(spec, []byte(`name: `+name+`
phases:
  - phase: provision
    terraform:
      dir: `+module+`
      binary: `+bin+`
      workspace: w
      vars: {app: shop}
      secretEnv: {TF_VAR_deploy_token: {fromEnv: IT_TF_DEPLOY_TOKEN}}
      apply: {vars: {migration_phase: execution}}
      compensate: {vars: {migration_phase: preparation}}
`), 0o644))
	cli := func(args ...string) string {
		t.Helper()
		out, err := godwitAt(t, env.address, name, args...)
		require.NoError(t, err, "%s\nworker:\n%s", out, worker.logs.String())
		return out
	}
	cli("start", "-f", spec, "--wait")
	output := cli("output", name, "provision")
	require.Contains(t, output, "with_token = true", "the module got a non-empty deploy_token")
	places := map[string]string{
		"godwit output":         output,
		"godwit status":         cli("status", name),
		"godwit status -o json": cli("status", name, "-o", "json"),
		"worker log":            worker.logs.String(),
		"history (as stored)":   rawHistory(t, name),
	}
	for where, text := range places {
		require.NotContains(t, text, secret, where)
	}
}
