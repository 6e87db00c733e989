package control

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/api/enums/v1"
	failurepb "go.temporal.io/api/failure/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/migration"
	"github.com/godwit/godwit/payloadcodec"
	"github.com/godwit/godwit/workflows"
)

// Status returns the report of the migration's latest run: what `godwit
// status` shows. A running migration answers the status query, with the
// running phase's heartbeat merged in; an ended one is read from its
// result, which needs no worker. When no worker answers, the error is a
// *NoWorkerError carrying the run's last known summary (its memo).
func (m Migrations) Status(ctx context.Context, name string) (*migration.Report, error) {
	ctx = withContext(ctx)
	desc, err := m.Client.DescribeWorkflowExecution(ctx, name, "")
	if err != nil {
		return nil, Explain(name, err)
	}
	if desc.GetWorkflowExecutionInfo().GetStatus() != enums.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return FinalReport(ctx, m.Client.GetWorkflow(ctx, name, ""))
	}
	// A query is answered by a worker; without one it would wait for ever.
	timeout := m.queryTimeout()
	qctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	v, err := m.Client.QueryWorkflow(qctx, name, "", workflows.QueryStatus)
	if err != nil {
		if noWorker(qctx, err) {
			nw := &NoWorkerError{Name: name, TaskQueue: desc.GetExecutionConfig().GetTaskQueue().GetName(), Timeout: timeout}
			if q, err := m.Client.DescribeTaskQueue(ctx, nw.TaskQueue, enums.TASK_QUEUE_TYPE_WORKFLOW); err == nil {
				nw.Polled = len(q.GetPollers()) > 0
			}
			if qctx.Err() == nil {
				nw.Server = err.Error() // the server answered before the deadline
			}
			nw.LastKnown, err = MemoSummary(m.dc(), desc.GetWorkflowExecutionInfo().GetMemo())
			if err != nil {
				nw.LastKnownProblem = err.Error()
			}
			return nil, nw
		}
		return nil, Explain(name, err)
	}
	var rep migration.Report
	if err := v.Get(&rep); err != nil {
		return nil, ExplainDecode(fmt.Errorf("decode status of %s: %w", name, err))
	}
	rep.ShowPaused()
	pending := desc.GetPendingActivities()
	if w, wpending, ok := m.runningWindow(ctx, desc.GetPendingChildren()); ok {
		rep.MergeWindow(w.UnitsDone, w.Records, w.FailedAttempts, w.Running)
		pending = wpending
	}
	if live, ok := LiveProgress(m.dc(), pending); ok {
		rep.MergeLive(live, time.Now())
	} else {
		rep.MergeIdleUnits()
	}
	showLeases(&rep, desc.GetPendingChildren(), desc.GetPendingActivities(), m.dc())
	return &rep, nil
}

// showLeases says why a run has not started its first phase while it
// takes its leases: one per table a pattern stands for, so a pattern over
// 300 tables spent one to two minutes "not started" with nothing to show
// (docs/scale.md). A run since leaseBatchV1 takes them in one activity,
// whose heartbeat counts them; an older one as child workflows.
func showLeases(rep *migration.Report, children []*workflowpb.PendingChildExecutionInfo, pending []*workflowpb.PendingActivityInfo, dc converter.DataConverter) {
	if rep.CurrentIndex >= 0 || rep.Status != migration.StatusInProgress {
		return
	}
	n, of := 0, 0
	for _, c := range children {
		if c.GetWorkflowTypeName() == workflows.LeaseWorkflowName {
			n++
		}
	}
	for _, pa := range pending {
		if pa.GetActivityType().GetName() != activities.AcquireLeasesName {
			continue
		}
		var p activities.LeaseProgress
		if pa.GetHeartbeatDetails() != nil && dc.FromPayloads(pa.GetHeartbeatDetails(), &p) == nil {
			n, of = p.Done, p.Total
		}
	}
	switch {
	case of > 0:
		rep.CurrentPhase += fmt.Sprintf(" (taking a lease on each table and resource it drives: %d of %s held so far)", n, migration.Count(of, "lease"))
	case n > 0:
		rep.CurrentPhase += fmt.Sprintf(" (taking a lease on each table and resource it drives: %s held so far)", migration.Count(n, "lease"))
	}
}

// runningWindow is the progress of the fan-out window running now, if
// the migration runs one (a FanOutWindow child: the units of a large
// fan-out run there, not in the migration), with the window's pending
// unit activities. A window that does not answer is left out: the status
// then shows what the migration itself counts.
func (m Migrations) runningWindow(ctx context.Context, children []*workflowpb.PendingChildExecutionInfo) (workflows.WindowStatus, []*workflowpb.PendingActivityInfo, bool) {
	for _, c := range children {
		if c.GetWorkflowTypeName() != workflows.FanOutWindowName {
			continue
		}
		qctx, cancel := context.WithTimeout(ctx, m.queryTimeout())
		defer cancel()
		v, err := m.Client.QueryWorkflow(qctx, c.GetWorkflowId(), c.GetRunId(), workflows.QueryWindowStatus)
		if err != nil {
			return workflows.WindowStatus{}, nil, false
		}
		var w workflows.WindowStatus
		if err := v.Get(&w); err != nil {
			return workflows.WindowStatus{}, nil, false
		}
		d, err := m.Client.DescribeWorkflowExecution(qctx, c.GetWorkflowId(), c.GetRunId())
		if err != nil {
			return workflows.WindowStatus{}, nil, false
		}
		return w, d.GetPendingActivities(), true
	}
	return workflows.WindowStatus{}, nil, false
}

// noWorker says whether a status query failed for want of a worker: the
// client's deadline passed, the server gave up first ("query timed out
// before a worker could process it"), or the server saw no poller lately
// ("no poller seen for task queue recently, worker may be down").
func noWorker(qctx context.Context, err error) bool {
	var serverTimeout *serviceerror.DeadlineExceeded
	var precondition *serviceerror.FailedPrecondition
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(qctx.Err(), context.DeadlineExceeded) ||
		errors.As(err, &serverTimeout) ||
		(errors.As(err, &precondition) && strings.Contains(precondition.Error(), "no poller seen"))
}

// LiveProgress reads the running phase activity's heartbeat and retry state
// from the workflow's description. A migration runs one phase activity at a
// time, besides the bounded replications of a follower (their IDs start
// with workflows.FollowActivityPrefix), so the first other phase activity
// found is the current phase's; a fanned-out phase runs one per unit, and
// all of them are in Units, then, once they are all done, the step after
// them (FinishUnits: Live.Finishing). dc decodes the heartbeat and, when
// encryption is on, the failure's message.
func LiveProgress(dc converter.DataConverter, pending []*workflowpb.PendingActivityInfo) (migration.Live, bool) {
	var out migration.Live
	found := false
	for _, pa := range pending {
		finishing := false
		switch pa.GetActivityType().GetName() {
		case activities.RunPhaseName, activities.CompensatePhaseName:
		case activities.FinishUnitsName:
			finishing = true // alone: it starts once every unit is done
		default:
			continue
		}
		if strings.HasPrefix(pa.GetActivityId(), workflows.FollowActivityPrefix) {
			continue // a replication beside the phase (requireLag, background)
		}
		live := migration.Live{Attempt: int(pa.GetAttempt()), MaxAttempts: int(pa.GetMaximumAttempts()), Finishing: finishing}
		unit := ""
		if pa.GetHeartbeatDetails() != nil {
			var hb activities.Heartbeat
			if err := dc.FromPayloads(pa.GetHeartbeatDetails(), &hb); err == nil {
				live.Percent, live.Records, live.Detail, live.Host = hb.Percent, hb.Records, hb.Detail, hb.Host
				live.Tables, unit = hb.Tables, hb.Unit
			}
		}
		if f := pa.GetLastFailure(); f != nil && pa.GetAttempt() > 1 {
			live.LastFailure = FailureMessage(dc, f)
		}
		// The units of a fanned-out phase run at once: each is kept, and
		// the first also stands for the phase when it is not fanned out.
		if !found {
			out, found = live, true
		}
		out.Units = append(out.Units, migration.UnitLive{Unit: unit, Live: live})
	}
	return out, found
}

// ErrNoReport is a run that ended without leaving a report: terminated
// by hand or timed out outside Godwit.
var ErrNoReport = errors.New("ended without a report")

// FinalReport waits for the run's end and returns the report it left as
// its result or as its failure's details. It needs no worker.
func FinalReport(ctx context.Context, run client.WorkflowRun) (_ *migration.Report, err error) {
	defer func() { err = ExplainDecode(err) }()
	var rep migration.Report
	err = run.Get(ctx, &rep)
	if err == nil {
		return &rep, nil
	}
	if final, ok := workflows.ReportFromError(err); ok {
		return final, nil
	}
	derr := Undecryptable(err)
	if derr == nil {
		derr = undecodableDetails(err)
	}
	if derr != nil {
		return nil, fmt.Errorf("migration %s ended, but its report cannot be decoded: %w", run.GetID(), derr)
	}
	return nil, noReport(run.GetID(), err)
}

// noReport says how a run ended without a report, in the user's terms
// rather than the SDK's ("workflow execution error (type: , workflowID:
// …): terminated"), and what it means: nothing rolled it back.
func noReport(name string, err error) error {
	var term *temporal.TerminatedError
	var timeout *temporal.TimeoutError
	var canceled *temporal.CanceledError
	how := ""
	switch {
	case errors.As(err, &term):
		how = "was terminated outside Godwit (temporal workflow terminate, or the Temporal UI)"
	case errors.As(err, &timeout):
		how = "timed out (its workflow's run or execution timeout)"
	case errors.As(err, &canceled):
		how = "was cancelled outside Godwit"
	default:
		return fmt.Errorf("migration %s %w (terminated or timed out outside Godwit): %w", name, ErrNoReport, err)
	}
	return &endedError{
		msg: fmt.Sprintf("migration %s %s and %v: nothing rolled it back, so what it changed stays "+
			"(what Godwit added to carry it: `godwit status %s`; to remove that: `godwit cleanup %s`)", name, how, ErrNoReport, name, name),
		errs: []error{ErrNoReport, err},
	}
}

// endedError is a message of its own over the errors it stands for.
type endedError struct {
	msg  string
	errs []error
}

func (e *endedError) Error() string   { return e.msg }
func (e *endedError) Unwrap() []error { return e.errs }

// undecodableDetails returns the error decoding err's details when they
// are encrypted and cannot be decrypted.
func undecodableDetails(err error) error {
	var rep migration.Report
	var appErr *temporal.ApplicationError
	var canceled *temporal.CanceledError
	switch {
	case errors.As(err, &appErr) && appErr.HasDetails():
		return Undecryptable(appErr.Details(&rep))
	case errors.As(err, &canceled) && canceled.HasDetails():
		return Undecryptable(canceled.Details(&rep))
	}
	return nil
}

// ExplainDecode says what to do about payloads this process cannot decode
// because they are encrypted and it has no keyring. (With a keyring that
// lacks the key, the codec's own error already names the key.)
func ExplainDecode(err error) error {
	if errors.Is(err, converter.ErrEncodingIsNotSupported) {
		return fmt.Errorf("%w\nthe migration's payloads are encrypted: give this CLI the keyring the worker uses, "+
			"with --codec-keys-file or --codec-keys-env (see docs/encryption.md)", err)
	}
	return err
}

// Undecryptable returns err if it says a payload is encrypted and could
// not be decrypted, nil otherwise.
func Undecryptable(err error) error {
	if errors.Is(err, converter.ErrEncodingIsNotSupported) || errors.Is(err, payloadcodec.ErrUnknownKey) ||
		errors.Is(err, payloadcodec.ErrDecrypt) {
		return err
	}
	return nil
}

// FailureMessage is f's message. With payload encryption on, the message
// travels encrypted (the SDK's "Encoded failure") and is decrypted here; a
// failure the converter cannot decrypt keeps its placeholder.
func FailureMessage(dc converter.DataConverter, f *failurepb.Failure) string {
	if f.GetEncodedAttributes() == nil {
		return f.GetMessage()
	}
	f = proto.Clone(f).(*failurepb.Failure)
	converter.DecodeCommonFailureAttributes(dc, f)
	return f.GetMessage()
}
