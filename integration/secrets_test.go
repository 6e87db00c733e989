package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/gateway/gatewaytest"
	"github.com/godwit/godwit/migration"
	"github.com/godwit/godwit/workflows"
)

// secretForms are the ways a secret can be written that a reader would
// still recognise: as is, base64 (standard and URL alphabets, with and
// without padding), hex (both cases), URL-encoded (query and path) and
// reversed.
func secretForms(s string) map[string]string {
	rev := []rune(s)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	return map[string]string{
		"as is":          s,
		"base64":         base64.StdEncoding.EncodeToString([]byte(s)),
		"base64 raw":     base64.RawStdEncoding.EncodeToString([]byte(s)),
		"base64 url":     base64.URLEncoding.EncodeToString([]byte(s)),
		"base64 url raw": base64.RawURLEncoding.EncodeToString([]byte(s)),
		"hex":            hex.EncodeToString([]byte(s)),
		"HEX":            strings.ToUpper(hex.EncodeToString([]byte(s))),
		"url query":      url.QueryEscape(s),
		"url path":       url.PathEscape(s),
		"reversed":       string(rev),
	}
}

func randomSecret(t *testing.T, prefix, tail string) string {
	t.Helper()
	b := make([]byte, 10)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return prefix + hex.EncodeToString(b) + tail
}

// TestSecretsNeverInHistoryOrLogs runs a migration that uses four secrets
// — a database password (in the DSN of a store), a webhook URL's token (two
// notification targets, one of which refuses and echoes its path), a hook
// secret that the hook prints in every encoding (and fails once with it on
// stderr), and the gateway's admin token — plus a preflight that fails to
// reach a store whose DSN holds the password, a multi-line key (PEM) the
// hook prints as is, and a preflight against a gateway that answers 500
// with the bearer token it was sent. Then it reads the full
// history of both workflows, raw, through the client, the worker's whole
// log and what the CLI shows, and looks for every form of every secret.
func TestSecretsNeverInHistoryOrLogs(t *testing.T) {
	t.Parallel()
	name, queue := "it-secrets", "it-secrets"
	secrets := map[string]string{
		"database password": randomSecret(t, "pgPw", ""),
		"webhook token":     randomSecret(t, "whTok", ""),
		"hook secret":       randomSecret(t, "Hk/", "+x="),
		"gateway token":     randomSecret(t, "gwTok", ""),
		"echoed token":      randomSecret(t, "echoTok", ""),
	}
	// A key file's lines come out of a hook one log line at a time: each
	// line is a secret to look for.
	keyLines := []string{randomSecret(t, "MIIE", "Ab"), randomSecret(t, "kqhk", "Q==")}
	key := "-----BEGIN PRIVATE KEY-----\n" + strings.Join(keyLines, "\n") + "\n-----END PRIVATE KEY-----"
	for i, l := range keyLines {
		secrets[fmt.Sprintf("key line %d", i+1)] = l
	}

	src, dst := dbtest.New(t, datastore.SQLite), dbtest.New(t, datastore.Postgres)
	dbtest.Exec(t, src.Store, "CREATE TABLE plain (id INTEGER PRIMARY KEY, label VARCHAR(40) NOT NULL)")
	seedPlain(t, src, 500)
	// The test server trusts local connections, so any password is let in:
	// the worker still sends it, and everything still holds it.
	u, err := url.Parse(dst.DSN)
	require.NoError(t, err)
	u.User = url.UserPassword(u.User.Username(), secrets["database password"])
	dsn := u.String()
	u.Host = freeAddr(t)
	downDSN := u.String() + "&connect_timeout=2"

	var delivered atomic.Int64
	hooks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		if strings.HasPrefix(req.URL.Path, "/denied/") {
			http.Error(w, "no such hook "+req.URL.Path, http.StatusForbidden)
			return
		}
		delivered.Add(1)
	}))
	t.Cleanup(hooks.Close)
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		http.Error(w, "no route; you sent "+req.Header.Get("Authorization"), http.StatusInternalServerError)
	}))
	t.Cleanup(echo.Close)
	legacy, newUp := gatewaytest.NewUpstream(t, "legacy"), gatewaytest.NewUpstream(t, "new")
	gw := gatewaytest.Start(t, gatewaytest.Options{Legacy: legacy.URL, New: newUp.URL, Token: secrets["gateway token"]})

	worker := startWorkerAt(t, env.address, queue,
		"IT_SECRETS_SRC="+src.DSN,
		"IT_SECRETS_DSN="+dsn,
		"IT_SECRETS_DOWN_DSN="+downDSN,
		"IT_SECRETS_WEBHOOK="+hooks.URL+"/hooks/"+secrets["webhook token"],
		"IT_SECRETS_WEBHOOK_DENIED="+hooks.URL+"/denied/"+secrets["webhook token"]+"?key="+secrets["webhook token"],
		"IT_SECRETS_HOOK="+secrets["hook secret"],
		"IT_SECRETS_GATEWAY="+secrets["gateway token"],
		"IT_SECRETS_ECHOED="+secrets["echoed token"],
		"IT_SECRETS_KEY="+key,
	)
	// The hook prints its secret in every form: on stderr in a failing
	// first attempt (the failure's text goes into history), then on stdout
	// and as an output.
	dir := t.TempDir()
	script := `print_all() {
  s="$API_TOKEN"
  echo "token $s"
  printf %s "$s" | base64
  printf %s "$s" | od -An -tx1 | tr -d ' \n'; echo
  printf %s "$s" | sed -e 's|/|%2F|g' -e 's|+|%2B|g' -e 's|=|%3D|g'; echo
  printf %s "$s" | rev; echo
}
printf '%s\n' "$KEY"
if [ "$GODWIT_ATTEMPT" = 1 ]; then print_all >&2; exit 1; fi
print_all
echo "godwit:output.echo=$API_TOKEN"
`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "print-secret.sh"), []byte(script), 0o755))
	specText := fmt.Sprintf(`name: %s
defaults: {timeout: 1m, heartbeatTimeout: 10s, retry: {maxAttempts: 2, initialInterval: 200ms}}
notifications:
  - {kind: json, url: {fromEnv: IT_SECRETS_WEBHOOK}}
  - {kind: slack, url: {fromEnv: IT_SECRETS_WEBHOOK_DENIED}, events: [phase.failed, migration.completed]}
stores:
  legacy: {engine: sqlite, dsn: {fromEnv: IT_SECRETS_SRC}}
  new: {engine: postgres, dsn: {fromEnv: IT_SECRETS_DSN}}
phases:
  - phase: validate
    hook: {run: {command: ["true"]}}
  - phase: provision
    provision: {from: legacy, to: new, tables: [plain]}
  - phase: copy
    copy: {from: legacy, to: new, tables: [plain]}
  - phase: shift-traffic
    traffic:
      gateway: {admin: %s, token: {fromEnv: IT_SECRETS_GATEWAY}}
      route: users
      writeConsistency: sharedStore
      steps: [{setWeight: 100}]
  - phase: reconcile
    outputs: [echo]
    hook:
      run:
        command: [sh, %s/print-secret.sh]
        secrets: {API_TOKEN: {fromEnv: IT_SECRETS_HOOK}, KEY: {fromEnv: IT_SECRETS_KEY}}
`, name, gw.AdminURL, dir)
	spec := filepath.Join(dir, "spec.yaml")
	require.NoError(t, os.WriteFile(spec, []byte(specText), 0o644))

	out, err := godwitAt(t, env.address, queue, "start", "-f", spec, "--wait")
	require.NoError(t, err, out)
	final := statusAt(t, env.address, queue, name)
	require.Equal(t, migration.StatusCompleted, final.Status)
	require.Equal(t, 2, final.Phases[4].Attempts, "the hook failed once with its secret on stderr")
	require.Equal(t, int64(500), final.Phases[2].Records)
	require.Positive(t, delivered.Load(), "the webhook received notifications")
	hookOut, err := godwitAt(t, env.address, queue, "output", name)
	require.NoError(t, err, hookOut)
	require.Contains(t, hookOut, "token ***", "the hook printed its secret, redacted")
	statusOut, err := godwitAt(t, env.address, queue, "status", name)
	require.NoError(t, err, statusOut)

	// A preflight that cannot reach the store whose DSN holds the password:
	// its problems go into the Preflight workflow's history.
	downSpec, err := reparse(t, specText, "IT_SECRETS_DSN", "IT_SECRETS_DOWN_DSN")
	require.NoError(t, err)
	preflightID := name + "-preflight"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run, err := env.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: preflightID, TaskQueue: queue},
		workflows.PreflightWorkflowName, activities.PreflightInput{Spec: downSpec})
	require.NoError(t, err)
	var pre activities.PreflightResult
	require.NoError(t, run.Get(ctx, &pre))
	require.NotEmpty(t, pre.Problems, "the store is unreachable")
	t.Logf("preflight problems: %+v", pre.Problems)

	// A preflight of a gateway that echoes the bearer token in its error.
	echoSpec, err := config.ParseSpec(fmt.Appendf(nil, `name: %s-echo
phases:
  - phase: shift-traffic
    traffic:
      gateway: {admin: %q, token: {fromEnv: IT_SECRETS_ECHOED}}
      route: users
      writeConsistency: sharedStore
      steps: [{setWeight: 10}]
`, name, echo.URL))
	require.NoError(t, err)
	echoID := name + "-preflight-echo"
	run, err = env.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: echoID, TaskQueue: queue},
		workflows.PreflightWorkflowName, activities.PreflightInput{Spec: *echoSpec})
	require.NoError(t, err)
	var echoed activities.PreflightResult
	require.NoError(t, run.Get(ctx, &echoed))
	require.NotEmpty(t, echoed.Problems, "the gateway answers 500")
	require.Contains(t, echoed.Problems[0].Message, "Bearer ***", "the problem quotes the answer, redacted")

	places := map[string]string{
		"migration history (raw)":  historyRaw(t, name),
		"migration history (json)": historyText(t, name),
		"preflight history (raw)":  historyRaw(t, preflightID),
		"echo preflight (raw)":     historyRaw(t, echoID),
		"worker log":               worker.logs.String(),
		"godwit output":            hookOut,
		"godwit status":            statusOut,
		"godwit start --wait":      out,
	}
	for what, secret := range secrets {
		for form, v := range secretForms(secret) {
			for place, text := range places {
				if strings.Contains(text, v) {
					i := strings.Index(text, v)
					t.Errorf("the %s (%s) is in the %s: …%s…", what, form, place, text[max(0, i-200):min(len(text), i+len(v)+50)])
				}
			}
		}
	}
}

// reparse parses the spec with one environment variable name replaced.
func reparse(t *testing.T, text, from, to string) (config.Spec, error) {
	t.Helper()
	spec, err := config.ParseSpec([]byte(strings.Replace(text, "fromEnv: "+from+"}", "fromEnv: "+to+"}", 1)))
	if err != nil {
		return config.Spec{}, err
	}
	return *spec, nil
}

// historyRaw is a workflow's whole history as the server's bytes (each
// event's wire encoding), so payloads are searched as they are stored,
// not as JSON's base64 of them.
func historyRaw(t *testing.T, workflowID string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	it := env.client.GetWorkflowHistory(ctx, workflowID, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var buf bytes.Buffer
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		b, err := proto.Marshal(ev)
		require.NoError(t, err)
		buf.Write(b)
		buf.WriteString(protojson.Format(ev))
	}
	require.Positive(t, buf.Len())
	return buf.String()
}
