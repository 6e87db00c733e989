// Package infra drives a Terraform (or OpenTofu) module through
// hashicorp/terraform-exec: init, workspaces, saved plans with a summary
// and a stable hash, the apply of exactly a saved plan, outputs, and the
// state's serial. It knows nothing of Temporal or migrations; the
// terraform phase driver builds on it.
//
// Errors say which command failed; IsPermanent tells those a retry cannot
// fix from those it may (a *LockedError, a backend not reachable yet).
package infra

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/terraform-exec/tfexec"
)

// DefaultWorkspace is Terraform's workspace when none is named.
const DefaultWorkspace = "default"

// Options say which module to drive and how.
type Options struct {
	// Dir is the module's directory (the root module).
	Dir string
	// Binary is the terraform or tofu executable's path.
	Binary string
	// Workspace is selected (created when missing) before each plan; empty
	// means "default".
	Workspace string
	// PlanDir is where plan and variable files are written, on this
	// machine only; empty means a directory under os.TempDir().
	PlanDir string
	// Redact lists secret values hidden from Output ("***").
	Redact []string
	// Inherit names variables of the worker's environment Terraform gets
	// beyond BaseEnv (the TF_* settings a spec names); Env adds variables
	// of its own (provider credentials read from secrets). Nothing else of
	// the worker's environment reaches it.
	Inherit []string
	Env     map[string]string
	// MaxOutput bounds the output kept (its tail); default 16 KiB.
	MaxOutput int
	// Logger receives one line per command; nil discards.
	Logger hclog.Logger
}

// Vars are the values of the module's input variables for one plan.
type Vars struct {
	// Plain values are passed on the command line (-var), which parses
	// them by the variable's type as Terraform's CLI does.
	Plain map[string]string
	// Secret values are written to a private variables file for the
	// command and removed after it, so they never show in a process list.
	// They are strings.
	Secret map[string]string
}

// Module is one module directory in one workspace.
type Module struct {
	opts Options
	tf   *tfexec.Terraform
	log  hclog.Logger
	out  *Output
	// mu serialises commands: a Module runs one Terraform command at a time.
	mu sync.Mutex
}

// New returns a Module for opts. It checks that the directory and the
// binary exist (permanent errors otherwise) but runs nothing.
func New(opts Options) (*Module, error) {
	if opts.Workspace == "" {
		opts.Workspace = DefaultWorkspace
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if st, err := os.Stat(opts.Dir); err != nil || !st.IsDir() {
		return nil, Permanent(fmt.Errorf("module directory %s does not exist on this machine", opts.Dir))
	}
	if _, err := os.Stat(opts.Binary); err != nil {
		return nil, Permanent(fmt.Errorf("terraform binary %s: %w", opts.Binary, err))
	}
	tf, err := tfexec.NewTerraform(opts.Dir, opts.Binary)
	if err != nil {
		return nil, Permanent(fmt.Errorf("terraform in %s: %w", opts.Dir, err))
	}
	// No update check against checkpoint.hashicorp.com: workers may have
	// no internet, and the answer is of no use here.
	env := environ(opts.Inherit, opts.Env)
	env["CHECKPOINT_DISABLE"] = "1"
	if err := tf.SetEnv(env); err != nil {
		return nil, fmt.Errorf("terraform environment: %w", err)
	}
	m := &Module{opts: opts, tf: tf, log: opts.Logger, out: NewOutput(opts.MaxOutput, opts.Redact)}
	tf.SetStdout(m.out)
	tf.SetStderr(m.out)
	return m, nil
}

// BaseEnv are the variables of the worker's environment Terraform always
// gets: what it needs to run (PATH, HOME for its CLI configuration) and to
// format text. No store DSN, keyring or credential of the worker's.
var BaseEnv = []string{"PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR"}

// environ returns Terraform's environment: BaseEnv and the inherited names
// from the worker's environment, then env; without the variables tfexec
// refuses to pass on (TF_VAR_*, TF_CLI_ARGS, TF_LOG...): a TF_VAR_x must
// not change what a plan does behind the spec's back.
func environ(inherit []string, env map[string]string) map[string]string {
	out := map[string]string{}
	for _, name := range append(append([]string(nil), BaseEnv...), inherit...) {
		if strings.HasPrefix(name, "GODWIT_") {
			continue // the worker's settings and credentials
		}
		if v, ok := os.LookupEnv(name); ok {
			out[name] = v
		}
	}
	for k, v := range env {
		out[k] = v
	}
	return tfexec.CleanEnv(out)
}

// Output returns what the commands printed so far: redacted, its tail
// bounded.
func (m *Module) Output() string { return m.out.String() }

// Workspace returns the workspace the module plans and applies in.
func (m *Module) Workspace() string { return m.opts.Workspace }

// Version returns the binary's version ("1.6.6").
func (m *Module) Version(ctx context.Context) (string, error) {
	v, _, err := m.tf.Version(ctx, true)
	if err != nil {
		return "", m.wrap("version", err)
	}
	return v.String(), nil
}

// Init runs `terraform init` (idempotent: it installs what is missing and
// checks the backend, so a retry is safe).
func (m *Module) Init(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.log.Info("terraform init", "dir", m.opts.Dir)
	if err := m.tf.Init(ctx, tfexec.Upgrade(false)); err != nil {
		return m.wrap("init", err)
	}
	return nil
}

// UseWorkspace selects the module's workspace, creating it when missing.
func (m *Module) UseWorkspace(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.useWorkspace(ctx, true)
}

func (m *Module) useWorkspace(ctx context.Context, create bool) error {
	names, current, err := m.tf.WorkspaceList(ctx)
	if err != nil {
		return m.wrap("workspace list", err)
	}
	if current == m.opts.Workspace {
		return nil
	}
	for _, n := range names {
		if n == m.opts.Workspace {
			if err := m.tf.WorkspaceSelect(ctx, n); err != nil {
				return m.wrap("workspace select "+n, err)
			}
			return nil
		}
	}
	if !create {
		return fmt.Errorf("workspace %s does not exist", m.opts.Workspace)
	}
	m.log.Info("creating workspace", "workspace", m.opts.Workspace)
	if err := m.tf.WorkspaceNew(ctx, m.opts.Workspace); err != nil {
		return m.wrap("workspace new "+m.opts.Workspace, err)
	}
	return nil
}

// WorkspaceExists reports whether the module's workspace exists, changing
// nothing.
func (m *Module) WorkspaceExists(ctx context.Context) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	names, _, err := m.tf.WorkspaceList(ctx)
	if err != nil {
		return false, m.wrap("workspace list", err)
	}
	for _, n := range names {
		if n == m.opts.Workspace {
			return true, nil
		}
	}
	return false, nil
}

// Plan selects the workspace and saves a plan of the module with vars. The
// plan file stays on this machine until Discard or Apply.
func (m *Module) Plan(ctx context.Context, vars Vars) (*Plan, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.useWorkspace(ctx, true); err != nil {
		return nil, err
	}
	dir, err := m.planDir()
	if err != nil {
		return nil, err
	}
	file, err := os.CreateTemp(dir, "plan-*.tfplan")
	if err != nil {
		return nil, fmt.Errorf("plan file: %w", err)
	}
	file.Close()
	cleanup, args, err := m.varOptions(dir, vars)
	if err != nil {
		os.Remove(file.Name())
		return nil, err
	}
	defer cleanup()
	opts := append([]tfexec.PlanOption{tfexec.Out(file.Name())}, args.plan()...)
	m.log.Info("terraform plan", "dir", m.opts.Dir, "workspace", m.opts.Workspace)
	if _, err := m.tf.Plan(ctx, opts...); err != nil {
		os.Remove(file.Name())
		return nil, m.wrap("plan", err)
	}
	shown, err := m.tf.ShowPlanFile(ctx, file.Name())
	if err != nil {
		os.Remove(file.Name())
		return nil, m.wrap("show plan", err)
	}
	hash, err := PlanHash(shown)
	if err != nil {
		os.Remove(file.Name())
		return nil, err
	}
	// The values of a plan's changes are shown to people and kept in
	// history: the module's secrets are hidden in them as in its output.
	p := &Plan{File: file.Name(), Summary: summarize(shown, m.out.redact), Hash: hash}
	m.log.Info("planned", "workspace", m.opts.Workspace, "hash", ShortHash(hash), "summary", p.Summary.String())
	return p, nil
}

// varArgs are a command's -var and -var-file options.
type varArgs struct {
	vars []*tfexec.VarOption
	file *tfexec.VarFileOption
}

func (a varArgs) plan() []tfexec.PlanOption {
	var out []tfexec.PlanOption
	for _, v := range a.vars {
		out = append(out, v)
	}
	if a.file != nil {
		out = append(out, a.file)
	}
	return out
}

func (a varArgs) destroy() []tfexec.DestroyOption {
	var out []tfexec.DestroyOption
	for _, v := range a.vars {
		out = append(out, v)
	}
	if a.file != nil {
		out = append(out, a.file)
	}
	return out
}

// varOptions turns vars into -var and -var-file options. The secret file
// is private (0600, in a 0700 directory) and removed by cleanup.
func (m *Module) varOptions(dir string, vars Vars) (cleanup func(), args varArgs, err error) {
	cleanup = func() {}
	for _, k := range slices.Sorted(maps.Keys(vars.Plain)) {
		args.vars = append(args.vars, tfexec.Var(k+"="+vars.Plain[k]))
	}
	if len(vars.Secret) == 0 {
		return cleanup, args, nil
	}
	f, err := os.CreateTemp(dir, "secret-*.tfvars.json")
	if err != nil {
		return cleanup, args, fmt.Errorf("variables file: %w", err)
	}
	cleanup = func() { os.Remove(f.Name()) }
	err = json.NewEncoder(f).Encode(vars.Secret)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		cleanup()
		return func() {}, args, fmt.Errorf("variables file: %w", err)
	}
	args.file = tfexec.VarFile(f.Name())
	return cleanup, args, nil
}

// planDir returns the private directory for plan and variable files:
// both hold secret variables' values in clear. MkdirAll leaves a directory
// that already exists as it is, so one made with wider permissions is
// narrowed to 0700, and one this user does not own (another user's, made
// first in a shared /tmp) or a symbolic link is refused.
func (m *Module) planDir() (string, error) {
	dir := m.opts.PlanDir
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "godwit-terraform")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("plan directory: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return "", fmt.Errorf("plan directory: %w", err)
	}
	if !fi.IsDir() {
		return "", Permanent(fmt.Errorf("plan directory %s is not a directory (a symbolic link?): plan files hold secret variables; point the plan directory at a directory of the worker's own", dir))
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() {
		return "", Permanent(fmt.Errorf("plan directory %s belongs to user %d, not to the worker's (%d): plan files hold secret variables; remove it or point the plan directory elsewhere", dir, st.Uid, os.Getuid()))
	}
	if fi.Mode().Perm() != 0o700 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return "", fmt.Errorf("plan directory %s: make it private (0700): %w", dir, err)
		}
	}
	return dir, nil
}

// Apply applies exactly the saved plan p (`terraform apply PLANFILE`):
// Terraform refuses it if the state changed since the plan was made. The
// plan file is removed afterwards, applied or not.
func (m *Module) Apply(ctx context.Context, p *Plan) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	defer os.Remove(p.File)
	if err := m.useWorkspace(ctx, false); err != nil {
		return err
	}
	m.log.Info("terraform apply", "dir", m.opts.Dir, "workspace", m.opts.Workspace, "hash", ShortHash(p.Hash))
	if err := m.tf.Apply(ctx, tfexec.DirOrPlan(p.File)); err != nil {
		return m.wrap("apply", err)
	}
	return nil
}

// Discard removes a plan that will not be applied.
func (m *Module) Discard(p *Plan) {
	if p != nil {
		os.Remove(p.File)
	}
}

// Destroy plans the destruction of everything in the workspace's state
// and applies it, in two steps like Plan and Apply.
func (m *Module) Destroy(ctx context.Context, vars Vars) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.useWorkspace(ctx, true); err != nil {
		return err
	}
	dir, err := m.planDir()
	if err != nil {
		return err
	}
	cleanup, args, err := m.varOptions(dir, vars)
	if err != nil {
		return err
	}
	defer cleanup()
	opts := args.destroy()
	m.log.Info("terraform destroy", "dir", m.opts.Dir, "workspace", m.opts.Workspace)
	if err := m.tf.Destroy(ctx, opts...); err != nil {
		return m.wrap("destroy", err)
	}
	return nil
}

// OutputValue is one root module output: its value as text (a string as
// it is, anything else as JSON) and whether it is sensitive.
type OutputValue struct {
	Value     string
	Sensitive bool
}

// Outputs returns the workspace's root module outputs.
func (m *Module) Outputs(ctx context.Context) (map[string]OutputValue, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.useWorkspace(ctx, false); err != nil {
		return nil, err
	}
	raw, err := m.tf.Output(ctx)
	if err != nil {
		return nil, m.wrap("output", err)
	}
	out := make(map[string]OutputValue, len(raw))
	for name, o := range raw {
		v := string(o.Value)
		var s string
		if json.Unmarshal(o.Value, &s) == nil {
			v = s
		}
		out[name] = OutputValue{Value: v, Sensitive: o.Sensitive}
	}
	return out, nil
}

// State describes the workspace's state as it is now.
type State struct {
	// Serial grows with every write of the state; Lineage names the
	// state's history. Both are 0 and "" before the first apply.
	Serial  uint64 `json:"serial"`
	Lineage string `json:"lineage,omitempty"`
	// TerraformVersion is the version that last wrote the state.
	TerraformVersion string `json:"terraform_version,omitempty"`
	// Resources lists the managed resources' addresses, sorted.
	Resources []string `json:"resources,omitempty"`
}

// State reads the workspace's state (`terraform state pull`).
func (m *Module) State(ctx context.Context) (State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.useWorkspace(ctx, true); err != nil {
		return State{}, err
	}
	text, err := m.tf.StatePull(ctx)
	if err != nil {
		return State{}, m.wrap("state pull", err)
	}
	return parseState(text)
}

// parseState reads the parts of a state file State reports.
func parseState(text string) (State, error) {
	if strings.TrimSpace(text) == "" {
		return State{}, nil
	}
	var raw struct {
		Serial           uint64 `json:"serial"`
		Lineage          string `json:"lineage"`
		TerraformVersion string `json:"terraform_version"`
		Resources        []struct {
			Module    string `json:"module"`
			Mode      string `json:"mode"`
			Type      string `json:"type"`
			Name      string `json:"name"`
			Instances []struct {
				IndexKey any `json:"index_key"`
			} `json:"instances"`
		} `json:"resources"`
	}
	if err := json.Unmarshal([]byte(text), &raw); err != nil {
		return State{}, fmt.Errorf("read state: %w", err)
	}
	s := State{Serial: raw.Serial, Lineage: raw.Lineage, TerraformVersion: raw.TerraformVersion}
	for _, r := range raw.Resources {
		if r.Mode != "managed" {
			continue
		}
		base := r.Type + "." + r.Name
		if r.Module != "" {
			base = r.Module + "." + base
		}
		for _, in := range r.Instances {
			switch k := in.IndexKey.(type) {
			case nil:
				s.Resources = append(s.Resources, base)
			case string:
				s.Resources = append(s.Resources, fmt.Sprintf("%s[%q]", base, k))
			case float64:
				s.Resources = append(s.Resources, fmt.Sprintf("%s[%d]", base, int(k)))
			}
		}
	}
	sort.Strings(s.Resources)
	return s, nil
}

// wrap names the failed command, recognises a held lock and keeps the
// end of Terraform's message, redacted.
func (m *Module) wrap(command string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("terraform %s: %w", command, err)
	}
	text := m.out.redact(err.Error())
	if locked := lockedError(text); locked != nil {
		return fmt.Errorf("terraform %s in workspace %s: %w", command, m.opts.Workspace, locked)
	}
	return fmt.Errorf("terraform %s in %s (workspace %s): %s", command, m.opts.Dir, m.opts.Workspace, errorTail(text))
}

// errorTail keeps the lines of Terraform's error that say what went wrong
// ("Error: ..." and what follows), at most about 1,000 bytes.
func errorTail(text string) string {
	if i := strings.Index(text, "Error: "); i >= 0 {
		text = text[i:]
	}
	text = strings.Join(strings.Fields(strings.ReplaceAll(text, "│", " ")), " ")
	if len(text) > 1000 {
		text = text[:1000] + "…"
	}
	return text
}

// BinaryEnv names the environment variable that points at the Terraform
// binary to use when a spec names none (scripts/test.sh sets it).
const BinaryEnv = "GODWIT_TERRAFORM_BIN"

// FindBinary returns the path of the binary to run: configured when set (a
// path, or a name looked up in PATH), else $GODWIT_TERRAFORM_BIN, else
// terraform or tofu from PATH.
func FindBinary(configured string) (string, error) {
	if configured != "" {
		if strings.ContainsRune(configured, filepath.Separator) {
			if _, err := os.Stat(configured); err != nil {
				return "", Permanent(fmt.Errorf("terraform binary %s is not on this machine", configured))
			}
			return configured, nil
		}
		p, err := exec.LookPath(configured)
		if err != nil {
			return "", Permanent(fmt.Errorf("%s is not in this machine's PATH", configured))
		}
		return p, nil
	}
	if p := os.Getenv(BinaryEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", Permanent(fmt.Errorf("%s=%s: no such file", BinaryEnv, p))
		}
		return p, nil
	}
	for _, name := range []string{"terraform", "tofu"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", Permanent(fmt.Errorf("no terraform or tofu in this machine's PATH and %s is not set: install one or name it in the spec (binary:)", BinaryEnv))
}
