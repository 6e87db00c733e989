package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/godwit/godwit/gateway/api"
)

// stateFile is what the gateway saves after every admin change, so that a
// restarted gateway comes back with the weights and holds it had.
type stateFile struct {
	Version int                   `json:"version"`
	Routes  map[string]routeSaved `json:"routes"`
}

type routeSaved struct {
	Weights Weights `json:"weights"`
	// Legacy and New are kept only when set through the admin API (they
	// differ from the configuration's); they win over the configuration.
	Legacy     string     `json:"legacy,omitempty"`
	New        string     `json:"new,omitempty"`
	WritesHeld bool       `json:"writesHeld,omitempty"`
	HoldUntil  *time.Time `json:"holdUntil,omitempty"`
	// Breaker is "open" or "half-open" when new's breaker was not closed;
	// a restarted gateway opens it again (see breaker.trip).
	Breaker string `json:"breaker,omitempty"`
}

const stateVersion = 1

// restoreState applies the state file over the configured weights. A
// missing file is a first start; routes it names that the configuration no
// longer has are ignored with a warning.
func (g *Gateway) restoreState() error {
	sf, err := g.readState()
	if err != nil || sf == nil {
		return err
	}
	now := g.now()
	for name, saved := range sf.Routes {
		r, ok := g.table.Load().lookup(name)
		if !ok {
			g.log.Warn("state file names a route the configuration lacks; ignored", "route", name)
			continue
		}
		if err := validateWeights(saved.Weights); err != nil {
			return fmt.Errorf("state file %s, route %s: %w", g.cfg.StateFile, name, err)
		}
		if err := restoreUpstreams(r, saved); err != nil {
			return fmt.Errorf("state file %s, route %s: %w", g.cfg.StateFile, name, err)
		}
		applySaved(r, saved, now)
		if saved.Breaker == api.BreakerOpen || saved.Breaker == api.BreakerHalfOpen {
			r.breaker.Load().trip(r.cfg.Breaker.ConsecutiveFailures)
		}
		g.log.Info("restored route state", "route", name, "read", saved.Weights.Read,
			"write", saved.Weights.Write, "writesHeld", r.state.Load().hold != nil,
			"breaker", breakerName(r.breaker.Load().State()))
	}
	return nil
}

// readState reads the state file; nil without error when there is none.
func (g *Gateway) readState() (*stateFile, error) {
	if g.cfg.StateFile == "" {
		return nil, nil
	}
	raw, err := os.ReadFile(g.cfg.StateFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state file: %w", err)
	}
	var sf stateFile
	if err := json.Unmarshal(raw, &sf); err != nil {
		return nil, fmt.Errorf("parse state file %s: %w", g.cfg.StateFile, err)
	}
	if sf.Version != stateVersion {
		return nil, fmt.Errorf("state file %s: version %d, this gateway reads %d", g.cfg.StateFile, sf.Version, stateVersion)
	}
	return &sf, nil
}

// applySaved sets a route's weights and hold to the saved ones.
func applySaved(r *route, saved routeSaved, now time.Time) {
	if r.state.Load().weights != saved.Weights {
		r.setWeights(saved.Weights)
	}
	switch {
	case !saved.WritesHeld:
		r.releaseWrites()
	case saved.HoldUntil == nil:
		r.holdWrites(now, 0)
	case saved.HoldUntil.After(now):
		r.holdWrites(now, saved.HoldUntil.Sub(now))
	default:
		r.releaseWrites()
	}
}

// followStateFile applies, until stopped, the weights and holds a successor
// process saves to the state file: while this process drains after a
// hand-over, the successor owns the admin API, and a write held here must
// be released when the successor releases the hold, not wait out maxWait.
// Without a state file there is nothing to follow.
func (g *Gateway) followStateFile() (stop func()) {
	if g.cfg.StateFile == "" {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		var last time.Time
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			fi, err := os.Stat(g.cfg.StateFile)
			if err != nil || !fi.ModTime().After(last) {
				continue
			}
			last = fi.ModTime()
			sf, err := g.readState()
			if err != nil || sf == nil {
				continue
			}
			for name, saved := range sf.Routes {
				if r, ok := g.table.Load().lookup(name); ok && validateWeights(saved.Weights) == nil {
					applySaved(r, saved, g.now())
				}
			}
		}
	}()
	return func() { close(done); <-finished }
}

// restoreUpstreams applies upstreams saved by the admin API.
func restoreUpstreams(r *route, saved routeSaved) error {
	var legacy, newURL *url.URL
	var err error
	if saved.Legacy != "" {
		if legacy, err = parseUpstream(saved.Legacy); err != nil {
			return err
		}
	}
	if saved.New != "" {
		if newURL, err = parseUpstream(saved.New); err != nil {
			return err
		}
	}
	r.setUpstreams(legacy, newURL)
	return nil
}

// errHandingOver refuses a change once the state was handed to a
// successor process: the change would be lost with this process. It is
// answered 503, which callers retry, and the retry reaches the successor.
var errHandingOver = errors.New("the gateway is handing over to a successor process; retry")

// change applies fn to the routes and saves the resulting state. When the
// save fails the change stays in effect in memory and the error says so;
// callers retry (every admin change is idempotent), which saves again.
func (g *Gateway) change(fn func()) error {
	g.persistMu.Lock()
	defer g.persistMu.Unlock()
	if g.handingOver {
		return errHandingOver
	}
	fn()
	return g.saveLocked()
}

// saveSoon asks the background saver to write the state file; it never
// blocks (a breaker calls it on the request path).
func (g *Gateway) saveSoon() {
	select {
	case g.saveReq <- struct{}{}:
	default: // a save is already due; it will see this change too
	}
}

// saveLoop writes the state file when asked, and once more at Close.
func (g *Gateway) saveLoop() {
	defer g.saver.Done()
	for {
		select {
		case <-g.saveReq:
		case <-g.baseCtx.Done():
			g.persistMu.Lock()
			defer g.persistMu.Unlock()
			if !g.handingOver {
				g.logSaveError(g.saveLocked())
			}
			return
		}
		g.persistMu.Lock()
		if !g.handingOver {
			g.logSaveError(g.saveLocked())
		}
		g.persistMu.Unlock()
	}
}

func (g *Gateway) logSaveError(err error) {
	if err != nil {
		g.log.Error("saving gateway state failed", "error", err)
	}
}

// HandOver saves the state for a successor process and refuses every later
// change (503, retried by callers until they reach the successor), so the
// successor starts from the last state this process accepted. AbortHandOver
// undoes it when the successor does not come up.
func (g *Gateway) HandOver() error {
	g.persistMu.Lock()
	defer g.persistMu.Unlock()
	if err := g.saveLocked(); err != nil {
		return err
	}
	g.handingOver = true
	return nil
}

// AbortHandOver accepts changes again after a failed hand-over.
func (g *Gateway) AbortHandOver() {
	g.persistMu.Lock()
	defer g.persistMu.Unlock()
	g.handingOver = false
}

// saveLocked writes the state file; the caller holds persistMu.
func (g *Gateway) saveLocked() error {
	if g.cfg.StateFile == "" {
		return nil
	}
	sf := stateFile{Version: stateVersion, Routes: map[string]routeSaved{}}
	for _, r := range g.routes() {
		st := r.state.Load()
		saved := routeSaved{Weights: st.weights}
		if u := r.legacy.target().String(); u != r.configured(SideLegacy) {
			saved.Legacy = u
		}
		if u := r.new.target().String(); u != r.configured(SideNew) {
			saved.New = u
		}
		if st.hold != nil {
			saved.WritesHeld = true
			if !st.hold.until.IsZero() {
				u := st.hold.until
				saved.HoldUntil = &u
			}
		}
		if b := breakerName(r.breaker.Load().State()); b != api.BreakerClosed {
			saved.Breaker = b
		}
		sf.Routes[r.cfg.Name] = saved
	}
	raw, err := json.MarshalIndent(sf, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	if err := writeFileAtomic(g.cfg.StateFile, append(raw, '\n')); err != nil {
		return fmt.Errorf("applied, but not saved to the state file: %w", err)
	}
	return nil
}

// writeFileAtomic replaces path with data so that a crash leaves either the
// old or the new file, never a torn one: write a temporary file in the same
// directory, sync it, rename it over path, sync the directory.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // no-op once renamed
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
