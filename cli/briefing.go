package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/briefing"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/control"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/gateway/api"
	gwclient "github.com/godwit/godwit/gateway/client"
	"github.com/godwit/godwit/migration"
	"github.com/godwit/godwit/workflows"
)

// gatewayTimeout bounds the wait for the gateway's stats: a status must
// not hang on a gateway that does not answer.
const gatewayTimeout = 5 * time.Second

// briefOptions are `godwit status --format` and where it reads traffic.
type briefOptions struct {
	format string
	// gateway and route override what the traffic phase's spec names;
	// tokenEnv names the variable that holds the admin API's token.
	gateway, route, tokenEnv string
}

func (b *briefOptions) bindFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&b.format, "format", "", "print a Migration Architect template instead: exec (executive summary), team (technical team update) or markdown (both)")
	f.StringVar(&b.gateway, "gateway", "", "with --format: the gateway's admin API (http://host:port) to read availability and latency from, instead of the one the traffic phase names")
	f.StringVar(&b.route, "gateway-route", "", "with --gateway: the route the migration moves")
	f.StringVar(&b.tokenEnv, "gateway-token-env", "", "with --gateway: environment variable holding the admin API's bearer token")
}

func (b *briefOptions) check(output string) error {
	if b.format == "" {
		if b.gateway != "" || b.route != "" {
			return errors.New("--gateway and --gateway-route go with --format")
		}
		return nil
	}
	valid := false
	for _, f := range briefing.Formats {
		valid = valid || string(f) == b.format
	}
	switch {
	case !valid:
		return fmt.Errorf("--format %q: use exec, team or markdown", b.format)
	case output != "text":
		return errors.New("--format and --output json do not go together: the JSON report has every figure the templates show")
	case (b.gateway == "") != (b.route == ""):
		return errors.New("--gateway and --gateway-route go together")
	}
	return nil
}

// renderBrief prints the report in the chosen template, with the traffic
// figures of the gateway when the migration moves traffic.
func (a *app) renderBrief(ctx context.Context, c client.Client, rep *migration.Report) error {
	obs := a.observe(ctx, c, rep)
	return briefing.Write(a.out, briefing.Format(a.brief.format), rep, obs, time.Now())
}

// gatewayRouter is a driver's spec section that names the gateway and the
// route its phase drives. The traffic driver's section implements it, so
// the templates can read the route's figures without the CLI knowing that
// driver.
type gatewayRouter interface {
	GatewayRoute() (adminURL string, token config.SecretRef, route string)
}

// gatewayTarget is a gateway route and how to authenticate to it.
type gatewayTarget struct {
	url, route string
	token      config.SecretRef
}

// observe gathers the figures the report does not hold. Each one that
// cannot be had comes back as a note saying why.
func (a *app) observe(ctx context.Context, c client.Client, rep *migration.Report) briefing.Observations {
	obs := a.observeLoad(ctx, c, rep)
	tp, ok := trafficPhase(rep)
	switch {
	case !ok && a.brief.gateway == "":
		return obs // the template says there is no traffic phase
	case rep.Status.Final():
		obs.TrafficNote = fmt.Sprintf("the migration ended %s; the gateway's figures now would not describe its run", rep.Status)
		return obs
	case ok && tp.State == migration.PhasePending && a.brief.gateway == "":
		return obs // the template says it has not started
	}
	target := gatewayTarget{url: a.brief.gateway, route: a.brief.route, token: config.SecretRef{FromEnv: a.brief.tokenEnv}}
	if target.url == "" {
		var note string
		if target, note = a.gatewayFromSpec(ctx, c, rep.Name, tp.Phase); note != "" {
			obs.TrafficNote = note
			return obs
		}
	}
	stats, source, err := readStats(ctx, target)
	if err != nil {
		obs.TrafficNote = err.Error()
		return obs
	}
	obs.Traffic = &briefing.Traffic{Source: source, Stats: stats}
	return obs
}

func trafficPhase(rep *migration.Report) (migration.PhaseReport, bool) {
	for _, p := range rep.Phases {
		if p.Kind == migration.PhaseShiftTraffic || (p.Kind == "" && p.Phase == string(migration.PhaseShiftTraffic)) {
			return p, true
		}
	}
	return migration.PhaseReport{}, false
}

// gatewayFromSpec finds the gateway the traffic phase drives in the spec
// the run started with (its first history event); note says why not.
func (a *app) gatewayFromSpec(ctx context.Context, c client.Client, name, phase string) (gatewayTarget, string) {
	spec, note := a.runSpec(ctx, c, name)
	if spec == nil {
		return gatewayTarget{}, note
	}
	for _, p := range spec.Phases {
		if p.Name != phase {
			continue
		}
		gr, ok := p.Driver.(gatewayRouter)
		if !ok {
			return gatewayTarget{}, fmt.Sprintf("traffic phase %s's %s driver names no gateway; give --gateway and --gateway-route",
				phase, p.DriverKey())
		}
		url, token, route := gr.GatewayRoute()
		return gatewayTarget{url: url, route: route, token: token}, ""
	}
	return gatewayTarget{}, fmt.Sprintf("traffic phase %s is not in the run's spec", phase)
}

// client returns an admin client of the gateway, its token read here as
// the worker would; label names the gateway in errors (never the token).
func (t gatewayTarget) client(label string) (*gwclient.Client, error) {
	var token string
	if t.token.FromEnv != "" || t.token.FromFile != "" {
		var err error
		if token, err = activities.ResolveSecret(t.token); err != nil {
			return nil, fmt.Errorf("the token of %s cannot be read here: %v", label, err)
		}
	}
	return gwclient.New(gwclient.Options{BaseURL: t.url, Token: token})
}

// readStats asks the gateway for the route's figures over its default
// window. Errors name the gateway and route, never the token.
func readStats(ctx context.Context, t gatewayTarget) (stats api.RouteStats, source string, err error) {
	source = fmt.Sprintf("gateway %s, route %s", t.url, t.route)
	gc, err := t.client(source)
	if err != nil {
		return stats, source, err
	}
	ctx, cancel := context.WithTimeout(ctx, gatewayTimeout)
	defer cancel()
	if stats, err = gc.Stats(ctx, t.route, 0); err != nil {
		return stats, source, fmt.Errorf("%s did not answer: %v", source, err)
	}
	return stats, source, nil
}

// observeLoad fills System Load: the worker host running the current phase
// (from its heartbeats) and each store of the spec, asked from here with
// the DSN this machine's environment names (as the worker would).
func (a *app) observeLoad(ctx context.Context, c client.Client, rep *migration.Report) briefing.Observations {
	var obs briefing.Observations
	if rep.Status.Final() {
		obs.LoadNote = fmt.Sprintf("the migration ended %s; load now would not describe its run", rep.Status)
		return obs
	}
	if rep.WorkerLoad != "" {
		obs.Load = append(obs.Load, rep.WorkerLoad)
	}
	spec, note := a.runSpec(ctx, c, rep.Name)
	if spec != nil {
		for _, name := range sortedStoreNames(spec.Stores) {
			st := spec.Stores[name]
			obs.Load = append(obs.Load, fmt.Sprintf("%s (%s): %s", name, st.Engine, storeLoad(ctx, st)))
		}
	}
	if len(obs.Load) == 0 {
		obs.LoadNote = "no phase is running on a worker and the spec names no stores"
		if note != "" {
			obs.LoadNote = note
		}
	}
	return obs
}

// storeLoad asks one store how busy it is; a figure it cannot get says why.
func storeLoad(ctx context.Context, st config.StoreSpec) string {
	dsn, err := activities.ResolveSecret(st.DSN)
	if err != nil {
		return "not measured: its DSN cannot be read here (" + err.Error() + ")"
	}
	engine, err := datastore.ParseEngine(st.Engine)
	if err != nil {
		return "not measured: " + err.Error()
	}
	ctx, cancel := context.WithTimeout(ctx, gatewayTimeout)
	defer cancel()
	s, err := datastore.Open(ctx, engine, dsn)
	if err != nil {
		return "not measured: " + err.Error()
	}
	defer s.Close()
	load, err := s.Load(ctx)
	if err != nil {
		return "not measured: " + err.Error()
	}
	return load
}

// runSpec reads the spec a run started with from its first history event;
// when it cannot, the note says why.
func (a *app) runSpec(ctx context.Context, c client.Client, name string) (*config.Spec, string) {
	if a.specCache != nil && a.specCache.name == name {
		return a.specCache.spec, a.specCache.note
	}
	spec, note := a.readRunSpec(ctx, c, name)
	a.specCache = &cachedSpec{name: name, spec: spec, note: note}
	return spec, note
}

// cachedSpec is a run's spec read once per command.
type cachedSpec struct {
	name string
	spec *config.Spec
	note string
}

func (a *app) readRunSpec(ctx context.Context, c client.Client, name string) (*config.Spec, string) {
	iter := c.GetWorkflowHistory(ctx, name, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	if !iter.HasNext() {
		return nil, "the run's history is empty, so its spec cannot be read"
	}
	ev, err := iter.Next()
	if err != nil {
		return nil, fmt.Sprintf("the run's spec cannot be read: %v", err)
	}
	attrs := ev.GetWorkflowExecutionStartedEventAttributes()
	if attrs == nil {
		return nil, "the run's first history event is not its start, so its spec cannot be read"
	}
	var in workflows.Input
	if err := a.dc.FromPayloads(attrs.GetInput(), &in); err != nil {
		return nil, fmt.Sprintf("the run's spec cannot be decoded: %v", control.ExplainDecode(err))
	}
	return &in.Spec, ""
}
