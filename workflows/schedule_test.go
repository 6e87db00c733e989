package workflows

import (
	"strings"
	"sync"

	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/workflow"

	"github.com/godwit/godwit/activities"
)

// scheduleLog records, in the order the workflow schedules them, the
// activities it starts: "RunPhase:stop", "CompensatePhase:writes", and a
// follower's bounded run as "follow:writes"; and the child workflows it
// starts ("child:Lease") and signals it sends ("signal:release"). Unlike the fake's calls,
// whose order is that of the goroutines running them (and the test
// environment does not wait for a cancelled activity to end, as
// WaitForCancellation makes the server do), this order is the
// workflow's own, so a test of what the workflow does before what reads
// it here.
type scheduleLog struct {
	interceptor.WorkerInterceptorBase
	mu      sync.Mutex
	entries []string
}

func (l *scheduleLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.entries...)
}

func (l *scheduleLog) InterceptWorkflow(ctx workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	return &scheduleIn{WorkflowInboundInterceptorBase: interceptor.WorkflowInboundInterceptorBase{Next: next}, log: l}
}

type scheduleIn struct {
	interceptor.WorkflowInboundInterceptorBase
	log *scheduleLog
}

func (i *scheduleIn) Init(out interceptor.WorkflowOutboundInterceptor) error {
	return i.Next.Init(&scheduleOut{WorkflowOutboundInterceptorBase: interceptor.WorkflowOutboundInterceptorBase{Next: out}, log: i.log})
}

type scheduleOut struct {
	interceptor.WorkflowOutboundInterceptorBase
	log *scheduleLog
}

func (o *scheduleOut) ExecuteActivity(ctx workflow.Context, activityType string, args ...interface{}) workflow.Future {
	entry := activityType
	if len(args) > 0 {
		if in, ok := args[0].(activities.PhaseInput); ok {
			entry += ":" + in.Phase.Name
			if strings.HasPrefix(workflow.GetActivityOptions(ctx).ActivityID, FollowActivityPrefix) {
				entry = "follow:" + in.Phase.Name
			}
		}
	}
	o.log.mu.Lock()
	o.log.entries = append(o.log.entries, entry)
	o.log.mu.Unlock()
	return o.Next.ExecuteActivity(ctx, activityType, args...)
}

// ExecuteChildWorkflow logs "child:" and the child's type.
func (o *scheduleOut) ExecuteChildWorkflow(ctx workflow.Context, childWorkflowType string, args ...interface{}) workflow.ChildWorkflowFuture {
	o.log.add("child:" + childWorkflowType)
	return o.Next.ExecuteChildWorkflow(ctx, childWorkflowType, args...)
}

// SignalExternalWorkflow logs "signal:" and the signal's name.
func (o *scheduleOut) SignalExternalWorkflow(ctx workflow.Context, workflowID, runID, signalName string, arg interface{}) workflow.Future {
	o.log.add("signal:" + signalName)
	return o.Next.SignalExternalWorkflow(ctx, workflowID, runID, signalName, arg)
}

func (l *scheduleLog) add(entry string) {
	l.mu.Lock()
	l.entries = append(l.entries, entry)
	l.mu.Unlock()
}

// followsAfter counts the follower runs scheduled after the first entry
// that is first (-1 when there is none), and those before it.
func followsAround(entries []string, first string) (before, after, at int) {
	at = -1
	for k, e := range entries {
		if at < 0 && e == first {
			at = k
			continue
		}
		if strings.HasPrefix(e, "follow:") {
			if at < 0 {
				before++
			} else {
				after++
			}
		}
	}
	return before, after, at
}
