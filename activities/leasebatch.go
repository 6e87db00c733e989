package activities

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"

	"github.com/godwit/godwit/config"
)

// Leases taken and released by activities (the migration's leaseBatchV1):
// one activity starts every Lease workflow with the worker's client, so a
// migration's history holds a handful of events whatever the number of
// tables, where a child workflow per lease cost it four to five each.

// Names of the lease activities that take and release a run's leases.
const (
	AcquireLeasesName = "AcquireLeases"
	ReleaseLeasesName = "ReleaseLeases"
)

// LeaseWorkflowType is the Lease workflow's type, and LeaseReleaseSignal
// the signal that ends it (workflows.LeaseWorkflowName, SignalRelease).
const (
	LeaseWorkflowType  = "Lease"
	LeaseReleaseSignal = "release"
)

// MemoLeaseHolder is the memo field of a lease started by AcquireLeases:
// a LeaseHolderRef naming the migration that holds it. A lease started as
// a child names its holder as its parent instead.
const MemoLeaseHolder = "godwitLeaseHolder"

// leaseStarts is how many lease starts (or signals) run at once.
const leaseStarts = 16

// LeaseHolderRef names the run of a migration that holds a lease.
type LeaseHolderRef struct {
	Workflow string `json:"workflow"`
	Run      string `json:"run,omitempty"`
}

// AcquireLeasesInput asks for every lease the spec's migration needs, on
// behalf of Holder (its workflow ID) and HolderRun (the run taking them).
type AcquireLeasesInput struct {
	Spec      config.Spec `json:"spec"`
	Holder    string      `json:"holder"`
	HolderRun string      `json:"holderRun"`
}

// LeaseConflict says which resource another running migration holds.
type LeaseConflict struct {
	Name   string `json:"name"`
	Holder string `json:"holder"`
}

// AcquireLeasesResult lists the IDs of the leases taken (sorted), or the
// resource another migration holds (Held; then none is taken).
type AcquireLeasesResult struct {
	IDs  []string       `json:"ids,omitempty"`
	Held *LeaseConflict `json:"held,omitempty"`
}

// ReleaseLeasesInput lists the leases to end.
type ReleaseLeasesInput struct {
	IDs []string `json:"ids"`
}

// LeaseProgress is the heartbeat of AcquireLeases and ReleaseLeases: how
// many of Total leases are taken (or released) so far.
type LeaseProgress struct {
	Done  int `json:"done"`
	Total int `json:"total"`
}

// AcquireLeases takes a lease on every resource the spec drives, starting
// each Lease workflow with the worker's client: the server starts at most
// one per ID, so two migrations never both hold one. A lease already held
// by this run (an earlier attempt) counts as taken; one whose holder has
// ended is cleared and taken; one held by another running migration ends
// the call with Held set, after ending every lease this call found or took
// for the run, so nothing is left half-acquired.
func (a *Activities) AcquireLeases(ctx context.Context, in AcquireLeasesInput) (AcquireLeasesResult, error) {
	list, err := a.leaseResources(ctx, &in.Spec)
	if err != nil {
		return AcquireLeasesResult{}, err
	}
	l := a.leaser(ctx)
	l.heartbeat(LeaseProgress{Total: len(list)})
	if held, err := l.legacyHolder(ctx, a, list, in.Holder); err != nil || held != nil {
		return AcquireLeasesResult{Held: held}, err
	}
	return l.acquire(ctx, list, LeaseHolderRef{Workflow: in.Holder, Run: in.HolderRun})
}

// ReleaseLeases signals every lease of in to end; a lease that has
// already ended needs nothing.
func (a *Activities) ReleaseLeases(ctx context.Context, in ReleaseLeasesInput) error {
	return a.leaser(ctx).release(ctx, in.IDs)
}

// leaser takes and releases leases with a Temporal client.
type leaser struct {
	c         client.Client
	taskQueue string
	log       func(msg string, kv ...any)
	heartbeat func(LeaseProgress)
}

func (a *Activities) leaser(ctx context.Context) leaser {
	return leaser{
		c:         activity.GetClient(ctx),
		taskQueue: activity.GetInfo(ctx).TaskQueue,
		log:       a.Logger.Warn,
		heartbeat: func(p LeaseProgress) { activity.RecordHeartbeat(ctx, p) },
	}
}

// legacyHolder checks the old-form leases of each resource (runs started
// before leases were keyed hold them so), clearing stale ones, and returns
// the first resource, in list order, another running migration holds.
func (l leaser) legacyHolder(ctx context.Context, a *Activities, list []LeaseResource, holder string) (*LeaseConflict, error) {
	holders := make([]string, len(list))
	err := forEach(ctx, len(list), func(ctx context.Context, i int) error {
		for _, old := range list[i].Legacy {
			h, err := a.claimLease(ctx, l.c, LeaseClaim{Resource: old, Holder: holder})
			if err != nil {
				return err
			}
			if h.Holder != "" {
				holders[i] = h.Holder
				return nil
			}
		}
		return nil
	}, func() { l.heartbeat(LeaseProgress{Total: len(list)}) })
	if err != nil {
		return nil, err
	}
	for i, h := range holders {
		if h != "" {
			return &LeaseConflict{Name: list[i].Name, Holder: h}, nil
		}
	}
	return nil, nil
}

// acquire starts the lease of each resource in list for holder.
func (l leaser) acquire(ctx context.Context, list []LeaseResource, holder LeaseHolderRef) (AcquireLeasesResult, error) {
	ours := make([]string, len(list)) // the run of each lease taken
	holders := make([]string, len(list))
	var taken atomic.Int64
	err := forEach(ctx, len(list), func(ctx context.Context, i int) error {
		h, run, err := l.take(ctx, list[i], holder)
		if err != nil {
			return fmt.Errorf("lease on %s: %w", list[i].Name, err)
		}
		if h != "" {
			holders[i] = h
			return errLeaseHeld
		}
		ours[i] = run
		taken.Add(1)
		return nil
	}, func() { l.heartbeat(LeaseProgress{Done: int(taken.Load()), Total: len(list)}) })
	var ids, runs []string
	var held *LeaseConflict
	for i := range list {
		if ours[i] != "" {
			ids, runs = append(ids, list[i].ID), append(runs, ours[i])
		}
		if holders[i] != "" && held == nil {
			held = &LeaseConflict{Name: list[i].Name, Holder: holders[i]}
		}
	}
	if err == nil {
		return AcquireLeasesResult{IDs: ids}, nil
	}
	// Nothing half-acquired: the run stops, and would not know of these.
	// Each is ended at once (terminated, that run only), so no other
	// migration finds it held meanwhile.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
	defer cancel()
	if rerr := l.undo(rctx, ids, runs); rerr != nil {
		l.log("leases taken before the failure were not all ended; each ends by itself once it finds its holder gone (it checks every 10 minutes)", "error", rerr)
	}
	if held != nil {
		return AcquireLeasesResult{Held: held}, nil
	}
	return AcquireLeasesResult{}, err
}

var errLeaseHeld = errors.New("lease held by another migration")

// undo ends the leases ids (of runs) that an acquisition that failed took.
func (l leaser) undo(ctx context.Context, ids, runs []string) error {
	return forEach(ctx, len(ids), func(ctx context.Context, i int) error {
		err := l.c.TerminateWorkflow(ctx, ids[i], runs[i], "its migration was refused a lease, or failed to take them all: it holds none")
		var notFound *serviceerror.NotFound
		if err != nil && !errors.As(err, &notFound) {
			return fmt.Errorf("end lease %s: %w", ids[i], err)
		}
		return nil
	}, nil)
}

// take starts res's lease for holder. It returns the other running
// migration holding it, or "" and the lease's run once holder holds it
// (now or from an earlier attempt).
func (l leaser) take(ctx context.Context, res LeaseResource, holder LeaseHolderRef) (string, string, error) {
	claim := LeaseClaim{Resource: res.Name, Holder: holder.Workflow, HolderRun: holder.Run, ID: res.ID}
	opts := client.StartWorkflowOptions{
		ID:        res.ID,
		TaskQueue: l.taskQueue,
		// Started only if none runs, atomically on the server.
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		Memo:                                     map[string]any{MemoLeaseHolder: holder},
	}
	for attempt := 0; ; attempt++ {
		run, err := l.c.ExecuteWorkflow(ctx, opts, LeaseWorkflowType, claim)
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		if err == nil {
			return "", run.GetRunID(), nil
		}
		if !errors.As(err, &started) {
			return "", "", err
		}
		if attempt == 2 {
			return "", "", fmt.Errorf("start lease %s: it kept being taken and ending: %w", res.ID, err)
		}
		ref, lease, err := leaseHolder(ctx, l.c, res.ID)
		switch {
		case err != nil:
			return "", "", err
		case lease == "":
			continue // it ended meanwhile: start it again
		case ref.Workflow == holder.Workflow && (ref.Run == holder.Run || ref.Run == "" || holder.Run == ""):
			return "", lease, nil // ours, from an earlier attempt
		}
		// Held by another running migration, or stale and ended now (then
		// started again by the next turn of the loop).
		if other, err := heldElsewhere(ctx, l.c, l.log, res.Name, res.ID, lease, ref.Workflow, holder.Workflow); err != nil || other != "" {
			return other, "", err
		}
	}
}

// release signals each lease in ids to end, ignoring those already ended.
func (l leaser) release(ctx context.Context, ids []string) error {
	var done atomic.Int64
	return forEach(ctx, len(ids), func(ctx context.Context, i int) error {
		err := l.c.SignalWorkflow(ctx, ids[i], "", LeaseReleaseSignal, nil)
		var notFound *serviceerror.NotFound
		if err != nil && !errors.As(err, &notFound) {
			return fmt.Errorf("release lease %s: %w", ids[i], err)
		}
		done.Add(1)
		return nil
	}, func() { l.heartbeat(LeaseProgress{Done: int(done.Load()), Total: len(ids)}) })
}

// forEach runs do for 0..n-1, leaseStarts at a time, calling beat every
// second or so. After the first error it starts no more, but lets those
// under way finish (a lease started is one to account for), and returns
// that error.
func forEach(ctx context.Context, n int, do func(context.Context, int) error, beat func()) error {
	next := make(chan int)
	failed := make(chan struct{})
	var once sync.Once
	var first error
	var wg sync.WaitGroup
	for w := 0; w < min(leaseStarts, n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := do(ctx, i); err != nil {
					once.Do(func() { first = err; close(failed) })
				}
			}
		}()
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
feed:
	for i := 0; i < n; i++ {
		for {
			select {
			case next <- i:
				continue feed
			case <-failed:
				break feed
			case <-ctx.Done():
				break feed
			case <-tick.C:
				if beat != nil {
					beat()
				}
			}
		}
	}
	close(next)
	wg.Wait()
	if beat != nil {
		beat()
	}
	if first != nil {
		return first
	}
	return ctx.Err()
}

// leaseHolder is the holder of the lease workflow id, and the lease's
// run while it runs ("" when it does not): the holder is named in its
// memo (started by AcquireLeases) or is its parent (started as a child by
// runs before leaseBatchV1).
func leaseHolder(ctx context.Context, c client.Client, id string) (LeaseHolderRef, string, error) {
	desc, err := c.DescribeWorkflow(ctx, id, "")
	var notFound *serviceerror.NotFound
	switch {
	case errors.As(err, &notFound):
		return LeaseHolderRef{}, "", nil
	case err != nil:
		return LeaseHolderRef{}, "", fmt.Errorf("describe lease %s: %w", id, err)
	}
	if desc.Status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return LeaseHolderRef{}, "", nil
	}
	run := desc.WorkflowExecution.RunID
	if _, ok := desc.Memo.GetFields()[MemoLeaseHolder]; ok {
		var ref LeaseHolderRef
		if err := desc.GetMemoValue(MemoLeaseHolder, &ref); err != nil {
			return LeaseHolderRef{}, "", fmt.Errorf("lease %s: read its holder: %w", id, err)
		}
		return ref, run, nil
	}
	if p := desc.ParentWorkflowExecution; p != nil {
		return LeaseHolderRef{Workflow: p.ID, Run: p.RunID}, run, nil
	}
	return LeaseHolderRef{}, run, nil
}

// LeaseHolderOf is the migration holding the lease workflow id, as
// leaseHolder finds it, and whether the lease runs (for the CLI's checks).
func LeaseHolderOf(ctx context.Context, c client.Client, id string) (LeaseHolderRef, bool, error) {
	ref, run, err := leaseHolder(ctx, c, id)
	return ref, run != "", err
}
