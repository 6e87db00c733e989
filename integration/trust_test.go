package integration

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/connect"
	"github.com/godwit/godwit/migration"
)

// trustHook prints its whole environment, then every encoded form of its
// declared secret TOK and of the password of the store DSN it declares as
// DB, emits a checkpoint and an output holding them, and runs until
// paused. Resumed, it checks that GODWIT_CHECKPOINT is the real value.
const trustHook = `enc() {
  s="$1"
  echo "plain $s"
  printf %s "$s" | base64 -w0; echo
  printf %s "$s" | base64 -w0 | tr '+/' '-_'; echo
  printf %s "$s" | base64 -w0 | tr -d '='; echo
  printf %s "x$s" | base64 -w0; echo
  printf %s "xy$s" | base64 -w0; echo
  printf %s "admin:$s" | base64 -w0; echo
  printf %s "$s" | od -An -tx1 | tr -d ' \n'; echo
  printf %s "$s" | od -An -tx1 | tr -d ' \n' | tr a-f A-F; echo
  printf %s "$s" | sed -e 's|%|%25|g' -e 's|/|%2F|g' -e 's|+|%2B|g' -e 's|=|%3D|g' -e 's|"|%22|g' -e 's| |%20|g'; echo
  printf %s "$s" | sed -e 's|%|%25|g' -e 's|/|%2F|g' -e 's|+|%2B|g' -e 's|=|%3D|g' -e 's|"|%22|g' -e 's| |+|g'; echo
  printf %s "$s" | rev; echo
  printf '{"v":"%s"}\n' "$(printf %s "$s" | sed 's|"|\\"|g')"
}
pw=$(printf %s "$DB" | sed -e 's|^[a-z]*://[^:]*:||' -e 's|@.*||')
cp="cp-$TOK-$(printf %s "$pw" | base64 -w0)"
if [ -n "$GODWIT_CHECKPOINT" ]; then
  if [ "$GODWIT_CHECKPOINT" = "$cp" ]; then echo "resumed with the real checkpoint"; else echo "resumed with another checkpoint"; fi
  exit 0
fi
env
enc "$TOK"
enc "$pw"
echo "godwit:output.tok=$TOK"
echo "godwit:output.pw=$(printf %s "$pw" | base64 -w0)"
echo "godwit:checkpoint=$cp"
i=0
while [ $i -lt 240 ]; do i=$((i + 1)); echo "godwit:progress=$((i * 100 / 240))"; sleep 0.25; done
`

// TestHookEnvironmentAndEveryEncodingStayHidden: a hook that prints its
// environment and every encoded form of its secret and of a store DSN's
// password, paused mid-run and resumed, leaves no form anywhere — history
// (as stored, and through temporal workflow show -o json, decoded with the
// codec when encryption is on), godwit status in every format, godwit
// output, the worker's log, the dev server's database file (and its
// write-ahead log) — and the resumed hook still gets its real
// checkpoint. The worker never hands the hook the DSN variable, the
// keyring or a GODWIT_* setting, and logs whether encryption is on.
func TestHookEnvironmentAndEveryEncodingStayHidden(t *testing.T) {
	t.Parallel()
	for _, encrypted := range []bool{false, true} {
		name := "it-trust-plain"
		if encrypted {
			name = "it-trust-encrypted"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			checkTrust(t, name, encrypted)
		})
	}
}

func checkTrust(t *testing.T, name string, encrypted bool) {
	queue, dir := name, t.TempDir()
	secret := randomSecret(t, `Tk/ "q`, "+x=")
	dbPassword := randomSecret(t, "dbPw", "")
	dsn := "postgres://app:" + dbPassword + "@127.0.0.1:5432/it_trust?sslmode=disable"
	workerEnv := []string{"IT_TRUST_SECRET=" + secret, "IT_TRUST_DSN=" + dsn}
	var codecArgs []string
	var keyring, keyText string
	if encrypted {
		keyText = randomKey(t)
		keyring = "it-trust-k1:" + keyText
		keys := filepath.Join(dir, "keys")
		require.NoError(t, os.WriteFile(keys, []byte(keyring+"\n"), 0o600))
		workerEnv = append(workerEnv, "GODWIT_TEMPORAL_CODEC_KEYSENV=GODWIT_CODEC_KEYS", "GODWIT_CODEC_KEYS="+keyring)
		codecArgs = []string{"--codec-keys-file", keys}
	}
	// A server of its own, on a database file the test reads at the end.
	srv := startDurableServer(t)
	worker := startWorkerAt(t, srv.address, queue, workerEnv...)

	require.NoError(t, os.WriteFile(filepath.Join(dir, "hook.sh"), []byte(trustHook), 0o755))
	spec := filepath.Join(dir, "spec.yaml")
	require.NoError(t, os.WriteFile(spec, fmt.Appendf(nil, `name: %s
defaults: {timeout: 5m, heartbeatTimeout: 10s}
stores:
  db: {engine: postgres, dsn: {fromEnv: IT_TRUST_DSN}}
phases:
  - phase: copy
    outputs: [tok, pw]
    hook:
      resumable: true
      run:
        command: [sh, %s/hook.sh]
        secrets: {TOK: {fromEnv: IT_TRUST_SECRET}, DB: {fromEnv: IT_TRUST_DSN}}
`, name, dir), 0o644))

	cli := func(args ...string) string {
		t.Helper()
		out, err := godwitAt(t, srv.address, queue, append(args, codecArgs...)...)
		require.NoError(t, err, out)
		return out
	}
	wait := func(what string, cond func(migration.Report) bool) migration.Report {
		t.Helper()
		deadline := time.Now().Add(2 * time.Minute)
		for {
			out, err := godwitAt(t, srv.address, queue, append([]string{"status", name, "-o", "json"}, codecArgs...)...)
			var rep migration.Report
			if err == nil && json.Unmarshal([]byte(out), &rep) == nil && cond(rep) {
				return rep
			}
			require.True(t, time.Now().Before(deadline), "waited 2m for %s; last status: %s %v", what, out, err)
			time.Sleep(200 * time.Millisecond)
		}
	}

	cli("start", "-f", spec)
	wait("the hook to print and report progress", func(r migration.Report) bool {
		return len(r.Phases) > 0 && r.Phases[0].Progress > 0
	})
	running := map[string]string{"godwit status (running)": cli("status", name), "godwit status -o json (running)": cli("status", name, "-o", "json")}
	cli("pause", name)
	wait("the pause", func(r migration.Report) bool { return r.Status == migration.StatusPaused })
	paused := cli("status", name)
	cli("resume", name)
	final := wait("the run to finish", func(r migration.Report) bool { return r.Status.Final() })
	require.Equal(t, migration.StatusCompleted, final.Status)

	output := cli("output", name)
	require.Contains(t, output, "resumed with the real checkpoint", "the resumed hook got its checkpoint back whole")
	firstRun := cli("output", name, "copy")
	places := map[string]string{
		"godwit output":          output,
		"godwit output copy":     firstRun,
		"godwit status (paused)": paused,
		"godwit status":          cli("status", name),
		"godwit status -o json":  cli("status", name, "-o", "json"),
		"worker log":             worker.logs.String(),
		"history (as stored)":    rawHistoryOf(t, dialAt(t, srv.address), name),
	}
	for k, v := range running {
		places[k] = v
	}
	for _, format := range []string{"exec", "team", "markdown"} {
		places["godwit status --format "+format] = cli("status", name, "--format", format)
	}
	shown, err := temporalCLIAt(t, srv.address, "workflow", "show", "--workflow-id", name, "-o", "json")
	require.NoError(t, err, shown)
	places["temporal workflow show -o json"] = shown
	if encrypted {
		endpoint := startCodecServer(t, codecArgs...)
		decoded, err := temporalCLIAt(t, srv.address, "workflow", "show", "--workflow-id", name, "-o", "json", "--codec-endpoint", endpoint)
		require.NoError(t, err, decoded)
		require.False(t, strings.Contains(decoded, "binary/encrypted"), "the codec server decoded every payload")
		places["temporal workflow show -o json --codec-endpoint"] = decoded
		assert.True(t, worker.logged("payload encryption on", map[string]string{"keyID": "it-trust-k1"}), "the worker logs that encryption is on, and its key ID")
	} else {
		assert.True(t, worker.logged("payload encryption off: workflow inputs, results and heartbeats are stored in plain JSON (see docs/encryption.md)", nil),
			"the worker logs that encryption is off")
	}

	// The hook printed its environment (in the paused attempt, whose
	// output the worker logged): only what it is given.
	printed := worker.logs.String()
	require.Contains(t, printed, "GODWIT_PHASE=copy", "the hook printed its environment")
	require.Contains(t, printed, "TOK=***", "the hook got its secret, redacted in its output")
	for _, leaked := range []string{"IT_TRUST_DSN=", "IT_TRUST_SECRET=", "GODWIT_CODEC_KEYS=", "GODWIT_TEMPORAL_CODEC", "GOPATH=", "GOFLAGS="} {
		assert.NotContains(t, printed, leaked, "the hook saw the worker's %s", leaked)
	}
	require.Contains(t, printed, "plain ***", "the hook printed its secret, redacted")

	// Last, the dev server's database as it lies on disk: stopped, so
	// nothing is held only in its memory, with its write-ahead log.
	srv.kill()
	stored := serverFiles(t, srv.dbFile)
	places["the dev server's database file"] = stored
	require.Contains(t, stored, name, "the server's database holds the run (its workflow ID)")
	if encrypted {
		require.NotContains(t, stored, "resumed with the real checkpoint", "with encryption on, the hook's output is ciphertext at rest")
	} else {
		require.Contains(t, stored, "resumed with the real checkpoint", "with encryption off, the server's database holds the hook's output in plain text: the scan reads it")
	}

	secrets := map[string]string{"hook secret": secret, "store DSN": dsn, "DSN password": dbPassword}
	if encrypted {
		secrets["keyring"], secrets["key"] = keyring, keyText
	}
	for what, s := range secrets {
		forms := secretForms(s)
		js, _ := json.Marshal(s)
		forms["json-escaped"] = string(js[1 : len(js)-1])
		forms["url %20"] = strings.ReplaceAll(forms["url query"], "+", "%20")
		for _, prefix := range []string{"x", "xy", "admin:"} {
			// The characters of a longer base64 text that encode s alone.
			full := base64.StdEncoding.EncodeToString([]byte(prefix + s))
			skip := (len(prefix)*8 + 5) / 6
			forms["inside base64 after "+prefix] = full[skip : (len(prefix)+len(s))*8/6]
		}
		for form, v := range forms {
			for place, text := range places {
				if i := strings.Index(text, v); i >= 0 {
					t.Errorf("the %s (%s) is in %s: …%s…", what, form, place, text[max(0, i-120):min(len(text), i+len(v)+40)])
				}
			}
		}
	}
}

// dialAt is a client of the server at address, closed with the test.
func dialAt(t *testing.T, address string) client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := connect.Dial(ctx, config.TemporalSettings{Address: address, Namespace: "default"}, hclog.NewNullLogger())
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

// serverFiles returns the bytes of a SQLite database file and of the
// journal files beside it (-wal, -shm, -journal), as one text.
func serverFiles(t *testing.T, db string) string {
	t.Helper()
	var b strings.Builder
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		data, err := os.ReadFile(db + suffix)
		if suffix != "" && os.IsNotExist(err) {
			continue
		}
		require.NoError(t, err)
		b.Write(data)
	}
	require.Greater(t, b.Len(), 0, "the server's database %s is empty", db)
	return b.String()
}
