package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
)

// demoSpec is examples/demo.yaml, resolved while the working directory is
// still the package's: isolate moves it.
var demoSpec = func() string {
	p, err := filepath.Abs(filepath.Join("..", "examples", "demo.yaml"))
	if err != nil {
		panic(err)
	}
	return p
}()

var demoPhases = []string{"validate", "provision", "copy", "shift-traffic", "reconcile", "decommission"}

// isolate runs the test in an empty directory, so no stray ./godwit.yaml is
// read, with no GODWIT_* variable set; t.Setenv restores them afterwards.
func isolate(t *testing.T) string {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "GODWIT_") {
			t.Setenv(k, "")
			require.NoError(t, os.Unsetenv(k))
		}
	}
	dir := t.TempDir()
	t.Chdir(dir)
	return dir
}

type dialFunc = func(context.Context) (client.Client, error)

// noDial is a dial function for commands that must not reach Temporal.
func noDial(t *testing.T) dialFunc {
	return func(context.Context) (client.Client, error) {
		t.Errorf("the command dialed Temporal; it should have stopped before")
		return nil, errors.New("no Temporal in this test")
	}
}

// godwit runs the CLI with args and dial, in an isolated directory, and
// returns what it wrote to stdout and stderr.
func godwit(t *testing.T, dial dialFunc, args ...string) (string, string, error) {
	t.Helper()
	isolate(t)
	return run(t, dial, args...)
}

// run is godwit without isolate, for tests that set up their directory or
// environment themselves.
func run(t *testing.T, dial dialFunc, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	a := &app{out: &out, errOut: &errOut, dial: dial}
	root := newRootCommand(a)
	root.SetArgs(args)
	err := root.ExecuteContext(t.Context())
	return out.String(), errOut.String(), err
}

func writeSpec(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "spec.yaml")
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

func TestNewRootCommandKeepsInjectedDial(t *testing.T) {
	// PersistentPreRunE installs the real dialer only when none is set.
	called := false
	dial := func(context.Context) (client.Client, error) {
		called = true
		return nil, errors.New("fake")
	}
	_, _, err := godwit(t, dial, "list")
	require.Error(t, err)
	assert.True(t, called, "the injected dial function was not used")
}

func TestNewRootCommandInstallsDialer(t *testing.T) {
	isolate(t)
	a := &app{out: &bytes.Buffer{}, errOut: &bytes.Buffer{}}
	root := newRootCommand(a)
	root.SetArgs([]string{"validate", "-f", demoSpec})
	require.NoError(t, root.Execute())
	assert.NotNil(t, a.dial)
	assert.NotNil(t, a.settings)
	assert.Equal(t, "godwit", a.settings.Temporal.TaskQueue)
}

func TestValidate(t *testing.T) {
	out, _, err := godwit(t, noDial(t), "validate", "-f", demoSpec)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Len(t, lines, 2+len(demoPhases), out)
	assert.Equal(t, demoSpec+": spec is valid", lines[0])
	assert.Equal(t, "migration demo: 6 phases", lines[1])
	for i, phase := range demoPhases {
		line := lines[2+i]
		assert.Regexp(t, `^  \d\. \S+ +hook, timeout \S+, 3 attempts`, line)
		assert.True(t, strings.HasPrefix(line, "  "+string(rune('1'+i))+". "+phase+" "), "line %d: %q", i, line)
		assert.Equal(t, phase == "shift-traffic", strings.Contains(line, `gate "go-live" before it`), line)
		assert.Equal(t, phase == "decommission", strings.HasSuffix(line, " (point of no return)"), line)
		// validate, reconcile and decommission have no compensate hook.
		noComp := phase == "validate" || phase == "reconcile" || phase == "decommission"
		assert.Equal(t, noComp, strings.Contains(line, "no compensation"), line)
	}
	assert.Contains(t, lines[2+2], "timeout 5m0s", "copy sets its own timeout")
	assert.Contains(t, lines[2+0], "timeout 2m0s", "validate inherits defaults.timeout")
}

func TestValidateRejects(t *testing.T) {
	tests := []struct {
		name string
		spec string
		want []string // in the error, after the header
	}{
		{
			name: "bad name and no phases",
			spec: "name: Bad Name\n",
			want: []string{"name (line 1):", `"Bad Name" is not a valid name`, "phases", "is required"},
		},
		{
			name: "unknown phase",
			spec: "name: x\nphases:\n  - phase: copyy\n    hook: {run: {command: [true]}}\n",
			want: []string{"phases[0].phase (line 3):", `"copyy" is not a phase`},
		},
		{
			name: "unknown field",
			spec: "name: x\nphases:\n  - phase: copy\n    hok: {run: {command: [true]}}\n",
			want: []string{"phases[0]", "hok"},
		},
		{
			name: "heartbeat longer than timeout",
			spec: "name: x\ndefaults: {timeout: 1m, heartbeatTimeout: 2m}\nphases:\n  - phase: copy\n    hook: {run: {command: [true]}}\n",
			want: []string{"defaults.heartbeatTimeout (line 2):"},
		},
		{
			name: "empty",
			spec: "# nothing\n",
			want: []string{"the spec is empty"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeSpec(t, tt.spec)
			out, _, err := godwit(t, noDial(t), "validate", "-f", path)
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), "spec "+path+" is not valid:\n"), err.Error())
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.NotContains(t, out, "spec is valid")
		})
	}
}

func TestValidateAndStartFailBeforeDialing(t *testing.T) {
	bad := writeSpec(t, "name: x\nphases:\n  - phase: nope\n")
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	tests := []struct {
		name string
		args []string
		want string // the error contains it
	}{
		{"validate bad spec", []string{"validate", "-f", bad}, "spec " + bad + " is not valid:"},
		{"validate missing file", []string{"validate", "-f", missing}, missing},
		{"validate without -f", []string{"validate"}, `required flag(s) "file" not set`},
		{"validate with an argument", []string{"validate", "-f", demoSpec, "extra"}, "extra"},
		{"start bad spec", []string{"start", "-f", bad}, "spec " + bad + " is not valid:"},
		{"start bad spec with --wait", []string{"start", "-f", bad, "--wait"}, "spec " + bad + " is not valid:"},
		{"start missing file", []string{"start", "-f", missing}, missing},
		{"start without -f", []string{"start"}, `required flag(s) "file" not set`},
		{"status -o yaml", []string{"status", "demo", "-o", "yaml"}, `--output "yaml": use text or json`},
		{"status --watch -o yaml", []string{"status", "demo", "--watch", "-o", "yaml"}, `--output "yaml": use text or json`},
		{"rollback without --reason", []string{"rollback", "demo"}, `rollback needs --reason TEXT (why, for the record), or one of --retry, --skip PHASE, --abandon for a blocked rollback`},
		{"rollback with two repairs", []string{"rollback", "demo", "--retry", "--abandon"}, `if any flags in the group [retry skip abandon] are set none of the others can be`},
		{"approve without --gate", []string{"approve", "demo"}, `required flag(s) "gate" not set`},
		{"resume with two names", []string{"resume", "a", "b"}, "accepts 1 arg(s), received 2"},
		{"list with an argument", []string{"list", "demo"}, "demo"},
		{"bad settings", []string{"status", "demo", "--log-level", "loud"}, "log.level"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := godwit(t, noDial(t), tt.args...)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, out, "started migration")
		})
	}
	t.Run("missing file error", func(t *testing.T) {
		_, _, err := godwit(t, noDial(t), "validate", "-f", missing)
		assert.ErrorIs(t, err, os.ErrNotExist)
	})
	t.Run("status -o yaml exactly", func(t *testing.T) {
		_, _, err := godwit(t, noDial(t), "status", "demo", "-o", "yaml")
		assert.EqualError(t, err, `--output "yaml": use text or json`)
	})
}

func TestDialErrorsSurface(t *testing.T) {
	errUnreachable := errors.New("unreachable")
	tests := [][]string{
		{"start", "-f", demoSpec},
		{"start", "-f", demoSpec, "--wait"},
		{"status", "demo"},
		{"status", "demo", "-o", "json"},
		{"status", "demo", "--watch"},
		{"pause", "demo"},
		{"resume", "demo"},
		{"approve", "demo", "--gate", "go-live"},
		{"rollback", "demo", "--reason", "p99"},
		{"list"},
		{"output", "demo"},
	}
	for _, args := range tests {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			dials := 0
			dial := func(ctx context.Context) (client.Client, error) {
				dials++
				deadline, ok := ctx.Deadline()
				assert.True(t, ok, "dial must have a deadline")
				assert.False(t, deadline.IsZero())
				return nil, errUnreachable
			}
			out, _, err := godwit(t, dial, args...)
			require.Error(t, err)
			assert.ErrorIs(t, err, errUnreachable)
			assert.Contains(t, err.Error(), "unreachable")
			assert.Equal(t, 1, dials)
			assert.Empty(t, out)
		})
	}
}

func TestSettingsErrorsSurface(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T) []string // returns extra args
		want  string
	}{
		{
			name:  "flag",
			setup: func(*testing.T) []string { return []string{"--log-format", "xml"} },
			want:  `log.format: "xml" is not a format`,
		},
		{
			name: "environment",
			setup: func(t *testing.T) []string {
				t.Setenv("GODWIT_LOG_FORMAT", "xml")
				return nil
			},
			want: `log.format: "xml" is not a format`,
		},
		{
			name: "./godwit.yaml",
			setup: func(t *testing.T) []string {
				require.NoError(t, os.WriteFile("godwit.yaml", []byte("log: {format: xml}\n"), 0o600))
				return nil
			},
			want: `log.format: "xml" is not a format`,
		},
		{
			name: "--config",
			setup: func(t *testing.T) []string {
				return []string{"--config", writeSpec(t, "temporal: {taskQueue: ''}\n")}
			},
			want: "temporal.taskQueue: must not be empty",
		},
		{
			name:  "missing --config file",
			setup: func(*testing.T) []string { return []string{"--config", "nope.yaml"} },
			want:  "read settings file nope.yaml",
		},
		{
			name: "unknown key in the settings file",
			setup: func(t *testing.T) []string {
				require.NoError(t, os.WriteFile("godwit.yaml", []byte("temporal: {adress: x}\n"), 0o600))
				return nil
			},
			want: "adress",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			args := append([]string{"validate", "-f", demoSpec}, tt.setup(t)...)
			out, _, err := run(t, noDial(t), args...)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Empty(t, out, "validate must not run with bad settings")
		})
	}
}

func TestSettingsPrecedence(t *testing.T) {
	// The flag beats the environment, which beats the file; the app gets
	// the result.
	tests := []struct {
		name string
		env  string
		flag string
		want string
	}{
		{"file", "", "", "from-file"},
		{"environment over file", "from-env", "", "from-env"},
		{"flag over environment", "from-env", "from-flag", "from-flag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			require.NoError(t, os.WriteFile("godwit.yaml", []byte("temporal: {taskQueue: from-file}\n"), 0o600))
			if tt.env != "" {
				t.Setenv("GODWIT_TEMPORAL_TASKQUEUE", tt.env)
			}
			args := []string{"validate", "-f", demoSpec}
			if tt.flag != "" {
				args = append(args, "--task-queue", tt.flag)
			}
			a := &app{out: &bytes.Buffer{}, errOut: &bytes.Buffer{}, dial: noDial(t)}
			root := newRootCommand(a)
			root.SetArgs(args)
			require.NoError(t, root.Execute())
			assert.Equal(t, tt.want, a.settings.Temporal.TaskQueue)
		})
	}
}

func TestLogsStayQuietUnlessAsked(t *testing.T) {
	// The CLI logs at warn unless --log-level is given.
	tests := []struct {
		args      []string
		debugging bool
	}{
		{nil, false},
		{[]string{"--log-level", "debug"}, true},
	}
	for _, tt := range tests {
		isolate(t)
		a := &app{out: &bytes.Buffer{}, errOut: &bytes.Buffer{}, dial: noDial(t)}
		root := newRootCommand(a)
		root.SetArgs(append([]string{"validate", "-f", demoSpec}, tt.args...))
		require.NoError(t, root.Execute())
		assert.Equal(t, tt.debugging, a.logger.IsInfo(), "args %v", tt.args)
		assert.Equal(t, tt.debugging, a.logger.IsDebug(), "args %v", tt.args)
		assert.True(t, a.logger.IsWarn(), "args %v", tt.args)
	}
}

func TestHelp(t *testing.T) {
	squash := func(s string) string { return strings.Join(strings.Fields(s), " ") }

	out, _, err := godwit(t, noDial(t), "--help")
	require.NoError(t, err)
	for _, sub := range []string{"validate", "start", "status", "pause", "resume", "approve", "rollback", "list", "output"} {
		assert.Regexp(t, `(?m)^  `+sub+` +\S`, out, "root help lists %s", sub)
	}
	assert.Contains(t, squash(out),
		"Settings (Temporal address, namespace, task queue, TLS, logging) come from flags, then GODWIT_* environment variables, then a settings file (--config, $GODWIT_CONFIG or ./godwit.yaml).")
	for _, flag := range []string{"--address", "--namespace", "--task-queue", "--config", "--log-level", "--log-format"} {
		assert.Contains(t, out, flag)
	}

	out, _, err = godwit(t, noDial(t), "start", "--help")
	require.NoError(t, err)
	assert.Contains(t, squash(out), "With --wait, godwit waits for the end and exits 0 only if the migration COMPLETED (2 if it was rolled back or failed).")
	assert.Contains(t, out, "--watch")

	tests := map[string][]string{
		"status":   {"--watch", "--output", "--interval"},
		"rollback": {"--reason", "point of no return"},
		"approve":  {"--gate", "--by"},
		"pause":    {"--reason"},
		"list":     {"--limit", "MigrationStatus"},
	}
	for sub, wants := range tests {
		out, _, err := godwit(t, noDial(t), sub, "--help")
		require.NoError(t, err, sub)
		for _, w := range wants {
			assert.Contains(t, out, w, "%s --help", sub)
		}
	}
}

func TestErrorsAreNotPrintedByCobra(t *testing.T) {
	// Execute prints the error once, with its own prefix; cobra must print
	// neither the error nor the usage.
	out, errOut, err := godwit(t, noDial(t), "status", "demo", "-o", "yaml")
	require.Error(t, err)
	assert.Empty(t, out)
	assert.NotContains(t, errOut, "Usage:")
	assert.NotContains(t, errOut, "yaml")
}

func TestWhoami(t *testing.T) {
	got := whoami()
	assert.NotEmpty(t, got)
	if u, err := user.Current(); err == nil && u.Username != "" {
		assert.Equal(t, u.Username, got)
	}
}

// The CLI's help states the level the CLI logs at, warn (README, Settings
// reference), not the settings' default info, which is the worker's.
func TestHelpStatesTheCLIsOwnLogLevel(t *testing.T) {
	out, _, err := godwit(t, noDial(t), "status", "--help")
	require.NoError(t, err)
	var line string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "--log-level") {
			line = l
		}
	}
	assert.Contains(t, line, `(default "warn"`)
	assert.NotContains(t, line, `(default "info")`)
}

// A spec of one phase has "1 phase".
func TestValidateCountsOnePhase(t *testing.T) {
	spec := filepath.Join(t.TempDir(), "one.yaml")
	require.NoError(t, os.WriteFile(spec, []byte("name: one\nphases:\n  - phase: validate\n    hook:\n      run: {command: [\"true\"]}\n"), 0o600))
	out, _, err := godwit(t, noDial(t), "validate", "-f", spec)
	require.NoError(t, err, out)
	assert.Contains(t, out, "\nmigration one: 1 phase\n")
}

// A new user learns from `godwit --help` what runs the phases (there is no
// `godwit worker`: a trial looked for one), how the gateway the traffic
// and cutover drivers drive is built, that the stores' DSNs are read
// by the worker, and every driver a spec may name; the worker-only
// --metrics-listen, which the CLI ignores, is not offered.
func TestHelpSaysWhatRunsThePhases(t *testing.T) {
	squash := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	out, _, err := godwit(t, noDial(t), "--help")
	require.NoError(t, err)
	assert.Contains(t, squash(out), "godwit-worker (go build -o bin/godwit-worker ./worker)")
	assert.Contains(t, squash(out), "the worker reads the stores' DSNs from its own environment")
	assert.Contains(t, squash(out), "godwit-gateway, the traffic plane, a program of its own as well (go build -o bin/godwit-gateway ./gateway/cmd/godwit-gateway; docs/gateway.md)",
		"a trial of the gateway from the docs found the worker's build in the help, not the gateway's")
	for _, driver := range []string{"replicate", "cutover", "retire", "mappings"} {
		assert.Contains(t, squash(out), driver, "root help names %s", driver)
	}
	assert.NotContains(t, out, "--metrics-listen")
}
