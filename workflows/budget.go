package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"
)

// A run's history budget. Temporal terminates a run whose history passes
// 51,200 events or 50 MB; a run continues as new well before either, at a
// safe point (between phases, between action steps, in a follower), when
// its history reaches HistoryEventsPerRun events or HistoryBytesPerRun
// bytes, or when the server suggests it.
const (
	HistoryEventsPerRun = 40_000
	HistoryBytesPerRun  = 40 << 20

	// fanOutEventsPerUnit and fanOutBytesPerUnit are what one fanned-out
	// unit adds to the history (measured: about 4.9 events and 1.4 KB),
	// rounded up.
	fanOutEventsPerUnit = 5
	fanOutBytesPerUnit  = 1536

	changeHistoryBudget = "history-budget"
	// historyBudgetV1: the run continues as new when its history nears
	// the budget, not only after DefaultActivitiesPerRun activities, and a
	// fan-out whose units would carry the run past the budget fails
	// before it schedules any.
	historyBudgetV1 = 1
)

// historyUse reads the run's history length and size as of the current
// workflow task, and whether the server suggests continuing as new: all
// three come from the task, so they replay the same. A variable so tests
// can make a run's history look as large as they need.
var historyUse = func(ctx workflow.Context) (events, bytes int, suggested bool) {
	info := workflow.GetInfo(ctx)
	return info.GetCurrentHistoryLength(), info.GetCurrentHistorySize(), info.GetContinueAsNewSuggested()
}

// nearBudget says whether the run should continue as new at the next safe
// point: it ran its DefaultActivitiesPerRun activities, or (since
// historyBudgetV1) its history nears the budget. A run that has run no
// activity yet does not: a new run would start no smaller.
func (r *run) nearBudget(ctx workflow.Context) bool {
	if r.activities >= r.activitiesPerRun {
		return true
	}
	if r.budgetVersion < historyBudgetV1 || r.activities == 0 {
		return false
	}
	events, bytes, suggested := historyUse(ctx)
	return suggested || events >= HistoryEventsPerRun || bytes >= HistoryBytesPerRun
}

// MaxFanOutUnits is about how many units one fan-out could run in a run
// from before fanOutWindowsV1, whose units' history had to fit in one
// run's budget; since, more units than a window holds run in windows.
const MaxFanOutUnits = HistoryEventsPerRun / fanOutEventsPerUnit

// fanOutOverBudget says why a fan-out of n units cannot run in this run
// (its units' history would carry it past the budget), or "" when it can.
func (r *run) fanOutOverBudget(ctx workflow.Context, n int) string {
	if r.budgetVersion < historyBudgetV1 {
		return ""
	}
	events, bytes, _ := historyUse(ctx)
	if events+n*fanOutEventsPerUnit <= HistoryEventsPerRun && bytes+n*fanOutBytesPerUnit <= HistoryBytesPerRun {
		return ""
	}
	return fmt.Sprintf("%d units are too many for one workflow run, so no unit was started: each unit adds about %d history events "+
		"and the run, now at %d events, may reach %d, so a fanned-out phase runs at most about %d units. "+
		"Raise splitRows so each table splits into fewer units, or spread the tables over several fanOut phases",
		n, fanOutEventsPerUnit, events, HistoryEventsPerRun, MaxFanOutUnits)
}
