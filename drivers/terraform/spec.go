// Package terraform is the `terraform` phase driver: a phase that moves
// infrastructure by applying a Terraform (or OpenTofu) module with the
// phase's variable values. It runs as steps — plan, an optional approval
// gate that shows the plan, apply — and applies only a plan identical to
// the one planned (and approved). Its compensation re-applies the module
// with the values from before the phase, or destroys the workspace.
// The work itself is package infra's.
package terraform

import (
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/infra"
)

// Key is the driver's section key in a phase.
const Key = "terraform"

func init() { config.RegisterDriver(Key, func() config.DriverSpec { return &Spec{} }) }

// Spec is a phase's `terraform:` section.
type Spec struct {
	// Dir is the module's directory on the worker.
	Dir string `yaml:"dir" json:"dir"`
	// Binary is the terraform or tofu executable (a path or a name in
	// PATH); empty: $GODWIT_TERRAFORM_BIN, else terraform or tofu on PATH.
	Binary string `yaml:"binary" json:"binary,omitempty"`
	// Workspace is the Terraform workspace (created when missing);
	// default "default".
	Workspace string `yaml:"workspace" json:"workspace,omitempty"`
	// Vars are variable values common to the action and the compensation.
	Vars map[string]string `yaml:"vars" json:"vars,omitempty"`
	// SecretVars are variables whose values the worker reads from its
	// environment or a file; they never enter history.
	SecretVars map[string]config.SecretRef `yaml:"secretVars" json:"secretVars,omitempty"`
	// InheritEnv names TF_* variables of the worker's environment that
	// Terraform gets (TF_PLUGIN_CACHE_DIR, TF_CLI_CONFIG_FILE, ...); beyond
	// them it gets only PATH, HOME, the locale, TMPDIR and SecretEnv.
	InheritEnv []string `yaml:"inheritEnv" json:"inheritEnv,omitempty"`
	// SecretEnv are environment variables Terraform gets whose values the
	// worker reads (a provider's credentials, AWS_SECRET_ACCESS_KEY); they
	// never enter history and are redacted from its output.
	SecretEnv map[string]config.SecretRef `yaml:"secretEnv" json:"secretEnv,omitempty"`
	// Apply holds the values the phase's action applies (on top of Vars).
	Apply Values `yaml:"apply" json:"apply"`
	// Compensate says how a rollback undoes the phase; nil: it does not.
	Compensate *Compensation `yaml:"compensate" json:"compensate,omitempty"`
	// Approve puts a gate between the plan and the apply.
	Approve *Approve `yaml:"approve" json:"approve,omitempty"`
	// AllowDestroy lists the resource addresses the phase's plan may
	// destroy or replace ("*" matches any text, e.g. "terraform_data.blue[*]");
	// a plan that destroys anything else fails before it is applied.
	AllowDestroy []string `yaml:"allowDestroy" json:"allowDestroy,omitempty"`
}

// Values are variable values for one direction of the phase.
type Values struct {
	Vars map[string]string `yaml:"vars" json:"vars,omitempty"`
}

// Compensation is how the phase is undone: re-apply the module with Vars
// (the values from before the phase), or destroy what the workspace holds.
type Compensation struct {
	Vars map[string]string `yaml:"vars" json:"vars,omitempty"`
	// Destroy destroys every resource of the workspace instead.
	Destroy bool `yaml:"destroy" json:"destroy,omitempty"`
}

// Approve is the gate between plan and apply.
type Approve struct {
	Gate string `yaml:"gate" json:"gate"`
}

// Step names, as the status report shows them.
const (
	StepPlan  = "plan"
	StepApply = "apply"
)

var (
	varName        = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)
	workspaceName  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,89}$`)
	envName        = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	secretLikeName = regexp.MustCompile(`(?i)(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIALS?)`)
)

// Check reports every missing or impossible value.
func (s *Spec) Check(c *config.CheckContext) {
	if s.Dir == "" {
		c.Errorf("dir", "is required: the Terraform module's directory on the worker, e.g. infra/blue-green")
	}
	if s.Workspace != "" && !workspaceName.MatchString(s.Workspace) {
		c.Errorf("workspace", "%q is not a valid workspace name: use letters, digits, '-', '_' or '.'", s.Workspace)
	}
	checkVars(c, "vars", s.Vars)
	checkVars(c, "apply.vars", s.Apply.Vars)
	if s.Compensate != nil {
		checkVars(c, "compensate.vars", s.Compensate.Vars)
		if !s.Compensate.Destroy && len(s.Compensate.Vars) == 0 {
			c.Errorf("compensate", "needs vars (the values from before the phase, e.g. {migration_phase: preparation}) or destroy: true")
		}
	}
	for _, name := range slices.Sorted(maps.Keys(s.SecretVars)) {
		ref, sub := s.SecretVars[name], "secretVars."+name
		switch {
		case !varName.MatchString(name):
			c.Errorf(sub, "is not a valid Terraform variable name")
		case ref.FromEnv == "" && ref.FromFile == "":
			c.Errorf(sub, "needs fromEnv (a variable in the worker's environment) or fromFile (a file on the worker)")
		case ref.FromEnv != "" && ref.FromFile != "":
			c.Errorf(sub, "sets both fromEnv and fromFile: choose one")
		}
		for _, plain := range []struct {
			path string
			vars map[string]string
		}{{"vars", s.Vars}, {"apply.vars", s.Apply.Vars}, {"compensate.vars", s.compensateVars()}} {
			if _, dup := plain.vars[name]; dup {
				c.Errorf(plain.path+"."+name, "is also in secretVars: set it in one place")
			}
		}
	}
	for i, name := range s.InheritEnv {
		sub := fmt.Sprintf("inheritEnv[%d]", i)
		switch {
		case !strings.HasPrefix(name, "TF_") || !envName.MatchString(name):
			c.Errorf(sub, "%q is not a TF_* variable: Terraform inherits only the TF_* settings named here; give a provider's credentials under secretEnv: {NAME: {fromEnv: VAR}}", name)
		case strings.HasPrefix(name, "TF_VAR_") || name == "TF_CLI_ARGS" || strings.HasPrefix(name, "TF_CLI_ARGS_") || strings.HasPrefix(name, "TF_LOG"):
			c.Errorf(sub, "%s would change what Terraform does behind the spec's back: set the variable or option in the spec instead", name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(s.SecretEnv)) {
		ref, sub := s.SecretEnv[name], "secretEnv."+name
		tfVar, isTFVar := strings.CutPrefix(name, "TF_VAR_")
		switch {
		case !envName.MatchString(name) || strings.HasPrefix(name, "GODWIT_"):
			c.Errorf(sub, "is not a valid environment variable name (GODWIT_* names are the worker's own)")
		case isTFVar && !varName.MatchString(tfVar):
			c.Errorf(sub, "%q is not a valid Terraform variable name", tfVar)
		case isTFVar && s.SecretVars[tfVar] != (config.SecretRef{}):
			c.Errorf(sub, "gives the variable %s, which secretVars.%s gives too: set it in one place", tfVar, tfVar)
		case isTFVar && (hasKey(s.Vars, tfVar) || hasKey(s.Apply.Vars, tfVar) || hasKey(s.compensateVars(), tfVar)):
			c.Errorf(sub, "gives the variable %s, which vars, apply.vars or compensate.vars gives too: set it in one place", tfVar)
		case name == "TF_CLI_ARGS" || strings.HasPrefix(name, "TF_CLI_ARGS_") || strings.HasPrefix(name, "TF_LOG"):
			c.Errorf(sub, "%s would change what Terraform does behind the spec's back: set the option in the spec instead", name)
		case ref.FromEnv == "" && ref.FromFile == "":
			c.Errorf(sub, "needs fromEnv (a variable in the worker's environment) or fromFile (a file on the worker)")
		case ref.FromEnv != "" && ref.FromFile != "":
			c.Errorf(sub, "sets both fromEnv and fromFile: choose one")
		}
	}
	if s.Approve != nil && s.Approve.Gate == "" {
		c.Errorf("approve.gate", "is required: the gate's name, used in `godwit approve <migration> --gate <name>`")
	}
	if len(s.AllowDestroy) > 0 && s.Approve == nil && (c.Phase == nil || c.Phase.Approval == nil) {
		c.Errorf("allowDestroy", "lets the plan destroy %s, and nobody would see that plan before it is applied: "+
			"add approve: {gate: NAME} (or an approval: {gate: NAME} on the phase, which then waits after the plan), "+
			"so the gate shows what the plan destroys", strings.Join(s.AllowDestroy, ", "))
	}
	for i, p := range s.AllowDestroy {
		if strings.TrimSpace(p) == "" {
			c.Errorf(fmt.Sprintf("allowDestroy[%d]", i), "must not be empty: a resource address, e.g. terraform_data.blue[*]")
		}
	}
}

func checkVars(c *config.CheckContext, path string, vars map[string]string) {
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		switch {
		case !varName.MatchString(k):
			c.Errorf(path+"."+k, "is not a valid Terraform variable name")
		case secretLikeName.MatchString(k) && vars[k] != "":
			c.Errorf(path+"."+k, "looks like a secret, and vars are stored in workflow history in plain text: "+
				"move it to secretVars: {%s: {fromEnv: VAR}} (or fromFile), which the worker reads itself", k)
		}
	}
}

// ApplyDefaults names the default workspace, so resources and the report
// say which one is driven.
func (s *Spec) ApplyDefaults(*config.PhaseSpec) {
	if s.Workspace == "" {
		s.Workspace = infra.DefaultWorkspace
	}
}

// HasCompensation reports whether a rollback undoes the phase.
func (s *Spec) HasCompensation() bool { return s.Compensate != nil }

// Resources names the module directory and workspace the phase drives:
// two migrations never apply the same workspace at once.
func (s *Spec) Resources(*config.Spec) []string {
	ws := s.Workspace
	if ws == "" {
		ws = infra.DefaultWorkspace
	}
	return []string{fmt.Sprintf("terraform:%s#%s", filepath.Clean(s.Dir), ws)}
}

// PlanSteps returns plan, the approval gate when there is one, and apply.
func (s *Spec) PlanSteps() []config.Step {
	// The plan changes nothing: a gate on the phase waits after it and
	// shows it, and a decommission's point of no return is its apply.
	steps := []config.Step{{Name: StepPlan, Action: true, ReadOnly: true}}
	if s.Approve != nil {
		steps = append(steps, config.Step{Name: "approve the plan (gate " + s.Approve.Gate + ")", Gate: s.Approve.Gate})
	}
	return append(steps, config.Step{Name: StepApply, Action: true})
}

// actionVars are the plain values the action plans with.
func (s *Spec) actionVars() map[string]string { return merge(s.Vars, s.Apply.Vars) }

func (s *Spec) compensateVars() map[string]string {
	if s.Compensate == nil {
		return nil
	}
	return s.Compensate.Vars
}

func merge(base, over map[string]string) map[string]string {
	out := make(map[string]string, len(base)+len(over))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}

// allowedToDestroy reports whether the spec allows address to be destroyed.
func (s *Spec) allowedToDestroy(address string) bool {
	for _, p := range s.AllowDestroy {
		if globMatch(p, address) {
			return true
		}
	}
	return false
}

// globMatch matches text against pattern, where "*" matches any run of
// characters and everything else matches itself (brackets and dots of
// resource addresses included).
func globMatch(pattern, text string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == text
	}
	if !strings.HasPrefix(text, parts[0]) {
		return false
	}
	text = text[len(parts[0]):]
	for i, part := range parts[1:] {
		if i == len(parts)-2 {
			return strings.HasSuffix(text, part)
		}
		j := strings.Index(text, part)
		if j < 0 {
			return false
		}
		text = text[j+len(part):]
	}
	return true
}

func hasKey(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}

// secretVarRefs are the secret variables Terraform gets, each as a
// reference the worker reads: secretVars, and each secretEnv entry named
// TF_VAR_<name> as the variable <name>. Terraform would read a TF_VAR_*
// from its environment, but the worker gives it variables only through the
// private variables file (tfexec refuses TF_VAR_* in the environment), so
// a TF_VAR_ given under secretEnv goes there too, rather than being dropped.
func (s *Spec) secretVarRefs() map[string]config.SecretRef {
	out := make(map[string]config.SecretRef, len(s.SecretVars))
	for k, v := range s.SecretVars {
		out[k] = v
	}
	for k, v := range s.SecretEnv {
		if name, ok := strings.CutPrefix(k, "TF_VAR_"); ok {
			out[name] = v
		}
	}
	return out
}

// envRefs are the secretEnv entries that go into Terraform's environment:
// all but the TF_VAR_* ones (see secretVarRefs).
func (s *Spec) envRefs() map[string]config.SecretRef {
	out := make(map[string]config.SecretRef, len(s.SecretEnv))
	for k, v := range s.SecretEnv {
		if !strings.HasPrefix(k, "TF_VAR_") {
			out[k] = v
		}
	}
	return out
}
