package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"

	"github.com/godwit/godwit/control"
	"github.com/godwit/godwit/dashboard"
	"github.com/godwit/godwit/migration"
)

// chromium finds Debian's chromium (scripts/test.sh installs it), or
// $GODWIT_CHROMIUM. Without one the test skips, except in CI (CI=true),
// where a missing browser is a broken set-up and fails the test.
func chromium(t *testing.T) string {
	t.Helper()
	if p, ok := findChromium(); ok {
		return p
	}
	msg := "no chromium found (looked for $GODWIT_CHROMIUM, chromium, chromium-browser, google-chrome): " +
		"run ./scripts/test.sh, which installs it, or apt-get install -y chromium"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// findChromium looks for $GODWIT_CHROMIUM, then a chromium on PATH.
func findChromium() (string, bool) {
	if p := os.Getenv("GODWIT_CHROMIUM"); p != "" {
		return p, true
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, true
		}
	}
	return "", false
}

// browser starts a headless chromium and returns its context.
func browser(t *testing.T, bin string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox,
		chromedp.Headless, chromedp.DisableGPU, chromedp.WindowSize(1280, 1000))
	actx, cancel := chromedp.NewExecAllocator(t.Context(), opts...)
	t.Cleanup(cancel)
	bctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	ctx, cancel := context.WithTimeout(bctx, 4*time.Minute)
	t.Cleanup(cancel)
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate("about:blank")), "start chromium %s", bin)
	return ctx
}

// dashboardServer serves the dashboard over the test's dev server.
func dashboardServer(t *testing.T, token string) *httptest.Server {
	t.Helper()
	h, err := dashboard.New(dashboard.Options{
		Source:  control.Migrations{Client: env.client, DC: converter.GetDefaultDataConverter(), Namespace: "default"},
		Token:   token,
		Refresh: 2 * time.Second,
	})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// watchUntil reads the run through the dashboard's API (each read is a
// chart sample) until cond holds.
func watchUntil(t *testing.T, base, name, what string, cond func(migration.Report) bool) migration.Report {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	var last migration.Report
	for {
		resp, err := http.Get(base + "/api/migrations/" + name)
		require.NoError(t, err)
		err = json.NewDecoder(resp.Body).Decode(&last)
		resp.Body.Close()
		if err == nil && resp.StatusCode == http.StatusOK && cond(last) {
			return last
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s on the dashboard's API; last: HTTP %d, status %s at %s", what, resp.StatusCode, last.Status, last.CurrentPhase)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// text reads the visible text of the first element sel matches.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	require.NoError(t, err, "read %s", sel)
	return s
}

func count(t *testing.T, ctx context.Context, sel string) int {
	t.Helper()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](fmt.Sprintf("document.querySelectorAll(%q).length", sel)))
	require.NoError(t, err)
	return n
}

// waitText waits until the element sel holds want in its text.
func waitText(t *testing.T, ctx context.Context, sel, want string) {
	t.Helper()
	expr := fmt.Sprintf("(document.querySelector(%q) || {}).textContent && document.querySelector(%q).textContent.includes(%q)", sel, sel, want)
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(time.Minute)))
	if err != nil {
		got, _ := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf("(document.querySelector(%q) || {textContent: '(no element)'}).textContent", sel)))
		t.Fatalf("waited for %s to read %q: %v; it reads %q", sel, want, err, got)
	}
}

// screenshot saves a PNG of the page into $GODWIT_SCREENSHOTS, when set
// (scripts/screenshots.sh sets it to docs/img).
func screenshot(t *testing.T, ctx context.Context, file string) {
	t.Helper()
	dir := os.Getenv("GODWIT_SCREENSHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, file), png, 0o644))
}

// otherWorkflows lists the IDs of the workflows that are not migrations
// (leases, preflights) on the dev server.
func otherWorkflows(t *testing.T) []string {
	t.Helper()
	resp, err := env.client.ListWorkflow(t.Context(), &workflowservice.ListWorkflowExecutionsRequest{
		Namespace: "default", Query: `WorkflowType != "Migration"`, PageSize: 1000,
	})
	require.NoError(t, err)
	var ids []string
	for _, e := range resp.GetExecutions() {
		ids = append(ids, e.GetExecution().GetWorkflowId())
	}
	return ids
}

// fitsAPhone loads url at a phone's width (390 CSS pixels) and checks that
// nothing makes the page scroll sideways, then goes back to the desktop size.
func fitsAPhone(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(390, 844), chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.CSS("main"))))
	width, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
	require.NoError(t, err)
	require.LessOrEqual(t, width, 390, "%s is %dpx wide on a 390px phone: something overflows", url, width)
	require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(1280, 1000), chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.CSS("main"))))
}

// TestDashboardInABrowser renders the list and a live run in chromium:
// the gate, progress bars and charts are there; approving from the page
// opens the gate; without the token the action is refused; a rolled-back
// run reads ROLLED_BACK.
func TestDashboardInABrowser(t *testing.T) {
	t.Parallel()
	bin := chromium(t)
	const token = "it-dashboard-token"
	srv := dashboardServer(t, token)
	readOnly := dashboardServer(t, "")

	// The gated run is watched through the dashboard from its start, so
	// its copy's rate is sampled; the other is rolled back at its gate.
	gated := newDemo(t, "it-dash-gated", "0.3")
	out, err := godwit(t, "preflight", "-f", gated.spec) // a Preflight workflow, which the list must hide
	require.NoError(t, err, out)
	gated.start()
	watchUntil(t, srv.URL, gated.name, "the go-live gate", waitingAt("go-live"))
	// `godwit status` says what the run waits for and how to continue it.
	out, err = godwit(t, "status", gated.name)
	require.NoError(t, err, out)
	at := gated.status()
	require.Contains(t, out, `  Waiting    for approval of gate "go-live" before phase `+at.Phases[at.CurrentIndex].Phase+
		"; to continue: godwit approve "+gated.name+" --gate go-live\n", out)
	undone := newDemo(t, "it-dash-undone", "0.05")
	undone.start()
	undone.waitFor("the go-live gate", waitingAt("go-live"))
	out, err = godwit(t, "rollback", undone.name, "--reason", "dashboard test")
	require.NoError(t, err, out)
	final, _ := undone.result()
	require.Equal(t, migration.StatusRolledBack, final.Status)

	ctx := browser(t, bin)

	// The list: a row per migration, linking to its page, with Godwit's status.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/migrations/it-dash-gated"]`))))
	require.Contains(t, text(t, ctx, `a[href="/migrations/it-dash-undone"]`), "it-dash-undone")
	// The status badge, and beside it why a rolled-back run was (on
	// request, or after a failure).
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]string](`Object.fromEntries([...document.querySelectorAll("tbody tr")].map(r => [r.querySelector("th").textContent.trim(), r.querySelector("td[data-label=Status] .status").textContent.trim()]))`))
	require.NoError(t, err)
	require.Equal(t, "WAITING_APPROVAL", rows["it-dash-gated"], "rows: %v", rows)
	require.Equal(t, "ROLLED_BACK", rows["it-dash-undone"], "a rolled-back run reads ROLLED_BACK, not Failed; rows: %v", rows)
	why, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]string](`Object.fromEntries([...document.querySelectorAll("tbody tr")].map(r => [r.querySelector("th").textContent.trim(), r.querySelector("td[data-label=Status]").textContent.trim()]))`))
	require.NoError(t, err)
	require.Equal(t, "ROLLED_BACK on request", why["it-dash-undone"], "rows: %v", why)
	require.Positive(t, count(t, ctx, `tbody [role=progressbar][aria-valuenow]`))
	others := otherWorkflows(t)
	require.NotEmpty(t, others, "the preflight ran as a workflow of its own")
	for _, id := range others {
		require.NotContains(t, rows, id, "lease and preflight workflows are not listed")
	}
	screenshot(t, ctx, "dashboard-list.png")
	fitsAPhone(t, ctx, srv.URL+"/")

	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/?status=ROLLED_BACK"),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/migrations/it-dash-undone"]`))))
	require.Zero(t, count(t, ctx, `a[href="/migrations/it-dash-gated"]`), "the filter keeps only ROLLED_BACK runs")

	// The rolled-back run's page.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/migrations/it-dash-undone"),
		chromedp.WaitVisible(chromedp.CSS(`#run-status`))))
	require.Equal(t, "ROLLED_BACK", text(t, ctx, "#run-status"))
	// A rollback a person asked for is a deliberate outcome, not an error.
	require.Contains(t, text(t, ctx, "#run-outcome"), "Rolled back on request: nothing failed; the rollback was asked for by")
	require.Contains(t, text(t, ctx, "#run-outcome"), "dashboard test")
	require.Zero(t, count(t, ctx, `#summary .error`), "no error box for a requested rollback")
	require.Zero(t, count(t, ctx, `#run-status.bad`), "not coloured as a failure")

	// The gated run's page: its gate, progress bars and charts.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/migrations/it-dash-gated"),
		chromedp.WaitVisible(chromedp.CSS(`#waiting-gate`))))
	require.Equal(t, "go-live", text(t, ctx, "#waiting-gate"))
	require.Equal(t, "WAITING_APPROVAL", text(t, ctx, "#run-status"))
	require.GreaterOrEqual(t, count(t, ctx, `[role=progressbar][aria-valuenow]`), 7, "the overall bar and one per phase")
	require.Equal(t, 6, count(t, ctx, `svg[role=img][aria-label]`), "rate, lag, weights, errors, gateway errors and findings charts")
	require.Equal(t, 1, count(t, ctx, `#chart-rate polyline`), "the copy's rate was sampled while the dashboard watched it")
	screenshot(t, ctx, "dashboard-run.png")
	fitsAPhone(t, ctx, srv.URL+"/migrations/it-dash-gated")

	// Without the token the action is refused, and nothing changes.
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#approve"))))
	waitText(t, ctx, "#action-result", "Refused (401)")
	require.Equal(t, "go-live", gated.status().WaitingGate, "a refused approval opens nothing")

	// A read-only dashboard shows the button disabled and its API refuses.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(readOnly.URL+"/migrations/it-dash-gated"),
		chromedp.WaitVisible(chromedp.CSS(`#waiting-gate`))))
	disabled, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("#approve").disabled`))
	require.NoError(t, err)
	require.True(t, disabled, "approve is disabled without a configured token")
	status, err := chromedp.Run(ctx, chromedp.Evaluate[int](`fetch("/api/migrations/it-dash-gated/approve", {method: "POST",
		headers: {"Content-Type": "application/json", "Authorization": "Bearer `+token+`"}, body: '{"gate":"go-live"}'}).then(r => r.status)`,
		chromedp.EvalAwaitPromise))
	require.NoError(t, err)
	require.Equal(t, http.StatusForbidden, status)

	// With the token typed in, approving from the page opens the gate.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/migrations/it-dash-gated"),
		chromedp.WaitVisible(chromedp.CSS(`#waiting-gate`)),
		chromedp.SendKeys(chromedp.CSS("#token"), token),
		chromedp.SendKeys(chromedp.CSS("#by"), "it-browser"),
		chromedp.Click(chromedp.CSS("#approve"))))
	waitText(t, ctx, "#action-result", "gate go-live approved by it-browser")
	end, err := gated.result()
	require.NoError(t, err)
	require.Equal(t, migration.StatusCompleted, end.Status)
	require.Equal(t, "it-browser", end.Phases[3].ApprovedBy)
	waitText(t, ctx, "#run-status", "COMPLETED") // the page refreshed itself
	require.True(t, strings.Contains(text(t, ctx, "#gates"), "No gate is waiting"))
}
