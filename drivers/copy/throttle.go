package copy

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datacopy"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/drivers/stores"
)

// Bounds of a probe's interval and attempts: beyond them a setting is a
// mistake (a probe a thousand times a second, or one an hour apart).
const (
	MinProbeEvery   = 100 * time.Millisecond
	MaxProbeEvery   = 10 * time.Minute
	MaxProbeAttempt = 20
)

// Throttle is a copy's `throttle:` section: what, besides rowsPerSecond,
// holds the copy back. The backfill driver takes the same section.
type Throttle struct {
	// Probe is a back-off probe (gh-ost's --throttle-query).
	Probe *Probe `yaml:"probe" json:"probe,omitempty"`
}

// Probe is a query whose value over Max holds the copy at its batch
// boundary until the value is back at or under Max.
type Probe struct {
	// Name labels the probe in the status (default "probe").
	Name string `yaml:"name" json:"name,omitempty"`
	// Store is one of the spec's stores (a replica, the source, ...).
	Store string `yaml:"store" json:"store"`
	// Query returns one row of one number.
	Query string `yaml:"query" json:"query"`
	// Max is the highest value at which the copy writes; required.
	Max *float64 `yaml:"max" json:"max"`
	// Every is how often it is asked (default 1s).
	Every config.Duration `yaml:"every" json:"every,omitempty"`
	// Attempts is how many failures in a row fail the phase (default 3).
	Attempts int `yaml:"attempts" json:"attempts,omitempty"`
}

var probeName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// Check reports a throttle section's mistakes, with their paths.
func (t *Throttle) Check(c *config.CheckContext) {
	if t == nil {
		return
	}
	p := t.Probe
	if p == nil {
		c.Errorf("throttle.probe", "is required in throttle: {probe: {store, query, max}} (the rate limit is rowsPerSecond)")
		return
	}
	stores.CheckStoreRef(c, "throttle.probe.store", p.Store)
	if strings.TrimSpace(p.Query) == "" {
		c.Errorf("throttle.probe.query", "is required: a query returning one number, e.g. \"SELECT lag FROM throttle_control\"")
	}
	if p.Max == nil {
		c.Errorf("throttle.probe.max", "is required: the highest value at which the copy goes on writing")
	}
	if p.Name != "" && !probeName.MatchString(p.Name) {
		c.Errorf("throttle.probe.name", "%q must be a short word (letters, digits, _ . -), e.g. replication_lag", p.Name)
	}
	if p.Every != 0 && (p.Every.D() < MinProbeEvery || p.Every.D() > MaxProbeEvery) {
		c.Errorf("throttle.probe.every", "must be between %s and %s (default %s), not %s", MinProbeEvery, MaxProbeEvery, datacopy.DefaultProbeEvery, p.Every)
	}
	if p.Attempts < 0 || p.Attempts > MaxProbeAttempt {
		c.Errorf("throttle.probe.attempts", "must be between 1 and %d (default %d), not %d", MaxProbeAttempt, datacopy.DefaultProbeAttempts, p.Attempts)
	}
}

// storeNames are the stores the section reads or writes: its from and
// to, and its probe's.
func (s *Spec) storeNames() []string {
	names := []string{s.From, s.To}
	if s.Throttle != nil && s.Throttle.Probe != nil && s.Throttle.Probe.Store != "" {
		names = append(names, s.Throttle.Probe.Store)
	}
	return names
}

// probe returns the section's probe for datacopy on an open store (nil:
// none) and a close for the store if the probe opened its own.
func (s *Spec) probe(ctx context.Context, from, to *datastore.Store) (*datacopy.Probe, func(), error) {
	if s.Throttle == nil || s.Throttle.Probe == nil {
		return nil, func() {}, nil
	}
	p := s.Throttle.Probe
	dp := p.On(nil)
	switch p.Store {
	case s.From:
		dp.Store = from
	case s.To:
		dp.Store = to
	default:
		st, err := stores.Open(ctx, s.Stores, p.Store)
		if err != nil {
			return nil, nil, fmt.Errorf("throttle probe: %w", err)
		}
		dp.Store = st
		return dp, func() { st.Close() }, nil
	}
	return dp, func() {}, nil
}

// On is the probe for datacopy, run on st (the store the probe names,
// opened by the caller).
func (p *Probe) On(st *datastore.Store) *datacopy.Probe {
	dp := &datacopy.Probe{Name: p.Name, Store: st, StoreName: p.Store, Query: p.Query, Every: p.Every.D(), Attempts: p.Attempts}
	if p.Max != nil {
		dp.Max = *p.Max
	}
	return dp
}

// probeProblems asks the probe once (preflight): a query that fails or
// does not return one number is a problem now rather than mid-copy.
func (s *Spec) probeProblems(ctx context.Context, spec *config.Spec) []string {
	return s.Throttle.Problems(ctx, spec)
}

// Problems asks the section's probe once (preflight), nil without one.
func (t *Throttle) Problems(ctx context.Context, spec *config.Spec) []string {
	if t == nil || t.Probe == nil {
		return nil
	}
	p := t.Probe
	st, err := stores.Open(ctx, spec.Stores, p.Store)
	if err != nil {
		return []string{"throttle probe: " + stores.Unreachable(p.Store, spec.Stores, err)}
	}
	defer st.Close()
	if _, err := datacopy.QueryNumber(ctx, st, p.Query); err != nil {
		return []string{fmt.Sprintf("throttle probe %s: the query on store %s fails: %v", probeLabel(p), p.Store, err)}
	}
	return nil
}

func probeLabel(p *Probe) string {
	if p.Name == "" {
		return "probe"
	}
	return p.Name
}

// Errors are stores.Errors, plus a failing probe: permanent, since the
// copy (or backfill) cannot tell whether writing is safe.
var Errors = append([]activities.ErrorKind{{Is: activities.IsError(datacopy.ErrProbeFailed), Type: activities.ErrTypeConfig}}, stores.Errors...)

// WithThrottle puts the probe's line in a heartbeat's detail: first while
// it holds the copy, last otherwise.
func WithThrottle(lines []string, t *datacopy.ThrottleStatus) []string {
	switch {
	case t == nil:
		return lines
	case t.Throttled:
		return append([]string{t.String()}, lines...)
	}
	return append(lines, t.String())
}
