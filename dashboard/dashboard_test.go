package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/control"
	"github.com/godwit/godwit/gateway/api"
	"github.com/godwit/godwit/migration"
	"github.com/godwit/godwit/workflows"
)

var t0 = time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)

// fakeSource answers from reports held in memory and records the actions.
type fakeSource struct {
	mu       sync.Mutex
	listed   []control.Listed
	reports  map[string]*migration.Report
	listErr  error
	statuses []migration.Status // the filters List was called with
	approves []workflows.ApproveRequest
	pauses   []workflows.PauseRequest
	rollback []workflows.RollbackRequest
	// approveErr answers Approve.
	approveErr error
	// asked counts the Status calls per migration.
	asked map[string]int
	// statusErr answers Status for these migrations (a worker that does
	// not answer, say).
	statusErr map[string]error
	// specs answer RunSpec; specsRead counts its calls.
	specs     map[string]*config.Spec
	specsRead int
}

func (f *fakeSource) RunSpec(_ context.Context, name string) (*config.Spec, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.specsRead++
	if spec, ok := f.specs[name]; ok {
		return spec, nil
	}
	return nil, errors.New("the run's history is empty, so its spec cannot be read")
}

// trafficSection stands in for the traffic driver's spec section: it
// names the gateway route its phase drives.
type trafficSection struct{ admin, route string }

func (s *trafficSection) Check(*config.CheckContext) {}
func (s *trafficSection) GatewayRoute() (string, config.SecretRef, string) {
	return s.admin, config.SecretRef{}, s.route
}

// trafficSpec is a spec whose shift-traffic phase drives route users of
// the gateway at admin.
func trafficSpec(admin string) *config.Spec {
	return &config.Spec{Name: "orders", Phases: []config.PhaseSpec{
		{Name: "validate"}, {Name: "copy"}, {Name: "shift-traffic", Driver: &trafficSection{admin: admin, route: "users"}},
	}}
}

// fakeGateway answers the stats of route users: 4% errors on new.
func fakeGateway(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/routes/users/stats" {
			w.WriteHeader(http.StatusNotFound)
			_ = json.NewEncoder(w).Encode(api.Error{Error: "no route " + r.URL.Path})
			return
		}
		_ = json.NewEncoder(w).Encode(api.RouteStats{Route: "users", WindowSeconds: 60,
			Legacy: api.SideStats{Requests: 150, SuccessRate: 1, P95Ms: 20},
			New:    api.SideStats{Requests: 50, Errors: 2, ErrorRate: 0.04, SuccessRate: 0.96, P95Ms: 25}})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func (f *fakeSource) List(_ context.Context, status migration.Status, _ int) ([]control.Listed, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.statuses = append(f.statuses, status)
	return f.listed, f.listErr
}

func (f *fakeSource) Status(_ context.Context, name string) (*migration.Report, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.asked == nil {
		f.asked = map[string]int{}
	}
	f.asked[name]++
	if err := f.statusErr[name]; err != nil {
		return nil, err
	}
	rep, ok := f.reports[name]
	if !ok {
		return nil, &control.Error{Kind: control.KindNotFound, Err: errors.New("no migration named \"" + name + "\" in this namespace: see `godwit list`")}
	}
	cp := *rep
	return &cp, nil
}

func (f *fakeSource) running(name string) (*migration.Report, error) {
	rep, err := f.Status(context.Background(), name)
	if err == nil && rep.Status.Final() {
		return nil, &control.Error{Kind: control.KindEnded, Err: errors.New("migration " + name + " has already ended (" + string(rep.Status) + "): nothing to steer")}
	}
	return rep, err
}

func (f *fakeSource) Approve(_ context.Context, name string, req workflows.ApproveRequest) (workflows.ApproveResult, error) {
	if _, err := f.running(name); err != nil {
		return workflows.ApproveResult{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.approves = append(f.approves, req)
	if f.approveErr != nil {
		return workflows.ApproveResult{}, f.approveErr
	}
	return workflows.ApproveResult{Gate: req.Gate, Phase: "shift-traffic", By: req.By}, nil
}

func (f *fakeSource) Pause(_ context.Context, name string, req workflows.PauseRequest) (*migration.Report, error) {
	rep, err := f.running(name)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pauses = append(f.pauses, req)
	return rep, nil
}

func (f *fakeSource) Resume(ctx context.Context, name string, req workflows.PauseRequest) (*migration.Report, error) {
	return f.Pause(ctx, name, req)
}

func (f *fakeSource) Rollback(_ context.Context, name string, req workflows.RollbackRequest) error {
	if _, err := f.running(name); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rollback = append(f.rollback, req)
	return nil
}

// waitingReport is a run waiting at its go-live gate after a copy.
func waitingReport() *migration.Report {
	r := migration.NewPlannedReport("orders", "orders to the new service", []migration.PlannedPhase{
		{Name: "validate", Kind: migration.PhaseValidate},
		{Name: "copy", Kind: migration.PhaseCopy},
		{Name: "shift-traffic", Kind: migration.PhaseShiftTraffic, Gate: "go-live", Steps: 3},
	}, t0)
	r.Phases[0].State, r.Phases[0].StartTime, r.Phases[0].EndTime, r.Phases[0].Summary = migration.PhaseCompleted, t0, t0.Add(2*time.Second), "all checks passed"
	r.Phases[1].State, r.Phases[1].StartTime, r.Phases[1].EndTime, r.Phases[1].Records = migration.PhaseCompleted, t0.Add(2*time.Second), t0.Add(time.Minute), 1000
	r.Phases[2].State, r.Phases[2].StartTime = migration.PhaseRunning, t0.Add(time.Minute)
	r.Phases[2].Step = "1 of 3: go-live"
	r.CurrentIndex = 2
	r.Status, r.WaitingGate = migration.StatusWaitingApproval, "go-live"
	r.Refresh(t0.Add(2 * time.Minute))
	return r
}

// copyingReport is a run copying two tables.
func copyingReport() *migration.Report {
	r := migration.NewPlannedReport("users", "", []migration.PlannedPhase{{Name: "copy", Kind: migration.PhaseCopy}}, t0)
	r.CurrentIndex = 0
	r.Phases[0].State, r.Phases[0].StartTime = migration.PhaseRunning, t0
	r.MergeLive(migration.Live{Percent: 40, Records: 400, Attempt: 1, Tables: []migration.TableProgress{
		{Table: "orders", RowsDone: 300, Total: 900, RowsPerSecond: 1500, ETASeconds: 0.4},
		{Table: "users", RowsDone: 100, Total: 100, Done: true},
	}}, t0.Add(time.Second))
	return r
}

func rolledBackReport() *migration.Report {
	r := migration.NewPlannedReport("legacy-move", "", []migration.PlannedPhase{{Name: "copy", Kind: migration.PhaseCopy}}, t0)
	r.Status, r.EndTime, r.Error = migration.StatusRolledBack, t0.Add(time.Minute), "rolled back: p99 too high"
	r.Phases[0].State = migration.PhaseCompensated
	r.Refresh(t0.Add(time.Minute))
	return r
}

func newFake() *fakeSource {
	return &fakeSource{
		listed: []control.Listed{
			{Name: "orders", Status: "WAITING_APPROVAL", Phase: "shift-traffic", StartTime: t0, Execution: "Running"},
			{Name: "legacy-move", Status: "ROLLED_BACK", Phase: "copy", StartTime: t0, Execution: "Failed"},
			{Name: "ghost", Status: "IN_PROGRESS", Phase: "copy", StartTime: t0, Execution: "Running"},
		},
		reports: map[string]*migration.Report{
			"orders": waitingReport(), "legacy-move": rolledBackReport(), "users": copyingReport(),
		},
	}
}

func newTestServer(t *testing.T, src Source, token string) *httptest.Server {
	t.Helper()
	h, err := New(Options{Source: src, Token: token, Namespace: "prod", UIURL: "http://ui.example:8233/", Now: func() time.Time { return t0.Add(2 * time.Minute) }})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string) (int, string, http.Header) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b), resp.Header
}

func TestListPage(t *testing.T) {
	src := newFake()
	srv := newTestServer(t, src, "")
	code, body, hdr := get(t, srv.URL+"/")
	require.Equal(t, http.StatusOK, code, body)
	assert.Equal(t, "text/html; charset=utf-8", hdr.Get("Content-Type"))
	assert.Contains(t, body, `<meta name="viewport" content="width=device-width, initial-scale=1">`)
	assert.Contains(t, body, `<a href="/migrations/orders">orders</a>`)
	assert.Contains(t, body, `<a href="/migrations/legacy-move">legacy-move</a>`)
	assert.Contains(t, body, `>ROLLED_BACK<`, "Godwit's status, not Temporal's Failed")
	assert.NotContains(t, body, ">Failed<")
	assert.Contains(t, body, `role="progressbar" aria-label="orders progress" aria-valuemin="0" aria-valuemax="100" aria-valuenow="88"`) // copy and reconcile done weigh RowsShare
	assert.Contains(t, body, "3 of 3: shift-traffic, step 1 of 3: go-live", "the report's current phase")
	assert.Contains(t, body, "2026-03-14 09:30:00 UTC")
	assert.Contains(t, body, `<td data-label="Risk">`+waitingReport().Risk+`</td>`)
	assert.Contains(t, body, "report not read: no migration named &#34;ghost&#34;", "a row whose report cannot be read says why")
	assert.Contains(t, body, `<label for="status-filter">Status</label>`)
	assert.Contains(t, body, `src="/assets/dashboard.js"`)
	assert.NotContains(t, body, "http://", "nothing is loaded from another host")

	code, _, _ = get(t, srv.URL+"/?status=rolled_back")
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, migration.StatusRolledBack, src.statuses[len(src.statuses)-1], "the filter reaches the visibility query")

	code, body, _ = get(t, srv.URL+"/?status=DONE")
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Contains(t, body, `status &#34;DONE&#34;: use one of IN_PROGRESS`)
}

func TestListPageEmptyAndFailing(t *testing.T) {
	srv := newTestServer(t, &fakeSource{}, "")
	code, body, _ := get(t, srv.URL+"/")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "No migrations yet: start one with godwit start -f SPEC.")

	srv = newTestServer(t, &fakeSource{listErr: errors.New("list migrations: connection refused")}, "")
	code, body, _ = get(t, srv.URL+"/")
	assert.Equal(t, http.StatusBadGateway, code)
	assert.Contains(t, body, `role="alert">list migrations: connection refused`)
}

func TestRunPage(t *testing.T) {
	srv := newTestServer(t, newFake(), "")
	code, body, _ := get(t, srv.URL+"/migrations/orders")
	require.Equal(t, http.StatusOK, code, body)
	for _, want := range []string{
		`<h1>Migration orders <span class="status attention" id="run-status">WAITING_APPROVAL</span></h1>`,
		`Waiting for approval of gate <strong id="waiting-gate">go-live</strong>`,
		`aria-current="step"`,
		`<span class="state">COMPLETED</span>`,
		`58s`,                  // the copy's duration
		`step 1 of 3: go-live`, // the running phase's step
		`all checks passed`,    // a summary
		`role="progressbar" aria-label="phase copy progress" aria-valuemin="0" aria-valuemax="100" aria-valuenow="100" aria-valuetext="100%, 1,000 records"`,
		`<svg role="img" aria-label="Copy rate: no samples yet.`,
		`No samples yet: no replicate phase has measured its lag.`,
		`<svg role="img" aria-label="Error rate (work failed for good) from`,
		`<dt>Risk Assessment</dt>`,
		`<h2 id="team-h">Technical team update</h2>`,
		`href="http://ui.example:8233/namespaces/prod/workflows/orders"`,
		`Read-only: start the dashboard with GODWIT_DASHBOARD_TOKEN set to allow actions.`,
		`<button type="submit" id="approve" disabled>Approve gate go-live</button>`,
	} {
		assert.Contains(t, body, want)
	}
	assert.NotContains(t, body, `id="token"`, "no token field on a read-only dashboard")

	code, body, _ = get(t, srv.URL+"/migrations/nope")
	assert.Equal(t, http.StatusNotFound, code)
	assert.Contains(t, body, "no migration named &#34;nope&#34;")
}

func TestRunPageWithToken(t *testing.T) {
	srv := newTestServer(t, newFake(), "s3cret")
	_, body, _ := get(t, srv.URL+"/migrations/orders")
	assert.Contains(t, body, `<button type="submit" id="approve">Approve gate go-live</button>`)
	assert.Contains(t, body, `<button type="button" data-action="pause" id="pause">Pause</button>`)
	assert.Contains(t, body, `<button type="button" data-action="resume" id="resume" disabled>Resume</button>`, "not paused: nothing to resume")
	assert.Contains(t, body, `<input id="token" name="token" type="password"`)
	assert.NotContains(t, body, "s3cret", "the token never reaches a page")

	_, body, _ = get(t, srv.URL+"/migrations/legacy-move")
	assert.Contains(t, body, `id="run-status">ROLLED_BACK</span>`)
	assert.Contains(t, body, `The migration has ended (ROLLED_BACK): nothing to steer.`)
	for _, gone := range []string{`id="rollback"`, `id="approve"`, `id="token"`, `id="reason"`} {
		assert.NotContains(t, body, gone, "an ended run offers no action form, only the note")
	}
}

func TestRunPageCopyTables(t *testing.T) {
	srv := newTestServer(t, newFake(), "")
	_, body, _ := get(t, srv.URL+"/migrations/users")
	assert.Contains(t, body, `aria-label="table orders copy progress" aria-valuemin="0" aria-valuemax="100" aria-valuenow="33" aria-valuetext="orders: 300 / 900 rows"`)
	assert.Contains(t, body, `<span class="rate">1,500 rows/s</span> <span class="eta">ETA 0s</span>`)
	assert.Contains(t, body, `aria-valuenow="100" aria-valuetext="users: 100 / 100 rows, done"`)
	assert.Contains(t, body, `<svg role="img" aria-label="Copy rate from`, "the heartbeat's rates are a sample")
	assert.Contains(t, body, "latest rows/s 1500 rows/s")
}

func TestAPIRead(t *testing.T) {
	srv := newTestServer(t, newFake(), "")
	code, body, hdr := get(t, srv.URL+"/api/migrations/orders")
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "application/json", hdr.Get("Content-Type"))
	want, err := json.MarshalIndent(waitingReport(), "", "  ")
	require.NoError(t, err)
	assert.JSONEq(t, string(want), body, "the report as godwit status -o json prints it")

	code, body, _ = get(t, srv.URL+"/api/migrations/nope")
	assert.Equal(t, http.StatusNotFound, code)
	assert.JSONEq(t, `{"error":"no migration named \"nope\" in this namespace: see `+"`godwit list`"+`"}`, body)

	code, body, _ = get(t, srv.URL+"/api/migrations")
	require.Equal(t, http.StatusOK, code)
	var list []map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &list), body)
	require.Len(t, list, 3)
	assert.Equal(t, "ROLLED_BACK", list[1]["status"])
	assert.Equal(t, "LOW", list[1]["risk"])
	assert.Nil(t, list[2]["progress"])
	assert.Contains(t, list[2]["problem"], "no migration named")

	code, _, _ = get(t, srv.URL+"/api/migrations?status=nope")
	assert.Equal(t, http.StatusBadRequest, code)
}

func post(t *testing.T, url, contentType, auth, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func TestActions(t *testing.T) {
	const token = "s3cret"
	const bearer = "Bearer " + token
	const jsonType = "application/json"
	tests := []struct {
		name        string
		token       string // configured
		path        string
		contentType string
		auth        string
		body        string
		approveErr  error
		wantCode    int
		wantBody    string
		check       func(t *testing.T, f *fakeSource)
	}{
		{name: "read-only without a configured token", path: "orders/approve", contentType: jsonType, auth: bearer,
			body: `{"gate":"go-live"}`, wantCode: 403, wantBody: "read-only: start it with GODWIT_DASHBOARD_TOKEN"},
		{name: "no token sent, checked before the content type", token: token, path: "orders/approve", contentType: "text/plain",
			body: `nonsense`, wantCode: 401, wantBody: `send the dashboard's token as \"Authorization: Bearer TOKEN\"`},
		{name: "wrong token", token: token, path: "orders/rollback", contentType: jsonType, auth: "Bearer guess",
			body: `{"reason":"x"}`, wantCode: 401},
		{name: "token of another scheme", token: token, path: "orders/pause", contentType: jsonType, auth: "Basic " + token,
			body: `{}`, wantCode: 401},
		{name: "not JSON", token: token, path: "orders/approve", contentType: "application/x-www-form-urlencoded", auth: bearer,
			body: `gate=go-live`, wantCode: 415, wantBody: `the body must be application/json`},
		{name: "malformed JSON", token: token, path: "orders/approve", contentType: jsonType, auth: bearer,
			body: `{"gate":`, wantCode: 400, wantBody: `the body must be a JSON object`},
		{name: "unknown field", token: token, path: "orders/approve", contentType: jsonType, auth: bearer,
			body: `{"gates":"go-live"}`, wantCode: 400, wantBody: `unknown field \"gates\"`},
		{name: "approve without a gate", token: token, path: "orders/approve", contentType: "application/json; charset=utf-8", auth: bearer,
			body: `{}`, wantCode: 400, wantBody: `approve needs the gate's name`},
		{name: "wrong gate refused by the migration", token: token, path: "orders/approve", contentType: jsonType, auth: bearer,
			body:       `{"gate":"nope","by":"ana"}`,
			approveErr: &control.Error{Kind: control.KindRefused, Err: errors.New(`gate "nope" is not waiting for approval; the waiting gate is "go-live"`)},
			wantCode:   409, wantBody: `gate \"nope\" is not waiting for approval; the waiting gate is \"go-live\"`},
		{name: "approved", token: token, path: "orders/approve", contentType: jsonType, auth: bearer,
			body: `{"gate":"go-live","by":"ana","reason":"load test green"}`, wantCode: 200,
			wantBody: `gate go-live approved by ana: migration orders goes on with phase shift-traffic`,
			check: func(t *testing.T, f *fakeSource) {
				assert.Equal(t, []workflows.ApproveRequest{{Gate: "go-live", By: "ana", Reason: "load test green"}}, f.approves)
			}},
		{name: "by defaults to dashboard", token: token, path: "orders/pause", contentType: jsonType, auth: bearer,
			body: `{"reason":"load spike"}`, wantCode: 200, wantBody: `pause sent to migration orders (now WAITING_APPROVAL`,
			check: func(t *testing.T, f *fakeSource) {
				assert.Equal(t, []workflows.PauseRequest{{Reason: "load spike", By: "dashboard"}}, f.pauses)
			}},
		{name: "resume", token: token, path: "orders/resume", contentType: jsonType, auth: bearer,
			body: `{"by":"ana"}`, wantCode: 200, wantBody: `resume sent to migration orders`},
		{name: "rollback needs a reason", token: token, path: "orders/rollback", contentType: jsonType, auth: bearer,
			body: `{"by":"ana"}`, wantCode: 400, wantBody: `rollback needs a reason`,
			check: func(t *testing.T, f *fakeSource) { assert.Empty(t, f.rollback) }},
		{name: "rollback", token: token, path: "orders/rollback", contentType: jsonType, auth: bearer,
			body: `{"by":"ana","reason":"p99 too high"}`, wantCode: 200, wantBody: `rollback requested for migration orders`,
			check: func(t *testing.T, f *fakeSource) {
				assert.Equal(t, []workflows.RollbackRequest{{Reason: "p99 too high", By: "ana"}}, f.rollback)
			}},
		{name: "ended migration", token: token, path: "legacy-move/pause", contentType: jsonType, auth: bearer,
			body: `{}`, wantCode: 409, wantBody: `has already ended (ROLLED_BACK): nothing to steer`},
		{name: "missing migration", token: token, path: "nope/resume", contentType: jsonType, auth: bearer,
			body: `{}`, wantCode: 404, wantBody: `no migration named \"nope\"`},
		{name: "unknown action", token: token, path: "orders/promote", contentType: jsonType, auth: bearer,
			body: `{}`, wantCode: 404, wantBody: `no API POST /api/migrations/orders/promote: the API is`},
		{name: "approve without a reason", token: token, path: "orders/approve", contentType: jsonType, auth: bearer,
			body: `{"gate":"go-live"}`, wantCode: 200, wantBody: `gate go-live approved by dashboard`,
			check: func(t *testing.T, f *fakeSource) {
				assert.Equal(t, []workflows.ApproveRequest{{Gate: "go-live", By: "dashboard"}}, f.approves, "reason is optional for approve")
			}},
		{name: "no token sent with a malformed body: 401 before 400", token: token, path: "orders/rollback", contentType: jsonType,
			body: `{"reason":`, wantCode: 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := newFake()
			src.approveErr = tt.approveErr
			srv := newTestServer(t, src, tt.token)
			code, body := post(t, srv.URL+"/api/migrations/"+tt.path, tt.contentType, tt.auth, tt.body)
			assert.Equal(t, tt.wantCode, code, body)
			assert.Contains(t, body, tt.wantBody)
			assert.True(t, json.Valid([]byte(body)), "a JSON answer: %s", body)
			if tt.wantCode == 401 {
				assert.Empty(t, src.approves)
				assert.Empty(t, src.pauses)
				assert.Empty(t, src.rollback)
			}
			if tt.check != nil {
				tt.check(t, src)
			}
		})
	}
}

func TestAssetsAreEmbedded(t *testing.T) {
	srv := newTestServer(t, newFake(), "")
	code, body, _ := get(t, srv.URL+"/assets/dashboard.js")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "[data-live]")
	code, body, _ = get(t, srv.URL+"/assets/dashboard.css")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "@media (max-width: 40rem)")
}

func TestListReadsTheMemoSummaryInsteadOfQueryingEachRun(t *testing.T) {
	src := newFake()
	src.listed = append(src.listed, control.Listed{
		Name: "memo-run", Status: "WAITING_APPROVAL", Phase: "shift-traffic", StartTime: t0, Execution: "Running",
		LastKnown: &migration.Summary{
			Status: migration.StatusWaitingApproval, Phase: "shift-traffic", PhaseIndex: 2, PhaseCount: 4,
			PhaseState: migration.PhasePending, Gate: "go-live", Progress: 42, Risk: "MEDIUM",
			UpdatedAt: t0.Add(90 * time.Second),
		},
	})
	srv := newTestServer(t, src, "")
	code, body, _ := get(t, srv.URL+"/")
	require.Equal(t, http.StatusOK, code, body)
	src.mu.Lock()
	asked := src.asked["memo-run"]
	fallback := src.asked["orders"]
	src.mu.Unlock()
	assert.Zero(t, asked, "a run with a memo summary is not queried")
	assert.Equal(t, 1, fallback, "a run without one is read as before")
	assert.Contains(t, body, `aria-label="memo-run progress" aria-valuemin="0" aria-valuemax="100" aria-valuenow="42"`)
	assert.Contains(t, body, "3 of 4: shift-traffic")
	assert.Contains(t, body, `as of <time datetime="2026-03-14T09:31:30Z">2026-03-14 09:31:30 UTC</time>`)

	code, body, _ = get(t, srv.URL+"/api/migrations")
	require.Equal(t, http.StatusOK, code, body)
	var items []map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &items))
	require.Len(t, items, 4)
	assert.Equal(t, map[string]any{"name": "memo-run", "status": "WAITING_APPROVAL", "phase": "3 of 4: shift-traffic",
		"progress": 42.0, "risk": "MEDIUM", "startTime": "2026-03-14T09:30:00Z", "asOf": "2026-03-14T09:31:30Z"}, items[3])
}

// A rollback a person asked for is a deliberate outcome: the run page says
// who asked and why, without the red error box, and neither the page nor
// the list colours it as a failure; a rollback after a failure still shows
// the failure's reason as an error.
func TestRequestedRollbackIsNotAnError(t *testing.T) {
	requested := func(status migration.Status) *migration.Report {
		r := migration.NewPlannedReport("asked", "", []migration.PlannedPhase{{Name: "copy", Kind: migration.PhaseCopy}}, t0)
		note := migration.RollbackRequestNote("alice", "p99 too high")
		r.Status, r.RollbackNote, r.Error = status, note, note
		r.Phases[0].State = migration.PhaseCompensated
		if status == migration.StatusRolledBack {
			r.EndTime = t0.Add(time.Minute)
		}
		r.Refresh(t0.Add(time.Minute))
		return r
	}
	failed := rolledBackReport()
	failed.Name, failed.Error = "failed", "phase copy failed: connection refused"
	src := &fakeSource{
		listed: []control.Listed{
			{Name: "asked", Status: "ROLLED_BACK", Phase: "copy", StartTime: t0, Execution: "Completed"},
			{Name: "failed", Status: "ROLLED_BACK", Phase: "copy", StartTime: t0, Execution: "Failed"},
		},
		reports: map[string]*migration.Report{"asked": requested(migration.StatusRolledBack), "failed": failed},
	}
	srv := newTestServer(t, src, "")
	_, body, _ := get(t, srv.URL+"/migrations/asked")
	assert.Contains(t, body, `id="run-status">ROLLED_BACK</span>`)
	assert.NotContains(t, body, `class="status bad"`)
	assert.NotContains(t, body, `class="error"`, "a requested rollback is not an error")
	assert.Contains(t, body, `<p class="outcome" id="run-outcome">Rolled back on request: nothing failed; the rollback was asked for by alice: p99 too high.</p>`)

	src.reports["asked"] = requested(migration.StatusRollingBack)
	_, body, _ = get(t, srv.URL+"/migrations/asked")
	assert.Contains(t, body, `<span class="status attention" id="run-status">ROLLING_BACK</span>`, "not red while it rolls back on request")
	assert.Contains(t, body, `Rolling back on request: nothing failed; the rollback was asked for by alice: p99 too high.`)
	assert.NotContains(t, body, `class="error"`)

	_, body, _ = get(t, srv.URL+"/migrations/failed")
	assert.Contains(t, body, `<p class="error" role="alert">phase copy failed: connection refused</p>`, "a rollback after a failure shows the failure")
	assert.NotContains(t, body, `run-outcome`)

	blocked := requested(migration.StatusRollbackFailed)
	blocked.Error = migration.RollbackRequestNote("alice", "p99 too high") + "; then rollback failed: drop table orders: permission denied"
	src.reports["asked"] = blocked
	_, body, _ = get(t, srv.URL+"/migrations/asked")
	assert.Contains(t, body, `then rollback failed: drop table orders: permission denied</p>`, "a requested rollback that then failed shows that failure")
	assert.Contains(t, body, `<p class="error" role="alert">`)

	src.reports["asked"] = requested(migration.StatusRollingBack)
	_, body, _ = get(t, srv.URL+"/")
	assert.Contains(t, body, `<span class="status attention">ROLLING_BACK</span>`, "the list does not colour it as a failure either")
	// The same from the run's memo summary.
	sum := requested(migration.StatusRollingBack).Summary(t0)
	require.True(t, sum.RequestedRollback)
	src.mu.Lock()
	src.listed = []control.Listed{{Name: "asked", Status: "ROLLING_BACK", StartTime: t0, Execution: "Running", LastKnown: &sum}}
	src.mu.Unlock()
	_, body, _ = get(t, srv.URL+"/")
	assert.Contains(t, body, `<span class="status attention">ROLLING_BACK</span>`, "nor from the memo summary")
}

// A running run whose worker does not answer its status query shows the
// state it kept in its memo at its last phase boundary, marked as last
// known with its time and the warning, instead of an error page; the API
// answers the error with the summary beside it.
func TestRunPageShowsTheLastKnownStateWhenNoWorkerAnswers(t *testing.T) {
	src := newFake()
	noWorker := &control.NoWorkerError{Name: "stalled", TaskQueue: "godwit", Timeout: 5 * time.Second,
		LastKnown: &migration.Summary{
			Status: migration.StatusWaitingApproval, Phase: "shift-traffic", PhaseIndex: 2, PhaseCount: 4,
			PhaseState: migration.PhasePending, Gate: "go-live", Progress: 42, Risk: "MEDIUM",
			Error: "copy orders: deadlock, retried", UpdatedAt: t0.Add(90 * time.Second),
		}}
	src.statusErr = map[string]error{
		"stalled": noWorker,
		"blank":   &control.NoWorkerError{Name: "blank", TaskQueue: "godwit", Timeout: 5 * time.Second, LastKnownProblem: "decode memo godwitSummary: no key"},
	}
	srv := newTestServer(t, src, "")
	code, body, _ := get(t, srv.URL+"/migrations/stalled")
	require.Equal(t, http.StatusOK, code, body)
	for _, want := range []string{
		`data-page="lastknown"`,
		`<h1>Migration stalled <span class="status attention" id="run-status">WAITING_APPROVAL</span></h1>`,
		`<strong>Last known at <time datetime="2026-03-14T09:31:30Z">2026-03-14 09:31:30 UTC</time></strong>: no worker answers`,
		`no worker answered its status query within 5s: is godwit-worker running on task queue godwit?`,
		`aria-label="overall progress (last known)" aria-valuemin="0" aria-valuemax="100" aria-valuenow="42"`,
		`<dd>3 of 4: shift-traffic (PENDING)</dd>`,
		`<dd id="waiting-gate">go-live</dd>`,
		`<dd>MEDIUM</dd>`,
		`Last error: copy orders: deadlock, retried`,
		`href="http://ui.example:8233/namespaces/prod/workflows/stalled"`,
	} {
		assert.Contains(t, body, want)
	}
	assert.NotContains(t, body, `id="approve"`, "no action is offered while no worker answers")
	_, body, _ = get(t, srv.URL+"/migrations/stalled?view=plain")
	assert.Contains(t, body, `id="run-status">Waiting for approval</span>`)
	assert.Contains(t, body, `<dd>Step 3 of 4: shift-traffic (not started yet)</dd>`)
	assert.Contains(t, body, `<dd>Medium</dd>`)

	code, body, _ = get(t, srv.URL+"/migrations/blank")
	assert.Equal(t, http.StatusBadGateway, code, "without a summary the error stays")
	assert.Contains(t, body, "the last known state cannot be shown: decode memo godwitSummary: no key")

	code, body, _ = get(t, srv.URL+"/api/migrations/stalled")
	assert.Equal(t, http.StatusBadGateway, code)
	var out struct {
		Error     string
		LastKnown migration.Summary
	}
	require.NoError(t, json.Unmarshal([]byte(body), &out), body)
	assert.Contains(t, out.Error, "no worker answered its status query")
	assert.Equal(t, *noWorker.LastKnown, out.LastKnown)
}

// The run page reads the gateway's stats on the traffic phase's route, as
// godwit status --format exec does: the gateway error-rate chart gets a
// point per read and the executive summary its availability; the route is
// found in the run's spec once. A gateway that does not answer leaves the
// chart empty with a note saying why.
func TestRunPageReadsTheGatewaysStats(t *testing.T) {
	src := newFake()
	gw := fakeGateway(t)
	src.specs = map[string]*config.Spec{"orders": trafficSpec(gw.URL)}
	srv := newTestServer(t, src, "")
	code, body, _ := get(t, srv.URL+"/migrations/orders")
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, `<figure class="chart" id="chart-gateway-errors">`)
	assert.Contains(t, body, `<svg role="img" aria-label="Gateway error rate from`)
	assert.Contains(t, body, "latest new 4 %, legacy 0 %; highest 4 %.")
	assert.Contains(t, body, "System Availability: 99.00% (198 of 200 requests answered without error over the last 1m0s, gateway "+gw.URL+", route users)", "the executive summary's availability")
	_, _, _ = get(t, srv.URL+"/migrations/orders")
	src.mu.Lock()
	assert.Equal(t, 1, src.specsRead, "the route is read from the spec once per run")
	src.mu.Unlock()

	down := newFake()
	dead := fakeGateway(t)
	dead.Close()
	down.specs = map[string]*config.Spec{"orders": trafficSpec(dead.URL)}
	_, body, _ = get(t, newTestServer(t, down, "").URL+"/migrations/orders")
	assert.Contains(t, body, `<svg role="img" aria-label="Gateway error rate: no samples yet. the gateway&#39;s stats were not read: gateway `+dead.URL+`, route users did not answer`)

	// A traffic phase whose driver names no gateway: said once, remembered.
	hook := newFake()
	hook.specs = map[string]*config.Spec{"orders": {Name: "orders", Phases: []config.PhaseSpec{{Name: "shift-traffic"}}}}
	hookSrv := newTestServer(t, hook, "")
	_, body, _ = get(t, hookSrv.URL+"/migrations/orders")
	assert.Contains(t, body, "the gateway&#39;s stats were not read: traffic phase shift-traffic&#39;s")
	_, _, _ = get(t, hookSrv.URL+"/migrations/orders")
	hook.mu.Lock()
	assert.Equal(t, 1, hook.specsRead, "a spec that names no gateway is read once")
	hook.mu.Unlock()

	_, body, _ = get(t, newTestServer(t, newFake(), "").URL+"/migrations/users")
	assert.Contains(t, body, "No samples yet: no traffic phase has sent requests through the gateway while the dashboard watched.", "a run without a traffic phase reads no gateway")
	_, body, _ = get(t, newTestServer(t, newFake(), "").URL+"/migrations/legacy-move")
	assert.Contains(t, body, "No samples yet: the gateway&#39;s stats were not read: the migration ended ROLLED_BACK", "an ended run's gateway figures would not describe it")
}

// The charts start from the series the workflow kept at its boundaries
// (rep.Series), so a dashboard that just started draws the run's past;
// its own live points are merged in time order.
func TestChartsDrawTheWorkflowsSeriesAfterARestart(t *testing.T) {
	src := newFake()
	lag, read, write := 3.0, 50.0, 50.0
	rep := src.reports["orders"]
	rep.Series = []migration.Point{
		{At: t0, Records: 0},
		{At: t0.Add(time.Minute), Records: 1200, LagSeconds: &lag},
		{At: t0.Add(90 * time.Second), Records: 1200, LagSeconds: &lag, ReadWeight: &read, WriteWeight: &write},
	}
	srv := newTestServer(t, src, "") // a fresh dashboard: no live point yet
	_, body, _ := get(t, srv.URL+"/migrations/orders")
	span := "from " + t0.Local().Format(time.TimeOnly) + " to " + t0.Add(2*time.Minute).Local().Format(time.TimeOnly) // the charts' local time
	assert.Contains(t, body, `<svg role="img" aria-label="Copy rate `+span+`: latest rows/s 0 rows/s; highest 20 rows/s.`,
		"1,200 records over the first minute, none since; the live point (2 minutes in) is last")
	assert.Contains(t, body, `<svg role="img" aria-label="Replication lag `+span+`: latest lag 3 s; highest 3 s.`)
	assert.Contains(t, body, `<svg role="img" aria-label="Traffic weights on new `+span+`: latest reads 50 %, writes 50 %; highest 50 %.`)

	live := []sample{{At: t0.Add(30 * time.Second)}, {At: t0.Add(2 * time.Minute)}}
	got := merged(rep, live)
	require.Len(t, got, 5)
	for i := 1; i < len(got); i++ {
		assert.False(t, got[i].At.Before(got[i-1].At), "in time order at %d: %v", i, got)
	}
	assert.Equal(t, t0.Add(30*time.Second), got[1].At, "a live point between the workflow's")
}

// The run page of a run rolled back at its gate: the phase behind the
// gate never runs, and must not read as PENDING at a gate still waiting.
func TestRunPageShowsAPhaseTheEndedRunNeverReachedAsNotRun(t *testing.T) {
	r := migration.NewReport("held", "", []migration.Phase{migration.PhaseCopy, migration.PhaseReconcile},
		map[migration.Phase]string{migration.PhaseReconcile: "go-live"}, t0)
	r.Phases[0].State = migration.PhaseCompensated
	r.Status, r.EndTime, r.CurrentIndex = migration.StatusRolledBack, t0.Add(time.Minute), -1
	r.Refresh(r.EndTime)
	f := newFake()
	f.reports["held"] = r
	_, body, _ := get(t, newTestServer(t, f, "").URL+"/migrations/held")
	assert.Contains(t, body, `<span class="state">NOT_RUN</span>`)
	assert.Contains(t, body, `gate go-live (never opened)`)
	assert.NotContains(t, body, `<span class="state">PENDING</span>`)
}

// A run terminated by hand while it waited at a gate keeps that boundary in
// its memo; the list says it ended, not that it still waits for approval.
func TestListSaysARunEndedOutsideGodwitEnded(t *testing.T) {
	src := newFake()
	src.listed = []control.Listed{{
		Name: "cut", Status: "WAITING_APPROVAL", Phase: "contract", StartTime: t0, Execution: "Terminated",
		LastKnown: &migration.Summary{
			Status: migration.StatusWaitingApproval, Phase: "contract", PhaseIndex: 2, PhaseCount: 3,
			PhaseState: migration.PhasePending, Gate: "contract", Progress: 66.7, Risk: "HIGH", UpdatedAt: t0.Add(time.Minute),
		},
	}}
	srv := newTestServer(t, src, "")
	_, body, _ := get(t, srv.URL+"/api/migrations")
	var items []map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &items))
	require.Len(t, items, 1)
	assert.Equal(t, "TERMINATED", items[0]["status"])
	assert.Equal(t, "ended outside Godwit; last known: WAITING_APPROVAL, 3 of 3: contract", items[0]["phase"])
	_, page, _ := get(t, srv.URL+"/")
	assert.Contains(t, page, `<span class="status bad">TERMINATED</span>`)
	assert.NotContains(t, page, `<span class="status attention">WAITING_APPROVAL</span>`)
}

// A run terminated by hand left no report: Temporal answered, so the API
// says the run is gone (410), not that a gateway failed (502).
func TestARunEndedWithoutAReportIsGone(t *testing.T) {
	src := newFake()
	src.statusErr = map[string]error{"cut": fmt.Errorf("migration cut %w (terminated or timed out outside Godwit): %w", control.ErrNoReport, errors.New("terminated"))}
	srv := newTestServer(t, src, "")
	code, body, _ := get(t, srv.URL+"/api/migrations/cut")
	assert.Equal(t, http.StatusGone, code, body)
	assert.Contains(t, body, "ended without a report")
}

// The run page says in plain words what the run does, what comes next and
// whether someone has to act, for each state a person watching meets.
func TestRunPageSaysWhatHappensNowInPlainWords(t *testing.T) {
	newRun := func() *migration.Report {
		r := migration.NewReport("orders", "", []migration.Phase{migration.PhaseValidate, migration.PhaseCopy, migration.PhaseReconcile},
			map[migration.Phase]string{migration.PhaseReconcile: "go-live"}, t0)
		r.Phases[0].State, r.Phases[0].Progress = migration.PhaseCompleted, 100
		return r
	}
	cases := []struct {
		name  string
		setup func(r *migration.Report)
		want  string
	}{
		{"copying, a gate ahead", func(r *migration.Report) {
			r.Status, r.CurrentIndex = migration.StatusInProgress, 1
			r.Phases[1].State, r.Phases[1].Progress = migration.PhaseRunning, 40
		}, "Running phase 2 of 3, copy. Nothing to do: it goes on by itself. It will stop and wait for someone to approve gate go-live before phase reconcile."},
		{"paused mid-copy", func(r *migration.Report) {
			r.Status, r.CurrentIndex, r.Paused = migration.StatusPaused, 1, true
			r.Phases[1].State, r.Phases[1].Progress = migration.PhasePaused, 96
		}, "Paused: phase copy stopped at 96% and keeps what it has done. Nothing runs until someone resumes it (the Resume button, or godwit resume orders); it then goes on from where it stopped."},
		{"paused by a person, with a reason", func(r *migration.Report) {
			r.Status, r.CurrentIndex, r.Paused = migration.StatusPaused, 1, true
			r.Phases[1].State, r.Phases[1].Progress = migration.PhasePaused, 96
			r.SetPause("ana", "waiting for DBA", t0.Add(time.Minute))
		}, "Paused by ana: waiting for DBA. Paused: phase copy stopped at 96% and keeps what it has done. Nothing runs until someone resumes it (the Resume button, or godwit resume orders); it then goes on from where it stopped."},
		{"waiting at a gate", func(r *migration.Report) {
			r.Status, r.CurrentIndex, r.WaitingGate, r.Rollback = migration.StatusWaitingApproval, 2, "go-live", migration.RollbackAvailable
			r.Phases[1].State, r.Phases[1].Progress = migration.PhaseCompleted, 100
		}, "Waiting for a person: nothing moves until someone approves gate go-live before phase reconcile starts (the Approve button, or godwit approve orders --gate go-live). Rolling back instead undoes what has been done so far."},
		{"rolled back after a failure", func(r *migration.Report) {
			r.Status, r.CurrentIndex, r.EndTime = migration.StatusRolledBack, -1, t0.Add(time.Minute)
			r.Error = "phase reconcile failed: 5 rows missing"
			r.Rollback, r.RollbackNote = migration.RollbackDone, r.Error
			r.Phases[0].State, r.Phases[1].State, r.Phases[2].State = migration.PhaseCompensated, migration.PhaseCompensated, migration.PhaseFailed
		}, "Stopped and undone: phase reconcile failed (the error below says why), so every phase that had run was undone, the last first. To try again, fix the cause and start the migration again."},
		{"finished", func(r *migration.Report) {
			r.Status, r.CurrentIndex, r.EndTime = migration.StatusCompleted, -1, t0.Add(time.Minute)
			for i := range r.Phases {
				r.Phases[i].State, r.Phases[i].Progress = migration.PhaseCompleted, 100
			}
		}, "Finished: every phase completed. Nothing left to do."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRun()
			tc.setup(r)
			f := newFake()
			f.reports["orders"] = r
			_, body, _ := get(t, newTestServer(t, f, "").URL+"/migrations/orders")
			assert.Contains(t, body, `<p class="now" id="run-now">`+template.HTMLEscapeString(tc.want)+`</p>`)
			if r.Error != "" {
				assert.Contains(t, body, `<dt>Rollback</dt><dd>DONE</dd>`, "the rollback's note does not repeat the run's error, shown just below")
			}
		})
	}
}

// The plain view's sentence names phases as its list does, as steps.
func TestPlainViewSaysStepsInItsSentenceToo(t *testing.T) {
	r := migration.NewReport("orders", "", []migration.Phase{migration.PhaseValidate, migration.PhaseCopy, migration.PhaseReconcile},
		map[migration.Phase]string{migration.PhaseReconcile: "go-live"}, t0)
	r.Phases[0].State, r.Phases[0].Progress = migration.PhaseCompleted, 100
	r.Status, r.CurrentIndex = migration.StatusInProgress, 1
	r.Phases[1].State, r.Phases[1].Progress = migration.PhaseRunning, 40
	f := newFake()
	f.reports["orders"] = r
	srv := newTestServer(t, f, "")
	_, body, _ := get(t, srv.URL+"/migrations/orders?view=plain")
	assert.Contains(t, body, `<p class="now" id="run-now">Running step 2 of 3, copy. Nothing to do: it goes on by itself. It will stop and wait for someone to approve gate go-live before step reconcile.</p>`)
	_, body, _ = get(t, srv.URL+"/migrations/orders")
	assert.Contains(t, body, `<p class="now" id="run-now">Running phase 2 of 3, copy.`)
}

// A phase a pause stopped shows the duration it ran, not the time since it
// started: the pause is not work.
func TestRunPagePausedPhaseDurationStopsAtThePause(t *testing.T) {
	r := migration.NewReport("orders", "", []migration.Phase{migration.PhaseCopy}, nil, t0)
	r.CurrentIndex = 0
	r.Phases[0].State, r.Phases[0].StartTime, r.Phases[0].Records = migration.PhaseRunning, t0, 54000
	r.Status, r.Paused = migration.StatusPaused, true
	r.Refresh(t0.Add(18 * time.Second)) // the pause's boundary
	r.ShowPaused()
	f := newFake()
	f.reports["orders"] = r
	_, body, _ := get(t, newTestServer(t, f, "").URL+"/migrations/orders") // two minutes after t0
	assert.Contains(t, body, "<span>18s</span>")
	assert.NotContains(t, body, "<span>2m0s</span>")
}

// The run page says who paused the run, since when and why, and a phase a
// pause held shows its working time with the pause apart.
func TestRunPageSaysWhoPausedAndThePauseApartFromAPhasesTime(t *testing.T) {
	r := migration.NewReport("orders", "", []migration.Phase{migration.PhaseValidate, migration.PhaseCopy}, nil, t0)
	r.CurrentIndex = 1
	r.Phases[0].State, r.Phases[0].StartTime, r.Phases[0].EndTime = migration.PhaseCompleted, t0, t0.Add(34*time.Minute)
	r.Phases[0].Pauses = []migration.PauseSpan{{Start: t0.Add(time.Minute), End: t0.Add(31 * time.Minute)}}
	r.Status, r.Paused = migration.StatusPaused, true
	r.SetPause("ana", "waiting for DBA", t0.Add(35*time.Minute))
	r.Refresh(t0.Add(35 * time.Minute))
	f := newFake()
	f.reports["orders"] = r
	_, body, _ := get(t, newTestServer(t, f, "").URL+"/migrations/orders")
	assert.Contains(t, body, `<dt>Paused</dt><dd id="run-paused">by ana since 2026-03-14 10:05:00 UTC (`)
	assert.Contains(t, body, `ago): waiting for DBA</dd>`)
	assert.Contains(t, body, "<span>4m0s (paused 30m0s)</span>")
	assert.Contains(t, body, "<li>✓ validate (4m0s (paused 30m0s))</li>", "the team update too")
}

// The plain view says statuses, states and where a run stands in words a
// person who is not an engineer follows; the engineer view and the JSON
// API keep the report's names.
func TestPlainViewSaysStatesInWords(t *testing.T) {
	done := migration.NewReport("done", "", []migration.Phase{migration.PhaseValidate, migration.PhaseProvision, migration.PhaseCopy,
		migration.PhaseReconcile, migration.PhaseShiftTraffic}, nil, t0)
	for i := range done.Phases {
		done.Phases[i].State, done.Phases[i].Progress = migration.PhaseCompleted, 100
	}
	done.Status, done.CurrentIndex, done.EndTime = migration.StatusCompleted, -1, t0.Add(time.Minute)
	done.Refresh(t0.Add(time.Minute))
	running := migration.NewReport("running", "", []migration.Phase{migration.PhaseValidate, migration.PhaseCopy}, nil, t0)
	running.Phases[0].State, running.Phases[0].Progress = migration.PhaseCompleted, 100
	running.Phases[1].State, running.Phases[1].StartTime = migration.PhaseRunning, t0
	running.CurrentIndex = 1
	running.Refresh(t0.Add(time.Minute))
	src := newFake()
	src.reports["done"], src.reports["running"] = done, running
	srv := newTestServer(t, src, "")

	cases := []struct {
		name, path    string
		plain, jargon []string
	}{
		{"completed", "/migrations/done",
			[]string{`id="run-status">Done</span>`, `<dt>Current step</dt><dd>All 5 steps done</dd>`, `<span class="state">Done</span>`, `<h2 id="phases-h">Steps</h2>`},
			[]string{"COMPLETED", "5 of 5: done", "Technical team update", "Current phase", ">Phases<"}},
		{"running", "/migrations/running",
			[]string{`id="run-status">Running</span>`, `<dd>Step 2 of 2: copy</dd>`, `<span class="state">Running</span>`, `<dt>Rollback</dt><dd>Can still be undone</dd>`, `<dt>Risk</dt><dd>Low</dd>`},
			[]string{"IN_PROGRESS", ">RUNNING<", "AVAILABLE"}},
		{"rolled back", "/migrations/legacy-move",
			[]string{`id="run-status">Undone (rolled back)</span>`, `<span class="state">Undone (rolled back)</span>`},
			[]string{"COMPENSATED", "ROLLED_BACK"}},
		{"the list", "/",
			[]string{`<span class="status attention">Waiting for approval</span>`, `<span class="status attention">Undone (rolled back)</span>`,
				`<option value="IN_PROGRESS">Running</option>`, `href="/migrations/orders?view=plain"`, `<input type="hidden" name="view" value="plain">`, `<th scope="col">Current step</th>`},
			[]string{`>WAITING_APPROVAL<`, `>ROLLED_BACK<`, "Current phase"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, body, _ := get(t, srv.URL+tc.path+"?view=plain")
			for _, w := range tc.plain {
				assert.Contains(t, body, w)
			}
			for _, w := range tc.jargon {
				assert.NotContains(t, body, w, "the plain view says it in words")
			}
			assert.Contains(t, body, `<a href="`+tc.path+`?view=engineer" id="view-engineer">Engineer view</a>`)

			_, body, _ = get(t, srv.URL+tc.path)
			assert.Contains(t, body, tc.jargon[0], "the engineer view keeps the report's names")
			assert.Contains(t, body, `id="view-plain">Plain words</a>`)
		})
	}
	_, body, _ := get(t, srv.URL+"/api/migrations/done?view=plain")
	assert.Contains(t, body, `"status": "COMPLETED"`, "the API speaks the report's names")
}

// A dashboard meant for people who are not engineers starts in the plain
// view (--view plain); ?view=engineer still shows the names.
func TestPlainViewAsTheDefault(t *testing.T) {
	h, err := New(Options{Source: newFake(), View: ViewPlain, Now: func() time.Time { return t0.Add(2 * time.Minute) }})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	_, body, _ := get(t, srv.URL+"/migrations/legacy-move")
	assert.Contains(t, body, `id="run-status">Undone (rolled back)</span>`)
	assert.Contains(t, body, `<a class="brand" href="/">`, "links in the default view need no parameter")
	_, body, _ = get(t, srv.URL+"/migrations/legacy-move?view=engineer")
	assert.Contains(t, body, `id="run-status">ROLLED_BACK</span>`)
	assert.Contains(t, body, `<a class="brand" href="/?view=engineer">`)
	_, err = New(Options{Source: newFake(), View: "fancy"})
	require.Error(t, err)
}

// In the list, a run undone on request and one undone after a failure both
// read ROLLED_BACK; the row says which, so a reader knows whether something
// went wrong without opening each run — from the report and from the memo.
func TestListSaysWhyARunWasRolledBack(t *testing.T) {
	asked := migration.NewPlannedReport("asked", "", []migration.PlannedPhase{{Name: "copy", Kind: migration.PhaseCopy}}, t0)
	note := migration.RollbackRequestNote("alice", "p99 too high")
	asked.Status, asked.RollbackNote, asked.Error = migration.StatusRolledBack, note, note
	asked.Phases[0].State = migration.PhaseCompensated
	asked.EndTime = t0.Add(time.Minute)
	asked.Refresh(t0.Add(time.Minute))
	failed := rolledBackReport()
	failed.Name, failed.Error = "failed", "phase copy failed: connection refused"
	src := &fakeSource{
		listed: []control.Listed{
			{Name: "asked", Status: "ROLLED_BACK", StartTime: t0, Execution: "Completed"},
			{Name: "failed", Status: "ROLLED_BACK", StartTime: t0, Execution: "Failed"},
		},
		reports: map[string]*migration.Report{"asked": asked, "failed": failed},
	}
	srv := newTestServer(t, src, "")
	_, body, _ := get(t, srv.URL+"/")
	assert.Contains(t, body, `<span class="status attention">ROLLED_BACK</span> <small class="why attention">on request</small>`)
	assert.Contains(t, body, `ROLLED_BACK</span> <small class="why bad">after a failure</small>`)
	_, body, _ = get(t, srv.URL+"/?view=plain")
	assert.Contains(t, body, `<small class="why attention">Asked for by a person; nothing failed</small>`)
	assert.Contains(t, body, `<small class="why bad">After a failure: open it to see why</small>`)

	// The same from the runs' memo summaries.
	sa, sf := asked.Summary(t0), failed.Summary(t0)
	src.mu.Lock()
	src.listed = []control.Listed{
		{Name: "asked", Status: "ROLLED_BACK", StartTime: t0, Execution: "Completed", LastKnown: &sa},
		{Name: "failed", Status: "ROLLED_BACK", StartTime: t0, Execution: "Failed", LastKnown: &sf},
	}
	src.mu.Unlock()
	_, body, _ = get(t, srv.URL+"/")
	assert.Contains(t, body, `<small class="why attention">on request</small>`)
	assert.Contains(t, body, `<small class="why bad">after a failure</small>`)

	// A run that is not rolling back says nothing of the kind.
	src.mu.Lock()
	src.listed = []control.Listed{{Name: "done", Status: "COMPLETED", StartTime: t0, Execution: "Completed", LastKnown: &migration.Summary{Status: migration.StatusCompleted}}}
	src.mu.Unlock()
	_, body, _ = get(t, srv.URL+"/")
	assert.NotContains(t, body, `class="why`)
}

// The plain view says what each step's gate means for the reader (approved
// by whom, awaited now, needed before it starts, never reached) instead of
// "gate go-live", and names the Temporal UI link for engineers; the
// engineer view keeps its words.
func TestPlainViewSaysWhatAGateMeans(t *testing.T) {
	r := migration.NewPlannedReport("gated", "", []migration.PlannedPhase{
		{Name: "validate", Kind: migration.PhaseValidate, Gate: "schema"},
		{Name: "copy", Kind: migration.PhaseCopy, Gate: "go-live"},
		{Name: "reconcile", Kind: migration.PhaseReconcile, Gate: "final"},
	}, t0)
	r.Phases[0].State, r.Phases[0].StartTime, r.Phases[0].EndTime, r.Phases[0].ApprovedBy = migration.PhaseCompleted, t0, t0.Add(time.Second), "ana"
	r.CurrentIndex = 1
	r.Status, r.WaitingGate = migration.StatusWaitingApproval, "go-live"
	r.Refresh(t0.Add(time.Minute))
	undone := migration.NewPlannedReport("undone", "", []migration.PlannedPhase{
		{Name: "copy", Kind: migration.PhaseCopy},
		{Name: "reconcile", Kind: migration.PhaseReconcile, Gate: "go-live"},
	}, t0)
	undone.Status, undone.EndTime, undone.Error = migration.StatusRolledBack, t0.Add(time.Minute), "phase copy failed: disk full"
	undone.Phases[0].State = migration.PhaseCompensated
	undone.Refresh(t0.Add(time.Minute))
	src := newFake()
	src.reports["gated"], src.reports["undone"] = r, undone
	srv := newTestServer(t, src, "")

	_, body, _ := get(t, srv.URL+"/migrations/gated?view=plain")
	assert.Contains(t, body, `<span>Approved by ana (gate schema)</span>`)
	assert.Contains(t, body, `<span>Waiting for a person to approve it (gate go-live)</span>`)
	assert.Contains(t, body, `<span>A person must approve it before it starts (gate final)</span>`)
	assert.Contains(t, body, `<dt>For engineers</dt>`)
	assert.NotContains(t, body, `<dt>Temporal</dt>`)
	_, body, _ = get(t, srv.URL+"/migrations/undone?view=plain")
	assert.Contains(t, body, `<span>Never reached its approval (gate go-live)</span>`)

	_, body, _ = get(t, srv.URL+"/migrations/gated")
	assert.Contains(t, body, `<span>gate schema approved by ana</span>`)
	assert.Contains(t, body, `<span>gate go-live</span>`)
	assert.Contains(t, body, `<dt>Temporal</dt>`)
	_, body, _ = get(t, srv.URL+"/migrations/undone")
	assert.Contains(t, body, `<span>gate go-live (never opened)</span>`)
}
