package control

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/api/enums/v1"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/gateway/api"
	gwclient "github.com/godwit/godwit/gateway/client"
	"github.com/godwit/godwit/migration"
	"github.com/godwit/godwit/workflows"
)

// GatewayTimeout bounds a call to a gateway's admin API: a status must not
// hang on a gateway that does not answer.
const GatewayTimeout = 5 * time.Second

// GatewayRouter is a driver's spec section that names the gateway and the
// route its phase drives. The traffic driver's section implements it, so
// the CLI and the dashboard read the route's figures without knowing that
// driver.
type GatewayRouter interface {
	GatewayRoute() (adminURL string, token config.SecretRef, route string)
}

// Gateway is a gateway route and how to authenticate to its admin API.
type Gateway struct {
	URL, Route string
	Token      config.SecretRef
}

// Source names the gateway and route, for notes and errors (never the
// token).
func (g Gateway) Source() string {
	return fmt.Sprintf("gateway %s, route %s", g.URL, g.Route)
}

// Client returns an admin client of the gateway, its token read here as
// the worker would (from this machine's environment or file).
func (g Gateway) Client() (*gwclient.Client, error) {
	var token string
	if g.Token.FromEnv != "" || g.Token.FromFile != "" {
		var err error
		if token, err = activities.ResolveSecret(g.Token); err != nil {
			return nil, fmt.Errorf("the token of %s cannot be read here: %v", g.Source(), err)
		}
	}
	return gwclient.New(gwclient.Options{BaseURL: g.URL, Token: token})
}

// Stats asks the gateway for the route's figures over its default window,
// waiting GatewayTimeout at most.
func (g Gateway) Stats(ctx context.Context) (api.RouteStats, error) {
	gc, err := g.Client()
	if err != nil {
		return api.RouteStats{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, GatewayTimeout)
	defer cancel()
	stats, err := gc.Stats(ctx, g.Route, 0)
	if err != nil {
		return stats, g.redacted("did not answer", err)
	}
	return stats, nil
}

// SetWeights sets the route's read and write weights, waiting
// GatewayTimeout at most.
func (g Gateway) SetWeights(ctx context.Context, reads, writes int) error {
	gc, err := g.Client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, GatewayTimeout)
	defer cancel()
	if _, err := gc.SetWeights(ctx, g.Route, reads, writes); err != nil {
		return g.redacted("did not set the weights", err)
	}
	return nil
}

// redacted is err from the gateway, after what the call did not do. The
// gateway's answer is quoted, and a gateway or a proxy before it may echo
// the token: the message goes to the dashboard's page (readable without a
// token) and the terminal, redacted like a worker's errors. The error is
// not wrapped, so nothing unwraps to the unredacted text.
func (g Gateway) redacted(what string, err error) error {
	return fmt.Errorf("%s %s: %s", g.Source(), what, activities.KnownSecrets().String(err.Error()))
}

// GatewayOf finds the gateway route phase drives in spec; the error says
// why there is none, in words for a person.
func GatewayOf(spec *config.Spec, phase string) (Gateway, error) {
	for _, p := range spec.Phases {
		if p.Name != phase {
			continue
		}
		gr, ok := p.Driver.(GatewayRouter)
		if !ok {
			return Gateway{}, fmt.Errorf("traffic phase %s's %s driver names no gateway", phase, p.DriverKey())
		}
		url, token, route := gr.GatewayRoute()
		return Gateway{URL: url, Route: route, Token: token}, nil
	}
	return Gateway{}, fmt.Errorf("traffic phase %s is not in the run's spec", phase)
}

// TrafficWanted says whether the gateway's figures describe rep now: it
// has a traffic phase (named phase), which has started, and the run has
// not ended. When not, note says why when a person needs telling (an ended
// run); it is empty when the templates say so themselves (no traffic
// phase, or it has not started).
func TrafficWanted(rep *migration.Report) (phase string, wanted bool, note string) {
	tp, ok := TrafficPhase(rep)
	switch {
	case rep.Status.Final():
		return tp.Phase, false, fmt.Sprintf("the migration ended %s; the gateway's figures now would not describe its run", rep.Status)
	case !ok:
		return "", false, ""
	case tp.State == migration.PhasePending:
		return tp.Phase, false, ""
	}
	return tp.Phase, true, ""
}

// TrafficPhase is the report's traffic phase, if it has one.
func TrafficPhase(rep *migration.Report) (migration.PhaseReport, bool) {
	for _, p := range rep.Phases {
		if p.Kind == migration.PhaseShiftTraffic || (p.Kind == "" && p.Phase == string(migration.PhaseShiftTraffic)) {
			return p, true
		}
	}
	return migration.PhaseReport{}, false
}

// RunSpec reads the spec the migration's latest run started with, from its
// first history event (a run that continued as new starts with the
// spec too). The error says why it cannot, in words for a person.
func (m Migrations) RunSpec(ctx context.Context, name string) (*config.Spec, error) {
	iter := m.Client.GetWorkflowHistory(ctx, name, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	if !iter.HasNext() {
		return nil, errors.New("the run's history is empty, so its spec cannot be read")
	}
	ev, err := iter.Next()
	if err != nil {
		return nil, fmt.Errorf("the run's spec cannot be read: %v", err)
	}
	attrs := ev.GetWorkflowExecutionStartedEventAttributes()
	if attrs == nil {
		return nil, errors.New("the run's first history event is not its start, so its spec cannot be read")
	}
	var in workflows.Input
	if err := m.dc().FromPayloads(attrs.GetInput(), &in); err != nil {
		return nil, fmt.Errorf("the run's spec cannot be decoded: %v", ExplainDecode(err))
	}
	// The workflow's input keeps the driver sections raw; readers here
	// look into them (a traffic phase's gateway).
	spec, err := in.Spec.Decoded()
	if err != nil {
		return nil, fmt.Errorf("the run's spec cannot be decoded by this godwit: %v", err)
	}
	return &spec, nil
}
