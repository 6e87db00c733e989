package dashboard

import (
	"fmt"
	"strings"

	"github.com/godwit/godwit/migration"
)

// nowInWords says, in plain words for someone who is not an engineer, what
// the run is doing, what happens next and whether anyone has to act: the
// status badge and the phase list say it only to those who know the
// states. Buttons come first, the command in brackets for those at a
// terminal. u names a phase as the page does: "phase" in the engineer
// view, "step" in the plain one (whose phase list says "All 5 steps
// done").
func nowInWords(rep *migration.Report, u unitWords) string {
	phase, phases := u.one, u.many
	cur, curState := "", migration.PhaseState("")
	if rep.CurrentIndex >= 0 && rep.CurrentIndex < len(rep.Phases) {
		cur, curState = rep.Phases[rep.CurrentIndex].Phase, rep.Phases[rep.CurrentIndex].State
	}
	switch rep.Status {
	case migration.StatusInProgress:
		s := "Running"
		if cur != "" {
			s = fmt.Sprintf("Running %s %d of %d, %s", phase, rep.CurrentIndex+1, len(rep.Phases), cur)
		}
		s += ". Nothing to do: it goes on by itself."
		if gate, next := nextGate(rep); gate != "" {
			s += fmt.Sprintf(" It will stop and wait for someone to approve gate %s before %s %s.", gate, phase, next)
		}
		return s
	case migration.StatusPaused:
		what := fmt.Sprintf("Paused: the %s under way finishes, then nothing runs until someone resumes it (the Resume button, or godwit resume %s).", phase, rep.Name)
		if curState == migration.PhasePaused {
			what = fmt.Sprintf("Paused: %s %s stopped at %.0f%% and keeps what it has done. Nothing runs until someone resumes it "+
				"(the Resume button, or godwit resume %s); it then goes on from where it stopped.", phase, cur, rep.Phases[rep.CurrentIndex].Progress, rep.Name)
		}
		if who := pausedWho(rep); who != "" {
			return who + " " + what
		}
		return what
	case migration.StatusWaitingApproval:
		if rep.WaitingGate == "" {
			return "Waiting for approval."
		}
		where := ""
		switch {
		case cur != "" && curState == migration.PhaseRunning:
			where = " in " + phase + " " + cur
		case cur != "":
			where = " before " + phase + " " + cur + " starts"
		}
		s := fmt.Sprintf("Waiting for a person: nothing moves until someone approves gate %s%s (the Approve button, or godwit approve %s --gate %s).",
			rep.WaitingGate, where, rep.Name, rep.WaitingGate)
		if rep.Rollback == migration.RollbackAvailable {
			s += " Rolling back instead undoes what has been done so far."
		}
		if rep.Paused {
			s += " The migration is also paused: after the approval, it waits for Resume."
		}
		return s
	case migration.StatusWaitingWindow:
		return fmt.Sprintf("Waiting for its time window%s: %s %s starts by itself when the window opens. Nothing to do.",
			inParens(rep.Window), phase, cur)
	case migration.StatusRollingBack:
		return "Undoing what was done, the last " + phase + " first. Nothing to do: it finishes by itself."
	case migration.StatusRollbackBlocked:
		return fmt.Sprintf("The undo is stuck%s and needs a person: fix what its error says, then retry it (godwit rollback %s --retry). "+
			"The %s before it stay as they are until then.", stuckAt(rep, phase), rep.Name, phases)
	case migration.StatusRolledBack:
		if _, _, ok := rep.RequestedRollback(); ok {
			return "Undone on request: every " + phase + " that had run was undone, the last first. Nothing left to do; to try again, start the migration again."
		}
		what := "a " + phase + " failed"
		if p := phaseIn(rep, migration.PhaseFailed); p != "" {
			what = phase + " " + p + " failed"
		}
		return "Stopped and undone: " + what + " (the error below says why), so every " + phase + " that had run was undone, the last first. " +
			"To try again, fix the cause and start the migration again."
	case migration.StatusRollbackFailed:
		return "The undo was given up before it finished: some changes may remain. Someone must check the " + phases + " below and finish the clean-up by hand."
	case migration.StatusFailed:
		return "Failed after the point of no return, so nothing was undone. Someone must look at the error below and repair by hand."
	case migration.StatusCompleted:
		return "Finished: every " + phase + " completed. Nothing left to do."
	}
	return ""
}

// pausedWho says who paused the run and why, as a sentence ("Paused by
// ana: waiting for DBA."), or "" when the report does not say.
func pausedWho(rep *migration.Report) string {
	if rep.PausedSince.IsZero() || (rep.PausedBy == "" && rep.PauseReason == "") {
		return ""
	}
	s := "Paused"
	if rep.PausedBy != "" {
		s += " by " + rep.PausedBy
	}
	if rep.PauseReason != "" {
		s += ": " + strings.TrimRight(rep.PauseReason, ".")
	}
	return s + "."
}

// nextGate is the first approval gate of a phase still to come, and that
// phase.
func nextGate(rep *migration.Report) (gate, phase string) {
	for i := rep.CurrentIndex + 1; i >= 0 && i < len(rep.Phases); i++ {
		if p := rep.Phases[i]; p.Gate != "" && p.State == migration.PhasePending {
			return p.Gate, p.Phase
		}
	}
	return "", ""
}

// stuckAt names the phase whose undo failed, " at phase X", or "".
func stuckAt(rep *migration.Report, phase string) string {
	if p := phaseIn(rep, migration.PhaseCompFailed); p != "" {
		return " at " + phase + " " + p
	}
	return ""
}

// phaseIn is the name of the first phase in state, or "".
func phaseIn(rep *migration.Report, state migration.PhaseState) string {
	for _, p := range rep.Phases {
		if p.State == state {
			return p.Phase
		}
	}
	return ""
}

func inParens(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

// unitWords are the words a page uses for a phase.
type unitWords struct{ one, many string }

var (
	engineerUnits = unitWords{"phase", "phases"}
	plainUnits    = unitWords{"step", "steps"}
)
