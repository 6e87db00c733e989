// Package migration holds the migration's domain model: its phases, its
// statuses and the status report. It knows nothing of Temporal, so the CLI,
// the workflow and tests share one definition of what a migration looks like.
package migration

// Phase names one step of a migration. The order of AllPhases is the order in
// which a migration runs them; a spec may leave out phases it does not need.
type Phase string

// The phases of a migration, in the order they run.
const (
	PhaseValidate     Phase = "validate"
	PhaseProvision    Phase = "provision"
	PhaseCopy         Phase = "copy"
	PhaseShiftTraffic Phase = "shift-traffic"
	PhaseReconcile    Phase = "reconcile"
	PhaseDecommission Phase = "decommission"
)

// AllPhases lists every phase in run order.
var AllPhases = []Phase{
	PhaseValidate, PhaseProvision, PhaseCopy, PhaseShiftTraffic, PhaseReconcile, PhaseDecommission,
}

// Order returns the position of p in AllPhases, or -1 when p is not a phase.
func (p Phase) Order() int {
	for i, q := range AllPhases {
		if q == p {
			return i
		}
	}
	return -1
}

// Valid reports whether p is one of the known phases.
func (p Phase) Valid() bool { return p.Order() >= 0 }

// PointOfNoReturn reports whether starting p makes rollback impossible:
// decommission removes the legacy side that a rollback would return to.
func (p Phase) PointOfNoReturn() bool { return p == PhaseDecommission }
