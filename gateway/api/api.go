// Package api holds the JSON types of the gateway's admin API, shared by the
// gateway and its client so that the two cannot drift apart. It has no
// dependencies, so a client does not pull in the proxy.
package api

import "time"

// Weights are the shares (0..100) of reads and writes a route sends to new.
type Weights struct {
	// Read applies to GET, HEAD and OPTIONS.
	Read int `json:"read" yaml:"read"`
	// Write applies to every other method.
	Write int `json:"write" yaml:"write"`
}

// Breaker states as the admin API reports them.
const (
	BreakerClosed   = "closed"
	BreakerHalfOpen = "half-open"
	BreakerOpen     = "open"
)

// RouteStatus is a route's configuration and live state (GET /v1/routes).
type RouteStatus struct {
	Name       string  `json:"name"`
	Host       string  `json:"host,omitempty"`
	PathPrefix string  `json:"pathPrefix,omitempty"`
	Legacy     string  `json:"legacy"`
	New        string  `json:"new"`
	Weights    Weights `json:"weights"`
	// WritesHeld is true while writes wait (PUT /v1/routes/{name}/hold).
	WritesHeld bool       `json:"writesHeld"`
	HeldSince  *time.Time `json:"heldSince,omitempty"`
	// HoldUntil is when the hold releases itself; absent: until released.
	HoldUntil *time.Time `json:"holdUntil,omitempty"`
	// InFlightWrites counts writes being proxied now; after a hold starts,
	// a cut-over waits for it to reach 0 (writes already past the hold).
	InFlightWrites int64 `json:"inFlightWrites"`
	// WaitingWrites counts writes waiting for a hold to end.
	WaitingWrites int64 `json:"waitingWrites"`
	// Breaker is the state of the circuit breaker on new.
	Breaker string `json:"breaker"`
	// Fallbacks counts requests meant for new that legacy served.
	Fallbacks uint64       `json:"fallbacks"`
	Shadow    ShadowStatus `json:"shadow"`
}

// ShadowStatus counts shadow comparisons since the gateway started.
type ShadowStatus struct {
	Enabled    bool   `json:"enabled"`
	Percent    int    `json:"percent"`
	Compared   uint64 `json:"compared"`
	Mismatches uint64 `json:"mismatches"`
	Dropped    uint64 `json:"dropped"`
	// MismatchRate is Mismatches / Compared, 0 when nothing was compared.
	MismatchRate float64 `json:"mismatchRate"`
}

// SideStats summarises one side of a route over a sliding window.
type SideStats struct {
	// Requests counted in the window. For new: every request the weights
	// sent to new, including those legacy served after new failed or while
	// the breaker was open, so an open breaker cannot make new look healthy.
	Requests uint64 `json:"requests"`
	// Errors: 5xx answers, transport errors and timeouts; for new also
	// requests diverted to legacy by an open breaker.
	Errors uint64 `json:"errors"`
	// ErrorRate is Errors / Requests, 0 when there were no requests.
	ErrorRate float64 `json:"errorRate"`
	// SuccessRate is 1 - ErrorRate, 0 when there were no requests (check
	// Requests before drawing a conclusion).
	SuccessRate float64 `json:"successRate"`
	// Latency percentiles in milliseconds over requests that got an answer
	// (about 15% resolution).
	P50Ms float64 `json:"p50Ms"`
	P95Ms float64 `json:"p95Ms"`
	P99Ms float64 `json:"p99Ms"`
	// TotalRequests and TotalErrors count since the gateway started.
	TotalRequests uint64 `json:"totalRequests"`
	TotalErrors   uint64 `json:"totalErrors"`
}

// RouteStats is GET /v1/routes/{name}/stats: both sides over the window.
type RouteStats struct {
	Route         string       `json:"route"`
	WindowSeconds float64      `json:"windowSeconds"`
	Weights       Weights      `json:"weights"`
	Breaker       string       `json:"breaker"`
	Legacy        SideStats    `json:"legacy"`
	New           SideStats    `json:"new"`
	Fallbacks     uint64       `json:"fallbacks"`
	Shadow        ShadowStatus `json:"shadow"`
}

// UpstreamsRequest is the body of PUT /v1/routes/{name}/upstreams: the
// base URLs to use from now on; an empty field keeps that side's upstream.
type UpstreamsRequest struct {
	Legacy string `json:"legacy,omitempty"`
	New    string `json:"new,omitempty"`
}

// HoldRequest is the optional body of PUT /v1/routes/{name}/hold.
type HoldRequest struct {
	// TTL, a Go duration ("2m"), releases the hold by itself after that
	// long, so a driver that dies while holding cannot stop writes for good.
	// Empty: held until DELETE /v1/routes/{name}/hold.
	TTL string `json:"ttl,omitempty"`
}

// FlagAnswer is GET /v1/flags/{name}?key=K: the side the gateway would pick
// for key, for applications that route inside their own code.
type FlagAnswer struct {
	Route  string `json:"route"`
	Key    string `json:"key"`
	Bucket int    `json:"bucket"`
	Read   string `json:"read"`
	Write  string `json:"write"`
}

// Error is the body of every non-2xx admin answer.
type Error struct {
	Error string `json:"error"`
}
