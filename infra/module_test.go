package infra

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testBinary returns the Terraform binary the tests run: $GODWIT_TERRAFORM_BIN,
// the repository's bin/terraform (scripts/test.sh installs it there) or
// terraform/tofu on PATH. The tests skip, saying so, only when none exists.
func testBinary(t *testing.T) string {
	t.Helper()
	if os.Getenv(BinaryEnv) == "" {
		if p, err := filepath.Abs("../bin/terraform"); err == nil {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	p, err := FindBinary("")
	if err != nil {
		t.Skipf("no Terraform binary: %v (./scripts/test.sh installs one into bin/)", err)
	}
	return p
}

// exampleModule copies examples/blue-green into a fresh directory, so each
// test has its own state.
func exampleModule(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join("..", "examples", "blue-green", "main.tf"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.tf"), src, 0o644))
	return dir
}

// newModule returns an initialised Module on a copy of the example.
func newModule(t *testing.T, workspace string, secrets ...string) (*Module, string) {
	t.Helper()
	dir := exampleModule(t)
	m, err := New(Options{Dir: dir, Binary: testBinary(t), Workspace: workspace, PlanDir: t.TempDir(), Redact: secrets})
	require.NoError(t, err)
	require.NoError(t, m.Init(ctx(t)))
	return m, dir
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

func phase(p string) Vars { return Vars{Plain: map[string]string{"migration_phase": p}} }

// apply plans vars and applies the plan.
func apply(t *testing.T, m *Module, vars Vars) *Plan {
	t.Helper()
	p, err := m.Plan(ctx(t), vars)
	require.NoError(t, err)
	require.NoError(t, m.Apply(ctx(t), p))
	return p
}

func TestPlanSummarisesChangesByAddress(t *testing.T) {
	t.Parallel()
	m, _ := newModule(t, "summary")
	apply(t, m, phase("preparation"))

	cases := []struct {
		name, phase string
		want        string
		destroys    []string
	}{
		{"execution adds green", "execution",
			"1 to add, 0 to change, 0 to destroy: + terraform_data.green[0]", nil},
		{"completion swaps blue for green", "completion",
			"1 to add, 0 to change, 1 to destroy: - terraform_data.blue[0], + terraform_data.green[0]",
			[]string{"terraform_data.blue[0]"}},
		{"preparation again changes nothing", "preparation",
			"no changes: the infrastructure matches the configuration", nil},
	}
	for _, c := range cases {
		p, err := m.Plan(ctx(t), phase(c.phase))
		require.NoError(t, err, c.name)
		m.Discard(p)
		assert.Equal(t, c.want, p.Summary.String(), c.name)
		assert.Equal(t, c.destroys, p.Summary.Destroys(), c.name)
		_, err = os.Stat(p.File)
		assert.True(t, os.IsNotExist(err), "%s: a discarded plan leaves no file", c.name)
	}
}

func TestPlanHashIsStableAndSeesEveryChange(t *testing.T) {
	t.Parallel()
	m, _ := newModule(t, "hash")
	plan := func(vars Vars) string {
		p, err := m.Plan(ctx(t), vars)
		require.NoError(t, err)
		m.Discard(p)
		return p.Hash
	}
	first := plan(phase("execution"))
	require.True(t, strings.HasPrefix(first, "sha256:"), first)
	assert.Equal(t, first, plan(phase("execution")), "the same plan made again has the same hash")
	assert.Equal(t, first, plan(Vars{Plain: map[string]string{"migration_phase": "execution", "green_release": "v2"}}),
		"a default given explicitly plans the same changes")

	other := Vars{Plain: map[string]string{"migration_phase": "execution", "green_release": "v3"}}
	assert.NotEqual(t, first, plan(other), "another value of a planned resource changes the hash")
	assert.NotEqual(t, first, plan(phase("preparation")), "other resources change the hash")

	// The state moving under the plan changes it too: the same variables
	// now plan other changes.
	apply(t, m, phase("preparation"))
	assert.NotEqual(t, first, plan(phase("execution")), "a plan against another state is another plan")
}

func TestSavedPlanIsRefusedOnceTheStateMoved(t *testing.T) {
	t.Parallel()
	m, _ := newModule(t, "stale")
	stale, err := m.Plan(ctx(t), phase("execution"))
	require.NoError(t, err)
	apply(t, m, phase("preparation"))

	err = m.Apply(ctx(t), stale)
	require.Error(t, err, "terraform applies exactly the saved plan, or nothing")
	assert.Contains(t, err.Error(), "terraform apply")
	assert.Contains(t, strings.ToLower(err.Error()), "stale")
	st, err := m.State(ctx(t))
	require.NoError(t, err)
	assert.Equal(t, []string{"terraform_data.blue[0]"}, st.Resources)
}

func TestBlueGreenMovesAndRestores(t *testing.T) {
	t.Parallel()
	m, _ := newModule(t, "bluegreen")

	before, err := m.State(ctx(t))
	require.NoError(t, err)
	assert.Equal(t, State{}, before, "a new workspace has no state")

	steps := []struct {
		phase        string
		resources    []string
		environments string
		green        string
	}{
		{"preparation", []string{"terraform_data.blue[0]"}, "blue", ""},
		{"execution", []string{"terraform_data.blue[0]", "terraform_data.green[0]"}, "blue,green", "http://shop-green.internal:8080"},
		// The compensation of the execution apply: back to blue only.
		{"preparation", []string{"terraform_data.blue[0]"}, "blue", ""},
		{"execution", []string{"terraform_data.blue[0]", "terraform_data.green[0]"}, "blue,green", "http://shop-green.internal:8080"},
		{"completion", []string{"terraform_data.green[0]"}, "green", "http://shop-green.internal:8080"},
	}
	var serial uint64
	var lineage string
	for i, s := range steps {
		apply(t, m, phase(s.phase))
		st, err := m.State(ctx(t))
		require.NoError(t, err)
		assert.Equal(t, s.resources, st.Resources, "step %d (%s)", i, s.phase)
		assert.Greater(t, st.Serial, serial, "every apply writes a new state serial")
		if lineage != "" {
			assert.Equal(t, lineage, st.Lineage, "one state history")
		}
		serial, lineage = st.Serial, st.Lineage

		out, err := m.Outputs(ctx(t))
		require.NoError(t, err)
		assert.Equal(t, s.environments, out["environments"].Value, "step %d", i)
		assert.Equal(t, s.green, out["green_address"].Value, "step %d", i)
	}
}

func TestWorkspacesKeepSeparateStates(t *testing.T) {
	t.Parallel()
	dir := exampleModule(t)
	bin := testBinary(t)
	open := func(ws string) *Module {
		m, err := New(Options{Dir: dir, Binary: bin, Workspace: ws, PlanDir: t.TempDir()})
		require.NoError(t, err)
		return m
	}
	a, b := open("alpha"), open("beta")
	require.NoError(t, a.Init(ctx(t)))
	apply(t, a, phase("execution"))
	exists, err := b.WorkspaceExists(ctx(t))
	require.NoError(t, err)
	assert.False(t, exists)
	apply(t, b, phase("preparation"))

	sa, err := a.State(ctx(t))
	require.NoError(t, err)
	sb, err := b.State(ctx(t))
	require.NoError(t, err)
	assert.Len(t, sa.Resources, 2)
	assert.Len(t, sb.Resources, 1)
	assert.NotEqual(t, sa.Lineage, sb.Lineage)
}

func TestSecretVariablesStayOutOfOutputAndDisk(t *testing.T) {
	t.Parallel()
	const secret = "tok-7f3a9c-not-for-logs"
	m, _ := newModule(t, "secrets", secret)
	vars := phase("execution")
	vars.Secret = map[string]string{"deploy_token": secret}
	p, err := m.Plan(ctx(t), vars)
	require.NoError(t, err)
	require.NoError(t, m.Apply(ctx(t), p))

	assert.NotContains(t, m.Output(), secret)
	assert.NotContains(t, p.Summary.String(), secret)
	files, err := os.ReadDir(m.opts.PlanDir)
	require.NoError(t, err)
	assert.Empty(t, files, "no plan or variables file is left behind")
	out, err := m.Outputs(ctx(t))
	require.NoError(t, err)
	assert.Equal(t, "blue,green", out["environments"].Value)
}

// Plan files hold secret variables' values in clear: each is written
// 0600 in a directory made private (0700) even when it existed with wider
// permissions, and removed once discarded; a plan directory that is a
// symbolic link or another user's is refused.
func TestPlanFilesArePrivate(t *testing.T) {
	t.Parallel()
	m, _ := newModule(t, "private", "tok-private-1")
	require.NoError(t, os.Chmod(m.opts.PlanDir, 0o755))
	vars := phase("execution")
	vars.Secret = map[string]string{"deploy_token": "tok-private-1"}
	p, err := m.Plan(ctx(t), vars)
	require.NoError(t, err)
	fi, err := os.Stat(p.File)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "the plan file %s", p.File)
	di, err := os.Stat(m.opts.PlanDir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), di.Mode().Perm(), "the plan directory, 0755 before the plan")
	m.Discard(p)
	files, err := os.ReadDir(m.opts.PlanDir)
	require.NoError(t, err)
	assert.Empty(t, files, "the discarded plan is gone")

	link := filepath.Join(t.TempDir(), "link")
	require.NoError(t, os.Symlink(t.TempDir(), link))
	m.opts.PlanDir = link
	_, err = m.Plan(ctx(t), vars)
	require.ErrorContains(t, err, "is not a directory (a symbolic link?)")

	if os.Getuid() == 0 {
		other := t.TempDir()
		require.NoError(t, os.Chown(other, 4242, 4242))
		m.opts.PlanDir = other
		_, err = m.Plan(ctx(t), vars)
		require.ErrorContains(t, err, "belongs to user 4242")
	}
}

func TestMissingVariableFailsThePlan(t *testing.T) {
	t.Parallel()
	m, _ := newModule(t, "novars")
	_, err := m.Plan(ctx(t), Vars{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "migration_phase")
	assert.False(t, IsPermanent(err))
}

func TestNewRefusesWhatIsMissing(t *testing.T) {
	t.Parallel()
	bin := testBinary(t)
	cases := []struct {
		name     string
		opts     Options
		contains string
	}{
		{"no directory", Options{Dir: filepath.Join(t.TempDir(), "nope"), Binary: bin}, "does not exist"},
		{"no binary", Options{Dir: t.TempDir(), Binary: filepath.Join(t.TempDir(), "terraform")}, "terraform binary"},
	}
	for _, c := range cases {
		_, err := New(c.opts)
		require.Error(t, err, c.name)
		assert.Contains(t, err.Error(), c.contains, c.name)
		assert.True(t, IsPermanent(err), c.name)
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	m, err := New(Options{Dir: t.TempDir(), Binary: testBinary(t)})
	require.NoError(t, err)
	v, err := m.Version(ctx(t))
	require.NoError(t, err)
	assert.Regexp(t, `^\d+\.\d+\.\d+`, v)
}
