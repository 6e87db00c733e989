package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"github.com/godwit/godwit/briefing"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/control"
	"github.com/godwit/godwit/drivers/stores"
	"github.com/godwit/godwit/migration"
)

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

// observe gathers the figures the report does not hold. Each one that
// cannot be had comes back as a note saying why.
func (a *app) observe(ctx context.Context, c client.Client, rep *migration.Report) briefing.Observations {
	obs := a.observeLoad(ctx, c, rep)
	phase, wanted, note := control.TrafficWanted(rep)
	if !wanted && (note != "" || a.brief.gateway == "") {
		obs.TrafficNote = note // empty: the template says there is no traffic phase, or it has not started
		return obs
	}
	target := control.Gateway{URL: a.brief.gateway, Route: a.brief.route, Token: config.SecretRef{FromEnv: a.brief.tokenEnv}}
	if target.URL == "" {
		var note string
		if target, note = a.gatewayFromSpec(ctx, c, rep.Name, phase); note != "" {
			obs.TrafficNote = note
			return obs
		}
	}
	stats, err := target.Stats(ctx)
	if err != nil {
		obs.TrafficNote = err.Error()
		return obs
	}
	obs.Traffic = &briefing.Traffic{Source: target.Source(), Stats: stats}
	return obs
}

// gatewayFromSpec finds the gateway the traffic phase drives in the spec
// the run started with; note says why not.
func (a *app) gatewayFromSpec(ctx context.Context, c client.Client, name, phase string) (control.Gateway, string) {
	spec, note := a.runSpec(ctx, c, name)
	if spec == nil {
		return control.Gateway{}, note
	}
	g, err := control.GatewayOf(spec, phase)
	if err != nil {
		return g, err.Error() + "; give --gateway and --gateway-route"
	}
	return g, ""
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
			obs.Load = append(obs.Load, fmt.Sprintf("%s (%s): %s", name, st.Engine, storeLoad(ctx, name, st)))
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
func storeLoad(ctx context.Context, name string, st config.StoreSpec) string {
	ctx, cancel := context.WithTimeout(ctx, control.GatewayTimeout)
	defer cancel()
	s, err := stores.OpenOne(ctx, name, st)
	if cause := stores.UnreadableDSN(err); cause != nil {
		return "not measured: its DSN cannot be read here (" + cause.Error() + ")"
	}
	if err != nil {
		return "not measured: " + strings.TrimPrefix(err.Error(), "store "+name+": ")
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
	spec, err := a.migrations(c).RunSpec(ctx, name)
	if err != nil {
		return nil, err.Error()
	}
	return spec, ""
}
