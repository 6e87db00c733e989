package cli

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// TestDashboardCommandServes wires the dashboard to the CLI's client and
// settings: the list reads the namespace, the token file guards actions.
func TestDashboardCommandServes(t *testing.T) {
	dir := isolate(t)
	tokenFile := filepath.Join(dir, "token")
	require.NoError(t, os.WriteFile(tokenFile, []byte("dash-tok\n"), 0o600))
	rep, _ := runningReport()
	c := &fakeClient{
		states: []wfState{running(rep)},
		listResp: &workflowservice.ListWorkflowExecutionsResponse{Executions: []*workflowpb.WorkflowExecutionInfo{{
			Execution: &commonpb.WorkflowExecution{WorkflowId: "orders", RunId: "r1"},
			StartTime: timestamppb.New(t0), Status: enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING,
		}}},
	}
	var out, errOut syncBuffer
	a := &app{out: &out, errOut: &errOut, dial: c.dial}
	root := newRootCommand(a)
	root.SetArgs([]string{"dashboard", "--listen", "127.0.0.1:0", "--token-file", tokenFile, "--namespace", "payments"})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()

	listening := regexp.MustCompile(`listening on (http://\S+)`)
	var url string
	require.Eventually(t, func() bool {
		if m := listening.FindStringSubmatch(out.String()); m != nil {
			url = m[1]
		}
		return url != ""
	}, 10*time.Second, 20*time.Millisecond, "stdout: %s stderr: %s", out.String(), errOut.String())
	assert.Contains(t, out.String(), "actions allowed with the token")

	resp, err := http.Get(url + "/")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode, string(body))
	assert.Contains(t, string(body), `<a href="/migrations/orders">orders</a>`)
	require.NotEmpty(t, c.listReqs)
	assert.Equal(t, "payments", c.listReqs[0].GetNamespace())
	assert.Contains(t, c.listReqs[0].GetQuery(), `WorkflowType = "Migration"`, "lease and preflight workflows are not listed")

	resp, err = http.Post(url+"/api/migrations/orders/pause", "application/json", strings.NewReader(`{}`))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Empty(t, c.signals)

	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(15 * time.Second):
		t.Fatal("the dashboard did not stop when its context ended")
	}
	assert.NotContains(t, out.String()+errOut.String(), "dash-tok")
}

func TestDashboardHelp(t *testing.T) {
	out, _, err := godwit(t, noDial(t), "dashboard", "--help")
	require.NoError(t, err)
	squashed := strings.Join(strings.Fields(out), " ")
	for _, want := range []string{
		"--listen", "--ui-url", "http://localhost:8233", "--token-file", "GODWIT_DASHBOARD_TOKEN",
		"ROLLED_BACK, not Failed", "POST /api/migrations/NAME/approve", `{"gate": "go-live"`,
		"Authorization: Bearer TOKEN", "works offline", "docs/dashboard.md",
	} {
		assert.Contains(t, squashed, want)
	}
}
