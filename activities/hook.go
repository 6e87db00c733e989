package activities

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/hook"
	"github.com/godwit/godwit/redact"
)

// NewHookDriver returns the command hook's driver: a typed phase
// (Adapt) running the hook's run, step or compensate command, checked by
// its preflight. The adapter hands it the hook section and a logger named
// hook, keeps it alive with the progress its ticks report, and classifies
// its errors with hookErrors.
func NewHookDriver(logger hclog.Logger) Driver {
	return Adapt(logger, Phase[*config.Hook]{
		Key:        "hook",
		Run:        runHook,
		Compensate: runHook,
		Preflight:  hookPreflight,
		Errors:     hookErrors,
	})
}

// runHook runs the hook's command for the call's action (or step).
func runHook(ctx context.Context, c *Call[*config.Hook]) (PhaseResult, error) {
	in, action := c.In, c.Action
	cmd, err := hookCommand(action, in, c.Spec)
	if err != nil {
		return PhaseResult{}, ConfigError(err)
	}
	if cmd == nil {
		return PhaseResult{Summary: noCompensation}, nil
	}
	env, secrets, err := resolveEnv(cmd)
	if err != nil {
		return PhaseResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%s %s: %v", action, in.Phase.Name, err), ErrTypeConfig, err)
	}
	if cmd.Dir != "" {
		if st, err := os.Stat(cmd.Dir); err != nil || !st.IsDir() {
			msg := fmt.Sprintf("%s %s: working directory %s does not exist on this worker", action, in.Phase.Name, cmd.Dir)
			return PhaseResult{}, temporal.NewNonRetryableApplicationError(msg, ErrTypeConfig, err)
		}
	}
	if err := checkInherited(cmd.InheritEnv); err != nil {
		return PhaseResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%s %s: %v", action, in.Phase.Name, err), ErrTypeConfig, err)
	}
	if c.Resume.Checkpoint != "" {
		// The previous attempt's last "godwit:checkpoint=" line: the hook
		// may resume from it instead of starting over. It left the worker
		// sealed; the hook's secrets, resolved above, unseal it.
		cp, missing := knownSecrets.Unseal(c.Resume.Checkpoint)
		if len(missing) > 0 {
			c.Log.Warn("the checkpoint names secrets this hook did not read; they stay sealed", "secrets", strings.Join(missing, ","))
		}
		env["GODWIT_CHECKPOINT"] = cp
	}
	env["GODWIT_MIGRATION"] = in.Migration
	env["GODWIT_PHASE"] = in.Phase.Name
	env["GODWIT_PHASE_KIND"] = string(in.Phase.Phase)
	env["GODWIT_ACTION"] = string(action)
	if in.Step > 0 {
		env["GODWIT_STEP"] = strconv.Itoa(in.Step)
	}
	if action == ActionCompensate && in.StepsDone > 0 {
		env["GODWIT_STEPS_DONE"] = strconv.Itoa(in.StepsDone)
	}
	if activity.IsActivity(ctx) {
		env["GODWIT_ATTEMPT"] = strconv.Itoa(int(activity.GetInfo(ctx).Attempt))
	}
	res, err := hook.Run(ctx, hook.Command{Argv: cmd.Command, Env: env, Inherit: cmd.InheritEnv, Dir: cmd.Dir, Timeout: cmd.Timeout.D()}, hook.Options{
		// Its own secrets, and every other secret this worker knows (store
		// DSNs, tokens, its keyring), however the hook came by them.
		Redact: append(secrets, knownSecrets.Values()...),
		Logger: c.Log.With("action", action),
		Tick: func(p hook.Progress) {
			// Until the hook reports a checkpoint of its own, the one it
			// resumed from is still where a retry would go on, and the
			// progress made up to it is still made: a hook resumed after
			// its worker was killed showed 0% until it printed progress
			// again (one waiting at its checkpoint, for minutes).
			hb := Heartbeat{Percent: p.Percent, Records: p.Records, Checkpoint: p.Checkpoint}
			if hb.Checkpoint == "" && c.Resume.Checkpoint != "" {
				hb.Checkpoint = c.Resume.Checkpoint
				hb.Percent, hb.Records = max(hb.Percent, c.Resume.Percent), max(hb.Records, c.Resume.Records)
			}
			c.Beat(hb)
		},
		// Frequent ticks let a rollback reach a running hook within seconds.
		TickInterval: time.Second,
	})
	out := PhaseResult{Records: res.Progress.Records, Summary: lastLine(res.Output), Output: res.Output, Outputs: res.Outputs}
	if err != nil {
		return out, fmt.Errorf("%s %s: %w", action, in.Phase.Name, err)
	}
	return out, nil
}

// hookCommand returns the command of hook h that performs action (nil
// when there is nothing to run).
func hookCommand(action Action, in PhaseInput, h *config.Hook) (*config.Command, error) {
	switch {
	case action == ActionCompensate:
		return h.Compensate, nil
	case in.Step > 0:
		if in.Step > len(h.Steps) || h.Steps[in.Step-1].Run == nil {
			return nil, fmt.Errorf("phase %s: step %d is not a command step", in.Phase.Name, in.Step)
		}
		return h.Steps[in.Step-1].Run, nil
	}
	return h.Run, nil
}

// hookPreflight checks that every command of the hook can start on this
// worker: its directory exists, its program is found, its secrets are
// readable.
func hookPreflight(_ context.Context, _ *config.Spec, _ config.PhaseSpec, h *config.Hook) []string {
	type named struct {
		what string
		cmd  *config.Command
	}
	cmds := []named{{"run", h.Run}, {"compensate", h.Compensate}}
	for i, st := range h.Steps {
		cmds = append(cmds, named{fmt.Sprintf("step %d", i+1), st.Run})
	}
	var problems []string
	for _, c := range cmds {
		if c.cmd == nil {
			continue
		}
		for _, p := range commandProblems(c.cmd) {
			problems = append(problems, c.what+": "+p)
		}
	}
	return problems
}

// commandProblems finds what would stop cmd from starting here.
func commandProblems(cmd *config.Command) []string {
	var problems []string
	if cmd.Dir != "" {
		if st, err := os.Stat(cmd.Dir); err != nil || !st.IsDir() {
			problems = append(problems, fmt.Sprintf("working directory %s does not exist on this worker", cmd.Dir))
		}
	}
	if len(cmd.Command) > 0 {
		prog := cmd.Command[0]
		if strings.ContainsRune(prog, '/') {
			path := prog
			if !filepath.IsAbs(path) && cmd.Dir != "" {
				path = filepath.Join(cmd.Dir, path)
			}
			if st, err := os.Stat(path); err != nil {
				problems = append(problems, fmt.Sprintf("program %s is not on this worker", prog))
			} else if st.Mode()&0o111 == 0 {
				problems = append(problems, fmt.Sprintf("program %s is not executable (chmod +x)", prog))
			}
		} else if _, err := exec.LookPath(prog); err != nil {
			problems = append(problems, fmt.Sprintf("program %s is not in the worker's PATH", prog))
		}
	}
	for _, name := range sortedNames(cmd.Secrets) {
		if _, err := ResolveSecret(cmd.Secrets[name]); err != nil {
			problems = append(problems, fmt.Sprintf("secret %s: %v", name, err))
		}
	}
	return problems
}

func sortedNames(m map[string]config.SecretRef) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// hookErrors: a program, directory or file the worker lacks is not
// retried; a non-zero exit or a timeout may pass on a retry (a service
// still starting, a lock held): the retry policy decides.
var hookErrors = []ErrorKind{
	{Is: func(err error) bool {
		return errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrPermission)
	}, Type: ErrTypeHookMissing},
	{Type: ErrTypeHookFailed, Retryable: true},
}

// resolveEnv builds the command's environment: plain values from the spec,
// secrets from the worker's environment or files. It returns the secret
// values too, so the hook's output can be redacted.
func resolveEnv(cmd *config.Command) (map[string]string, []string, error) {
	env := make(map[string]string, len(cmd.Env)+len(cmd.Secrets)+4)
	for k, v := range cmd.Env {
		env[k] = v
	}
	var secrets []string
	for _, name := range sortedNames(cmd.Secrets) {
		ref := cmd.Secrets[name]
		v, err := ResolveSecret(ref)
		if err != nil {
			return nil, nil, fmt.Errorf("secret %s: %w", name, err)
		}
		env[name] = v
		secrets = append(secrets, v)
	}
	return env, secrets, nil
}

// ResolveSecret reads a secret on the worker: from its environment or a
// file (trailing newlines cut). Only activities call it; never log the
// value. The value joins KnownSecrets, so that it is redacted from every
// output, log line and error of this process.
func ResolveSecret(ref config.SecretRef) (string, error) {
	v, err := readSecret(ref)
	if err == nil {
		knownSecrets.Add(SecretName(ref), v)
	}
	return v, err
}

func readSecret(ref config.SecretRef) (string, error) {
	if ref.FromEnv != "" {
		v, ok := os.LookupEnv(ref.FromEnv)
		if !ok {
			// The worker resolves a phase's secrets, the godwit command
			// its own checks' (status, reconcile): name which one lacks it.
			return "", fmt.Errorf("environment variable %s is not set for this process (%s)", ref.FromEnv, filepath.Base(os.Args[0]))
		}
		return v, nil
	}
	b, err := os.ReadFile(ref.FromFile)
	if err != nil {
		return "", fmt.Errorf("read secret file: %w", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// checkInherited refuses to hand a hook, through inheritEnv, a variable
// holding a secret the worker knows (a store DSN, a token, the keyring): a
// secret reaches a hook only declared under secrets. The spec check refuses
// the names it can tell; this catches the worker's own (a keyring variable
// named in its settings).
func checkInherited(names []string) error {
	for _, name := range names {
		if v, ok := os.LookupEnv(name); ok && len(v) >= redact.MinSecretLen && knownSecrets.Contains(v) {
			return fmt.Errorf("inheritEnv %s holds a secret this worker knows (a store DSN, a token or its keyring): "+
				"declare it under secrets: {%s: {fromEnv: %s}} so the hook's output is redacted", name, name, name)
		}
	}
	return nil
}

// lastLine returns the output's last line that is not a godwit:
// marker, shortened, as the phase's one-line summary.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l == "" || strings.HasPrefix(l, "godwit:") {
			continue
		}
		if len(l) > 200 {
			l = l[:200] + "…"
		}
		return l
	}
	return ""
}
