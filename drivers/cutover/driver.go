package cutover

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.temporal.io/sdk/temporal"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/cdc"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/drivers/replicate"
	"github.com/godwit/godwit/drivers/stores"
	"github.com/godwit/godwit/gateway/client"
)

// Error types of the driver's failures (temporal.ApplicationError types).
const (
	// ErrTypeCatchUpTimeout: the target did not catch up within the
	// timeout; the switch was cancelled (writes released to legacy,
	// weights unchanged). Retryable: the lag may be lower on the next
	// attempt, and each attempt holds writes for at most the timeout; once
	// the phase's retries are spent the migration rolls back.
	ErrTypeCatchUpTimeout = "CutoverCatchUpTimeout"
	// ErrTypeGatewayRefused: the gateway refused a call for good (unknown
	// route, bad token). Not retryable.
	ErrTypeGatewayRefused = "GatewayRefused"
)

// ErrCatchUpTimeout is wrapped by the error of a cut-over cancelled
// because the catch-up did not finish within the timeout.
var ErrCatchUpTimeout = errors.New("catch-up did not finish within the timeout")

// Driver runs cutover phases.
type Driver struct {
	Logger hclog.Logger
	// LagEvery is how often the catch-up measures the lag (default 100ms:
	// writes are held while it runs, so it checks often).
	LagEvery time.Duration
	// DrainEvery is how often the gateway is asked whether writes are
	// still in flight (default 50ms).
	DrainEvery time.Duration
	// HTTPClient carries the admin API calls; nil: the client's default.
	HTTPClient *http.Client
}

// New returns the cutover driver.
func New(logger hclog.Logger) *Driver {
	return &Driver{Logger: logger, LagEvery: 100 * time.Millisecond, DrainEvery: 50 * time.Millisecond}
}

// checkpoint is what the heartbeat carries: once the weights are set, a
// retry only releases the writes (it must not hold them again to catch up
// a capture that new's writes no longer feed).
type checkpoint struct {
	Switched bool `json:"switched"`
}

// Do runs the cut-over, or (compensation) moves the route back to legacy.
func (d *Driver) Do(ctx context.Context, action activities.Action, in activities.PhaseInput, resume activities.Heartbeat, beat func(activities.Heartbeat)) (activities.PhaseResult, error) {
	s, ok := in.Phase.Driver.(*Spec)
	if !ok || s.Stores == nil {
		err := fmt.Errorf("phase %s: cutover section missing or its stores not resolved (load the spec with config.ParseSpec)", in.Phase.Name)
		return activities.PhaseResult{}, temporal.NewNonRetryableApplicationError(err.Error(), activities.ErrTypeConfig, err)
	}
	log := d.Logger.With("migration", in.Migration, "phase", in.Phase.Name, "route", s.Route)
	gw, err := d.client(s)
	if err != nil {
		return activities.PhaseResult{}, temporal.NewNonRetryableApplicationError(err.Error(), activities.ErrTypeConfig, err)
	}
	if action == activities.ActionCompensate {
		return d.compensate(ctx, log, gw, s)
	}
	var cp checkpoint
	if resume.Checkpoint != "" {
		_ = json.Unmarshal([]byte(resume.Checkpoint), &cp) // unreadable: start over, which is safe
	}
	if cp.Switched {
		if _, err := gw.ReleaseWrites(ctx, s.Route); err != nil {
			return activities.PhaseResult{}, classify(err)
		}
		return activities.PhaseResult{Summary: fmt.Sprintf("route %s: writes moved to new by an earlier attempt; writes released", s.Route)}, nil
	}
	o, closeAll, err := d.open(ctx, s, in.Migration, log)
	if err != nil {
		return activities.PhaseResult{}, stores.Classify("cut-over of "+s.Route, err)
	}
	defer closeAll()
	return d.switchWrites(ctx, log, gw, s, o, beat)
}

// switchWrites is the cut-over proper.
func (d *Driver) switchWrites(ctx context.Context, log hclog.Logger, gw *client.Client, s *Spec, o cdc.RunOptions, beat func(activities.Heartbeat)) (activities.PhaseResult, error) {
	timeout := s.Timeout.D()
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	before, err := gw.Route(ctx, s.Route)
	if err != nil {
		return activities.PhaseResult{}, classify(err)
	}
	// The hold releases itself if this worker dies: the timeout, plus time
	// to set the weights and release.
	if _, err := gw.HoldWrites(ctx, s.Route, timeout+30*time.Second); err != nil {
		return activities.PhaseResult{}, classify(err)
	}
	heldAt := time.Now()
	released := false
	release := func() error {
		if released {
			return nil
		}
		// Writes must go on even when ctx is cancelled (pause, rollback).
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer cancel()
		_, err := gw.ReleaseWrites(rctx, s.Route)
		released = err == nil
		return err
	}
	defer func() {
		if err := release(); err != nil {
			log.Error("could not release the route's writes; the gateway releases them at the hold's end", "error", err)
		}
	}()
	beat(activities.Heartbeat{Detail: fmt.Sprintf("route %s: writes held; waiting for writes in flight, then catching up (at most %s)", s.Route, timeout)})

	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var final cdc.Progress
	err = gw.WaitWritesDrained(cctx, s.Route, d.DrainEvery)
	if err == nil {
		// Every write the source will see before the switch is committed
		// now: drain up to this moment.
		o.Until = cdc.Drained(time.Now())
		_, err = cdc.Run(cctx, o, cdc.Checkpoint{}, func(p cdc.Progress) {
			final = p
			beat(activities.Heartbeat{Records: p.AppliedThisRun, Detail: fmt.Sprintf("route %s: writes held for %s; catching up: %d changes behind, %d applied",
				s.Route, time.Since(heldAt).Round(time.Millisecond), p.Lag.Changes, p.AppliedThisRun)})
		})
	}
	if err != nil {
		relErr := release()
		held := time.Since(heldAt).Round(time.Millisecond)
		switch {
		case ctx.Err() != nil:
			return activities.PhaseResult{}, ctx.Err()
		case cctx.Err() != nil:
			behind := "lag not measured yet"
			if !final.Lag.Measured.IsZero() {
				behind = fmt.Sprintf("%d changes still behind", final.Lag.Changes)
			}
			msg := fmt.Sprintf("cut-over of route %s cancelled: %v (%s; %s): writes released to legacy after %s, weights left at read %d, write %d",
				s.Route, ErrCatchUpTimeout, timeout, behind, held, before.Weights.Read, before.Weights.Write)
			if relErr != nil {
				msg += fmt.Sprintf("; releasing writes failed (the gateway releases them by itself within %s): %v", timeout+30*time.Second, relErr)
			}
			log.Warn("cut-over cancelled: catch-up too slow", "timeout", timeout, "behind", final.Lag.Changes)
			return activities.PhaseResult{}, temporal.NewApplicationErrorWithCause(msg, ErrTypeCatchUpTimeout, fmt.Errorf("%w: %v", ErrCatchUpTimeout, err))
		case errors.As(err, new(*client.Error)):
			return activities.PhaseResult{}, classify(err)
		}
		if cdc.IsPermanent(err) {
			return activities.PhaseResult{}, temporal.NewNonRetryableApplicationError("catch-up before the cut-over of "+s.Route+": "+err.Error(), activities.ErrTypeConfig, err)
		}
		return activities.PhaseResult{}, fmt.Errorf("catch-up before the cut-over of %s: %w", s.Route, err)
	}
	if _, err := gw.SetWeights(ctx, s.Route, 100, 100); err != nil {
		// The weights did not change (or the call's answer was lost and a
		// retry sets them again): writes go back to legacy.
		return activities.PhaseResult{}, classify(err)
	}
	cp, _ := json.Marshal(checkpoint{Switched: true})
	beat(activities.Heartbeat{Percent: 100, Checkpoint: string(cp), Detail: fmt.Sprintf("route %s: weights 100/100; releasing writes", s.Route)})
	if err := release(); err != nil {
		return activities.PhaseResult{}, classify(err)
	}
	held := time.Since(heldAt).Round(time.Millisecond)
	log.Info("writes cut over to new", "held", held, "applied", final.AppliedThisRun)
	return activities.PhaseResult{
		Records: final.AppliedThisRun,
		Summary: fmt.Sprintf("route %s cut over to new (read and write weights 100, were %d/%d): writes held for %s, %d changes applied in the catch-up",
			s.Route, before.Weights.Read, before.Weights.Write, held, final.AppliedThisRun),
		Outputs: map[string]string{"heldFor": held.String()},
	}, nil
}

// compensate moves the route back to legacy and releases any hold.
func (d *Driver) compensate(ctx context.Context, log hclog.Logger, gw *client.Client, s *Spec) (activities.PhaseResult, error) {
	if _, err := gw.SetWeights(ctx, s.Route, 0, 0); err != nil {
		return activities.PhaseResult{}, classify(err)
	}
	if _, err := gw.ReleaseWrites(ctx, s.Route); err != nil {
		return activities.PhaseResult{}, classify(err)
	}
	log.Info("route moved back to legacy")
	return activities.PhaseResult{Summary: fmt.Sprintf("route %s back on legacy (weights 0/0), writes released; writes made on new since the cut-over are not copied back to legacy", s.Route)}, nil
}

// open connects to both stores and resolves the tables.
func (d *Driver) open(ctx context.Context, s *Spec, migration string, log hclog.Logger) (cdc.RunOptions, func(), error) {
	var o cdc.RunOptions
	st := s.Stores[s.From]
	dsn, err := activities.ResolveSecret(st.DSN)
	if err != nil {
		return o, nil, fmt.Errorf("store %s: DSN: %w: %v", s.From, datastore.ErrBadDSN, err)
	}
	from, err := stores.Open(ctx, s.Stores, s.From)
	if err != nil {
		return o, nil, err
	}
	to, err := stores.Open(ctx, s.Stores, s.To)
	if err != nil {
		from.Close()
		return o, nil, err
	}
	closeAll := func() { from.Close(); to.Close() }
	names, err := from.ResolveTables(ctx, s.Tables)
	if err != nil {
		closeAll()
		return o, nil, fmt.Errorf("store %s: %w", s.From, err)
	}
	o.Options = cdc.Options{Source: from, SourceDSN: dsn, Name: replicate.CaptureName(migration, st), Tables: names, Logger: log}
	o.Target = to
	o.LagEvery = d.LagEvery
	o.Wait = d.LagEvery
	return o, closeAll, nil
}

// client returns an admin API client with the token read on this worker.
func (d *Driver) client(s *Spec) (*client.Client, error) {
	token := ""
	if s.Gateway.Token != nil {
		var err error
		if token, err = activities.ResolveSecret(*s.Gateway.Token); err != nil {
			return nil, fmt.Errorf("gateway token: %w", err)
		}
	}
	return client.New(client.Options{BaseURL: s.Gateway.Admin, Token: token, HTTPClient: d.HTTPClient})
}

// classify: the gateway's permanent refusals are not retried; everything
// else (network, 5xx) is.
func classify(err error) error {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case client.IsPermanent(err):
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeGatewayRefused, err)
	}
	return fmt.Errorf("cut-over: %w", err)
}

// Preflight checks, changing nothing, that the gateway's admin API answers
// and knows the route, that both stores are reachable, the source tables exist, and
// that the capture exists on the source or an earlier phase sets it up.
func (d *Driver) Preflight(ctx context.Context, spec *config.Spec, phase config.PhaseSpec) []string {
	s, ok := phase.Driver.(*Spec)
	if !ok {
		return []string{"has no cutover section"}
	}
	var problems []string
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if gw, err := d.client(s); err != nil {
		problems = append(problems, err.Error())
	} else if _, err := gw.Route(ctx, s.Route); err != nil {
		problems = append(problems, explain(s, err))
	}
	from, _, more, closeStores := stores.OpenPair(ctx, spec.Stores, s.From, s.To)
	defer closeStores()
	problems = append(problems, more...)
	if from != nil {
		_, missing, err := stores.ResolveEach(ctx, from, s.From, s.Tables)
		if err != nil {
			problems = append(problems, stores.Problem(s.From, err))
		}
		problems = append(problems, missing...)
		objs, err := cdc.Objects(ctx, from, replicate.CaptureName(spec.Name, spec.Stores[s.From]))
		switch {
		case err != nil:
			problems = append(problems, stores.Problem(s.From, err))
		case len(objs) == 0 && !setUpEarlier(spec, phase.Name, s.From):
			problems = append(problems, fmt.Sprintf("store %s: no change capture of this migration exists and no earlier replicate phase with mode: setup creates one", s.From))
		}
	}
	return problems
}

// setUpEarlier reports whether a phase before this one sets up a capture
// of store from.
func setUpEarlier(spec *config.Spec, phase, from string) bool {
	for _, p := range spec.Phases {
		if p.Name == phase {
			return false
		}
		if r, ok := p.Driver.(*replicate.Spec); ok && r.From == from && r.Mode == replicate.ModeSetup {
			return true
		}
	}
	return false
}

// explain turns a failed route lookup into a sentence a person can act on.
func explain(s *Spec, err error) string {
	var ce *client.Error
	if errors.As(err, &ce) {
		switch ce.Status {
		case 0:
			return fmt.Sprintf("the gateway's admin API at %s is not reachable from this worker: %s", s.Gateway.Admin, ce.Message)
		case http.StatusUnauthorized, http.StatusForbidden:
			return fmt.Sprintf("the gateway at %s refused the admin token (set gateway.token to the gateway's admin token)", s.Gateway.Admin)
		case http.StatusNotFound:
			return fmt.Sprintf("route %q does not exist on the gateway at %s", s.Route, s.Gateway.Admin)
		}
	}
	return fmt.Sprintf("gateway at %s: %v", s.Gateway.Admin, err)
}
