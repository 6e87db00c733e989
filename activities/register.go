package activities

import "go.temporal.io/sdk/activity"

// Registry is the part of a Temporal worker that registers activities.
type Registry interface {
	RegisterActivityWithOptions(a any, options activity.RegisterOptions)
}

// Register registers the phase activities under their stable names.
func Register(r Registry, a *Activities) {
	r.RegisterActivityWithOptions(a.RunPhase, activity.RegisterOptions{Name: RunPhaseName})
	r.RegisterActivityWithOptions(a.CompensatePhase, activity.RegisterOptions{Name: CompensatePhaseName})
	r.RegisterActivityWithOptions(a.Preflight, activity.RegisterOptions{Name: PreflightName})
	r.RegisterActivityWithOptions(a.PlanUnits, activity.RegisterOptions{Name: PlanUnitsName})
	r.RegisterActivityWithOptions(a.FinishUnits, activity.RegisterOptions{Name: FinishUnitsName})
	r.RegisterActivityWithOptions(a.PlanSizedUnits, activity.RegisterOptions{Name: PlanSizedUnitsName})
	r.RegisterActivityWithOptions(a.ClaimLease, activity.RegisterOptions{Name: ClaimLeaseName})
	r.RegisterActivityWithOptions(a.LeaseResources, activity.RegisterOptions{Name: LeaseResourcesName})
	r.RegisterActivityWithOptions(a.AcquireLeases, activity.RegisterOptions{Name: AcquireLeasesName})
	r.RegisterActivityWithOptions(a.ReleaseLeases, activity.RegisterOptions{Name: ReleaseLeasesName})
	r.RegisterActivityWithOptions(a.HolderRunning, activity.RegisterOptions{Name: HolderRunningName})
	r.RegisterActivityWithOptions(a.Notify, activity.RegisterOptions{Name: NotifyName})
}
