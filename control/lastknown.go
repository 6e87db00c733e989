package control

import (
	"fmt"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"

	"github.com/godwit/godwit/migration"
	"github.com/godwit/godwit/payloadcodec"
	"github.com/godwit/godwit/workflows"
)

// NoWorkerError says that a running migration's status query found no
// worker to answer it. LastKnown is the summary the run last kept in its
// memo (at a phase boundary), which needs no worker to read; nil when the
// run has none (started before Godwit kept it) or it cannot be decoded
// (LastKnownProblem says why).
type NoWorkerError struct {
	Name, TaskQueue string
	Timeout         time.Duration
	// Server is what the server said when it gave up before Timeout.
	Server string
	// Polled: workers poll the task queue (DescribeTaskQueue), so they are
	// there but busy or slow, not gone.
	Polled           bool
	LastKnown        *migration.Summary
	LastKnownProblem string
}

func (e *NoWorkerError) Error() string {
	if e.Server != "" {
		return fmt.Sprintf("migration %s is running but no worker answered its status query (the server: %s): is godwit-worker running on task queue %s?",
			e.Name, e.Server, e.TaskQueue)
	}
	if e.Polled {
		return fmt.Sprintf("migration %s is running but no worker answered its status query within %s, though workers poll task queue %s: they are busy (a worker that has not got the run cached replays its history to answer, thousands of events for a run of hundreds of tables); try again",
			e.Name, e.Timeout, e.TaskQueue)
	}
	return fmt.Sprintf("migration %s is running but no worker answered its status query within %s: is godwit-worker running on task queue %s?",
		e.Name, e.Timeout, e.TaskQueue)
}

// MemoSummary decodes the summary a Migration run keeps in its memo with
// dc (which decrypts when payload encryption is on). It returns nil and no
// error when the memo has none.
func MemoSummary(dc converter.DataConverter, memo *commonpb.Memo) (*migration.Summary, error) {
	p := memo.GetFields()[workflows.MemoSummary]
	if p == nil {
		return nil, nil
	}
	if string(p.GetMetadata()[payloadcodec.MetadataEncoding]) == payloadcodec.EncodingNotStored {
		return nil, fmt.Errorf("memo %s holds no summary: the worker could not encrypt it, and stored a placeholder rather than plain text (its log says why)", workflows.MemoSummary)
	}
	var s migration.Summary
	if err := dc.FromPayload(p, &s); err != nil {
		return nil, ExplainDecode(fmt.Errorf("decode memo %s: %w", workflows.MemoSummary, err))
	}
	return &s, nil
}
