package activities

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/hook"
)

// HookDriver runs a phase's command hook.
type HookDriver struct {
	Logger hclog.Logger
}

// Do runs the hook's run or compensate command.
func (d *HookDriver) Do(ctx context.Context, action Action, in PhaseInput, resume Heartbeat, beat func(Heartbeat)) (PhaseResult, error) {
	cmd := in.Phase.Hook.Run
	if action == ActionCompensate {
		cmd = in.Phase.Hook.Compensate
	}
	if cmd == nil {
		return PhaseResult{Summary: noCompensation}, nil
	}
	env, secrets, err := resolveEnv(cmd)
	if err != nil {
		return PhaseResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%s %s: %v", action, in.Phase.Phase, err), ErrTypeConfig, err)
	}
	if cmd.Dir != "" {
		if st, err := os.Stat(cmd.Dir); err != nil || !st.IsDir() {
			msg := fmt.Sprintf("%s %s: working directory %s does not exist on this worker", action, in.Phase.Phase, cmd.Dir)
			return PhaseResult{}, temporal.NewNonRetryableApplicationError(msg, ErrTypeConfig, err)
		}
	}
	if resume.Checkpoint != "" {
		// The previous attempt's last "godwit:checkpoint=" line: the hook
		// may resume from it instead of starting over.
		env["GODWIT_CHECKPOINT"] = resume.Checkpoint
	}
	env["GODWIT_MIGRATION"] = in.Migration
	env["GODWIT_PHASE"] = string(in.Phase.Phase)
	env["GODWIT_ACTION"] = string(action)
	if activity.IsActivity(ctx) {
		env["GODWIT_ATTEMPT"] = strconv.Itoa(int(activity.GetInfo(ctx).Attempt))
	}
	res, err := hook.Run(ctx, hook.Command{Argv: cmd.Command, Env: env, Dir: cmd.Dir, Timeout: cmd.Timeout.D()}, hook.Options{
		Redact: secrets,
		Logger: d.Logger.With("migration", in.Migration, "phase", in.Phase.Phase, "action", action),
		Tick: func(p hook.Progress) {
			beat(Heartbeat{Percent: p.Percent, Records: p.Records, Checkpoint: p.Checkpoint})
		},
		// Frequent ticks let a rollback reach a running hook within seconds.
		TickInterval: time.Second,
	})
	out := PhaseResult{Records: res.Progress.Records, Summary: lastLine(res.Output), Output: res.Output}
	if err != nil {
		return out, classifyHookError(action, in, err)
	}
	return out, nil
}

// classifyHookError decides retryability once, at the activity boundary.
func classifyHookError(action Action, in PhaseInput, err error) error {
	msg := fmt.Sprintf("%s %s: %v", action, in.Phase.Phase, err)
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, exec.ErrNotFound), errors.Is(err, os.ErrNotExist), errors.Is(err, os.ErrPermission):
		return temporal.NewNonRetryableApplicationError(msg, ErrTypeHookMissing, err)
	}
	// A non-zero exit or a timeout may pass on a retry (a service still
	// starting, a lock held): let the retry policy decide.
	return temporal.NewApplicationError(msg, ErrTypeHookFailed)
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
	for name, ref := range cmd.Secrets {
		v, err := resolveSecret(ref)
		if err != nil {
			return nil, nil, fmt.Errorf("secret %s: %w", name, err)
		}
		env[name] = v
		secrets = append(secrets, v)
	}
	return env, secrets, nil
}

func resolveSecret(ref config.SecretRef) (string, error) {
	if ref.FromEnv != "" {
		v, ok := os.LookupEnv(ref.FromEnv)
		if !ok {
			return "", fmt.Errorf("environment variable %s is not set on this worker", ref.FromEnv)
		}
		return v, nil
	}
	b, err := os.ReadFile(ref.FromFile)
	if err != nil {
		return "", fmt.Errorf("read secret file: %w", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
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
