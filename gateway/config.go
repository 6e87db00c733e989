package gateway

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/godwit/godwit/gateway/api"
	"github.com/godwit/godwit/yamldecode"
)

// Config is the gateway's configuration file: listeners, the state file and
// the routes. Defaults live in (*Config).setDefaults, nowhere else.
type Config struct {
	// Listen is the traffic listener's address (default 127.0.0.1:8080).
	Listen string `yaml:"listen"`
	// Admin configures the admin API listener.
	Admin AdminConfig `yaml:"admin"`
	// StateFile keeps the weights and write holds set through the admin API,
	// so a restarted gateway comes back where it was. Empty: not persisted.
	StateFile string `yaml:"stateFile"`
	// SideHeader, when set, names a response header telling which side
	// (legacy or new) served the request. Empty: no such header.
	SideHeader string `yaml:"sideHeader"`
	// ShutdownTimeout bounds the graceful shutdown (default 30s).
	ShutdownTimeout time.Duration `yaml:"shutdownTimeout"`
	// StatsWindow is the longest window the stats endpoint can cover
	// (default 10m); memory grows with it.
	StatsWindow time.Duration `yaml:"statsWindow"`
	// Routes are matched in order; the first that matches a request wins.
	Routes []RouteConfig `yaml:"routes"`
}

// AdminConfig configures the admin API listener.
type AdminConfig struct {
	// Listen is the admin listener's address (default 127.0.0.1:9090).
	Listen string `yaml:"listen"`
	// TokenEnv names an environment variable holding the bearer token.
	TokenEnv string `yaml:"tokenEnv"`
	// TokenFile names a file holding the bearer token.
	TokenFile string `yaml:"tokenFile"`
}

// RouteConfig is one named route: what it matches and where it sends traffic.
type RouteConfig struct {
	// Name identifies the route in the admin API, metrics and hashing.
	Name string `yaml:"name"`
	// Match selects the requests of this route.
	Match MatchConfig `yaml:"match"`
	// Legacy and New are the upstreams' base URLs (http://host:port[/base]).
	Legacy string `yaml:"legacy"`
	New    string `yaml:"new"`
	// Weights are the initial weights for new; the state file overrides them.
	Weights Weights `yaml:"weights"`
	// StickyKey says where a request's hashing key comes from.
	StickyKey StickyKeyConfig `yaml:"stickyKey"`
	// OverrideHeader, when set, names a request header whose value "new" or
	// "legacy" forces the side (for testers). Empty: no override.
	OverrideHeader string `yaml:"overrideHeader"`
	// Timeout bounds each upstream call (default 30s).
	Timeout time.Duration `yaml:"timeout"`
	// MaxRetryBody is the largest request body buffered so that a request
	// the new side never received can be replayed on legacy (default 1 MiB).
	MaxRetryBody int64 `yaml:"maxRetryBody"`
	// Breaker configures the circuit breaker on the new upstream.
	Breaker BreakerConfig `yaml:"breaker"`
	// WriteHold bounds how long writes wait while held.
	WriteHold WriteHoldConfig `yaml:"writeHold"`
	// Shadow mirrors reads to the other side and compares the answers.
	Shadow ShadowConfig `yaml:"shadow"`
}

// MatchConfig selects requests by host and/or path prefix; both must match
// when both are set. An empty match takes every request.
type MatchConfig struct {
	// Host is compared case-insensitively with the request's host, port removed.
	Host string `yaml:"host"`
	// PathPrefix matches whole path segments: /users matches /users and
	// /users/7, not /usersettings.
	PathPrefix string `yaml:"pathPrefix"`
}

// Weights are the shares (0..100) of reads and writes sent to new.
type Weights = api.Weights

// validateWeights refuses weights outside 0..100.
func validateWeights(w Weights) error {
	if w.Read < 0 || w.Read > 100 || w.Write < 0 || w.Write > 100 {
		return fmt.Errorf("weights read=%d write=%d: each must be within 0..100", w.Read, w.Write)
	}
	return nil
}

// StickyKeyConfig names the key source; exactly one of its fields is set.
// Requests without the key are split at random by weight.
type StickyKeyConfig struct {
	Header   string `yaml:"header"`
	Cookie   string `yaml:"cookie"`
	ClientIP bool   `yaml:"clientIP"`
}

// BreakerConfig configures the circuit breaker on the new upstream.
type BreakerConfig struct {
	// ConsecutiveFailures opens the breaker (default 5).
	ConsecutiveFailures uint32 `yaml:"consecutiveFailures"`
	// OpenFor is how long it stays open before half-open probing (default 60s).
	OpenFor time.Duration `yaml:"openFor"`
	// HalfOpenRequests is how many probes half-open lets through (default 1).
	HalfOpenRequests uint32 `yaml:"halfOpenRequests"`
}

// WriteHoldConfig bounds the write hold.
type WriteHoldConfig struct {
	// MaxWait is how long a write waits while writes are held before it gets
	// 503 with Retry-After (default 10s).
	MaxWait time.Duration `yaml:"maxWait"`
	// RetryAfter is the Retry-After sent with that 503 (default 5s).
	RetryAfter time.Duration `yaml:"retryAfter"`
}

// ShadowConfig configures mirroring of reads to the other side.
type ShadowConfig struct {
	// Enabled turns shadowing on for this route.
	Enabled bool `yaml:"enabled"`
	// Percent of eligible reads mirrored (default 100 when enabled).
	Percent int `yaml:"percent"`
	// CompareBody compares bodies as well as status codes; JSON bodies are
	// compared as values, so key order and whitespace do not count.
	CompareBody bool `yaml:"compareBody"`
	// MaxBody is the most bytes of each body compared (default 1 MiB); longer
	// bodies are not compared.
	MaxBody int64 `yaml:"maxBody"`
	// MaxInFlight bounds concurrent shadow requests (default 64); above it
	// copies are dropped and counted, never queued.
	MaxInFlight int `yaml:"maxInFlight"`
}

// LoadConfig reads and validates a YAML configuration file. Unknown keys
// are refused so that a misspelt setting cannot be silently ignored.
func LoadConfig(path string) (Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read gateway config: %w", err)
	}
	c, err := ParseConfig(raw)
	if err != nil {
		// The file's name, as validate names a spec's: an operator with a
		// gateway per host, or a reload refused in a log, knows which file.
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ParseConfig decodes, defaults and validates a YAML configuration. A
// decoding problem (an unknown key, a wrong type) names the field's path and
// line, and for a misspelt key the one it was probably meant to be; every
// such problem is reported at once.
func ParseConfig(raw []byte) (Config, error) {
	var c Config
	if err := yamldecode.New(len(raw)).Unmarshal(raw, &c); err != nil {
		var many yamldecode.FieldErrors
		if errors.As(err, &many) && len(many) > 1 {
			return Config{}, fmt.Errorf("parse gateway config:\n  %s", strings.ReplaceAll(err.Error(), "\n", "\n  "))
		}
		return Config{}, fmt.Errorf("parse gateway config: %w", err)
	}
	c.setDefaults()
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

func (c *Config) setDefaults() {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8080"
	}
	if c.Admin.Listen == "" {
		c.Admin.Listen = "127.0.0.1:9090"
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = 30 * time.Second
	}
	if c.StatsWindow == 0 {
		c.StatsWindow = 10 * time.Minute
	}
	for i := range c.Routes {
		c.Routes[i].setDefaults()
	}
}

func (r *RouteConfig) setDefaults() {
	if r.Timeout == 0 {
		r.Timeout = 30 * time.Second
	}
	if r.MaxRetryBody == 0 {
		r.MaxRetryBody = 1 << 20
	}
	// The method's defaults: 5 consecutive failures, 60 s open.
	if r.Breaker.ConsecutiveFailures == 0 {
		r.Breaker.ConsecutiveFailures = 5
	}
	if r.Breaker.OpenFor == 0 {
		r.Breaker.OpenFor = 60 * time.Second
	}
	if r.Breaker.HalfOpenRequests == 0 {
		r.Breaker.HalfOpenRequests = 1
	}
	if r.WriteHold.MaxWait == 0 {
		r.WriteHold.MaxWait = 10 * time.Second
	}
	if r.WriteHold.RetryAfter == 0 {
		r.WriteHold.RetryAfter = 5 * time.Second
	}
	if r.Shadow.Enabled && r.Shadow.Percent == 0 {
		r.Shadow.Percent = 100
	}
	if r.Shadow.MaxBody == 0 {
		r.Shadow.MaxBody = 1 << 20
	}
	if r.Shadow.MaxInFlight == 0 {
		r.Shadow.MaxInFlight = 64
	}
}

// Validate checks the whole configuration and reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.Admin.TokenEnv != "" && c.Admin.TokenFile != "" {
		errs = append(errs, errors.New("admin: set tokenEnv or tokenFile, not both"))
	}
	if len(c.Routes) == 0 {
		errs = append(errs, errors.New("routes: at least one route is needed"))
	}
	seen := map[string]bool{}
	for i, r := range c.Routes {
		if err := r.validate(); err != nil {
			errs = append(errs, fmt.Errorf("routes[%d] %q: %w", i, r.Name, err))
		}
		if seen[r.Name] {
			errs = append(errs, fmt.Errorf("routes[%d]: duplicate name %q", i, r.Name))
		}
		seen[r.Name] = true
	}
	return errors.Join(errs...)
}

// checkStateFile refuses, when the gateway starts, a state file the gateway could not
// save to: its directory is missing or is not a directory, or the path is
// a directory. Otherwise the first save, after an admin change already
// applied, would fail and a restart would lose the change.
func checkStateFile(path string) error {
	if path == "" {
		return nil
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fmt.Errorf("stateFile: %s is a directory: name a file in it, e.g. %s", path, filepath.Join(path, "gateway-state.json"))
	}
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("stateFile: directory %s does not exist: create it (mkdir -p %s) or put stateFile in a directory that exists", dir, dir)
	case err != nil:
		return fmt.Errorf("stateFile: directory %s: %w", dir, err)
	case !fi.IsDir():
		return fmt.Errorf("stateFile: %s is not a directory: put stateFile in a directory", dir)
	}
	return nil
}

func (r RouteConfig) validate() error {
	var errs []error
	if r.Name == "" || strings.ContainsAny(r.Name, "/ ?#") {
		errs = append(errs, errors.New("name: required, without '/', '?', '#' or spaces"))
	}
	if r.Match.PathPrefix != "" && !strings.HasPrefix(r.Match.PathPrefix, "/") {
		errs = append(errs, fmt.Errorf("match.pathPrefix %q must start with /", r.Match.PathPrefix))
	}
	for side, u := range map[string]string{"legacy": r.Legacy, "new": r.New} {
		if _, err := parseUpstream(u); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", side, err))
		}
	}
	if err := validateWeights(r.Weights); err != nil {
		errs = append(errs, err)
	}
	n := 0
	if r.StickyKey.Header != "" {
		n++
	}
	if r.StickyKey.Cookie != "" {
		n++
	}
	if r.StickyKey.ClientIP {
		n++
	}
	if n > 1 {
		errs = append(errs, errors.New("stickyKey: set one of header, cookie or clientIP"))
	}
	if r.Shadow.Percent < 0 || r.Shadow.Percent > 100 {
		errs = append(errs, fmt.Errorf("shadow.percent %d: must be within 0..100", r.Shadow.Percent))
	}
	if r.Timeout < 0 || r.Breaker.OpenFor < 0 || r.WriteHold.MaxWait < 0 {
		errs = append(errs, errors.New("durations must not be negative"))
	}
	return errors.Join(errs...)
}

// parseUpstream accepts an absolute http(s) URL without query or fragment.
func parseUpstream(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("upstream %q: %w", raw, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("upstream %q: want http(s)://host[:port][/base]", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("upstream %q: no query or fragment allowed", raw)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return u, nil
}

// Token returns the admin bearer token from the environment or a file, or ""
// when none is configured. The token is never logged.
func (a AdminConfig) Token() (string, error) {
	switch {
	case a.TokenEnv != "":
		t := os.Getenv(a.TokenEnv)
		if t == "" {
			return "", fmt.Errorf("admin token: environment variable %s is empty or unset", a.TokenEnv)
		}
		return t, nil
	case a.TokenFile != "":
		raw, err := os.ReadFile(a.TokenFile)
		if err != nil {
			return "", fmt.Errorf("admin token: %w", err)
		}
		t := strings.TrimSpace(string(raw))
		if t == "" {
			return "", fmt.Errorf("admin token: file %s is empty", a.TokenFile)
		}
		return t, nil
	}
	return "", nil
}
