// Package notify tells people about a migration as it happens: it posts
// events (phase started, gate waiting, rollback finished, ...) to webhooks,
// as a Slack-compatible message or as a generic JSON event. It knows
// nothing of Temporal: the Notify activity resolves the webhook URLs (they
// hold tokens, so specs name them by reference) and calls Sender.Send.
package notify

import (
	"fmt"
	"time"
)

// EventType names what happened. The names are stable: receivers filter
// on them and specs list them.
type EventType string

// Event types.
const (
	PhaseStarted     EventType = "phase.started"
	PhaseCompleted   EventType = "phase.completed"
	PhaseFailed      EventType = "phase.failed"
	GateWaiting      EventType = "gate.waiting"
	Paused           EventType = "migration.paused"
	Resumed          EventType = "migration.resumed"
	RollbackStarted  EventType = "rollback.started"
	RollbackFinished EventType = "rollback.finished"
	Completed        EventType = "migration.completed"
)

// EventTypes lists every event type, in the order a run may meet them.
var EventTypes = []EventType{
	PhaseStarted, PhaseCompleted, PhaseFailed, GateWaiting, Paused, Resumed,
	RollbackStarted, RollbackFinished, Completed,
}

// Valid reports whether t is a known event type.
func (t EventType) Valid() bool {
	for _, k := range EventTypes {
		if t == k {
			return true
		}
	}
	return false
}

// Event is one thing that happened to a migration. It is small and holds
// no secret: it travels in the activity's input, so in workflow history.
type Event struct {
	// ID is the same on every delivery of this event (retries included),
	// so a receiver can drop duplicates; see NewEventID.
	ID   string    `json:"id"`
	Type EventType `json:"type"`
	// Migration is the migration's name (its workflow ID).
	Migration string `json:"migration"`
	// Phase is the phase's name, for phase and gate events.
	Phase string `json:"phase,omitempty"`
	// Status is the migration's status after the event.
	Status string `json:"status,omitempty"`
	// Time is when it happened (workflow time).
	Time time.Time `json:"time"`
	// Message says what happened in one line for people.
	Message string `json:"message"`
	// Gate, By and Reason are set when the event has them: the waiting
	// gate, who paused or rolled back, and why.
	Gate   string `json:"gate,omitempty"`
	By     string `json:"by,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Progress is the migration's overall progress, percent.
	Progress float64 `json:"progress"`
	// Error is the failure, for phase.failed and a rollback that failed.
	Error string `json:"error,omitempty"`
}

// NewEventID returns an event ID that is stable across retries and unique
// per event: the run's ID and the event's sequence number within the run
// (the workflow counts the events it sends, deterministically).
func NewEventID(workflowID, runID string, seq int, t EventType) string {
	return fmt.Sprintf("%s/%s/%d/%s", workflowID, runID, seq, t)
}
