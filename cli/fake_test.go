package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/migration"
)

// fakeClient stands in for a Temporal client in the commands' tests. The
// embedded nil client.Client makes any call the test did not fake panic.
type fakeClient struct {
	client.Client

	mu sync.Mutex

	// states are what DescribeWorkflowExecution finds, one per call; the
	// last one stays. Query and GetWorkflow answer from the current one.
	states    []wfState
	describes int
	queries   int

	signalErr error
	signals   []sentSignal

	startErr  error
	started   *client.StartWorkflowOptions
	startArgs []any
	run       *fakeRun

	updateErr    error
	updateGetErr error
	updateResult any
	updates      []client.UpdateWorkflowOptions

	listResp *workflowservice.ListWorkflowExecutionsResponse
	listErr  error
	listReqs []*workflowservice.ListWorkflowExecutionsRequest

	closed int
	dials  int // each dial must be closed: closed == dials

	// noPollers makes DescribeTaskQueue report no worker on the queue.
	noPollers bool

	// startSpec is the spec in the run's start event (GetWorkflowHistory,
	// in briefing_test.go); histories counts its reads.
	startSpec *config.Spec
	histories int
}

func (c *fakeClient) DescribeTaskQueue(_ context.Context, queue string, _ enumspb.TaskQueueType) (*workflowservice.DescribeTaskQueueResponse, error) {
	if c.noPollers {
		return &workflowservice.DescribeTaskQueueResponse{}, nil
	}
	return &workflowservice.DescribeTaskQueueResponse{Pollers: []*taskqueuepb.PollerInfo{{Identity: "w1"}}}, nil
}

// wfState is one observation of the workflow.
type wfState struct {
	describeErr error
	ended       bool // not running: the report comes from the result
	report      *migration.Report
	runErr      error // the ended run's error, instead of report
	queryErr    error
	queryBlocks bool // no worker: the query waits until its context ends
	pending     []*workflowpb.PendingActivityInfo
	children    []*workflowpb.PendingChildExecutionInfo
	memo        *commonpb.Memo // the run's memo (the last known summary)
}

type sentSignal struct {
	id, runID, name string
	arg             any
}

func (c *fakeClient) dial(context.Context) (client.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dials++
	return c, nil
}

func (c *fakeClient) state() wfState {
	i := max(0, min(c.describes-1, len(c.states)-1))
	return c.states[i]
}

func (c *fakeClient) DescribeWorkflowExecution(_ context.Context, id, runID string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.describes++
	st := c.state()
	if st.describeErr != nil {
		return nil, st.describeErr
	}
	status := enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
	if st.ended {
		status = enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED
	}
	return &workflowservice.DescribeWorkflowExecutionResponse{
		WorkflowExecutionInfo: &workflowpb.WorkflowExecutionInfo{Status: status, Memo: st.memo},
		PendingActivities:     st.pending,
		PendingChildren:       st.children,
	}, nil
}

func (c *fakeClient) QueryWorkflow(ctx context.Context, id, runID, queryType string, _ ...any) (converter.EncodedValue, error) {
	c.mu.Lock()
	c.queries++
	st := c.state()
	c.mu.Unlock()
	if st.queryBlocks {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if queryType != "status" {
		return nil, fmt.Errorf("unknown query %q", queryType)
	}
	if st.queryErr != nil {
		return nil, st.queryErr
	}
	return jsonValue{st.report}, nil
}

func (c *fakeClient) GetWorkflow(_ context.Context, id, runID string) client.WorkflowRun {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.state()
	return &fakeRun{id: id, runID: "run-ended", report: st.report, err: st.runErr}
}

func (c *fakeClient) SignalWorkflow(_ context.Context, id, runID, name string, arg any) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.signals = append(c.signals, sentSignal{id, runID, name, arg})
	return c.signalErr
}

func (c *fakeClient) ExecuteWorkflow(_ context.Context, opts client.StartWorkflowOptions, workflow any, args ...any) (client.WorkflowRun, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if workflow != "Migration" {
		return nil, fmt.Errorf("unexpected workflow %v", workflow)
	}
	c.started, c.startArgs = &opts, args
	if c.startErr != nil {
		return nil, c.startErr
	}
	if c.run == nil {
		c.run = &fakeRun{}
	}
	c.run.id, c.run.runID = opts.ID, "run-1"
	return c.run, nil
}

func (c *fakeClient) UpdateWorkflow(_ context.Context, opts client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.updates = append(c.updates, opts)
	if c.updateErr != nil {
		return nil, c.updateErr
	}
	return fakeUpdate{result: c.updateResult, err: c.updateGetErr}, nil
}

func (c *fakeClient) ListWorkflow(_ context.Context, req *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.listReqs = append(c.listReqs, req)
	return c.listResp, c.listErr
}

func (c *fakeClient) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed++
}

// fakeRun is a workflow run whose result is report, or err.
type fakeRun struct {
	id, runID string
	report    *migration.Report
	err       error
	gets      int
}

func (r *fakeRun) GetID() string                  { return r.id }
func (r *fakeRun) GetRunID() string               { return r.runID }
func (r *fakeRun) GetFirstExecutionRunID() string { return r.runID }
func (r *fakeRun) GetWithOptions(ctx context.Context, v any, _ client.WorkflowRunGetOptions) error {
	return r.Get(ctx, v)
}

func (r *fakeRun) Get(_ context.Context, v any) error {
	r.gets++
	if r.err != nil {
		return r.err
	}
	return jsonValue{r.report}.Get(v)
}

type fakeUpdate struct {
	result any
	err    error
}

func (fakeUpdate) WorkflowID() string { return "demo" }
func (fakeUpdate) RunID() string      { return "run-1" }
func (fakeUpdate) UpdateID() string   { return "update-1" }
func (u fakeUpdate) Get(_ context.Context, v any) error {
	if u.err != nil {
		return u.err
	}
	return jsonValue{u.result}.Get(v)
}

// jsonValue is a value that went over the wire as JSON, as Temporal's
// default data converter sends it.
type jsonValue struct{ v any }

func (j jsonValue) HasValue() bool { return j.v != nil }

func (j jsonValue) Get(ptr any) error {
	b, err := json.Marshal(j.v)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, ptr)
}
