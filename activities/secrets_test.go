package activities

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/redact"
)

const checkpointSecretVar = "GODWIT_TEST_CHECKPOINT_SECRET"

// checkpointHook prints a checkpoint holding its secret, plain and in
// base64, and says whether GODWIT_CHECKPOINT held the real value.
func checkpointHook() *config.Command {
	cmd := shCmd(`if [ -n "$GODWIT_CHECKPOINT" ]; then
  [ "$GODWIT_CHECKPOINT" = "cp-$PW-$(printf %s "$PW" | base64)" ] && echo "resumed with the real value" || echo "resumed with something else"
  exit 0
fi
echo "godwit:checkpoint=cp-$PW-$(printf %s "$PW" | base64)"; sleep 1.5`)
	cmd.Secrets = map[string]config.SecretRef{"PW": {FromEnv: checkpointSecretVar}}
	return cmd
}

// TestCheckpointsLeaveTheWorkerSealed: a checkpoint holding a hook's
// secret is heartbeated sealed (no form of the secret in the details), and
// a resume from that sealed checkpoint — from heartbeat details or from
// the input the workflow passes after a pause — hands the hook the real
// value.
func TestCheckpointsLeaveTheWorkerSealed(t *testing.T) {
	const secret = "cp-secret-Value/42"
	t.Setenv(checkpointSecretVar, secret)
	env := activityEnv(t)
	var details []string
	env.SetOnActivityHeartbeatListener(func(_ *activity.Info, d converter.EncodedValues) {
		var hb Heartbeat
		if d.Get(&hb) == nil {
			details = append(details, hb.Checkpoint)
		}
	})
	_, err := env.ExecuteActivity(RunPhaseName, hookInput(checkpointHook(), nil))
	require.NoError(t, err)
	require.NotEmpty(t, details, "waited for a heartbeat with the hook's checkpoint; none came")
	sealed := details[len(details)-1]
	assert.Contains(t, sealed, "{godwit-secret:env:"+checkpointSecretVar+":plain}")
	for _, form := range redact.Forms(secret) {
		assert.NotContains(t, sealed, form.Text, "the heartbeated checkpoint holds the secret (%s)", form.Kind)
	}
	assert.NotContains(t, sealed, base64.StdEncoding.EncodeToString([]byte(secret)))

	t.Run("a resume after a pause gets the real value", func(t *testing.T) {
		in := hookInput(checkpointHook(), nil)
		in.Resume = sealed
		v, err := activityEnv(t).ExecuteActivity(RunPhaseName, in)
		require.NoError(t, err)
		var res PhaseResult
		require.NoError(t, v.Get(&res))
		assert.Equal(t, "resumed with the real value", res.Summary)
	})
	t.Run("a retry from heartbeat details gets the real value", func(t *testing.T) {
		env := activityEnv(t)
		env.SetHeartbeatDetails(Heartbeat{Checkpoint: sealed})
		v, err := env.ExecuteActivity(RunPhaseName, hookInput(checkpointHook(), nil))
		require.NoError(t, err)
		var res PhaseResult
		require.NoError(t, v.Get(&res))
		assert.Equal(t, "resumed with the real value", res.Summary)
	})
}

// TestInheritingAKnownSecretIsRefused: a variable the worker knows holds
// a secret (here a store DSN it read) reaches a hook only under secrets.
func TestInheritingAKnownSecretIsRefused(t *testing.T) {
	t.Setenv("GODWIT_TEST_INHERIT_DSN", "postgres://app:inherit-pw-1@db/x")
	_, err := ResolveSecret(config.SecretRef{FromEnv: "GODWIT_TEST_INHERIT_DSN"})
	require.NoError(t, err)
	t.Setenv("ALIAS_OF_DSN", "postgres://app:inherit-pw-1@db/x")
	cmd := shCmd("env")
	cmd.InheritEnv = []string{"ALIAS_OF_DSN"}
	_, err = NewHookDriver(hclog.NewNullLogger()).Do(context.Background(), ActionRun, hookInput(cmd, nil), Heartbeat{}, func(Heartbeat) {})
	appErr := appError(t, err)
	assert.Equal(t, ErrTypeConfig, appErr.Type())
	assert.Contains(t, appErr.Message(), "inheritEnv ALIAS_OF_DSN holds a secret")
	assert.NotContains(t, appErr.Message(), "inherit-pw-1")
}

// leakyDriver fails with a message and an output holding a DSN it read.
type leakyDriver struct{ dsn string }

func (d leakyDriver) Do(context.Context, Action, PhaseInput, Heartbeat, func(Heartbeat)) (PhaseResult, error) {
	return PhaseResult{Output: "connecting to " + d.dsn, Outputs: map[string]string{"url": d.dsn}},
		temporal.NewApplicationError("open "+d.dsn+": refused", ErrTypeHookFailed, errors.New("dial "+d.dsn))
}

func (leakyDriver) Preflight(context.Context, *config.Spec, config.PhaseSpec) []string { return nil }

// TestActivityRedactsErrorsAndResults: whatever a driver returns, the
// activity hides every secret the worker read — DSN and password — in the
// error (its message and cause) and the result it carries.
func TestActivityRedactsErrorsAndResults(t *testing.T) {
	const dsn = "postgres://app:leaky-pw-77@db/orders"
	t.Setenv("GODWIT_TEST_LEAKY_DSN", dsn)
	_, err := ResolveSecret(config.SecretRef{FromEnv: "GODWIT_TEST_LEAKY_DSN"})
	require.NoError(t, err)
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	Register(env, &Activities{Logger: hclog.NewNullLogger(), Drivers: map[string]Driver{"hook": leakyDriver{dsn}}})
	_, err = env.ExecuteActivity(RunPhaseName, hookInput(shCmd("true"), nil))
	appErr := appError(t, err)
	var full strings.Builder
	for e := error(appErr); e != nil; e = errors.Unwrap(e) {
		full.WriteString(e.Error() + "\n")
	}
	assert.NotContains(t, full.String(), "leaky-pw-77")
	assert.Contains(t, appErr.Message(), "open ***: refused")
	var res PhaseResult
	require.NoError(t, appErr.Details(&res))
	assert.Equal(t, "connecting to ***", res.Output)
	assert.Equal(t, "***", res.Outputs["url"])
}
