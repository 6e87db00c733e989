package datacopy

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/godwit/godwit/datastore"
)

// Defaults of a Probe left zero.
const (
	DefaultProbeEvery    = time.Second
	DefaultProbeAttempts = 3
	// ProbeTimeout bounds one run of the probe's query: a probe that hangs
	// must count as failing, not hold the copy forever without a word.
	ProbeTimeout = 10 * time.Second
)

// ErrProbeFailed is a back-off probe that failed Attempts times in a row.
// It is permanent: the copy cannot know whether writing is safe, so it
// stops at its checkpoint instead of copying blind.
var ErrProbeFailed = errors.New("throttle probe failed")

// Probe is a back-off probe, as gh-ost's --throttle-query: a query on a
// store that returns one number (replication lag, load, a flag in a
// control table). While the number is over Max the copy stops writing at
// its next batch boundary and probes again every Every until it is back at
// or under Max. Rows already read are held, not lost; the checkpoint does
// not move while throttled.
type Probe struct {
	// Name labels the probe in the status and in errors (replication_lag).
	Name string
	// Store runs the query; StoreName names it in messages.
	Store     *datastore.Store
	StoreName string
	// Query returns one row of one numeric column. PostgreSQL and MySQL
	// run it in a read-only transaction.
	Query string
	// Max is the highest value at which the copy goes on writing.
	Max float64
	// Every is the least time between two probes while the copy runs, and
	// the wait between probes while it is held; default DefaultProbeEvery.
	// Zero after defaults (a negative value) probes before every batch.
	Every time.Duration
	// Attempts is how many failures in a row fail the copy with
	// ErrProbeFailed; default DefaultProbeAttempts.
	Attempts int
}

// ThrottleStatus is what the back-off probe last saw, for the status.
type ThrottleStatus struct {
	Probe string  `json:"probe"`
	Value float64 `json:"value"`
	Max   float64 `json:"max"`
	// Throttled is true while the copy is held because Value > Max.
	Throttled bool `json:"throttled"`
	// Waiting is how long the copy has been held (when Throttled).
	Waiting time.Duration `json:"waiting,omitempty"`
	// Holds counts the times this run was held; Held is their total time.
	Holds int           `json:"holds,omitempty"`
	Held  time.Duration `json:"held,omitempty"`
}

// String is the status line: "throttled: probe replication_lag 12.3 > 5
// (waiting 14s)", or "probe replication_lag 1.2 (max 5)".
func (s ThrottleStatus) String() string {
	v, m := strconv.FormatFloat(s.Value, 'f', -1, 64), strconv.FormatFloat(s.Max, 'f', -1, 64)
	if s.Throttled {
		return fmt.Sprintf("throttled: probe %s %s > %s (waiting %s)", s.Probe, v, m, s.Waiting.Round(time.Second))
	}
	line := fmt.Sprintf("probe %s %s (max %s)", s.Probe, v, m)
	if s.Holds > 0 {
		line += fmt.Sprintf(", held %d times for %s", s.Holds, s.Held.Round(time.Second))
	}
	return line
}

func (p *Probe) normalize() error {
	if p.Store == nil || strings.TrimSpace(p.Query) == "" {
		return errors.New("copy: a throttle probe needs a store and a query")
	}
	if p.Name == "" {
		p.Name = "probe"
	}
	if p.Every == 0 {
		p.Every = DefaultProbeEvery
	} else if p.Every < 0 {
		p.Every = 0
	}
	if p.Attempts <= 0 {
		p.Attempts = DefaultProbeAttempts
	}
	return nil
}

// gate holds the copy's writers while the probe is over its maximum. One
// writer probes at a time; the others queue behind it, so all tables stop.
type gate struct {
	p        Probe
	log      hclog.Logger
	onChange func() // reports progress (the status shows the throttle)
	turn     chan struct{}

	mu         sync.Mutex // guards the fields below
	probed     time.Time  // last successful probe
	status     ThrottleStatus
	heldSince  time.Time
	everProbed bool
}

func newGate(p Probe, log hclog.Logger, onChange func()) *gate {
	return &gate{p: p, log: log.With("probe", p.Name), onChange: onChange, turn: make(chan struct{}, 1),
		status: ThrottleStatus{Probe: p.Name, Max: p.Max}}
}

// wait returns when the copy may write: at once if the last probe is
// fresh and under the maximum, else after probing (and waiting, while the
// value is over the maximum). It fails on ctx's end or ErrProbeFailed.
func (g *gate) wait(ctx context.Context) error {
	select {
	case g.turn <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-g.turn }()
	for {
		g.mu.Lock()
		fresh := g.everProbed && !g.status.Throttled && time.Since(g.probed) < g.p.Every
		g.mu.Unlock()
		if fresh {
			return nil
		}
		v, err := g.probe(ctx)
		if err != nil {
			return err
		}
		if !g.record(v) {
			return nil
		}
		if err := sleep(ctx, g.p.Every); err != nil {
			return err
		}
	}
}

// record notes a value and reports a change; it returns whether the copy
// must be held.
func (g *gate) record(v float64) (held bool) {
	now := time.Now()
	g.mu.Lock()
	was := g.status.Throttled
	g.probed, g.everProbed = now, true
	g.status.Value = v
	held = v > g.p.Max
	switch {
	case held && !was:
		g.heldSince = now
		g.status.Holds++
		g.log.Warn("throttled: probe over its maximum; holding the copy", "value", v, "max", g.p.Max)
	case !held && was:
		g.status.Held += now.Sub(g.heldSince)
		g.log.Info("probe back under its maximum; copying again", "value", v, "max", g.p.Max, "held", now.Sub(g.heldSince))
	}
	g.status.Throttled = held
	g.status.Waiting = 0
	if held {
		g.status.Waiting = now.Sub(g.heldSince)
	}
	g.mu.Unlock()
	if held || was {
		g.onChange() // a held copy reports on every probe, so its wait shows
	}
	return held
}

// snapshot is the status now (the wait measured to now), nil before the
// first probe.
func (g *gate) snapshot() *ThrottleStatus {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.everProbed {
		return nil
	}
	s := g.status
	if s.Throttled {
		s.Waiting = time.Since(g.heldSince)
	}
	return &s
}

// probe runs the query, retrying up to Attempts times Every apart.
func (g *gate) probe(ctx context.Context) (float64, error) {
	var last error
	for i := 1; i <= g.p.Attempts; i++ {
		v, err := g.query(ctx)
		if err == nil {
			return v, nil
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		last = err
		g.log.Warn("throttle probe failed", "attempt", i, "of", g.p.Attempts, "error", err)
		if i < g.p.Attempts {
			if err := sleep(ctx, max(g.p.Every, 100*time.Millisecond)); err != nil {
				return 0, err
			}
		}
	}
	return 0, fmt.Errorf("%w: probe %s on store %s failed %d times in a row, so the copy stopped at its checkpoint (fix the query or the store, then retry): %v",
		ErrProbeFailed, g.p.Name, g.p.StoreName, g.p.Attempts, last)
}

// query runs the probe once and reads its one number.
func (g *gate) query(ctx context.Context) (float64, error) {
	return QueryNumber(ctx, g.p.Store, g.p.Query)
}

// QueryNumber runs query on s (read-only where the engine enforces it)
// and returns the one number of its one row and column. A NULL, a text
// that is not a number, no row, or more than one row or column is an error
// saying so.
func QueryNumber(ctx context.Context, s *datastore.Store, query string) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	defer cancel()
	tx, err := s.DB.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, query)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	if len(cols) != 1 {
		return 0, fmt.Errorf("the query returns %d columns (%s); it must return one number", len(cols), strings.Join(cols, ", "))
	}
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return 0, err
		}
		return 0, errors.New("the query returned no row; it must return one number (wrap it, e.g. SELECT COALESCE((...), 0))")
	}
	var v any
	if err := rows.Scan(&v); err != nil {
		return 0, err
	}
	if rows.Next() {
		return 0, errors.New("the query returned more than one row; it must return one number (add an aggregate or LIMIT 1)")
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	return number(v)
}

// number reads a scanned value as a float.
func number(v any) (float64, error) {
	switch x := v.(type) {
	case nil:
		return 0, errors.New("the query returned NULL; it must return a number (e.g. COALESCE(..., 0))")
	case int64:
		return float64(x), nil
	case float64:
		return x, nil
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	case []byte:
		return number(string(x))
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil {
			return 0, fmt.Errorf("the query returned %.40q, not a number", x)
		}
		return f, nil
	}
	return 0, fmt.Errorf("the query returned a %T, not a number", v)
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// hold waits, at a batch boundary, until the back-off probe lets the copy
// write (no probe: at once).
func (r *run) hold(ctx context.Context, p *tablePlan) error {
	if r.gate == nil {
		return nil
	}
	if err := r.gate.wait(ctx); err != nil {
		if errors.Is(err, ErrProbeFailed) {
			return fmt.Errorf("copy %s: %w", p.name, err)
		}
		return fmt.Errorf("copy %s: stopped while throttled by the probe: %w", p.name, ctxErrOr(ctx, err))
	}
	return nil
}

// Gate is the back-off probe's hold for a batch walker other than the copy
// (the expand/contract backfill): Wait at each batch boundary, Status for
// the progress report. The copy uses the same gate inside Run.
type Gate struct{ g *gate }

// NewGate checks p and returns its gate; onChange (may be nil) is called
// when the probe starts or stops holding, and on every probe while held.
func NewGate(p Probe, log hclog.Logger, onChange func()) (*Gate, error) {
	if err := p.normalize(); err != nil {
		return nil, err
	}
	if onChange == nil {
		onChange = func() {}
	}
	return &Gate{g: newGate(p, log, onChange)}, nil
}

// Wait returns when the walker may write: at once if the last probe is
// fresh and under the maximum, else after probing (and waiting while the
// value is over it). It fails on ctx's end or with ErrProbeFailed.
func (g *Gate) Wait(ctx context.Context) error { return g.g.wait(ctx) }

// Status is what the probe last saw (nil before its first probe).
func (g *Gate) Status() *ThrottleStatus { return g.g.snapshot() }
