package traffic

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/drivers/stores"
	"github.com/godwit/godwit/gateway/api"
	"github.com/godwit/godwit/gateway/client"
	"github.com/godwit/godwit/haproxy"
	"github.com/godwit/godwit/migration"
)

// Error types of the driver's application errors, for retry policies and
// the report. Retrying cannot help the first and the last two.
const (
	// ErrTypeGatewayRefused: the gateway refused a call for good (unknown
	// route, wrong token, bad weight). Before it was one with the
	// cutover's it said GatewayRequestRefused.
	ErrTypeGatewayRefused = activities.ErrTypeGatewayRefused
	// ErrTypeGatewayUnavailable: the call may pass later (network, 5xx).
	ErrTypeGatewayUnavailable = activities.ErrTypeGatewayUnavailable
	// ErrTypeAnalysisFailed: an analysis breached its thresholds (or was
	// inconclusive and does not accept that); the phase rolls back. With
	// onFailure: rampDown the weight has already been stepped down to 0.
	ErrTypeAnalysisFailed = "AnalysisFailed"
	// ErrTypeAnalysisPaused: an analysis with onFailure: pause did not pass.
	// The weight is left where it was; the workflow should hold the phase
	// for a human (resume to retry the step, rollback to move back) instead
	// of rolling back. Non-retryable, so the activity's retry policy does
	// not run the analysis again by itself.
	ErrTypeAnalysisPaused = activities.ErrTypeHoldForPerson
)

// Outputs of a setWeight step (and of the phase, when it declares them):
// the report's names, so its series and the dashboard read them.
const (
	OutputReadWeight  = migration.OutputReadWeight
	OutputWriteWeight = migration.OutputWriteWeight
)

// Driver runs traffic phases against a godwit-gateway.
type Driver struct {
	activities.Driver
	// httpClient carries admin calls; nil uses the client's default.
	httpClient *http.Client
}

// beatEvery is how often a traffic phase heartbeats while it waits (an
// analysis for its next sample), so a rollback's cancellation reaches it
// quickly.
const beatEvery = time.Second

// New returns the traffic driver.
func New(logger hclog.Logger) *Driver {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	d := &Driver{}
	d.Driver = activities.Adapt(logger, activities.Phase[*Spec]{Key: Key, Run: d.do, Compensate: d.do, Preflight: d.preflight,
		Errors: errorKinds, KeepAlive: beatEvery})
	return d
}

// errorKinds: the gateway's and HAProxy's permanent refusals are not
// retried; every other failure (network, 5xx) may pass later.
var errorKinds = []activities.ErrorKind{
	{Is: client.IsPermanent, Type: ErrTypeGatewayRefused},
	{Is: activities.IsError(haproxy.ErrRefused), Type: ErrTypeRouterRefused},
	{Type: ErrTypeGatewayUnavailable, Retryable: true},
}

// do runs one step (a setWeight or an analysis) or the compensation,
// which moves the route back to legacy.
func (d *Driver) do(ctx context.Context, c *activities.Call[*Spec]) (activities.PhaseResult, error) {
	spec, action, in, resume := c.Spec, c.Action, c.In, c.Resume
	if h := spec.haproxy(); h != nil {
		return d.doHAProxy(ctx, c, h)
	}
	gw, err := d.client(spec)
	if err != nil {
		return activities.PhaseResult{}, activities.ConfigError(fmt.Errorf("%s %s: %w", action, in.Phase.Name, err))
	}
	log := c.Log.With("route", spec.Route)
	if action == activities.ActionCompensate {
		return d.compensate(ctx, log, gw, spec)
	}
	if in.Step < 1 || in.Step > len(spec.Steps) {
		return activities.PhaseResult{}, activities.ConfigError(fmt.Errorf("phase %s runs as %d steps; step %d is not one of them", in.Phase.Name, len(spec.Steps), in.Step))
	}
	st := spec.Steps[in.Step-1]
	switch {
	case st.SetWeight != nil:
		return d.setWeight(ctx, log, gw, spec, *st.SetWeight, c.Beat)
	case st.Analysis != nil:
		return d.analyse(ctx, log.With("step", in.Step), gw, gatewayRamp(gw, spec.Route), spec, *st.Analysis, resume, c)
	case st.RetireLegacy:
		return d.retireLegacy(ctx, log, gw, spec, c.Beat)
	}
	return activities.PhaseResult{}, activities.ConfigError(fmt.Errorf("phase %s: step %d is a hold or a gate, which the workflow runs, not the driver", in.Phase.Name, in.Step))
}

// setWeight sets the step's weights; a side the step does not name keeps
// the weight the gateway has.
func (d *Driver) setWeight(ctx context.Context, log hclog.Logger, gw *client.Replicas, spec *Spec, w Weight, beat func(activities.Heartbeat)) (activities.PhaseResult, error) {
	if spec.NewUpstream != "" {
		if _, err := gw.SetUpstreams(ctx, spec.Route, "", spec.NewUpstream); err != nil {
			return activities.PhaseResult{}, err
		}
	}
	cur, err := gw.Route(ctx, spec.Route)
	if err != nil {
		return activities.PhaseResult{}, err
	}
	reads, writes := cur.Weights.Read, cur.Weights.Write
	r, wr := w.Targets(spec.move())
	if r != nil {
		reads = *r
	}
	if wr != nil {
		writes = *wr
	}
	st, err := gw.SetWeights(ctx, spec.Route, reads, writes)
	if err != nil {
		return activities.PhaseResult{}, err
	}
	summary := fmt.Sprintf("route %s: reads %d%%, writes %d%% to new (were %d%%, %d%%)",
		spec.Route, st.Weights.Read, st.Weights.Write, cur.Weights.Read, cur.Weights.Write)
	beat(activities.Heartbeat{Percent: 100, Detail: summary})
	log.Info("weights set", "read", st.Weights.Read, "write", st.Weights.Write,
		"wasRead", cur.Weights.Read, "wasWrite", cur.Weights.Write)
	return activities.PhaseResult{Summary: summary, Outputs: weightOutputs(st.Weights)}, nil
}

// analyse runs an analysis step from its checkpoint.
func (d *Driver) analyse(ctx context.Context, log hclog.Logger, gw statsSource, ramp rampFunc, spec *Spec, a Analysis, resume activities.Heartbeat, k activities.Beater) (activities.PhaseResult, error) {
	var state AnalysisState
	if resume.Checkpoint != "" {
		if err := json.Unmarshal([]byte(resume.Checkpoint), &state); err != nil {
			log.Warn("unreadable analysis checkpoint; sampling from the start", "error", err)
			state = AnalysisState{}
		}
	}
	total, limit := a.Samples(), max(1, a.FailureLimit)
	// Until the first sample, the keep-alive repeats where it resumes.
	first := analysisBeat(state, total, limit)
	k.Follow(func() activities.Heartbeat { return first })
	run := analysisRun{
		source: gw, route: spec.Route, spec: a,
		external: &externalSources{http: d.checkClient()},
		wait:     wait,
		report: func(s AnalysisState) {
			k.Beat(analysisBeat(s, total, limit))
			v := s.Last
			log.Info("analysis sample", "sample", s.Samples, "of", total, "outcome", v.Outcome,
				"requests", v.Requests, "errorRate", v.ErrorRate, "p99Ms", v.P99Ms, "breaker", v.Breaker)
		},
	}
	state, err := run.run(ctx, state)
	res := activities.PhaseResult{Summary: describe(state, total, limit)}
	var failed *AnalysisError
	switch {
	case errors.As(err, &failed):
		log.Warn("analysis did not pass", "outcome", failed.Outcome, "samples", state.Samples, "failed", state.Failed, "onFailure", a.OnFailure)
		return res, d.onFailure(ctx, log, a, failed, ramp, k.Beat)
	case err != nil:
		return res, err
	}
	res.Summary = "passed: " + res.Summary
	return res, nil
}

func analysisBeat(s AnalysisState, total, limit int) activities.Heartbeat {
	cp, _ := json.Marshal(s)
	return activities.Heartbeat{Percent: 100 * float64(s.Samples) / float64(total), Checkpoint: string(cp), Detail: describe(s, total, limit)}
}

// wait waits d, and returns ctx's error if it ends first; the adapter's
// keep-alive heartbeats meanwhile.
func wait(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// compensate moves the route back to legacy (0/0) and releases any write
// hold, in that order, so held writes go on to legacy. Both calls are
// idempotent, so a repeated compensation does no harm.
func (d *Driver) compensate(ctx context.Context, log hclog.Logger, gw *client.Replicas, spec *Spec) (activities.PhaseResult, error) {
	st, err := gw.SetWeights(ctx, spec.Route, 0, 0)
	if err != nil {
		return activities.PhaseResult{}, err
	}
	held := st.WritesHeld
	if st, err = gw.ReleaseWrites(ctx, spec.Route); err != nil {
		return activities.PhaseResult{}, err
	}
	summary := fmt.Sprintf("route %s back on legacy: reads %d%%, writes %d%% to new", spec.Route, st.Weights.Read, st.Weights.Write)
	if held {
		summary += "; write hold released"
	}
	log.Info("route back on legacy", "writeHoldReleased", held)
	return activities.PhaseResult{Summary: summary, Outputs: weightOutputs(st.Weights)}, nil
}

func weightOutputs(w api.Weights) map[string]string {
	return map[string]string{OutputReadWeight: strconv.Itoa(w.Read), OutputWriteWeight: strconv.Itoa(w.Write)}
}

// preflight checks, changing nothing, that the gateway answers, accepts the
// token and has the route, and that the spec passes the split-stores rule.
func (d *Driver) preflight(ctx context.Context, spec *config.Spec, phase config.PhaseSpec, s *Spec) []string {
	var problems []string
	same := func(a, b string) (bool, error) { return storesAreOne(ctx, spec, a, b) }
	for _, p := range s.writeProblems(spec, phase.Name, same) {
		problems = append(problems, fmt.Sprintf("traffic.%s: %s", p.path, p.msg))
	}
	if h := s.haproxy(); h != nil {
		ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		return append(problems, haproxyPreflight(ctx, h)...)
	}
	gw, err := d.client(s)
	if err != nil {
		return append(problems, err.Error())
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	// Each replica is asked on its own, so a problem names the replica.
	for _, admin := range gw.URLs() {
		c := gw.Each()[admin]
		if _, err := c.Route(ctx, s.Route); err != nil {
			problems = append(problems, explain(ctx, c, admin, s, err))
		}
	}
	return problems
}

// storesAreOne reads the identities of stores a and b on this worker
// (read-only, changing nothing): two names of one database count as one
// shared store for the split-stores rule.
func storesAreOne(ctx context.Context, spec *config.Spec, a, b string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var ids [2]datastore.Identity
	for i, name := range []string{a, b} {
		st, err := stores.OpenReadOnly(ctx, spec.Stores, name)
		if err != nil {
			return false, errors.New(stores.Unreachable(name, spec.Stores, err))
		}
		ids[i], err = st.Identity(ctx)
		st.Close()
		if err != nil {
			return false, fmt.Errorf("store %s: %w", name, err)
		}
	}
	return ids[0] == ids[1], nil
}

// explain turns a failed route lookup on the replica at admin into a
// sentence a person can act on.
func explain(ctx context.Context, gw *client.Client, admin string, s *Spec, err error) string {
	var ce *client.Error
	if !errors.As(err, &ce) {
		return fmt.Sprintf("gateway at %s: %v", admin, err)
	}
	switch ce.Status {
	case 0:
		return fmt.Sprintf("the gateway's admin API at %s is not reachable from this worker: %s", admin, ce.Message)
	case http.StatusUnauthorized, http.StatusForbidden:
		if s.Gateway.Token == nil {
			return fmt.Sprintf("the gateway at %s requires a token: set gateway.token to {fromEnv: VAR} or {fromFile: PATH}", admin)
		}
		return fmt.Sprintf("the gateway at %s refused the token from %s: it must be the gateway's admin token (its admin.tokenEnv or admin.tokenFile)",
			admin, tokenSource(*s.Gateway.Token))
	case http.StatusNotFound:
		msg := fmt.Sprintf("route %q does not exist on the gateway at %s", s.Route, admin)
		if routes, err := gw.Routes(ctx); err == nil {
			names := make([]string, len(routes))
			for i, r := range routes {
				names[i] = r.Name
			}
			msg += fmt.Sprintf(" (its routes: %s)", strings.Join(names, ", "))
		}
		return msg
	}
	return fmt.Sprintf("gateway at %s: %v", admin, err)
}

func tokenSource(ref config.SecretRef) string {
	if ref.FromEnv != "" {
		return "environment variable " + ref.FromEnv
	}
	return "file " + ref.FromFile
}

// client returns an admin API client of every replica, with the token
// read on this worker.
func (d *Driver) client(s *Spec) (*client.Replicas, error) {
	token := ""
	if s.Gateway.Token != nil {
		var err error
		if token, err = activities.ResolveSecret(*s.Gateway.Token); err != nil {
			return nil, fmt.Errorf("gateway token: %w", err)
		}
	}
	return client.NewReplicas(s.Gateway.Admin, client.Options{Token: token, HTTPClient: d.httpClient})
}

// retireLegacy pins the route on new and points its legacy side at new
// as well: no request, fallback or shadow copy reaches the legacy service
// any more. Idempotent.
func (d *Driver) retireLegacy(ctx context.Context, log hclog.Logger, gw *client.Replicas, spec *Spec, beat func(activities.Heartbeat)) (activities.PhaseResult, error) {
	cur, err := gw.Route(ctx, spec.Route)
	if err != nil {
		return activities.PhaseResult{}, err
	}
	if _, err := gw.SetWeights(ctx, spec.Route, 100, 100); err != nil {
		return activities.PhaseResult{}, err
	}
	if cur.Legacy != cur.New {
		if _, err := gw.SetUpstreams(ctx, spec.Route, cur.New, ""); err != nil {
			return activities.PhaseResult{}, err
		}
	}
	summary := fmt.Sprintf("route %s pinned on new (%s); legacy %s removed from it and may be shut down", spec.Route, cur.New, cur.Legacy)
	if cur.Legacy == cur.New {
		summary = fmt.Sprintf("route %s already pinned on new (%s)", spec.Route, cur.New)
	}
	beat(activities.Heartbeat{Percent: 100, Detail: summary})
	log.Info("legacy retired from route", "route", spec.Route, "legacy", cur.Legacy, "new", cur.New)
	return activities.PhaseResult{Summary: summary, Outputs: weightOutputs(api.Weights{Read: 100, Write: 100})}, nil
}
