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
}

const stateVersion = 1

// restoreState applies the state file over the configured weights. A
// missing file is a first start; routes it names that the configuration no
// longer has are ignored with a warning.
func (g *Gateway) restoreState() error {
	if g.cfg.StateFile == "" {
		return nil
	}
	raw, err := os.ReadFile(g.cfg.StateFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read state file: %w", err)
	}
	var sf stateFile
	if err := json.Unmarshal(raw, &sf); err != nil {
		return fmt.Errorf("parse state file %s: %w", g.cfg.StateFile, err)
	}
	if sf.Version != stateVersion {
		return fmt.Errorf("state file %s: version %d, this gateway reads %d", g.cfg.StateFile, sf.Version, stateVersion)
	}
	now := g.now()
	for name, saved := range sf.Routes {
		r, ok := g.byName[name]
		if !ok {
			g.log.Warn("state file names a route the configuration lacks; ignored", "route", name)
			continue
		}
		if err := validateWeights(saved.Weights); err != nil {
			return fmt.Errorf("state file %s, route %s: %w", g.cfg.StateFile, name, err)
		}
		r.setWeights(saved.Weights)
		if err := restoreUpstreams(r, saved); err != nil {
			return fmt.Errorf("state file %s, route %s: %w", g.cfg.StateFile, name, err)
		}
		switch {
		case !saved.WritesHeld:
		case saved.HoldUntil == nil:
			r.holdWrites(now, 0)
		case saved.HoldUntil.After(now):
			r.holdWrites(now, saved.HoldUntil.Sub(now))
		}
		g.log.Info("restored route state", "route", name, "read", saved.Weights.Read,
			"write", saved.Weights.Write, "writesHeld", r.state.Load().hold != nil)
	}
	return nil
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

// change applies fn to the routes and saves the resulting state. When the
// save fails the change stays in effect in memory and the error says so;
// callers retry (every admin change is idempotent), which saves again.
func (g *Gateway) change(fn func()) error {
	g.persistMu.Lock()
	defer g.persistMu.Unlock()
	fn()
	if g.cfg.StateFile == "" {
		return nil
	}
	sf := stateFile{Version: stateVersion, Routes: map[string]routeSaved{}}
	for _, r := range g.routes {
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
