package client

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/godwit/godwit/gateway/api"
)

// Replicas drives every replica of a gateway (several godwit-gateway
// processes behind one load balancer) as one: a change is done only when
// every replica has acknowledged it, reads merge what the replicas report,
// and statistics are summed. With one replica it is that replica's Client.
//
// A change some replicas acknowledged and others did not is not undone:
// every call is idempotent, so the caller retries the whole call on every
// replica, and the replicas agree again once all acknowledge.
type Replicas struct {
	members []member
}

type member struct {
	url string
	c   *Client
}

// NewReplicas returns a Replicas for the admin APIs at urls, in order (the
// first is read for the settings all replicas share, such as upstreams);
// opts.BaseURL is ignored.
func NewReplicas(urls []string, opts Options) (*Replicas, error) {
	if len(urls) == 0 {
		return nil, &Error{Op: "configure gateway client", Message: "no admin URL given"}
	}
	r := &Replicas{}
	for _, u := range urls {
		o := opts
		o.BaseURL = u
		c, err := New(o)
		if err != nil {
			return nil, err
		}
		r.members = append(r.members, member{url: u, c: c})
	}
	return r, nil
}

// URLs are the replicas' admin URLs, in order.
func (r *Replicas) URLs() []string {
	out := make([]string, len(r.members))
	for i, m := range r.members {
		out[i] = m.url
	}
	return out
}

// Each returns the replicas' admin URLs with a Client of each, for callers
// that report on replicas one by one (preflight).
func (r *Replicas) Each() map[string]*Client {
	out := make(map[string]*Client, len(r.members))
	for _, m := range r.members {
		out[m.url] = m.c
	}
	return out
}

// ReplicaError is a call that some replicas did not acknowledge. It wraps
// each replica's error (so IsPermanent and errors.As see them) and names
// the replicas that did not answer.
type ReplicaError struct {
	// Op names the call.
	Op string
	// Failed are the admin URLs of the replicas that did not acknowledge.
	Failed []string
	// Acknowledged counts those that did, out of Total.
	Acknowledged, Total int
	errs                []error
}

func (e *ReplicaError) Error() string {
	parts := make([]string, len(e.errs))
	for i, err := range e.errs {
		parts[i] = err.Error()
	}
	return fmt.Sprintf("%s: gateway replica %s did not acknowledge (%d of %d did; the call is repeated on every replica when retried): %s",
		e.Op, strings.Join(e.Failed, ", "), e.Acknowledged, e.Total, strings.Join(parts, "; "))
}

// Unwrap gives each replica's error.
func (e *ReplicaError) Unwrap() []error { return e.errs }

// all runs call on every replica at once and returns the answers in the
// replicas' order, or a ReplicaError naming those that failed. With one
// replica its error is returned as it is.
func all[T any](ctx context.Context, r *Replicas, op string, call func(context.Context, *Client) (T, error)) ([]T, error) {
	out := make([]T, len(r.members))
	errs := make([]error, len(r.members))
	if len(r.members) == 1 {
		v, err := call(ctx, r.members[0].c)
		out[0] = v
		return out, err
	}
	var wg sync.WaitGroup
	for i, m := range r.members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], errs[i] = call(ctx, m.c)
		}()
	}
	wg.Wait()
	re := &ReplicaError{Op: op, Total: len(r.members)}
	for i, err := range errs {
		if err != nil {
			re.Failed = append(re.Failed, r.members[i].url)
			re.errs = append(re.errs, fmt.Errorf("%s: %w", r.members[i].url, err))
		} else {
			re.Acknowledged++
		}
	}
	if len(re.Failed) > 0 {
		return out, re
	}
	return out, nil
}

// Routes returns every route's state as the first replica reports it,
// after checking that every replica answers.
func (r *Replicas) Routes(ctx context.Context) ([]api.RouteStatus, error) {
	got, err := all(ctx, r, "list routes", func(ctx context.Context, c *Client) ([]api.RouteStatus, error) { return c.Routes(ctx) })
	if err != nil {
		return nil, err
	}
	return got[0], nil
}

// Route returns the route's state merged over the replicas (MergeStatus).
func (r *Replicas) Route(ctx context.Context, route string) (api.RouteStatus, error) {
	got, err := all(ctx, r, "state of route "+route, func(ctx context.Context, c *Client) (api.RouteStatus, error) { return c.Route(ctx, route) })
	if err != nil {
		return api.RouteStatus{}, err
	}
	return MergeStatus(got), nil
}

// SetWeights sets both weights on every replica.
func (r *Replicas) SetWeights(ctx context.Context, route string, read, write int) (api.RouteStatus, error) {
	got, err := all(ctx, r, fmt.Sprintf("set weights of route %s to %d/%d", route, read, write),
		func(ctx context.Context, c *Client) (api.RouteStatus, error) {
			return c.SetWeights(ctx, route, read, write)
		})
	if err != nil {
		return api.RouteStatus{}, err
	}
	return MergeStatus(got), nil
}

// SetUpstreams points the route's sides at other base URLs on every replica.
func (r *Replicas) SetUpstreams(ctx context.Context, route, legacy, newURL string) (api.RouteStatus, error) {
	got, err := all(ctx, r, "set upstreams of route "+route,
		func(ctx context.Context, c *Client) (api.RouteStatus, error) {
			return c.SetUpstreams(ctx, route, legacy, newURL)
		})
	if err != nil {
		return api.RouteStatus{}, err
	}
	return MergeStatus(got), nil
}

// HoldWrites holds the route's writes on every replica.
func (r *Replicas) HoldWrites(ctx context.Context, route string, ttl time.Duration) (api.RouteStatus, error) {
	got, err := all(ctx, r, "hold writes of route "+route,
		func(ctx context.Context, c *Client) (api.RouteStatus, error) { return c.HoldWrites(ctx, route, ttl) })
	if err != nil {
		return api.RouteStatus{}, err
	}
	return MergeStatus(got), nil
}

// ReleaseWrites releases the route's writes on every replica.
func (r *Replicas) ReleaseWrites(ctx context.Context, route string) (api.RouteStatus, error) {
	got, err := all(ctx, r, "release writes of route "+route,
		func(ctx context.Context, c *Client) (api.RouteStatus, error) { return c.ReleaseWrites(ctx, route) })
	if err != nil {
		return api.RouteStatus{}, err
	}
	return MergeStatus(got), nil
}

// Stats returns the route's figures summed over the replicas (MergeStats).
func (r *Replicas) Stats(ctx context.Context, route string, window time.Duration) (api.RouteStats, error) {
	got, err := all(ctx, r, "stats of route "+route,
		func(ctx context.Context, c *Client) (api.RouteStats, error) { return c.Stats(ctx, route, window) })
	if err != nil {
		return api.RouteStats{}, err
	}
	return MergeStats(got), nil
}

// WaitWritesDrained waits until no replica has a write in flight.
func (r *Replicas) WaitWritesDrained(ctx context.Context, route string, interval time.Duration) error {
	_, err := all(ctx, r, "wait for writes of route "+route, func(ctx context.Context, c *Client) (struct{}, error) {
		return struct{}{}, c.WaitWritesDrained(ctx, route, interval)
	})
	return err
}

// MergeStatus is one route's state over several replicas: the first's
// configuration and weights (the replicas agree once every change is
// acknowledged), writes held when held on any, counts summed, and the
// worst breaker.
func MergeStatus(s []api.RouteStatus) api.RouteStatus {
	out := s[0]
	for _, o := range s[1:] {
		if o.WritesHeld && !out.WritesHeld {
			out.WritesHeld, out.HeldSince, out.HoldUntil = true, o.HeldSince, o.HoldUntil
		}
		out.InFlightWrites += o.InFlightWrites
		out.WaitingWrites += o.WaitingWrites
		out.Breaker = worseBreaker(out.Breaker, o.Breaker)
		out.Fallbacks += o.Fallbacks
		out.Shadow = addShadow(out.Shadow, o.Shadow)
	}
	return out
}

// MergeStats sums a route's figures over replicas: requests, errors and
// counts add up and rates are computed again from the sums; a latency
// percentile is the highest replica's (percentiles cannot be added, and an
// analysis must not let one slow replica hide behind a fast one); the
// breaker is the worst.
func MergeStats(s []api.RouteStats) api.RouteStats {
	out := s[0]
	for _, o := range s[1:] {
		out.Legacy = addSide(out.Legacy, o.Legacy)
		out.New = addSide(out.New, o.New)
		out.Breaker = worseBreaker(out.Breaker, o.Breaker)
		out.Fallbacks += o.Fallbacks
		out.Shadow = addShadow(out.Shadow, o.Shadow)
	}
	return out
}

func addSide(a, b api.SideStats) api.SideStats {
	out := api.SideStats{
		Requests:      a.Requests + b.Requests,
		Errors:        a.Errors + b.Errors,
		P50Ms:         max(a.P50Ms, b.P50Ms),
		P95Ms:         max(a.P95Ms, b.P95Ms),
		P99Ms:         max(a.P99Ms, b.P99Ms),
		TotalRequests: a.TotalRequests + b.TotalRequests,
		TotalErrors:   a.TotalErrors + b.TotalErrors,
	}
	if out.Requests > 0 {
		out.ErrorRate = float64(out.Errors) / float64(out.Requests)
		out.SuccessRate = 1 - out.ErrorRate
	}
	return out
}

func addShadow(a, b api.ShadowStatus) api.ShadowStatus {
	a.Enabled = a.Enabled || b.Enabled
	a.Compared += b.Compared
	a.Mismatches += b.Mismatches
	a.Dropped += b.Dropped
	a.MismatchRate = 0
	if a.Compared > 0 {
		a.MismatchRate = float64(a.Mismatches) / float64(a.Compared)
	}
	return a
}

var breakerRank = map[string]int{api.BreakerClosed: 0, api.BreakerHalfOpen: 1, api.BreakerOpen: 2}

func worseBreaker(a, b string) string {
	if breakerRank[b] > breakerRank[a] {
		return b
	}
	return a
}
