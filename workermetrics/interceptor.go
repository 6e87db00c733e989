package workermetrics

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"

	"github.com/godwit/godwit/activities"
)

// Godwit's metric names (Prometheus adds _total to counters and _seconds
// to durations).
const (
	// PhaseAttempts counts phase activity attempts by kind, action (run or
	// compensate) and outcome (completed, failed, cancelled).
	PhaseAttempts = "godwit_phase_attempts"
	// PhaseDuration times phase activity attempts, same labels.
	PhaseDuration = "godwit_phase_attempt_duration"
	// Records counts the records phases report (rows copied, compared) by
	// kind and action, from their heartbeats and results.
	Records = "godwit_phase_records"
)

// Outcomes of an attempt.
const (
	OutcomeCompleted = "completed"
	OutcomeFailed    = "failed"
	OutcomeCancelled = "cancelled"
)

type workerInterceptor struct {
	interceptor.WorkerInterceptorBase
	handler client.MetricsHandler
}

func (w *workerInterceptor) InterceptActivity(_ context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	return &activityInbound{ActivityInboundInterceptorBase: interceptor.ActivityInboundInterceptorBase{Next: next}, handler: w.handler}
}

type activityInbound struct {
	interceptor.ActivityInboundInterceptorBase
	handler client.MetricsHandler
}

func (a *activityInbound) Init(outbound interceptor.ActivityOutboundInterceptor) error {
	return a.Next.Init(&activityOutbound{ActivityOutboundInterceptorBase: interceptor.ActivityOutboundInterceptorBase{Next: outbound}})
}

// tracker follows one phase attempt's records, so heartbeats add only
// what is new since the last one (or since the checkpoint it resumed from,
// which the earlier attempt already counted).
type tracker struct {
	records client.MetricsCounter
	last    int64
}

type trackerKey struct{}

func (t *tracker) seen(records int64) {
	if records > t.last {
		t.records.Inc(records - t.last)
		t.last = records
	}
}

func (a *activityInbound) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	action := ""
	switch activity.GetInfo(ctx).ActivityType.Name {
	case activities.RunPhaseName:
		action = string(activities.ActionRun)
	case activities.CompensatePhaseName:
		action = string(activities.ActionCompensate)
	default:
		return a.Next.ExecuteActivity(ctx, in)
	}
	kind := "unknown"
	if len(in.Args) > 0 {
		if pi, ok := in.Args[0].(activities.PhaseInput); ok {
			kind = string(pi.Phase.Phase)
		}
	}
	h := a.handler.WithTags(map[string]string{"kind": kind, "action": action})
	t := &tracker{records: h.Counter(Records)}
	var resumed activities.Heartbeat
	if activity.HasHeartbeatDetails(ctx) && activity.GetHeartbeatDetails(ctx, &resumed) == nil {
		t.last = resumed.Records
	}
	start := time.Now()
	res, err := a.Next.ExecuteActivity(context.WithValue(ctx, trackerKey{}, t), in)
	if pr, ok := res.(activities.PhaseResult); ok {
		t.seen(pr.Records)
	}
	outcome := OutcomeCompleted
	var canceled *temporal.CanceledError
	switch {
	case err == nil:
	case errors.As(err, &canceled) || errors.Is(err, context.Canceled):
		outcome = OutcomeCancelled
	default:
		outcome = OutcomeFailed
	}
	h = h.WithTags(map[string]string{"outcome": outcome})
	h.Counter(PhaseAttempts).Inc(1)
	h.Timer(PhaseDuration).Record(time.Since(start))
	return res, err
}

type activityOutbound struct {
	interceptor.ActivityOutboundInterceptorBase
}

func (o *activityOutbound) RecordHeartbeat(ctx context.Context, details ...any) {
	if t, ok := ctx.Value(trackerKey{}).(*tracker); ok && len(details) > 0 {
		if hb, ok := details[0].(activities.Heartbeat); ok {
			t.seen(hb.Records)
		}
	}
	o.Next.RecordHeartbeat(ctx, details...)
}
