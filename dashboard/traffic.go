package dashboard

import (
	"context"
	"sync"
	"time"

	"github.com/godwit/godwit/briefing"
	"github.com/godwit/godwit/control"
	"github.com/godwit/godwit/migration"
)

// trafficTimeout bounds the wait for a gateway's stats: a page must not
// hang on a gateway that does not answer.
const trafficTimeout = 2 * time.Second

// gatewayCache keeps the gateway route each run's traffic phase drives,
// read once from the spec its run started with (a history read), so a page
// refresh costs one stats call and no history read.
type gatewayCache struct {
	mu   sync.Mutex
	runs map[gatewayKey]cachedGateway
}

// cachedGateway is a run's gateway route, or why its spec names none.
type cachedGateway struct {
	gateway control.Gateway
	err     error
}

// gatewayKey tells a run apart from a later one of the same name.
type gatewayKey struct {
	name  string
	start time.Time
}

// traffic reads what the gateway saw on the route of rep's traffic phase,
// as `godwit status --format exec` does: nil and a note saying why when it
// cannot, nil and no note when there is nothing to read (no traffic phase,
// not started).
func (s *Server) traffic(ctx context.Context, rep *migration.Report) (*briefing.Traffic, string) {
	phase, wanted, note := control.TrafficWanted(rep)
	if !wanted {
		return nil, note
	}
	g, err := s.gateway(ctx, rep, phase)
	if err != nil {
		return nil, err.Error()
	}
	ctx, cancel := context.WithTimeout(ctx, trafficTimeout)
	defer cancel()
	stats, err := g.Stats(ctx)
	if err != nil {
		return nil, err.Error()
	}
	return &briefing.Traffic{Source: g.Source(), Stats: stats}, ""
}

// gateway is the route phase drives, from the cache or the run's spec.
// What the spec says (a route, or that its driver names none) is
// remembered; a spec that cannot be read is not: the next page tries again.
func (s *Server) gateway(ctx context.Context, rep *migration.Report, phase string) (control.Gateway, error) {
	key := gatewayKey{rep.Name, rep.StartTime}
	s.gateways.mu.Lock()
	c, ok := s.gateways.runs[key]
	s.gateways.mu.Unlock()
	if ok {
		return c.gateway, c.err
	}
	spec, err := s.opts.Source.RunSpec(ctx, rep.Name)
	if err != nil {
		return control.Gateway{}, err
	}
	c.gateway, c.err = control.GatewayOf(spec, phase)
	s.gateways.mu.Lock()
	defer s.gateways.mu.Unlock()
	if len(s.gateways.runs) >= maxRuns {
		clear(s.gateways.runs) // rare: re-read on the next page
	}
	s.gateways.runs[key] = c
	return c.gateway, c.err
}
