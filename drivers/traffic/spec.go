// Package traffic is the traffic phase driver (`traffic:` in a spec): it
// moves a route of the Godwit gateway from legacy to new step by step —
// set a weight, hold, analyse new's error rate and latency, wait at a gate —
// and moves it back to legacy when the phase is rolled back. The steps are
// planned from the spec (config.StepPlanner), so the workflow runs them one
// by one and pause, approve and rollback act between them; each action step
// is one idempotent call to the gateway's admin API, or, for an analysis, a
// sampling loop that heartbeats and resumes from its checkpoint.
package traffic

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/drivers/stores"
	"github.com/godwit/godwit/migration"
)

// Key is the spec section's key.
const Key = "traffic"

func init() {
	config.RegisterDriver(Key, func() config.DriverSpec { return &Spec{} })
}

// What a plain `setWeight: N` moves (Spec.Move).
const (
	MoveBoth   = "both"
	MoveReads  = "reads"
	MoveWrites = "writes"
)

// How writes stay consistent when they move while legacy and new keep
// separate databases (Spec.WriteConsistency).
const (
	// WritesPinned: all writes are on one side at any moment (write weights
	// 0 or 100 only) while reads move by percentage.
	WritesPinned = "pinned"
	// WritesReverseReplication: writes that land on new are replicated back
	// to legacy, so any split of writes keeps both databases whole.
	WritesReverseReplication = "reverseReplication"
	// WritesSharedStore: both services use one database.
	WritesSharedStore = "sharedStore"
)

// What an analysis whose samples were all inconclusive (too few requests
// on new) does (Analysis.OnInconclusive).
const (
	InconclusiveFail = "fail"
	InconclusivePass = "pass"
)

// Spec is the `traffic:` section of a phase. It names the token's source,
// never the token: the section goes into workflow history.
type Spec struct {
	// Gateway is the godwit-gateway whose admin API the driver calls.
	Gateway Gateway `yaml:"gateway" json:"gateway"`
	// Router, when it names HAProxy, is driven instead of the gateway.
	Router *Router `yaml:"router" json:"router,omitempty"`
	// Route is the gateway route to move.
	Route string `yaml:"route" json:"route"`
	// Move says what a plain `setWeight: N` sets: reads and writes (both,
	// the default), reads only or writes only (the other keeps its weight).
	Move string `yaml:"move" json:"move,omitempty"`
	// NewUpstream, when set, points the route's new side at this base URL
	// before each weight change (idempotent), e.g. an address an earlier
	// phase produced: ${phases.provision.outputs.URL}.
	NewUpstream string `yaml:"newUpstream" json:"newUpstream,omitempty"`
	// Stores names the spec's stores behind legacy and new, so the
	// split-stores rule knows whether they share a database; without it,
	// the rule takes them from the earlier phases that move rows between
	// two stores.
	Stores *StorePair `yaml:"stores" json:"stores,omitempty"`
	// WriteConsistency says how writes stay consistent when some go to new
	// while legacy and new have separate databases: pinned,
	// reverseReplication or sharedStore.
	WriteConsistency string `yaml:"writeConsistency" json:"writeConsistency,omitempty"`
	// Steps run in order: setWeight, hold, analysis or gate.
	Steps []Step `yaml:"steps" json:"steps"`
}

// Gateway locates a godwit-gateway's admin API, or the admin APIs of its
// replicas.
type Gateway struct {
	// Admin is the admin API's base URL, e.g. http://127.0.0.1:9090, or a
	// list of them, one per replica behind the same load balancer: every
	// change is made on every replica, and is done only when all have
	// acknowledged it.
	Admin AdminURLs `yaml:"admin" json:"admin"`
	// Token is where the worker reads the admin bearer token; none for a
	// gateway whose admin API runs without one (loopback only).
	Token *config.SecretRef `yaml:"token" json:"token,omitempty"`
}

// AdminURLs are the admin API base URLs of a gateway's replicas, written
// as one URL (`admin: http://gw:9090`) or a list (`admin: [http://gw1:9090,
// http://gw2:9090]`). One URL is encoded as a plain string, as before
// replicas existed, so specs in workflow histories read the same.
type AdminURLs []string

// UnmarshalYAML reads one URL or a list of them.
func (a *AdminURLs) UnmarshalYAML(n *yaml.Node) error {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.ScalarNode:
		*a = AdminURLs{n.Value}
		return nil
	case yaml.SequenceNode:
		var list []string
		if err := n.Decode(&list); err != nil {
			return fmt.Errorf("must be a URL or a list of URLs: %w", err)
		}
		*a = list
		return nil
	}
	return errors.New("must be a URL (admin: http://127.0.0.1:9090) or a list of them, one per replica (admin: [http://10.0.0.1:9090, http://10.0.0.2:9090])")
}

// MarshalJSON writes one URL as a string, several as a list.
func (a AdminURLs) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}

// UnmarshalJSON reads a string or a list.
func (a *AdminURLs) UnmarshalJSON(raw []byte) error {
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		*a = nil
		if one != "" {
			*a = AdminURLs{one}
		}
		return nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		return fmt.Errorf("gateway.admin: want a URL or a list of URLs: %w", err)
	}
	*a = list
	return nil
}

// String joins the URLs for messages.
func (a AdminURLs) String() string { return strings.Join(a, ", ") }

// First is the first replica's URL, "" when none is set.
func (a AdminURLs) First() string {
	if len(a) == 0 {
		return ""
	}
	return a[0]
}

// Resources names the route on every replica, so two migrations never
// drive it at once through any of them; one replica gives the same name
// as before replicas existed.
func (g Gateway) Resources(route string) []string {
	out := make([]string, len(g.Admin))
	for i, u := range g.Admin {
		out[i] = "route:" + strings.TrimSuffix(u, "/") + "/" + route
	}
	return out
}

// Check reports a missing or malformed admin URL (each replica's) and a
// token reference that names no source, under path (e.g. "gateway").
func (g Gateway) Check(c *config.CheckContext, path string) {
	if len(g.Admin) == 0 {
		c.Errorf(path+".admin", "is required: the gateway's admin API, e.g. http://127.0.0.1:9090, or a list, one per replica")
	}
	seen := map[string]bool{}
	for i, u := range g.Admin {
		at := path + ".admin"
		if len(g.Admin) > 1 {
			at = fmt.Sprintf("%s.admin[%d]", path, i)
		}
		if err := checkURL(u); err != nil {
			c.Errorf(at, "%v", err)
		}
		if seen[strings.TrimSuffix(u, "/")] {
			c.Errorf(at, "%s is listed twice: list each replica once", u)
		}
		seen[strings.TrimSuffix(u, "/")] = true
	}
	g.warnShortRetries(c, path)
	if t := g.Token; t != nil {
		switch {
		case t.FromEnv == "" && t.FromFile == "":
			c.Errorf(path+".token", "needs fromEnv (a variable in the worker's environment) or fromFile (a file on the worker)")
		case t.FromEnv != "" && t.FromFile != "":
			c.Errorf(path+".token", "sets both fromEnv and fromFile: choose one")
		}
	}
}

// replicaDowntime is the least time a phase over several gateway replicas
// should keep retrying a replica that does not answer: about what it takes
// a person to notice a replica is down and start it again.
const replicaDowntime = 5 * time.Minute

// warnShortRetries warns about a phase over several replicas whose retry
// policy gives up on a replica that does not answer sooner than someone
// can start it again. The phase then fails, the migration rolls back, and
// the rollback, which must reach every replica too, blocks
// (ROLLBACK_BLOCKED) until it is back. A trial with examples/traffic.yaml's
// 5 attempts (about 15 s of retries) rolled back that way when one replica
// was SIGKILLed mid-shift.
func (g Gateway) warnShortRetries(c *config.CheckContext, path string) {
	if len(g.Admin) < 2 || c.Phase == nil || c.Phase.Retry == nil {
		return
	}
	r := *c.Phase.Retry
	if r.WaitsFor() >= replicaDowntime {
		return
	}
	c.Warnf(path+".admin", "lists %d gateway replicas, but the phase's retry policy (maxAttempts %d, initialInterval %s, backoffCoefficient %g, maxInterval %s) "+
		"retries a replica that does not answer for only about %s: one down longer (restarted by hand) fails the phase, and the rollback, which must reach every replica too, "+
		"then blocks until it is back; give the phase time to bring a replica back, e.g. retry: {maxAttempts: 200, initialInterval: 1s, maxInterval: 5s} "+
		"(about 16 minutes; docs/gateway.md, \"Replicas behind HAProxy\")",
		len(g.Admin), r.MaxAttempts, r.InitialInterval, r.BackoffCoefficient, r.MaxInterval, r.WaitsFor().Round(time.Second))
}

// StorePair names the stores (keys of the spec's stores:) that legacy and
// new use.
type StorePair struct {
	Legacy string `yaml:"legacy" json:"legacy"`
	New    string `yaml:"new" json:"new"`
}

// Step is one step of the shift: exactly one of setWeight, hold, analysis
// and gate.
type Step struct {
	// Name labels the step in the status report; default: what it does.
	Name      string          `yaml:"name" json:"name,omitempty"`
	SetWeight *Weight         `yaml:"setWeight" json:"setWeight,omitempty"`
	Hold      config.Duration `yaml:"hold" json:"hold,omitempty"`
	Analysis  *Analysis       `yaml:"analysis" json:"analysis,omitempty"`
	Gate      string          `yaml:"gate" json:"gate,omitempty"`
	// RetireLegacy pins the route on new (reads and writes 100%) and points
	// its legacy side at new too, so nothing reaches the legacy service and
	// it can be shut down: the route's decommission, in a decommission
	// phase only.
	RetireLegacy bool `yaml:"retireLegacy" json:"retireLegacy,omitempty"`
	// RampDown says a setWeight step lowers a weight on purpose (moves
	// traffic back to legacy): without it such a step is refused, since a
	// shift that goes down is usually a typo (setWeight: 5 after 50).
	RampDown bool `yaml:"rampDown" json:"rampDown,omitempty"`
}

// Weight is a setWeight step's target, written `setWeight: 25` (applied to
// what Spec.Move names) or `setWeight: {reads: 50, writes: 0}` (a side left
// out keeps its current weight).
type Weight struct {
	// All is the plain form's percentage.
	All    *int `json:"all,omitempty"`
	Reads  *int `json:"reads,omitempty"`
	Writes *int `json:"writes,omitempty"`
}

// UnmarshalYAML reads either form; Check reports the ranges.
func (w *Weight) UnmarshalYAML(n *yaml.Node) error {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.ScalarNode:
		v, err := percent(n)
		if err != nil {
			return err
		}
		*w = Weight{All: &v}
		return nil
	case yaml.MappingNode:
		*w = Weight{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, val := n.Content[i].Value, n.Content[i+1]
			var dst **int
			switch key {
			case "reads":
				dst = &w.Reads
			case "writes":
				dst = &w.Writes
			default:
				return fmt.Errorf("unknown field %q; known fields here: reads, writes", key)
			}
			if *dst != nil {
				return fmt.Errorf("%s is given twice", key)
			}
			v, err := percent(val)
			if err != nil {
				return fmt.Errorf("%s: %w", key, err)
			}
			*dst = &v
		}
		if w.Reads == nil && w.Writes == nil {
			return errors.New("needs reads, writes or both, e.g. {reads: 50, writes: 0}")
		}
		return nil
	}
	return errors.New("must be a percentage (setWeight: 25) or a mapping (setWeight: {reads: 50, writes: 0})")
}

func percent(n *yaml.Node) (int, error) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		return 0, fmt.Errorf("must be a whole percentage 0..100, not %q", n.Value)
	}
	v, err := strconv.Atoi(n.Value)
	if err != nil {
		return 0, fmt.Errorf("must be a whole percentage 0..100, not %q", n.Value)
	}
	return v, nil
}

// Targets returns the read and write weights the step sets given move; nil
// keeps that side's current weight.
func (w Weight) Targets(move string) (reads, writes *int) {
	if w.All == nil {
		return w.Reads, w.Writes
	}
	switch move {
	case MoveReads:
		return w.All, nil
	case MoveWrites:
		return nil, w.All
	}
	return w.All, w.All
}

// Analysis judges new over a window: every interval it reads the
// gateway's figures for the last interval and counts a failed sample when
// a threshold is breached; failureLimit failed samples fail the phase (and
// so roll it back).
type Analysis struct {
	// Window is how long the analysis watches.
	Window config.Duration `yaml:"window" json:"window"`
	// Interval is the time between samples; each covers the last interval.
	Interval config.Duration `yaml:"interval" json:"interval"`
	// MinRequests on new a sample needs for a verdict (default 1): fewer
	// make it inconclusive, unless a threshold is breached anyway.
	MinRequests int `yaml:"minRequests" json:"minRequests,omitempty"`
	// MaxErrorRate on new, 0..1; fallbacks and breaker diversions count as
	// errors of new. 0 allows no error at all.
	MaxErrorRate *float64 `yaml:"maxErrorRate" json:"maxErrorRate,omitempty"`
	// MaxP95 and MaxP99 bound new's latency.
	MaxP95 config.Duration `yaml:"maxP95" json:"maxP95,omitempty"`
	MaxP99 config.Duration `yaml:"maxP99" json:"maxP99,omitempty"`
	// MaxShadowMismatchRate bounds the route's shadow mismatches, 0..1.
	MaxShadowMismatchRate *float64 `yaml:"maxShadowMismatchRate" json:"maxShadowMismatchRate,omitempty"`
	// FailureLimit is how many failed samples fail the analysis (default 1).
	FailureLimit int `yaml:"failureLimit" json:"failureLimit,omitempty"`
	// OnInconclusive decides an analysis none of whose samples passed or
	// reached the failure limit: fail (default) or pass.
	OnInconclusive string `yaml:"onInconclusive" json:"onInconclusive,omitempty"`
	// Prometheus adds a PromQL query with a threshold to every sample.
	Prometheus *PromCheck `yaml:"prometheus" json:"prometheus,omitempty"`
	// HTTP adds an HTTP check to every sample.
	HTTP *HTTPCheck `yaml:"http" json:"http,omitempty"`
	// OnFailure is what a failed analysis does: rollback (default), pause
	// (hold at the current weight for a human: the step fails with
	// ErrTypeAnalysisPaused) or rampDown (step the weight down by RampStep
	// every Interval to 0, then fail as rollback does).
	OnFailure string `yaml:"onFailure" json:"onFailure,omitempty"`
	// RampStep is rampDown's decrement in percentage points (default 10).
	RampStep int `yaml:"rampStep" json:"rampStep,omitempty"`
}

// Samples is how many samples the analysis takes.
func (a Analysis) Samples() int {
	if a.Interval <= 0 {
		return 1
	}
	return max(1, int(a.Window/a.Interval))
}

// ApplyDefaults fills the analysis settings left out.
func (s *Spec) ApplyDefaults(*config.PhaseSpec) {
	if s.Move == "" {
		s.Move = MoveBoth
	}
	for i := range s.Steps {
		a := s.Steps[i].Analysis
		if a == nil {
			continue
		}
		if a.MinRequests == 0 {
			// A sample of no requests must not pass.
			a.MinRequests = 1
		}
		if a.FailureLimit == 0 {
			a.FailureLimit = 1
		}
		if a.OnInconclusive == "" {
			a.OnInconclusive = InconclusiveFail
		}
	}
}

// HasCompensation is true: a rollback always moves the route back to legacy.
func (s *Spec) HasCompensation() bool { return true }

// Resources names the route, so two migrations never drive it at once.
func (s *Spec) Resources(*config.Spec) []string {
	if h := s.haproxy(); h != nil {
		return []string{"haproxy:" + h.Socket + "/" + h.Backend}
	}
	return s.Gateway.Resources(s.Route)
}

// PlanSteps maps the steps one to one: setWeight and analysis are actions
// of the driver, hold a durable wait, gate an approval.
func (s *Spec) PlanSteps() []config.Step {
	out := make([]config.Step, len(s.Steps))
	for i, st := range s.Steps {
		var step config.Step
		switch {
		case st.SetWeight != nil:
			step = config.Step{Name: "set weight " + describeWeight(*st.SetWeight, s.Move), Action: true}
		case st.Analysis != nil:
			step = config.Step{Name: fmt.Sprintf("analysis for %s", st.Analysis.Window), Action: true, Check: true}
		case st.Gate != "":
			step = config.Step{Name: "gate " + st.Gate, Gate: st.Gate}
		case st.Hold > 0:
			step = config.Step{Name: "hold " + st.Hold.String(), Wait: st.Hold.D()}
		case st.RetireLegacy:
			step = config.Step{Name: "retire legacy from route " + s.Route, Action: true}
		default:
			// Check reports it; an action keeps the plan one to one.
			step = config.Step{Name: "invalid step", Action: true}
		}
		if st.Name != "" {
			step.Name = st.Name
		}
		out[i] = step
	}
	return out
}

// describeWeight says what a setWeight sets, e.g. "reads 50%, writes 0%".
func describeWeight(w Weight, move string) string {
	reads, writes := w.Targets(move)
	switch {
	case reads != nil && writes != nil && *reads == *writes:
		return fmt.Sprintf("%d%%", *reads)
	case reads != nil && writes != nil:
		return fmt.Sprintf("reads %d%%, writes %d%%", *reads, *writes)
	case reads != nil:
		return fmt.Sprintf("reads %d%%", *reads)
	case writes != nil:
		return fmt.Sprintf("writes %d%%", *writes)
	}
	return "?"
}

// Check reports every missing or impossible value with its field path.
func (s *Spec) Check(c *config.CheckContext) {
	if s.haproxy() != nil {
		s.checkHAProxy(c)
	} else {
		s.checkGateway(c)
	}
	if s.haproxy() == nil && strings.TrimSpace(s.Route) == "" {
		c.Errorf("route", "is required: the name of the gateway route to move (routes[].name in the gateway's configuration)")
	}
	switch s.Move {
	case "", MoveBoth, MoveReads, MoveWrites:
	default:
		c.Errorf("move", "%q is not a choice: use both (reads and writes), reads or writes", s.Move)
	}
	if s.NewUpstream != "" && !strings.Contains(s.NewUpstream, "${") {
		if err := checkURL(s.NewUpstream); err != nil {
			c.Errorf("newUpstream", "%v", err)
		}
	}
	if s.Stores != nil {
		for _, side := range []struct{ path, name string }{{"stores.legacy", s.Stores.Legacy}, {"stores.new", s.Stores.New}} {
			if side.name == "" {
				c.Errorf(side.path, "is required: the name of one of the spec's stores")
			} else if _, ok := c.Spec.Stores[side.name]; !ok {
				c.Errorf(side.path, "%q is not one of the spec's stores: add it under stores: or fix the name", side.name)
			}
		}
	}
	switch s.WriteConsistency {
	case "", WritesPinned, WritesReverseReplication, WritesSharedStore:
	default:
		c.Errorf("writeConsistency", "%q is not a choice: use pinned, reverseReplication or sharedStore", s.WriteConsistency)
	}
	s.checkSteps(c)
	phase := ""
	if c.Phase != nil {
		phase = c.Phase.Name
	}
	for _, p := range s.writeProblems(c.Spec, phase, nil) {
		c.Errorf(p.path, "%s", p.msg)
	}
}

func (s *Spec) checkGateway(c *config.CheckContext) { s.Gateway.Check(c, "gateway") }

// checkURL accepts http(s)://host[:port][/path] without credentials, which
// would land in workflow history.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fmt.Errorf("%q is not a URL of the form http(s)://host:port", raw)
	case u.User != nil:
		return errors.New("must not hold credentials, which would be stored in workflow history: use gateway.token")
	}
	return nil
}

func (s *Spec) checkSteps(c *config.CheckContext) {
	if len(s.Steps) == 0 {
		c.Errorf("steps", "is required: e.g. [{setWeight: 10}, {hold: 5m}, {setWeight: 100}]")
		return
	}
	seenAction := false
	// The weights the steps so far set (nil: not set by this phase).
	var reads, writes *int
	for i, st := range s.Steps {
		path := fmt.Sprintf("steps[%d]", i)
		n := 0
		if st.SetWeight != nil {
			n++
			s.checkWeight(c, path+".setWeight", *st.SetWeight)
			r, w := st.SetWeight.Targets(s.Move)
			checkGoesDown(c, path, "reads", reads, r, st.RampDown)
			checkGoesDown(c, path, "writes", writes, w, st.RampDown)
			reads, writes = firstSet(r, reads), firstSet(w, writes)
		} else if st.RampDown {
			c.Errorf(path+".rampDown", "applies to a setWeight step (one that lowers a weight): move it there, or remove it")
		}
		if st.Hold != 0 {
			n++
			if st.Hold < 0 {
				c.Errorf(path+".hold", "must be positive, e.g. 5m")
			}
		}
		if st.Analysis != nil {
			n++
			checkAnalysis(c, path+".analysis", *st.Analysis)
		}
		if st.Gate != "" {
			n++ // the gate's name is checked with the spec's other gates
		}
		if st.RetireLegacy {
			n++
			if c.Phase != nil && c.Phase.Phase != migration.PhaseDecommission {
				c.Errorf(path+".retireLegacy", "removes the legacy service from the route for good: use it in a decommission phase (the point of no return), not in %s", c.Phase.Phase)
			}
		}
		if n != 1 {
			c.Errorf(path, "needs exactly one of setWeight, hold, analysis, gate and retireLegacy, not %d", n)
			continue
		}
		switch {
		case st.SetWeight != nil || st.Analysis != nil || st.RetireLegacy:
			seenAction = true
		case !seenAction && st.Gate != "":
			c.Errorf(path+".gate", "comes before any weight is set: put it on the phase instead, as approval: {gate: %s}", st.Gate)
		case !seenAction:
			c.Errorf(path+".hold", "comes before any weight is set, so it holds nothing: remove it, or set a weight first")
		}
	}
}

// checkGoesDown refuses a step that lowers side's weight from before to
// now unless it says rampDown: true.
func checkGoesDown(c *config.CheckContext, path, side string, before, now *int, rampDown bool) {
	if before == nil || now == nil || *now >= *before || *now < 0 || *before > 100 || rampDown {
		return
	}
	c.Errorf(path+".setWeight", "sets %s to %d%%, down from %d%% at an earlier step: a weight that goes down moves traffic back to legacy; "+
		"if that is meant, add rampDown: true to this step, otherwise fix the number", side, *now, *before)
}

func firstSet(v, otherwise *int) *int {
	if v != nil {
		return v
	}
	return otherwise
}

func (s *Spec) checkWeight(c *config.CheckContext, path string, w Weight) {
	check := func(sub string, v *int) {
		if v != nil && (*v < 0 || *v > 100) {
			c.Errorf(path+sub, "%d is not a percentage: use 0..100", *v)
		}
	}
	check("", w.All)
	check(".reads", w.Reads)
	check(".writes", w.Writes)
}

func checkAnalysis(c *config.CheckContext, path string, a Analysis) {
	switch {
	case a.Window <= 0:
		c.Errorf(path+".window", "is required and must be positive: how long the analysis watches, e.g. 2m")
	case c.Phase != nil && c.Phase.Timeout > 0 && a.Window >= c.Phase.Timeout:
		c.Errorf(path+".window", "%s is not shorter than the phase timeout %s: the analysis would time out; raise the phase's timeout", a.Window, c.Phase.Timeout)
	}
	switch {
	case a.Interval <= 0:
		c.Errorf(path+".interval", "is required and must be positive: the time between samples, e.g. 10s")
	case a.Interval.D().Seconds() < 1:
		c.Errorf(path+".interval", "%s is shorter than the gateway's 1s statistics slots: use 1s or more", a.Interval)
	case a.Window > 0 && a.Interval > a.Window:
		c.Errorf(path+".interval", "%s is longer than the window %s: no sample would be taken", a.Interval, a.Window)
	}
	if a.MinRequests < 0 {
		c.Errorf(path+".minRequests", "must not be negative")
	}
	if a.FailureLimit < 0 {
		c.Errorf(path+".failureLimit", "must be at least 1")
	} else if a.FailureLimit > a.Samples() {
		c.Errorf(path+".failureLimit", "%d is more than the %d samples the window takes: the analysis could never fail", a.FailureLimit, a.Samples())
	}
	rate := func(sub string, v *float64) {
		if v != nil && (*v < 0 || *v > 1) {
			c.Errorf(path+sub, "%g is not a rate: use 0..1 (0.01 is 1%%)", *v)
		}
	}
	rate(".maxErrorRate", a.MaxErrorRate)
	rate(".maxShadowMismatchRate", a.MaxShadowMismatchRate)
	if a.MaxP95 < 0 {
		c.Errorf(path+".maxP95", "must be positive, e.g. 250ms")
	}
	if a.MaxP99 < 0 {
		c.Errorf(path+".maxP99", "must be positive, e.g. 500ms")
	}
	if !a.usesGateway() && !a.hasExternalSource() {
		c.Errorf(path, "checks nothing: set at least one of maxErrorRate, maxP95, maxP99, maxShadowMismatchRate, prometheus and http")
	}
	checkSources(c, path, a)
	switch a.OnInconclusive {
	case "", InconclusiveFail, InconclusivePass:
	default:
		c.Errorf(path+".onInconclusive", "%q is not a choice: use fail or pass", a.OnInconclusive)
	}
}

// problem is a finding at a path of the section.
type problem struct{ path, msg string }

// writeProblems applies the split-stores rule to the phase named phase:
// when legacy and new keep separate databases, sending some writes to new
// while a one-way copy runs leaves each database without the other's
// writes (and a rollback loses new's). Such a phase must say how writes
// stay consistent. The rule reasons over the plan (stores.Before), as the
// other drivers' preflights do: what the phases before this one move and
// replicate, not how many stores the spec declares. same tells whether two
// stores are one database (read on a worker, in preflight); nil where no
// identity can be read (validate), and then two names are two databases
// unless the phase says sharedStore, which the preflight checks.
func (s *Spec) writeProblems(spec *config.Spec, phase string, same sameDatabase) []problem {
	var out []problem
	if s.WriteConsistency == WritesPinned {
		for i, st := range s.Steps {
			if st.SetWeight == nil {
				continue
			}
			if _, w := st.SetWeight.Targets(s.move()); w != nil && *w != 0 && *w != 100 {
				out = append(out, problem{fmt.Sprintf("steps[%d].setWeight", i), fmt.Sprintf(
					"sends %d%% of writes to new, but writeConsistency pinned keeps all writes on one side: use 0 or 100 for writes", *w)})
			}
		}
	}
	d := s.sides(spec, phase)
	if !d.split() || d.reverse != "" {
		// One database, or new's writes reach legacy by the replication an
		// earlier phase left running.
		return out
	}
	switch s.WriteConsistency {
	case WritesSharedStore:
		if !d.named {
			// The spec's word: the services may use a store the copy does
			// not touch; only stores the section names can be checked.
			return out
		}
		if p, ok := d.checkShared(same); !ok {
			out = append(out, problem{"writeConsistency", p})
		}
		return out
	case "":
	default:
		return out
	}
	if d.move == nil && same != nil {
		if one, err := same(d.legacy, d.new); err == nil && one {
			return out // two names of one database: a shared store
		}
	}
	for i, st := range s.Steps {
		if st.SetWeight == nil {
			continue
		}
		if _, w := st.SetWeight.Targets(s.move()); w != nil && *w > 0 && *w <= 100 {
			out = append(out, problem{fmt.Sprintf("steps[%d].setWeight", i), fmt.Sprintf(
				"sends %d%% of writes to new, but %s: writes on new would be missing from legacy and lost by a rollback. "+
					"Say how writes stay consistent with writeConsistency: pinned (writes move at once, 0 or 100, while reads move by percentage), "+
					"reverseReplication (new's writes are replicated back to legacy) or sharedStore (both services use one database: preflight checks that %s and %s are one); "+
					"or move only reads (move: reads)", *w, d.why(), d.legacy, d.new)})
			break // one finding says it all
		}
	}
	return out
}

// sameDatabase reports whether stores a and b are one database.
type sameDatabase func(a, b string) (bool, error)

// sides is what the plan says of the databases behind the route's legacy
// and new services.
type sides struct {
	// legacy and new are store names; "" when neither the section nor an
	// earlier phase names them.
	legacy, new string
	// named: the section names them (stores: {legacy, new}).
	named bool
	// move is an earlier phase that moves rows between them, nil if none.
	move *stores.Move
	// reverse names the earlier phase whose replication of new's changes
	// to legacy runs when this phase starts, "" if none.
	reverse string
}

// sides reads the stores behind legacy and new from the section (stores:)
// or else from the first earlier phase that moves rows between two stores
// (a copy, a replication, a cut-over: legacy is where the rows come from).
// A spec whose earlier phases move nothing between stores has no split:
// a second store may hold a hook's bookkeeping, not a service's data.
func (s *Spec) sides(spec *config.Spec, phase string) sides {
	plan := stores.Before(spec, phase)
	moves := plan.Moves()
	var d sides
	if s.Stores != nil {
		d.legacy, d.new, d.named = s.Stores.Legacy, s.Stores.New, true
		for i, m := range moves {
			if m.Flow == (stores.Flow{From: d.legacy, To: d.new}) || m.Flow == (stores.Flow{From: d.new, To: d.legacy}) {
				d.move = &moves[i]
				break
			}
		}
	} else if len(moves) > 0 {
		d.legacy, d.new, d.move = moves[0].From, moves[0].To, &moves[0]
	}
	if d.split() {
		d.reverse = plan.Replicating(d.new, d.legacy)
	}
	return d
}

func (d sides) split() bool { return d.legacy != "" && d.legacy != d.new }

// why says why legacy and new are taken to have databases of their own.
func (d sides) why() string {
	if d.named {
		w := fmt.Sprintf("legacy uses store %s and new store %s", d.legacy, d.new)
		if d.move != nil {
			w += fmt.Sprintf(" (phase %s moves rows from %s to %s)", d.move.Phase, d.move.From, d.move.To)
		}
		return w
	}
	return fmt.Sprintf("phase %s moves rows from store %s to store %s, so legacy and new have databases of their own "+
		"(name them with stores: {legacy: %s, new: %s})", d.move.Phase, d.move.From, d.move.To, d.move.From, d.move.To)
}

// checkShared checks the section's claim that the stores it names for
// legacy and new are one database: an earlier phase that moves rows
// between them refutes it; their identities, where they can be read,
// decide it.
func (d sides) checkShared(same sameDatabase) (string, bool) {
	if d.move != nil {
		return fmt.Sprintf("says the services share one database, but phase %s moves rows from store %s to store %s, so each has its own: "+
			"choose pinned or reverseReplication, or, if they do share one, name it for both (stores: {legacy: %s, new: %s})",
			d.move.Phase, d.move.From, d.move.To, d.legacy, d.legacy), false
	}
	if same == nil {
		return "", true // validate: the preflight reads the identities
	}
	one, err := same(d.legacy, d.new)
	switch {
	case err != nil:
		return fmt.Sprintf("says the services share one database, but whether stores %s and %s are one could not be told: %v", d.legacy, d.new, err), false
	case !one:
		return fmt.Sprintf("says the services share one database, but stores %s and %s are different databases: "+
			"point both at the one database, or choose pinned or reverseReplication", d.legacy, d.new), false
	}
	return "", true
}

func (s *Spec) move() string {
	if s.Move == "" {
		return MoveBoth
	}
	return s.Move
}

// GatewayRoute names the gateway and route this phase moves, so
// `godwit status --format exec` can read availability and latency from the
// gateway's stats. With replicas it names the first.
func (s *Spec) GatewayRoute() (adminURL string, token config.SecretRef, route string) {
	if s.Gateway.Token != nil {
		token = *s.Gateway.Token
	}
	return s.Gateway.Admin.First(), token, s.Route
}
