package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/godwit/godwit/migration"
)

// Metric names the workflow emits through the worker's metrics handler
// (Prometheus adds _total and _seconds suffixes). The SDK drops them while
// replaying, so each counts once.
const (
	MetricPhases     = "godwit_phases"           // counter: kind, outcome
	MetricGateWait   = "godwit_gate_wait"        // timer: how long gates waited for a person
	MetricMigrations = "godwit_migrations"       // counter: final status
	MetricRollbacks  = "godwit_rollbacks"        // counter: outcome (rolled_back, failed)
	MetricBlocked    = "godwit_rollback_blocked" // counter: rollbacks that waited for a person
)

func (r *run) countPhase(ctx workflow.Context, kind migration.Phase, outcome string) {
	workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"kind": string(kind), "outcome": outcome}).
		Counter(MetricPhases).Inc(1)
}

func (r *run) timeGate(ctx workflow.Context, since time.Time) {
	workflow.GetMetricsHandler(ctx).Timer(MetricGateWait).Record(workflow.Now(ctx).Sub(since))
}

func (r *run) countEnd(ctx workflow.Context, status migration.Status) {
	h := workflow.GetMetricsHandler(ctx)
	h.WithTags(map[string]string{"status": string(status)}).Counter(MetricMigrations).Inc(1)
	switch status {
	case migration.StatusRolledBack:
		h.WithTags(map[string]string{"outcome": "rolled_back"}).Counter(MetricRollbacks).Inc(1)
	case migration.StatusRollbackFailed:
		h.WithTags(map[string]string{"outcome": "failed"}).Counter(MetricRollbacks).Inc(1)
	}
}
