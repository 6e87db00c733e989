package activities

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/migration"
)

// shCmd is a hook command running script with sh -c.
func shCmd(script string) *config.Command {
	return &config.Command{Command: []string{"sh", "-c", script}}
}

func hookInput(run, compensate *config.Command) PhaseInput {
	return PhaseInput{Migration: "demo", Phase: config.PhaseSpec{
		Phase: migration.PhaseCopy, Name: "copy",
		Driver: &config.Hook{Run: run, Compensate: compensate},
	}}
}

// appError returns err's application error, failing the test when it has none.
func appError(t *testing.T, err error) *temporal.ApplicationError {
	t.Helper()
	require.Error(t, err)
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "want an ApplicationError, got %T: %v", err, err)
	return appErr
}

const (
	envSecretVar   = "GODWIT_TEST_DB_PASSWORD"
	envSecretValue = "hunter2-env-secret"
	fileSecret     = "tok-file-secret"
)

func TestHookDriverDo(t *testing.T) {
	type want struct {
		output      *string  // exact Output, when set
		outputHas   []string // substrings of Output
		summary     *string  // exact Summary, when set
		records     int64
		errType     string   // "" = no error
		nonRetry    bool     // expected NonRetryable when errType != ""
		msgHas      []string // substrings of the error's text
		leakFree    []string // strings that must appear in none of Output, Summary, error
		notCanceled bool
	}
	str := func(s string) *string { return &s }

	tests := []struct {
		name   string
		action Action
		// input builds the phase input; dir is a fresh temporary directory.
		input func(t *testing.T, dir string) PhaseInput
		want  want
		// after checks what the command left behind.
		after func(t *testing.T, dir string)
	}{
		{
			name:   "run action runs the run command",
			action: ActionRun,
			input: func(t *testing.T, dir string) PhaseInput {
				return hookInput(shCmd("echo ran-run"), shCmd("echo ran-compensate"))
			},
			want: want{output: str("ran-run\n"), summary: str("ran-run")},
		},
		{
			name:   "compensate action runs the compensate command",
			action: ActionCompensate,
			input: func(t *testing.T, dir string) PhaseInput {
				return hookInput(shCmd("echo ran-run"), shCmd("echo ran-compensate"))
			},
			want: want{output: str("ran-compensate\n"), summary: str("ran-compensate")},
		},
		{
			name:   "no compensate command succeeds with a summary saying so and runs nothing",
			action: ActionCompensate,
			input: func(t *testing.T, dir string) PhaseInput {
				return hookInput(shCmd("touch "+filepath.Join(dir, "ran")), nil)
			},
			want: want{output: str(""), summary: str("no compensation configured")},
			after: func(t *testing.T, dir string) {
				assert.NoFileExists(t, filepath.Join(dir, "ran"))
			},
		},
		{
			name:   "spec env reaches the command",
			action: ActionRun,
			input: func(t *testing.T, dir string) PhaseInput {
				c := shCmd(`echo "greeting=$GREETING"`)
				c.Env = map[string]string{"GREETING": "hello world"}
				return hookInput(c, nil)
			},
			want: want{output: str("greeting=hello world\n")},
		},
		{
			name:   "migration, phase and action reach the run command",
			action: ActionRun,
			input: func(t *testing.T, dir string) PhaseInput {
				c := `echo "$GODWIT_MIGRATION/$GODWIT_PHASE/$GODWIT_ACTION"`
				return hookInput(shCmd(c), shCmd(c))
			},
			want: want{output: str("demo/copy/run\n")},
		},
		{
			name:   "migration, phase and action reach the compensate command",
			action: ActionCompensate,
			input: func(t *testing.T, dir string) PhaseInput {
				c := `echo "$GODWIT_MIGRATION/$GODWIT_PHASE/$GODWIT_ACTION"`
				return hookInput(shCmd(c), shCmd(c))
			},
			want: want{output: str("demo/copy/compensate\n")},
		},
		{
			name:   "fromEnv secret reaches the command",
			action: ActionRun,
			input: func(t *testing.T, dir string) PhaseInput {
				t.Setenv(envSecretVar, envSecretValue)
				c := shCmd(`[ "$DB_PASSWORD" = "` + envSecretValue + `" ] && echo match || { echo mismatch; exit 1; }`)
				c.Secrets = map[string]config.SecretRef{"DB_PASSWORD": {FromEnv: envSecretVar}}
				return hookInput(c, nil)
			},
			want: want{output: str("match\n")},
		},
		{
			name:   "fromFile secret reaches the command without its trailing newline",
			action: ActionRun,
			input: func(t *testing.T, dir string) PhaseInput {
				f := filepath.Join(dir, "token")
				require.NoError(t, os.WriteFile(f, []byte(fileSecret+"\r\n\n"), 0o600))
				c := shCmd(`[ "$TOKEN" = "` + fileSecret + `" ] && echo match || { echo mismatch; exit 1; }`)
				c.Secrets = map[string]config.SecretRef{"TOKEN": {FromFile: f}}
				return hookInput(c, nil)
			},
			want: want{output: str("match\n")},
		},
		{
			name:   "secret values are redacted in output and summary",
			action: ActionRun,
			input: func(t *testing.T, dir string) PhaseInput {
				t.Setenv(envSecretVar, envSecretValue)
				f := filepath.Join(dir, "token")
				require.NoError(t, os.WriteFile(f, []byte(fileSecret+"\n"), 0o600))
				c := shCmd(`echo "env $DB_PASSWORD"; echo "connecting with $DB_PASSWORD and $TOKEN"`)
				c.Secrets = map[string]config.SecretRef{
					"DB_PASSWORD": {FromEnv: envSecretVar},
					"TOKEN":       {FromFile: f},
				}
				return hookInput(c, nil)
			},
			want: want{
				output:   str("env ***\nconnecting with *** and ***\n"),
				summary:  str("connecting with *** and ***"),
				leakFree: []string{envSecretValue, fileSecret},
			},
		},
		{
			name:   "secret values are redacted in a failure's message",
			action: ActionRun,
			input: func(t *testing.T, dir string) PhaseInput {
				t.Setenv(envSecretVar, envSecretValue)
				c := shCmd(`echo "login failed for $DB_PASSWORD" >&2; exit 2`)
				c.Secrets = map[string]config.SecretRef{"DB_PASSWORD": {FromEnv: envSecretVar}}
				return hookInput(c, nil)
			},
			want: want{
				errType:  ErrTypeHookFailed,
				msgHas:   []string{"login failed for ***"},
				leakFree: []string{envSecretValue},
			},
		},
		{
			name:   "missing fromEnv secret is a non-retryable config error naming secret and variable, and nothing runs",
			action: ActionRun,
			input: func(t *testing.T, dir string) PhaseInput {
				t.Setenv("GODWIT_TEST_MISSING_SECRET", "")
				require.NoError(t, os.Unsetenv("GODWIT_TEST_MISSING_SECRET"))
				t.Setenv(envSecretVar, envSecretValue)
				c := shCmd("touch " + filepath.Join(dir, "ran"))
				c.Env = map[string]string{"PLAIN": "plain-value"}
				c.Secrets = map[string]config.SecretRef{
					"API_KEY":     {FromEnv: "GODWIT_TEST_MISSING_SECRET"},
					"DB_PASSWORD": {FromEnv: envSecretVar},
				}
				return hookInput(c, nil)
			},
			want: want{
				errType:  ErrTypeConfig,
				nonRetry: true,
				msgHas:   []string{"run copy", "API_KEY", "GODWIT_TEST_MISSING_SECRET"},
				leakFree: []string{envSecretValue},
			},
			after: func(t *testing.T, dir string) {
				assert.NoFileExists(t, filepath.Join(dir, "ran"))
			},
		},
		{
			name:   "unreadable fromFile secret is a non-retryable config error naming the secret",
			action: ActionCompensate,
			input: func(t *testing.T, dir string) PhaseInput {
				c := shCmd("true")
				c.Secrets = map[string]config.SecretRef{"TOKEN": {FromFile: filepath.Join(dir, "no-such-token")}}
				return hookInput(shCmd("true"), c)
			},
			want: want{errType: ErrTypeConfig, nonRetry: true, msgHas: []string{"compensate copy", "TOKEN"}},
		},
		{
			name:   "missing working directory is a non-retryable config error naming it",
			action: ActionRun,
			input: func(t *testing.T, dir string) PhaseInput {
				c := shCmd("true")
				c.Dir = filepath.Join(dir, "gone")
				return hookInput(c, nil)
			},
			want: want{errType: ErrTypeConfig, nonRetry: true, msgHas: []string{"working directory", "gone", "does not exist"}},
		},
		{
			name:   "a file as working directory is a non-retryable config error",
			action: ActionRun,
			input: func(t *testing.T, dir string) PhaseInput {
				f := filepath.Join(dir, "plain-file")
				require.NoError(t, os.WriteFile(f, nil, 0o600))
				c := shCmd("true")
				c.Dir = f
				return hookInput(c, nil)
			},
			want: want{errType: ErrTypeConfig, nonRetry: true, msgHas: []string{"working directory", "plain-file"}},
		},
		{
			name:   "existing working directory is where the command runs",
			action: ActionRun,
			input: func(t *testing.T, dir string) PhaseInput {
				require.NoError(t, os.Mkdir(filepath.Join(dir, "work"), 0o755))
				c := shCmd("touch here")
				c.Dir = filepath.Join(dir, "work")
				return hookInput(c, nil)
			},
			after: func(t *testing.T, dir string) {
				assert.FileExists(t, filepath.Join(dir, "work", "here"))
			},
		},
		{
			name:   "program not in PATH is a non-retryable HookNotFound",
			action: ActionRun,
			input: func(t *testing.T, dir string) PhaseInput {
				return hookInput(&config.Command{Command: []string{"godwit-test-no-such-program"}}, nil)
			},
			want: want{errType: ErrTypeHookMissing, nonRetry: true, msgHas: []string{"godwit-test-no-such-program"}},
		},
		{
			name:   "program path that does not exist is a non-retryable HookNotFound",
			action: ActionRun,
			input: func(t *testing.T, dir string) PhaseInput {
				return hookInput(&config.Command{Command: []string{filepath.Join(dir, "missing.sh")}}, nil)
			},
			want: want{errType: ErrTypeHookMissing, nonRetry: true, msgHas: []string{"missing.sh"}},
		},
		{
			name:   "non-zero exit is a retryable HookFailed with the exit code and the output's tail",
			action: ActionRun,
			input: func(t *testing.T, dir string) PhaseInput {
				return hookInput(shCmd(`echo "copied 10 rows"; echo "disk full" >&2; exit 7`), nil)
			},
			want: want{
				errType:   ErrTypeHookFailed,
				msgHas:    []string{"run copy", "exited with code 7", "disk full"},
				outputHas: []string{"copied 10 rows\n", "disk full\n"},
				summary:   str("disk full"),
			},
		},
		{
			name:   "a hook timeout is a retryable HookFailed",
			action: ActionRun,
			input: func(t *testing.T, dir string) PhaseInput {
				c := shCmd("sleep 10")
				c.Timeout = config.Duration(200 * time.Millisecond)
				return hookInput(c, nil)
			},
			want: want{errType: ErrTypeHookFailed, msgHas: []string{"timed out"}, notCanceled: true},
		},
		{
			name:   "records marker sets Records and is not the summary",
			action: ActionRun,
			input: func(t *testing.T, dir string) PhaseInput {
				return hookInput(shCmd(`echo "copying"; echo "godwit:records=42"`), nil)
			},
			want: want{records: 42, summary: str("copying")},
		},
		{
			name:   "summary is the last non-marker, non-blank line",
			action: ActionRun,
			input: func(t *testing.T, dir string) PhaseInput {
				return hookInput(shCmd(`echo one; echo "  two  "; echo godwit:records=5; echo; echo "   "`), nil)
			},
			want: want{records: 5, summary: str("two")},
		},
		{
			name:   "silent command has an empty summary",
			action: ActionRun,
			input: func(t *testing.T, dir string) PhaseInput {
				return hookInput(shCmd("true"), nil)
			},
			want: want{output: str(""), summary: str("")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			in := tt.input(t, dir)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()

			res, err := NewHookDriver(hclog.NewNullLogger()).Do(ctx, tt.action, in, Heartbeat{}, func(Heartbeat) {})

			w := tt.want
			if w.errType == "" {
				require.NoError(t, err)
			} else {
				appErr := appError(t, err)
				assert.Equal(t, w.errType, appErr.Type())
				assert.Equal(t, w.nonRetry, appErr.NonRetryable(), "non-retryable")
				for _, s := range w.msgHas {
					assert.Contains(t, appErr.Error(), s)
				}
				if w.notCanceled {
					assert.False(t, errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded), err)
				}
			}
			if w.output != nil {
				assert.Equal(t, *w.output, res.Output)
			}
			for _, s := range w.outputHas {
				assert.Contains(t, res.Output, s)
			}
			if w.summary != nil {
				assert.Equal(t, *w.summary, res.Summary)
			}
			assert.Equal(t, w.records, res.Records, "records")
			for _, secret := range w.leakFree {
				assert.NotContains(t, res.Output, secret)
				assert.NotContains(t, res.Summary, secret)
				if err != nil {
					assert.NotContains(t, err.Error(), secret)
					var appErr *temporal.ApplicationError
					if errors.As(err, &appErr) {
						assert.NotContains(t, appErr.Message(), secret)
					}
				}
			}
			if tt.after != nil {
				tt.after(t, dir)
			}
		})
	}
}

func TestHookDriverDoCancellation(t *testing.T) {
	tests := []struct {
		name  string
		delay time.Duration // cancel after this; 0 = before Do
	}{
		{"a context cancelled before the hook starts is returned as is", 0},
		{"cancelling a running hook stops it and returns the cancellation as is", 200 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.delay == 0 {
				cancel()
			} else {
				time.AfterFunc(tt.delay, cancel)
			}
			start := time.Now()
			_, err := NewHookDriver(hclog.NewNullLogger()).Do(ctx, ActionRun, hookInput(shCmd("sleep 30"), nil), Heartbeat{}, func(Heartbeat) {})
			require.Error(t, err)
			assert.ErrorIs(t, err, context.Canceled)
			var appErr *temporal.ApplicationError
			assert.False(t, errors.As(err, &appErr), "cancellation must not become an application error: %v", err)
			assert.Less(t, time.Since(start), 10*time.Second, "the hook was not stopped")
		})
	}
}

// activityEnv returns a test activity environment with the phase activities
// registered under their stable names.
func activityEnv(t *testing.T) *testsuite.TestActivityEnvironment {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	logger := hclog.NewNullLogger()
	Register(env, &Activities{Logger: logger, Drivers: map[string]Driver{"hook": NewHookDriver(logger)}})
	return env
}

func TestActivities(t *testing.T) {
	tests := []struct {
		name     string
		activity string
		in       PhaseInput
		// wantErr is the expected application error type; "" = success.
		wantErr      string
		wantNonRetry bool
		wantMsg      string
		// want is the expected result (Duration is checked apart); on
		// failure, the result the error's details carry.
		want       PhaseResult
		noDetails  bool // the error carries no partial result
		minElapsed time.Duration
	}{
		{
			name:     "successful run returns the phase, action, first attempt, output and a duration",
			activity: RunPhaseName,
			in:       hookInput(shCmd(`sleep 0.05; echo "attempt $GODWIT_ATTEMPT"; echo godwit:records=9`), shCmd("echo undo")),
			want: PhaseResult{Phase: "copy", Kind: migration.PhaseCopy, Action: ActionRun, Attempt: 1, Records: 9,
				Summary: "attempt 1", Output: "attempt 1\ngodwit:records=9\n"},
			minElapsed: 50 * time.Millisecond,
		},
		{
			name:     "successful compensation runs the compensate command",
			activity: CompensatePhaseName,
			in:       hookInput(shCmd("echo do"), shCmd(`sleep 0.05; echo "undo $GODWIT_ACTION"`)),
			want: PhaseResult{Phase: "copy", Kind: migration.PhaseCopy, Action: ActionCompensate, Attempt: 1,
				Summary: "undo compensate", Output: "undo compensate\n"},
			minElapsed: 50 * time.Millisecond,
		},
		{
			name:     "compensation with no command succeeds with a summary",
			activity: CompensatePhaseName,
			in:       hookInput(shCmd("echo do"), nil),
			want: PhaseResult{Phase: "copy", Kind: migration.PhaseCopy, Action: ActionCompensate, Attempt: 1,
				Summary: "no compensation configured"},
		},
		{
			name:     "failing hook returns a retryable error whose details carry the attempt and output",
			activity: RunPhaseName,
			in:       hookInput(shCmd(`echo "started"; echo "connection refused" >&2; exit 3`), nil),
			wantErr:  ErrTypeHookFailed,
			wantMsg:  "exited with code 3",
			want: PhaseResult{Phase: "copy", Kind: migration.PhaseCopy, Action: ActionRun, Attempt: 1,
				Summary: "connection refused", Output: "started\nconnection refused\n"},
		},
		{
			name:     "failing compensation carries the compensate action in its details",
			activity: CompensatePhaseName,
			in:       hookInput(shCmd("true"), shCmd(`echo "cannot drop"; exit 1`)),
			wantErr:  ErrTypeHookFailed,
			wantMsg:  "compensate copy",
			want: PhaseResult{Phase: "copy", Kind: migration.PhaseCopy, Action: ActionCompensate, Attempt: 1,
				Summary: "cannot drop", Output: "cannot drop\n"},
		},
		{
			name:         "missing program stays non-retryable through the activity",
			activity:     RunPhaseName,
			in:           hookInput(&config.Command{Command: []string{"godwit-test-no-such-program"}}, nil),
			wantErr:      ErrTypeHookMissing,
			wantNonRetry: true,
			wantMsg:      "godwit-test-no-such-program",
			want:         PhaseResult{Phase: "copy", Kind: migration.PhaseCopy, Action: ActionRun, Attempt: 1},
		},
		{
			name:         "phase with no driver is a non-retryable config error",
			activity:     RunPhaseName,
			in:           PhaseInput{Migration: "demo", Phase: config.PhaseSpec{Phase: migration.PhaseReconcile, Name: "reconcile"}},
			wantErr:      ErrTypeConfig,
			wantNonRetry: true,
			wantMsg:      "phase reconcile has no driver configured",
			noDetails:    true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := activityEnv(t)
			val, err := env.ExecuteActivity(tt.activity, tt.in)

			var got PhaseResult
			if tt.wantErr == "" {
				require.NoError(t, err)
				require.NoError(t, val.Get(&got))
			} else {
				appErr := appError(t, err)
				assert.Equal(t, tt.wantErr, appErr.Type())
				assert.Equal(t, tt.wantNonRetry, appErr.NonRetryable(), "non-retryable")
				assert.Contains(t, appErr.Message(), tt.wantMsg)
				if tt.noDetails {
					assert.False(t, appErr.HasDetails(), "details")
					return
				}
				require.True(t, appErr.HasDetails(), "the error must carry the partial result")
				require.NoError(t, appErr.Details(&got))
			}
			if tt.minElapsed > 0 {
				assert.GreaterOrEqual(t, got.Duration.D(), tt.minElapsed, "duration")
			}
			got.Duration = 0
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestWithResult(t *testing.T) {
	res := PhaseResult{Phase: "copy", Kind: migration.PhaseCopy, Action: ActionRun, Attempt: 2, Output: "boom\n", Summary: "boom"}
	cause := errors.New("root cause")
	canceled := fmt.Errorf("command interrupted: %w", context.Canceled)
	plain := errors.New("plain")

	tests := []struct {
		name string
		err  error
		// same means the error must come back unchanged.
		same         bool
		wantType     string
		wantMsg      string
		wantNonRetry bool
		wantCause    error
	}{
		{name: "nil stays nil", err: nil, same: true},
		{name: "context.Canceled passes through unchanged", err: context.Canceled, same: true},
		{name: "wrapped cancellation passes through unchanged", err: canceled, same: true},
		{name: "deadline exceeded passes through unchanged", err: context.DeadlineExceeded, same: true},
		{name: "a plain error passes through unchanged", err: plain, same: true},
		{name: "a retryable application error stays retryable with its type and message",
			err: temporal.NewApplicationError("run copy: exited with code 1", ErrTypeHookFailed), wantType: ErrTypeHookFailed,
			wantMsg: "run copy: exited with code 1"},
		{name: "a non-retryable application error stays non-retryable and keeps its cause",
			err:      temporal.NewNonRetryableApplicationError("run copy: not found", ErrTypeHookMissing, cause),
			wantType: ErrTypeHookMissing, wantMsg: "run copy: not found", wantNonRetry: true, wantCause: cause},
		{name: "a wrapped application error is found and its message kept",
			err:      fmt.Errorf("outer: %w", temporal.NewNonRetryableApplicationError("bad config", ErrTypeConfig, nil)),
			wantType: ErrTypeConfig, wantMsg: "bad config", wantNonRetry: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := WithResult(tt.err, res)
			if tt.same {
				assert.Equal(t, tt.err, got)
				if tt.err != nil {
					assert.True(t, got == tt.err, "want the very same error value")
				}
				return
			}
			appErr := appError(t, got)
			assert.Equal(t, tt.wantType, appErr.Type())
			assert.Equal(t, tt.wantMsg, appErr.Message())
			assert.Equal(t, tt.wantNonRetry, appErr.NonRetryable(), "non-retryable")
			if tt.wantCause != nil {
				assert.ErrorIs(t, got, tt.wantCause)
			}
			var details PhaseResult
			require.True(t, appErr.HasDetails())
			require.NoError(t, appErr.Details(&details))
			assert.Equal(t, res, details)
		})
	}
}

// TestNonRetryableErrorTypes guards the list the workflow's retry policies use.
func TestNonRetryableErrorTypes(t *testing.T) {
	assert.ElementsMatch(t, []string{ErrTypeConfig, ErrTypeHookMissing, ErrTypeStepsAgain, ErrTypeHoldForPerson}, NonRetryableErrorTypes)
	assert.NotContains(t, NonRetryableErrorTypes, ErrTypeHookFailed)
}

func TestRetriedHookResumesFromItsCheckpoint(t *testing.T) {
	cases := []struct {
		name      string
		heartbeat any // details of the previous attempt; nil = first attempt
		want      string
	}{
		{"first attempt starts from scratch", nil, "from start"},
		{"a retry gets the last checkpoint", Heartbeat{Percent: 40, Records: 400, Checkpoint: "id:400"}, "from id:400"},
		{"a retry without checkpoint starts from scratch", Heartbeat{Percent: 10}, "from start"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := activityEnv(t)
			if tc.heartbeat != nil {
				env.SetHeartbeatDetails(tc.heartbeat)
			}
			v, err := env.ExecuteActivity(RunPhaseName, hookInput(shCmd(`echo "from ${GODWIT_CHECKPOINT:-start}"`), nil))
			require.NoError(t, err)
			var res PhaseResult
			require.NoError(t, v.Get(&res))
			require.Equal(t, tc.want, res.Summary)
		})
	}
}

func TestHookProgressIsHeartbeated(t *testing.T) {
	var beats []Heartbeat
	d := NewHookDriver(hclog.NewNullLogger())
	script := `echo godwit:progress=25; echo godwit:records=250; echo godwit:checkpoint=id:250; sleep 1.5`
	_, err := d.Do(context.Background(), ActionRun, hookInput(shCmd(script), nil), Heartbeat{}, func(hb Heartbeat) {
		beats = append(beats, hb)
	})
	require.NoError(t, err)
	require.Contains(t, beats, Heartbeat{Percent: 25, Records: 250, Checkpoint: "id:250"})
}

// TestAResumedHookKeepsItsCheckpointUntilItReportsOne: a hook resumed
// from a checkpoint heartbeats it (the adapter's keep-alive, then its
// progress ticks) until it prints one of its own, so a crash before
// that resumes from it again instead of from the start.
func TestAResumedHookKeepsItsCheckpointUntilItReportsOne(t *testing.T) {
	var mu sync.Mutex
	var beats []Heartbeat
	in := hookInput(shCmd(`sleep 1.3; echo godwit:checkpoint=id:9; sleep 1.2`), nil)
	in.Phase.HeartbeatTimeout = config.Duration(300 * time.Millisecond)
	_, err := NewHookDriver(hclog.NewNullLogger()).Do(context.Background(), ActionRun, in, Heartbeat{Checkpoint: "id:7"}, func(hb Heartbeat) {
		mu.Lock()
		defer mu.Unlock()
		beats = append(beats, hb)
	})
	require.NoError(t, err)
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, beats)
	require.Equal(t, "id:7", beats[0].Checkpoint, "kept alive from where it resumed")
	seen := map[string]bool{}
	for _, hb := range beats {
		require.NotEmpty(t, hb.Checkpoint, "a heartbeat lost the checkpoint: %+v", beats)
		seen[hb.Checkpoint] = true
	}
	require.True(t, seen["id:9"], "the hook's own checkpoint: %+v", beats)
}

// A hook resumed from a checkpoint keeps the progress made up to it until
// it reports progress of its own: one resumed after its worker was killed
// and waiting at its checkpoint showed 0% in the status (and a test that
// waited for the resumed attempt's progress waited for good under load).
func TestAResumedHookKeepsItsProgressUntilItReportsSome(t *testing.T) {
	var mu sync.Mutex
	var beats []Heartbeat
	in := hookInput(shCmd(`sleep 1.3; echo godwit:progress=40; echo godwit:checkpoint=id:9; sleep 1.2`), nil)
	_, err := NewHookDriver(hclog.NewNullLogger()).Do(context.Background(), ActionRun, in,
		Heartbeat{Percent: 25, Records: 250, Checkpoint: "id:7"}, func(hb Heartbeat) {
			mu.Lock()
			defer mu.Unlock()
			beats = append(beats, hb)
		})
	require.NoError(t, err)
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, beats)
	for _, hb := range beats {
		if hb.Checkpoint == "id:7" {
			require.Equal(t, Heartbeat{Percent: 25, Records: 250, Checkpoint: "id:7"}, hb, "resumed, before its own progress: %+v", beats)
		}
	}
	require.Contains(t, beats, Heartbeat{Percent: 40, Checkpoint: "id:9"}, "its own progress and checkpoint, once it reports them")
}
