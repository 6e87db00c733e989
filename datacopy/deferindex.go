package datacopy

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/go-hclog"

	"github.com/godwit/godwit/datastore"
)

// Deferred indexes (Options.DeferIndexes): a PostgreSQL target table that
// is empty when its backfill starts is loaded without its key, unique
// constraints and indexes (datastore.DeferIndexes), which are built once
// its rows are in and before any catch-up pass (whose upserts need the
// key). The table's comment records what to build; the checkpoint carries
// a copy. A run resumed into such a table first deletes the rows past its
// checkpoint — a batch committed but not checkpointed would otherwise be
// loaded twice, with no key to stop it — then goes on, then builds.

// targetKey gives a target table whose key an earlier attempt deferred
// its key back (from the table's record), so it is planned as it was.
func (r *run) targetKey(ctx context.Context, dst *datastore.Table) error {
	if len(dst.PrimaryKey) > 0 || r.opts.To.Engine != datastore.Postgres {
		return nil
	}
	d, err := r.opts.To.IndexesDeferred(ctx, dst.Name)
	if err != nil {
		return err
	}
	if d != nil {
		dst.PrimaryKey = d.Key
	}
	return nil
}

// deferIndexes, at the start of a whole table's backfill, takes up the
// indexes an earlier attempt deferred, or defers them now if the table is
// empty and nothing makes it unsafe; otherwise the copy goes on as usual.
func (r *run) deferIndexes(ctx context.Context, p *tablePlan, log hclog.Logger) error {
	if p.rng != nil || p.state.Range != nil || r.opts.To.Engine != datastore.Postgres {
		return nil
	}
	d, err := r.opts.To.IndexesDeferred(ctx, p.target.Name)
	if err != nil {
		return fmt.Errorf("copy %s: %w", p.name, err)
	}
	r.mu.Lock()
	fresh := len(p.state.LastKey) == 0 && p.state.RowsDone == 0
	lastKey := append([]string(nil), p.state.LastKey...)
	wasDeferred := p.state.DeferredIndexes != nil
	r.mu.Unlock()
	switch {
	case d != nil:
		return r.resumeDeferred(ctx, p, d, lastKey, log)
	case wasDeferred:
		// The record goes once the last index is built: an attempt that
		// died after that left the indexes built.
		r.mu.Lock()
		p.state.IndexesAfterLoad = len(p.state.DeferredIndexes.Indexes)
		p.state.DeferredIndexes = nil
		r.mu.Unlock()
		return nil
	case !r.opts.DeferIndexes || !fresh || !datastore.OrderedKey(p.target):
		// A key that is not a number or a time is ordered by collation,
		// which may differ between the source and the target: deleting the
		// rows past a checkpoint would then not be exact.
		return nil
	}
	d, why, err := r.opts.To.DeferIndexes(ctx, p.target.Name)
	if err != nil && ctx.Err() == nil {
		// Nothing was dropped (one transaction): a table the copy may not
		// alter, or one another session holds, is loaded as it is.
		log.Warn("indexes kept during the load: could not defer them", "error", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("copy %s: %w", p.name, err)
	}
	if d == nil {
		log.Debug("indexes kept during the load", "because", why)
		return nil
	}
	log.Info("key and indexes dropped for the load, re-created after it", "indexes", d.Names())
	r.useDeferred(p, d)
	r.report()
	return nil
}

// resumeDeferred goes on with a load whose indexes an earlier attempt
// deferred: the rows past the checkpoint (all of them, from a fresh one)
// are deleted first.
func (r *run) resumeDeferred(ctx context.Context, p *tablePlan, d *datastore.DeferredIndexes, lastKey []string, log hclog.Logger) error {
	var after []any
	if len(lastKey) > 0 {
		var err error
		if after, err = datastore.DecodeKey(p.source, lastKey); err != nil {
			return fmt.Errorf("copy %s: %w", p.name, err)
		}
	}
	if len(p.target.PrimaryKey) == 0 {
		p.target.PrimaryKey = d.Key
	}
	n, err := r.opts.To.DeleteAfterKey(ctx, p.target, after)
	if err != nil {
		return fmt.Errorf("copy %s: %w", p.name, err)
	}
	log.Info("resuming a load with deferred indexes: rows past the checkpoint deleted", "deleted", n, "indexes", d.Names())
	r.useDeferred(p, d)
	return nil
}

func (r *run) useDeferred(p *tablePlan, d *datastore.DeferredIndexes) {
	r.mu.Lock()
	p.state.DeferredIndexes = d
	r.mu.Unlock()
	p.target.IndexesDeferred = true
}

// restoreIndexes builds the indexes deferred for the load, saying so in
// the progress while it runs (a big table's take a while).
func (r *run) restoreIndexes(ctx context.Context, p *tablePlan, log hclog.Logger) error {
	r.mu.Lock()
	d := p.state.DeferredIndexes
	r.mu.Unlock()
	if d == nil {
		return nil
	}
	log.Info("building indexes", "count", len(d.Indexes), "indexes", d.Names())
	r.building(p, len(d.Indexes))
	err := r.opts.To.RestoreIndexes(ctx, p.target.Name, d, func(i, n int, name string) {
		log.Info("building index", "index", name, "of", fmt.Sprintf("%d/%d", i+1, n))
	})
	r.building(p, 0)
	if err != nil {
		return fmt.Errorf("copy %s: %w", p.name, err)
	}
	r.mu.Lock()
	p.state.DeferredIndexes = nil
	p.state.IndexesAfterLoad = len(d.Indexes)
	r.mu.Unlock()
	p.target.IndexesDeferred = false
	return nil
}

func (r *run) building(p *tablePlan, n int) {
	r.mu.Lock()
	r.live[p.name].building = n
	r.mu.Unlock()
	r.report()
}

// failDeferred is what a table's copy returns when it failed with its
// indexes deferred. A failure that retrying cannot fix builds them now
// (after deleting the rows past the checkpoint, which may hold a batch
// twice): the copy is not coming back for them. Otherwise they stay
// deferred for the next attempt, and the error says what is missing.
func (r *run) failDeferred(ctx context.Context, p *tablePlan, err error, log hclog.Logger) error {
	r.mu.Lock()
	d := p.state.DeferredIndexes
	lastKey := append([]string(nil), p.state.LastKey...)
	r.mu.Unlock()
	if d == nil {
		return err
	}
	if datastore.IsPermanent(err) && ctx.Err() == nil && !errors.Is(err, datastore.ErrDuplicateKey) {
		rerr := r.resumeDeferred(ctx, p, d, lastKey, log)
		if rerr == nil {
			rerr = r.restoreIndexes(ctx, p, log)
		}
		if rerr == nil {
			return fmt.Errorf("%w (the deferred key and indexes of %s were re-created)", err, p.target.Name)
		}
		log.Error("could not re-create the deferred indexes", "error", rerr)
	}
	return fmt.Errorf("%w; the key and indexes of %s are not built yet (deferred for the load, listed in the table's comment): a later attempt of the copy builds them, else run:\n%s",
		err, p.target.Name, d.Statements(p.target.Name))
}
