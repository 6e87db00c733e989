package control

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/godwit/godwit/migration"
	"github.com/godwit/godwit/workflows"
)

// Listed is one migration as Temporal's visibility store knows it, from
// the search attributes the workflow publishes: no worker is needed.
type Listed struct {
	Name string `json:"name"`
	// Status is Godwit's status (ROLLED_BACK, not Temporal's "Failed");
	// "-" before the run published one; TERMINATED, TIMED_OUT or CANCELED
	// for a run that ended outside Godwit before a final status of its own.
	Status string `json:"status"`
	// Phase is the phase running or last run ("-" before the first).
	Phase     string    `json:"phase"`
	StartTime time.Time `json:"startTime"`
	// Execution is Temporal's status of the run (Running, Completed, Failed...).
	Execution string `json:"execution"`
	// LastKnown is the summary the run keeps in its memo (at its last
	// phase boundary); nil for runs from before it was kept, or when it
	// cannot be decoded (LastKnownProblem says why).
	LastKnown        *migration.Summary `json:"lastKnown,omitempty"`
	LastKnownProblem string             `json:"lastKnownProblem,omitempty"`
}

// ListQuery is the visibility query of `godwit list`: migrations only (not
// lease or preflight workflows), and of a long migration that continued as
// new only the run that carries it on. status, when not empty, keeps the
// migrations in that status; it must be valid.
func ListQuery(status migration.Status) (string, error) {
	query := fmt.Sprintf("WorkflowType = %q AND ExecutionStatus != \"ContinuedAsNew\"", workflows.WorkflowName)
	if status == "" {
		return query, nil
	}
	if !status.Valid() {
		return "", &Error{Kind: KindRefused, Err: fmt.Errorf("status %q: use one of %s", status, strings.Join(migration.StatusNames(), ", "))}
	}
	query += fmt.Sprintf(" AND %s = %q", workflows.SearchAttrStatus.GetName(), status)
	if !status.Final() {
		// A run terminated or timed out outside Godwit keeps the status it
		// last published: it is not PAUSED or IN_PROGRESS any more.
		query += ` AND ExecutionStatus = "Running"`
	}
	return query, nil
}

// List returns at most limit migrations, newest first, in status when it is
// not empty.
func (m Migrations) List(ctx context.Context, status migration.Status, limit int) ([]Listed, error) {
	query, err := ListQuery(status)
	if err != nil {
		return nil, err
	}
	resp, err := m.Client.ListWorkflow(withContext(ctx), &workflowservice.ListWorkflowExecutionsRequest{
		Namespace: m.Namespace,
		Query:     query,
		PageSize:  int32(limit),
	})
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	out := make([]Listed, 0, len(resp.GetExecutions()))
	for _, e := range resp.GetExecutions() {
		l := Listed{
			Name: e.GetExecution().GetWorkflowId(), Status: "-", Phase: "-",
			StartTime: e.GetStartTime().AsTime(), Execution: e.GetStatus().String(),
		}
		if sa := e.GetSearchAttributes().GetIndexedFields(); sa != nil {
			l.Status = payloadString(sa[workflows.SearchAttrStatus.GetName()].GetData(), l.Status)
			l.Phase = payloadString(sa[workflows.SearchAttrPhase.GetName()].GetData(), l.Phase)
			// The workflow publishes "none" when no phase is current
			// (before the first, after the last): nothing to show.
			if l.Phase == "none" {
				l.Phase = "-"
			}
		}
		if st := e.GetStatus(); st != enums.WORKFLOW_EXECUTION_STATUS_RUNNING && !migration.Status(l.Status).Final() {
			// Ended outside Godwit (terminated, timed out, cancelled): the
			// status it last published would read as if it were going on.
			l.Status = EndedOutside(st)
		}
		if sum, err := MemoSummary(m.dc(), e.GetMemo()); err != nil {
			l.LastKnownProblem = err.Error()
		} else {
			l.LastKnown = sum
		}
		out = append(out, l)
	}
	return out, nil
}

// EndedOutside names how a run that left no final status of its own
// ended, in Temporal's words upper case: TERMINATED, TIMED_OUT, CANCELED
// (the enum's String() reads "TimedOut").
func EndedOutside(st enums.WorkflowExecutionStatus) string {
	if st == enums.WORKFLOW_EXECUTION_STATUS_TIMED_OUT {
		return "TIMED_OUT"
	}
	return strings.ToUpper(st.String())
}

// payloadString decodes a JSON string payload such as "\"PAUSED\"", or
// returns fallback when data is not one.
func payloadString(data []byte, fallback string) string {
	var s string
	if len(data) == 0 || data[0] != '"' || json.Unmarshal(data, &s) != nil {
		return fallback
	}
	return s
}
