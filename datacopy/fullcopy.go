package datacopy

import (
	"context"
	"fmt"

	"github.com/hashicorp/go-hclog"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/glob"
)

// fullCopy reports whether a table without a key may be copied in one pass.
func (r *run) fullCopy(table string) bool {
	for _, p := range r.opts.FullCopy {
		if ok, _ := glob.Match(p, table); ok {
			return true
		}
	}
	return false
}

// planFull plans a table without a key as one entry. A checkpoint from an
// interrupted attempt keeps its Total but not its rows: the attempt's
// transaction was rolled back, so the copy starts again from zero.
func (r *run) planFull(ctx context.Context, src, view *datastore.Table) ([]*tablePlan, error) {
	name := src.Name
	r.mu.Lock()
	st := r.cp.Tables[name]
	r.mu.Unlock()
	if st == nil {
		n, err := r.opts.From.Count(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("copy %s: %w", name, err)
		}
		st = &TableCheckpoint{Stage: StageBackfill, Total: n, FullCopy: true}
	} else if st.Stage != StageDone {
		st.RowsDone, st.FullCopy = 0, true
	}
	r.mu.Lock()
	if r.cp.Tables == nil {
		r.cp.Tables = map[string]*TableCheckpoint{}
	}
	r.cp.Tables[name] = st
	r.live[name] = &liveTable{}
	r.mu.Unlock()
	return []*tablePlan{{name: name, table: name, source: src, target: view, state: st, full: true, backfilled: make(chan struct{})}}, nil
}

// copyFull copies a table without a key in one target transaction
// (datastore.FullCopy), throttled and reporting progress per batch. There
// is no catch-up (no key to upsert a changed row by): the table is as the
// source was when its pass read it.
func (r *run) copyFull(ctx context.Context, p *tablePlan, log hclog.Logger) error {
	log.Info("full copy (no key): not resumable, an interrupted attempt starts again from zero", "total", p.state.Total)
	r.mu.Lock()
	p.state.RowsDone = 0
	r.mu.Unlock()
	_, err := r.opts.To.FullCopy(ctx, r.opts.From, p.source, p.target, r.opts.BatchRows, func(n int64) error {
		if r.limiter != nil {
			if err := r.limiter.WaitN(ctx, int(min(n, int64(r.opts.BatchRows)))); err != nil {
				return fmt.Errorf("stopped while throttled: %w", ctxErrOr(ctx, err))
			}
		}
		r.mu.Lock()
		p.state.RowsDone += n
		r.live[p.name].written += n
		r.written += n
		r.mu.Unlock()
		r.report()
		return ctx.Err()
	})
	if err != nil {
		r.mu.Lock()
		p.state.RowsDone = 0 // rolled back: nothing of this attempt is on the target
		r.mu.Unlock()
		if ctx.Err() != nil {
			return fmt.Errorf("copy %s: stopped, the full copy is rolled back: %w", p.name, ctx.Err())
		}
		return fmt.Errorf("copy %s: %w", p.name, err)
	}
	if err := r.checkDrift(ctx, p); err != nil {
		return err
	}
	r.setStage(p, StageDone)
	log.Info("copied in one pass", "rows", p.state.RowsDone)
	return nil
}
