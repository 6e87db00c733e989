package traffic

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/go-hclog"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/gateway/api"
	"github.com/godwit/godwit/haproxy"
)

// ErrTypeRouterRefused: HAProxy refused a runtime command for good (no such
// backend or server, the socket not at level admin).
const ErrTypeRouterRefused = "RouterRefused"

// Router names the router a phase drives when it is not godwit-gateway.
type Router struct {
	// HAProxy drives a backend of two servers through HAProxy's runtime API.
	HAProxy *HAProxyRouter `yaml:"haproxy" json:"haproxy,omitempty"`
}

// HAProxyRouter is a backend whose traffic moves from legacyServer to
// newServer through `set weight` on HAProxy's runtime socket (a `stats
// socket ... level admin` line in haproxy.cfg). HAProxy cannot split reads
// from writes, and its statistics are not the gateway's: a phase on it
// moves reads and writes together and analyses through Prometheus or an
// HTTP check.
type HAProxyRouter struct {
	// Socket is the runtime socket: a unix socket path or host:port.
	Socket string `yaml:"socket" json:"socket"`
	// Backend is the backend's name in haproxy.cfg.
	Backend string `yaml:"backend" json:"backend"`
	// LegacyServer and NewServer are its two servers.
	LegacyServer string `yaml:"legacyServer" json:"legacyServer"`
	NewServer    string `yaml:"newServer" json:"newServer"`
}

func (s *Spec) haproxy() *HAProxyRouter {
	if s.Router == nil {
		return nil
	}
	return s.Router.HAProxy
}

func (s *Spec) checkHAProxy(c *config.CheckContext) {
	h := s.haproxy()
	if len(s.Gateway.Admin) > 0 {
		c.Errorf("gateway", "is set beside router.haproxy: a phase drives one router; remove one of them")
	}
	for _, f := range []struct{ path, v, eg string }{
		{"socket", h.Socket, "/run/haproxy/admin.sock"},
		{"backend", h.Backend, "be_api"},
		{"legacyServer", h.LegacyServer, "legacy"},
		{"newServer", h.NewServer, "new"},
	} {
		if f.v == "" {
			c.Errorf("router.haproxy."+f.path, "is required, e.g. %s", f.eg)
		}
	}
	if h.LegacyServer != "" && h.LegacyServer == h.NewServer {
		c.Errorf("router.haproxy.newServer", "is the same server as legacyServer")
	}
	if s.Move != "" && s.Move != MoveBoth {
		c.Errorf("move", "%q cannot be done with HAProxy, which weights connections, not methods: use the gateway to move reads and writes apart", s.Move)
	}
	for i, st := range s.Steps {
		if w := st.SetWeight; w != nil && (w.Reads != nil || w.Writes != nil) &&
			(w.Reads == nil || w.Writes == nil || *w.Reads != *w.Writes) {
			c.Errorf(fmt.Sprintf("steps[%d].setWeight", i), "gives reads and writes different weights, which HAProxy cannot do: use setWeight: N")
		}
		if a := st.Analysis; a != nil && (!a.hasExternalSource() || a.usesGateway()) {
			c.Errorf(fmt.Sprintf("steps[%d].analysis", i), "reads the gateway's statistics (maxErrorRate, maxP95, maxP99, maxShadowMismatchRate), which HAProxy does not have: use a prometheus or http source instead")
		}
	}
}

// haproxyWeight sets the step's weight on HAProxy.
func (d *Driver) haproxyWeight(ctx context.Context, log hclog.Logger, h *HAProxyRouter, w Weight) (activities.PhaseResult, error) {
	rt := haproxy.Runtime{Socket: h.Socket}
	was, err := rt.Percent(ctx, h.Backend, h.LegacyServer, h.NewServer)
	if err != nil {
		return activities.PhaseResult{}, err
	}
	target := was
	if r, _ := w.Targets(MoveBoth); r != nil {
		target = *r
	}
	if err := rt.Split(ctx, h.Backend, h.LegacyServer, h.NewServer, target); err != nil {
		return activities.PhaseResult{}, err
	}
	summary := fmt.Sprintf("haproxy backend %s: %d%% to %s (was %d%%)", h.Backend, target, h.NewServer, was)
	log.Info("haproxy weights set", "backend", h.Backend, "percent", target, "was", was)
	return activities.PhaseResult{Summary: summary, Outputs: weightOutputs(apiWeights(target))}, nil
}

// haproxyCompensate gives legacy the whole backend again; idempotent.
func (d *Driver) haproxyCompensate(ctx context.Context, log hclog.Logger, h *HAProxyRouter) (activities.PhaseResult, error) {
	rt := haproxy.Runtime{Socket: h.Socket}
	if err := rt.Split(ctx, h.Backend, h.LegacyServer, h.NewServer, 0); err != nil {
		return activities.PhaseResult{}, err
	}
	log.Info("haproxy backend back on legacy", "backend", h.Backend)
	return activities.PhaseResult{
		Summary: fmt.Sprintf("haproxy backend %s back on %s: 0%% to %s", h.Backend, h.LegacyServer, h.NewServer),
		Outputs: weightOutputs(apiWeights(0)),
	}, nil
}

// haproxyPreflight checks, changing nothing, that the socket answers and
// knows both servers.
func haproxyPreflight(ctx context.Context, h *HAProxyRouter) []string {
	rt := haproxy.Runtime{Socket: h.Socket}
	var problems []string
	for _, srv := range []string{h.LegacyServer, h.NewServer} {
		if _, err := rt.Weight(ctx, h.Backend, srv); err != nil {
			if errors.Is(err, haproxy.ErrRefused) {
				problems = append(problems, fmt.Sprintf("haproxy at %s has no server %s/%s, or its socket is not at level admin: %v", h.Socket, h.Backend, srv, err))
				continue
			}
			return append(problems, fmt.Sprintf("haproxy's runtime socket %s is not reachable from this worker (a `stats socket %s level admin` line in haproxy.cfg): %v", h.Socket, h.Socket, err))
		}
	}
	return problems
}

func apiWeights(percent int) api.Weights { return api.Weights{Read: percent, Write: percent} }

// doHAProxy runs a step or the compensation against HAProxy.
func (d *Driver) doHAProxy(ctx context.Context, c *activities.Call[*Spec], h *HAProxyRouter) (activities.PhaseResult, error) {
	spec, in := c.Spec, c.In
	log := c.Log.With("haproxy", h.Socket, "backend", h.Backend)
	if c.Action == activities.ActionCompensate {
		return d.haproxyCompensate(ctx, log, h)
	}
	if in.Step < 1 || in.Step > len(spec.Steps) {
		return activities.PhaseResult{}, activities.ConfigError(fmt.Errorf("phase %s runs as %d steps; step %d is not one of them", in.Phase.Name, len(spec.Steps), in.Step))
	}
	st := spec.Steps[in.Step-1]
	switch {
	case st.SetWeight != nil:
		return d.haproxyWeight(ctx, log, h, *st.SetWeight)
	case st.Analysis != nil:
		return d.analyse(ctx, log.With("step", in.Step), nil, haproxyRamp(h), spec, *st.Analysis, c.Resume, c)
	}
	return activities.PhaseResult{}, activities.ConfigError(fmt.Errorf("phase %s: step %d is a hold or a gate, which the workflow runs, not the driver", in.Phase.Name, in.Step))
}

// haproxyRamp lowers new's share on HAProxy by step points.
func haproxyRamp(h *HAProxyRouter) rampFunc {
	rt := haproxy.Runtime{Socket: h.Socket}
	return func(ctx context.Context, step int) (int, error) {
		cur, err := rt.Percent(ctx, h.Backend, h.LegacyServer, h.NewServer)
		if err != nil {
			return 0, err
		}
		next := max(0, cur-step)
		return next, rt.Split(ctx, h.Backend, h.LegacyServer, h.NewServer, next)
	}
}
