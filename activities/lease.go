package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"

	"github.com/godwit/godwit/config"
)

// Lease activity names.
const (
	ClaimLeaseName     = "ClaimLease"
	HolderRunningName  = "HolderRunning"
	LeaseResourcesName = "LeaseResources"
)

// LeaseIDPrefix starts every lease workflow's ID, so a visibility query
// (WorkflowId STARTS_WITH "godwit-lease:") finds them, or leaves them out.
const LeaseIDPrefix = "godwit-lease:"

// LeaseWorkflowID is the workflow ID of resource's lease in the form runs
// started before leases were keyed by identity use (the resource as
// written: a DSN variable's name, a table's): a new run checks it too, so
// an old and a new run never hold one resource at once.
func LeaseWorkflowID(resource string) string { return LeaseIDPrefix + resource }

// LeaseKeyID is the workflow ID of the lease on key (a store's identity
// and a table, a route, a workspace): a hash, so no table, store or
// variable name shows in the Temporal UI; the readable name travels in
// the lease's input, which payload encryption covers.
func LeaseKeyID(key string) string {
	sum := sha256.Sum256([]byte(key))
	return LeaseIDPrefix + "k:" + hex.EncodeToString(sum[:16])
}

// LeaseKey is what a resource is leased by: Key says which thing it is
// (two names of one database give one key), Name is for people.
type LeaseKey struct {
	Key  string
	Name string
	// Also are further leases the resource needs: the tables a table
	// pattern (orders_*) stands for when the run starts, so a migration
	// naming one of them by name collides with the pattern's. Each gives
	// the old-form resource it would have been written as in Legacy.
	Also []LeaseKey
	// Legacy is an Also entry's old-form resource.
	Legacy string
}

// LeaseKeyer turns a spec's resources (config.Spec.AllResources) into
// their lease keys, in order; it may do I/O (a store's identity).
type LeaseKeyer func(ctx context.Context, spec *config.Spec, resources []string) ([]LeaseKey, error)

// LeaseResource is one lease a migration takes: the lease workflow's ID,
// the readable name (only ever in payloads), the old-form resources it
// covers, and who holds one of those, if anyone.
type LeaseResource struct {
	ID     string   `json:"id"`
	Name   string   `json:"name"`
	Legacy []string `json:"legacy,omitempty"`
	// LegacyHolder is the running migration holding an old-form lease on
	// the resource (LeaseResources only).
	LegacyHolder string `json:"legacyHolder,omitempty"`
}

// LeaseResourcesInput asks for the leases a spec needs, on behalf of
// Holder (the migration's workflow ID).
type LeaseResourcesInput struct {
	Spec   config.Spec `json:"spec"`
	Holder string      `json:"holder"`
}

// LeaseClaim asks who holds a resource's lease, on behalf of Holder. ID is
// the lease's workflow ID; empty: the old form, LeaseWorkflowID(Resource).
// It is also the Lease workflow's input.
type LeaseClaim struct {
	Resource string `json:"resource"`
	Holder   string `json:"holder"`
	ID       string `json:"id,omitempty"`
	// HolderRun is the run of Holder that took the lease (leases taken
	// by AcquireLeases); "" before.
	HolderRun string `json:"holderRun,omitempty"`
}

// WorkflowID is the ID of the lease workflow the claim is about.
func (c LeaseClaim) WorkflowID() string {
	if c.ID != "" {
		return c.ID
	}
	return LeaseWorkflowID(c.Resource)
}

// LeaseHolder answers a LeaseClaim: the live holder, or "" once a stale
// lease has been cleared.
type LeaseHolder struct {
	Holder string `json:"holder"`
}

// HolderRunning reports whether the migration with workflow ID holder is
// still running.
func (a *Activities) HolderRunning(ctx context.Context, holder string) (bool, error) {
	return workflowRunning(ctx, holder)
}

// ClaimLease finds who holds the lease on a resource. A lease whose holder
// has ended (terminated by hand, so it never released) is terminated here,
// so the resource is free again.
func (a *Activities) ClaimLease(ctx context.Context, in LeaseClaim) (LeaseHolder, error) {
	return a.claimLease(ctx, activity.GetClient(ctx), in)
}

func (a *Activities) claimLease(ctx context.Context, c client.Client, in LeaseClaim) (LeaseHolder, error) {
	id := in.WorkflowID()
	ref, run, err := leaseHolder(ctx, c, id)
	if err != nil || run == "" {
		return LeaseHolder{}, err
	}
	holder, err := heldElsewhere(ctx, c, a.Logger.Warn, in.Resource, id, run, ref.Workflow, in.Holder)
	return LeaseHolder{Holder: holder}, err
}

// heldElsewhere returns holder when it is a running migration other than
// claimant: the lease (workflow id, its run) is held. Otherwise the lease
// is stale — its holder ended, or it is an earlier run of the claimant
// that ended without releasing it — and is ended here (that run only), so
// the resource is free again: "".
func heldElsewhere(ctx context.Context, c client.Client, log func(msg string, kv ...any), resource, id, run, holder, claimant string) (string, error) {
	if holder != "" && holder != claimant {
		running, err := workflowRunningWith(ctx, c, holder)
		if err != nil {
			return "", err
		}
		if running {
			return holder, nil
		}
	}
	log("clearing a stale lease", "resource", resource, "holder", holder)
	var notFound *serviceerror.NotFound
	if err := c.TerminateWorkflow(ctx, id, run, "stale lease: its holder "+holder+" has ended"); err != nil && !errors.As(err, &notFound) {
		return "", fmt.Errorf("clear stale lease %s: %w", id, err)
	}
	return "", nil
}

// LeaseResources lists the leases the spec's migration takes, keyed by
// what each resource is (a store's identity, read from the store), sorted
// by ID and each once, and says for each whether a run started before
// leases were keyed so holds it in the old form: such a run does not know
// the new IDs, so only this check keeps the two apart. It costs one
// lookup per resource; drop it in a release after every run started
// before leaseKeyV1 has ended.
func (a *Activities) LeaseResources(ctx context.Context, in LeaseResourcesInput) ([]LeaseResource, error) {
	list, err := a.leaseResources(ctx, &in.Spec)
	if err != nil {
		return nil, err
	}
	for i := range list {
		for _, old := range list[i].Legacy {
			h, err := a.ClaimLease(ctx, LeaseClaim{Resource: old, Holder: in.Holder})
			if err != nil {
				return nil, err
			}
			if h.Holder != "" {
				list[i].LegacyHolder = h.Holder
				break
			}
		}
	}
	return list, nil
}

// leaseResources keys the spec's resources, without looking at leases.
func (a *Activities) leaseResources(ctx context.Context, spec *config.Spec) ([]LeaseResource, error) {
	resources := spec.AllResources()
	if len(resources) == 0 {
		return nil, nil
	}
	keyer := a.LeaseKeyer
	if keyer == nil {
		keyer = PlainLeaseKeys
	}
	keys, err := keyer(ctx, spec, resources)
	if err != nil {
		return nil, err
	}
	if len(keys) != len(resources) {
		return nil, fmt.Errorf("lease keys: %d for %d resources (a bug in the worker, please report it)", len(keys), len(resources))
	}
	byID := map[string]int{}
	var out []LeaseResource
	for i, res := range resources {
		id := LeaseKeyID(keys[i].Key)
		if j, ok := byID[id]; ok {
			out[j].Legacy = append(out[j].Legacy, res)
			continue
		}
		byID[id] = len(out)
		out = append(out, LeaseResource{ID: id, Name: keys[i].Name, Legacy: []string{res}})
	}
	// A pattern's tables after every resource as written, so a table the
	// spec also names by name is listed under its own name.
	for i := range keys {
		for _, also := range keys[i].Also {
			id := LeaseKeyID(also.Key)
			if j, ok := byID[id]; ok {
				if also.Legacy != "" && !slices.Contains(out[j].Legacy, also.Legacy) {
					out[j].Legacy = append(out[j].Legacy, also.Legacy)
				}
				continue
			}
			byID[id] = len(out)
			lr := LeaseResource{ID: id, Name: also.Name}
			if also.Legacy != "" {
				lr.Legacy = []string{also.Legacy}
			}
			out = append(out, lr)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// PlainLeaseKeys keys each resource by itself, as written: for resources
// that need no I/O to say what they are (a route, a workspace, the
// spec's own resources:).
func PlainLeaseKeys(_ context.Context, _ *config.Spec, resources []string) ([]LeaseKey, error) {
	out := make([]LeaseKey, len(resources))
	for i, r := range resources {
		out[i] = LeaseKey{Key: r, Name: r}
	}
	return out, nil
}

func workflowRunning(ctx context.Context, id string) (bool, error) {
	return workflowRunningWith(ctx, activity.GetClient(ctx), id)
}

func workflowRunningWith(ctx context.Context, c client.Client, id string) (bool, error) {
	desc, err := c.DescribeWorkflowExecution(ctx, id, "")
	var notFound *serviceerror.NotFound
	switch {
	case errors.As(err, &notFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("describe %s: %w", id, err)
	}
	return desc.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, nil
}
