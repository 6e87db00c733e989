package workflows

import (
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"

	"go.temporal.io/sdk/log"

	"github.com/godwit/godwit/migration"
)

// statusGuard is a workflow logger that fails its test on an illegal
// status move (setStatus logs one as an error). The workflow tests'
// harness and the replay test use it, so every path they take and every
// recorded run is checked against the table of moves.
type statusGuard struct {
	log.Logger
	mu    sync.Mutex
	moves []string
}

func newStatusGuard() *statusGuard {
	return &statusGuard{Logger: log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))}
}

func (g *statusGuard) Error(msg string, keyvals ...any) {
	if msg == illegalStatusMove {
		g.mu.Lock()
		g.moves = append(g.moves, fmt.Sprint(keyvals...))
		g.mu.Unlock()
	}
	g.Logger.Error(msg, keyvals...)
}

// check fails t for every illegal move seen.
func (g *statusGuard) check(t testing.TB) {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, m := range g.moves {
		t.Errorf("%s: %s", illegalStatusMove, m)
	}
}

// TestSetStatusLogsAnIllegalMove: the guard would see a workflow change
// that takes a finished run back to running.
func TestSetStatusLogsAnIllegalMove(t *testing.T) {
	g := newStatusGuard()
	r := &run{logger: g, report: &migration.Report{Status: migration.StatusInProgress}}
	r.setStatus(migration.StatusPaused)
	r.setStatus(migration.StatusInProgress)
	r.setStatus(migration.StatusCompleted)
	if len(g.moves) != 0 {
		t.Fatalf("legal moves logged as illegal: %v", g.moves)
	}
	r.setStatus(migration.StatusInProgress)
	if len(g.moves) != 1 || r.report.Status != migration.StatusInProgress {
		t.Fatalf("COMPLETED → IN_PROGRESS: logged %v, status %s; want one illegal move logged and the status set", g.moves, r.report.Status)
	}
}
