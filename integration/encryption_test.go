package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/cli"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/connect"
	"github.com/godwit/godwit/migration"
	"github.com/godwit/godwit/workflows"
)

// encryptedSpec is a migration whose spec, hook output, report and
// failure each carry a marker. Markers made by the shell ($((6*7))) exist
// only in the hooks' output, not in the spec. Its reconcile fails, so the
// run rolls back and history holds a failure too.
const encryptedSpec = `name: %s
description: "descmarker-p4w: move the secret table"
defaults:
  timeout: 1m
  retry: {maxAttempts: 1, initialInterval: 1s}
phases:
  - phase: validate
    hook:
      run:
        command: [sh, -c, 'echo "hookout-$((6*7))-r9"']
  - phase: copy
    hook:
      run:
        env: {GREETING: envmarker-q8z}
        command: [sh, -c, 'echo "copied $((2*3)) rows, hookout-$((6*7))-r9"; echo godwit:records=6']
      compensate:
        command: [sh, -c, 'echo "undo-$((5*5))-t7"']
  - phase: reconcile
    hook:
      run:
        command: [sh, -c, 'echo "failout-$((9*11))-s1" >&2; exit 1']
`

// secretMarkers: spec fields (description, hook env), hook output (run
// and compensation) and the failing hook's message.
var secretMarkers = []string{"descmarker-p4w", "envmarker-q8z", "hookout-42-r9", "undo-25-t7", "failout-99-s1"}

// TestEncryptedPayloads runs a migration with payload encryption on (its
// own worker and CLI with a keyring) and checks that history, read without
// the keys, holds none of the markers in clear text, while the godwit CLI
// with the keys, and the temporal CLI through godwit codec-server, show
// them. A run of the same spec without encryption is the control: there
// the very same checks find every marker.
func TestEncryptedPayloads(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	keys := filepath.Join(dir, "codec-keys")
	keyring := "it-2025:" + randomKey(t) + "\nit-2024:" + randomKey(t) + "\n"
	require.NoError(t, os.WriteFile(keys, []byte("# newest first\n"+keyring), 0o600))
	const queue = "godwit-it-encrypted"
	startEncryptedWorker(t, queue, keys)

	encrypted, plain := "it-encrypted", "it-encrypted-control"
	for name, q := range map[string]string{encrypted: queue, plain: env.taskQueue} {
		spec := filepath.Join(dir, name+".yaml")
		require.NoError(t, os.WriteFile(spec, fmt.Appendf(nil, encryptedSpec, name), 0o644))
		var out, errOut bytes.Buffer
		args := []string{"start", "-f", spec, "--wait"}
		if name == encrypted {
			args = append(args, "--codec-keys-file", keys)
		}
		text, err := godwitOn(t, q, &out, &errOut, args...)
		require.Error(t, err, "the reconcile fails, the run rolls back: exit 2")
		require.Contains(t, text, "ROLLED_BACK", text)
	}

	t.Run("the godwit CLI with the keys decrypts", func(t *testing.T) {
		var out, errOut bytes.Buffer
		text, err := godwitOn(t, queue, &out, &errOut, "status", encrypted, "-o", "json", "--codec-keys-file", keys)
		require.NoError(t, err, text)
		var rep migration.Report
		require.NoError(t, json.Unmarshal(out.Bytes(), &rep), text)
		assert.Equal(t, migration.StatusRolledBack, rep.Status)
		assert.Equal(t, "descmarker-p4w: move the secret table", rep.Description)
		assert.Contains(t, rep.Error, "failout-99-s1")

		text, err = godwitOn(t, queue, &out, &errOut, "output", encrypted, "--codec-keys-file", keys)
		require.NoError(t, err, text)
		for _, m := range []string{"hookout-42-r9", "undo-25-t7", "failout-99-s1"} {
			assert.Contains(t, text, m)
		}
	})

	t.Run("after a rotation the run stays readable; without its key it is not", func(t *testing.T) {
		rotated := filepath.Join(dir, "rotated-keys")
		require.NoError(t, os.WriteFile(rotated, []byte("it-2026:"+randomKey(t)+"\n"+keyring), 0o600))
		var out, errOut bytes.Buffer
		text, err := godwitOn(t, queue, &out, &errOut, "status", encrypted, "--codec-keys-file", rotated)
		require.NoError(t, err, text)
		assert.Contains(t, text, "failout-99-s1")

		retired := filepath.Join(dir, "retired-keys")
		require.NoError(t, os.WriteFile(retired, []byte("it-2026:"+randomKey(t)+"\n"), 0o600))
		text, err = godwitOn(t, queue, &out, &errOut, "status", encrypted, "--codec-keys-file", retired)
		require.Error(t, err, text)
		assert.Contains(t, err.Error(), `key "it-2025"`)
	})

	t.Run("the godwit CLI without the keys cannot read it", func(t *testing.T) {
		var out, errOut bytes.Buffer
		text, err := godwitOn(t, queue, &out, &errOut, "status", encrypted)
		require.Error(t, err, text)
		for _, m := range secretMarkers {
			assert.NotContains(t, text, m)
		}
	})

	t.Run("raw history holds no marker in clear text", func(t *testing.T) {
		raw := rawHistory(t, encrypted)
		shown, err := temporalCLI(t, "workflow", "show", "--workflow-id", encrypted, "-o", "json")
		require.NoError(t, err, shown)
		for _, m := range secretMarkers {
			assert.False(t, holds(raw, m), "the history's protobuf holds %q", m)
			assert.False(t, holds(shown, m), "temporal workflow show -o json holds %q", m)
		}
		assert.True(t, holds(shown, "binary/encrypted"), "no encrypted payload in the history")
		assert.True(t, strings.Contains(shown, `"Encoded failure"`), "failure messages are encrypted too")
	})

	t.Run("control: without encryption the same checks find every marker", func(t *testing.T) {
		raw := rawHistory(t, plain)
		shown, err := temporalCLI(t, "workflow", "show", "--workflow-id", plain, "-o", "json")
		require.NoError(t, err, shown)
		for _, m := range secretMarkers {
			assert.True(t, holds(raw, m), "the control's protobuf lacks %q", m)
			assert.True(t, holds(shown, m), "the control's temporal workflow show lacks %q", m)
		}
	})

	t.Run("temporal workflow show --codec-endpoint decrypts through godwit codec-server", func(t *testing.T) {
		tokenFile := filepath.Join(dir, "codec-token")
		require.NoError(t, os.WriteFile(tokenFile, []byte("it-token-6f1\n"), 0o600))
		endpoint := startCodecServer(t, "--codec-keys-file", keys, "--token-file", tokenFile)

		shown, err := temporalCLI(t, "workflow", "show", "--workflow-id", encrypted, "-o", "json",
			"--codec-endpoint", endpoint, "--codec-auth", "Bearer it-token-6f1")
		require.NoError(t, err, shown)
		for _, m := range secretMarkers {
			assert.True(t, holds(shown, m), "decoded history lacks %q", m)
		}

		shown, err = temporalCLI(t, "workflow", "show", "--workflow-id", encrypted, "-o", "json",
			"--codec-endpoint", endpoint, "--codec-auth", "Bearer wrong", "--command-timeout", "3s") // it retries the 401s till then
		assert.Error(t, err, "a wrong token must not decode: %s", shown)
		for _, m := range secretMarkers {
			assert.False(t, holds(shown, m), "a wrong token decoded %q", m)
		}
	})
}

func randomKey(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return base64.StdEncoding.EncodeToString(b)
}

// startEncryptedWorker runs a worker whose client encrypts with keys, as
// godwit-worker does when GODWIT_TEMPORAL_CODEC_KEYSFILE is set.
func startEncryptedWorker(t *testing.T, queue, keys string) {
	t.Helper()
	startEncryptedWorkerWith(t, queue, keys, activities.New)
}

// startEncryptedWorkerWith is startEncryptedWorker with the activities
// newActs makes (drivers.Activities for a worker with every driver).
func startEncryptedWorkerWith(t *testing.T, queue, keys string, newActs func(hclog.Logger) *activities.Activities) {
	t.Helper()
	logger := hclog.New(&hclog.LoggerOptions{Name: "it-encrypted", Level: hclog.Warn})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := connect.Dial(ctx, config.TemporalSettings{
		Address: env.address, Namespace: "default", Codec: config.CodecSettings{KeysFile: keys},
	}, logger)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	w := worker.New(c, queue, worker.Options{MaxHeartbeatThrottleInterval: time.Second, Identity: "it-encrypted-worker"})
	workflows.Register(w)
	activities.Register(w, newActs(logger))
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
}

// rawHistory returns the run's history events as the server stores them
// (protobuf, payload bytes as they are) followed by their protojson form.
func rawHistory(t *testing.T, workflowID string) string {
	t.Helper()
	return rawHistoryOf(t, env.client, workflowID)
}

// rawHistoryOf is rawHistory read through client c.
func rawHistoryOf(t *testing.T, c client.Client, workflowID string) string {
	t.Helper()
	var b strings.Builder
	iter := c.GetWorkflowHistory(context.Background(), workflowID, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		require.NoError(t, err)
		bin, err := proto.Marshal(ev)
		require.NoError(t, err)
		b.Write(bin)
		b.WriteString(protojson.Format(ev))
	}
	return b.String()
}

var base64Run = regexp.MustCompile(`[A-Za-z0-9+/]{16,}={0,2}`)

// holds reports whether text contains s in clear, or inside any base64 run
// in it (JSON renders payload bytes as base64).
func holds(text, s string) bool {
	if strings.Contains(text, s) {
		return true
	}
	for _, run := range base64Run.FindAllString(text, -1) {
		if b, err := base64.StdEncoding.DecodeString(run); err == nil && bytes.Contains(b, []byte(s)) {
			return true
		}
	}
	return false
}

// startCodecServer runs `godwit codec-server` in-process on a free port
// for the rest of the test and returns its URL.
func startCodecServer(t *testing.T, args ...string) string {
	t.Helper()
	var out, errOut lockedBuffer
	root := cli.NewRootCommand(&out, &errOut)
	root.SetArgs(append([]string{"codec-server", "--listen", "127.0.0.1:0"}, args...))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done, errOut.String())
	})
	listening := regexp.MustCompile(`listening on (http://\S+)`)
	var url string
	require.Eventually(t, func() bool {
		if m := listening.FindStringSubmatch(out.String()); m != nil {
			url = m[1]
		}
		return url != ""
	}, 10*time.Second, 20*time.Millisecond, "codec-server: %s %s", out.String(), errOut.String())
	return url
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
