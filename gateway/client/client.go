// Package client drives a godwit-gateway through its admin API. Every call
// is idempotent (setting weights to the same values twice, holding a held
// route, releasing a released one), so a caller may retry any of them. It
// depends only on the standard library and gateway/api.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/godwit/godwit/gateway/api"
)

// Options configure a Client.
type Options struct {
	// BaseURL is the admin API's address, e.g. http://127.0.0.1:9090.
	BaseURL string
	// Token is the bearer token; "" sends none. Resolve it from an env var or
	// file at the call site: never put it in workflow history.
	Token string
	// HTTPClient carries the calls; nil uses one with a 10 s timeout.
	HTTPClient *http.Client
}

// Client calls one gateway's admin API.
type Client struct {
	base  *url.URL
	token string
	http  *http.Client
}

// New returns a Client for the admin API at opts.BaseURL.
func New(opts Options) (*Client, error) {
	u, err := url.Parse(strings.TrimSuffix(opts.BaseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, &Error{Op: "configure gateway client", Message: fmt.Sprintf("base URL %q: want http(s)://host:port", opts.BaseURL)}
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	return &Client{base: u, token: opts.Token, http: hc}, nil
}

// Error is a failed admin call. Permanent errors (a bad request, an unknown
// route, a refused token) will fail the same way if retried; the others
// (network errors, 5xx, timeouts) may succeed later.
type Error struct {
	// Op names the call, e.g. "set weights of route users".
	Op string
	// Status is the HTTP status, 0 when no answer came.
	Status int
	// Message is the gateway's error message or the transport error.
	Message string
	// Err is the underlying transport error, if any.
	Err error
}

func (e *Error) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("%s: gateway answered %d: %s", e.Op, e.Status, e.Message)
	}
	return fmt.Sprintf("%s: %s", e.Op, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Permanent reports whether retrying cannot help: a 4xx answer other than
// 408 (timeout) and 429 (too many requests), or a client misconfiguration.
func (e *Error) Permanent() bool {
	if e.Status == 0 {
		return e.Err == nil
	}
	return e.Status >= 400 && e.Status < 500 && e.Status != http.StatusRequestTimeout && e.Status != http.StatusTooManyRequests
}

// IsPermanent reports whether err (or an error it wraps) is a permanent
// admin API error. The traffic activity maps it to a non-retryable error.
// A call to replicas is permanent when any replica refused it for good:
// retrying cannot make every replica acknowledge it.
func IsPermanent(err error) bool {
	var re *ReplicaError
	if errors.As(err, &re) {
		for _, e := range re.errs {
			if IsPermanent(e) {
				return true
			}
		}
		return false
	}
	var e *Error
	return errors.As(err, &e) && e.Permanent()
}

// Routes returns every route's state.
func (c *Client) Routes(ctx context.Context) ([]api.RouteStatus, error) {
	var out []api.RouteStatus
	err := c.do(ctx, "list routes", http.MethodGet, "/v1/routes", nil, &out)
	return out, err
}

// Route returns one route's state.
func (c *Client) Route(ctx context.Context, route string) (api.RouteStatus, error) {
	var out api.RouteStatus
	err := c.do(ctx, "get route "+route, http.MethodGet, routePath(route, ""), nil, &out)
	return out, err
}

// SetWeights sets the route's read and write weights for new (0..100) at once.
func (c *Client) SetWeights(ctx context.Context, route string, read, write int) (api.RouteStatus, error) {
	var out api.RouteStatus
	err := c.do(ctx, "set weights of route "+route, http.MethodPut, routePath(route, "/weights"),
		api.Weights{Read: read, Write: write}, &out)
	return out, err
}

// SetUpstreams points the route's sides at new base URLs; "" keeps a side.
// A different new upstream starts with a fresh, closed breaker.
func (c *Client) SetUpstreams(ctx context.Context, route, legacy, newURL string) (api.RouteStatus, error) {
	var out api.RouteStatus
	err := c.do(ctx, "set upstreams of route "+route, http.MethodPut, routePath(route, "/upstreams"),
		api.UpstreamsRequest{Legacy: legacy, New: newURL}, &out)
	return out, err
}

// HoldWrites holds the route's writes: they wait (up to the route's maxWait,
// then 503 with Retry-After) until ReleaseWrites. ttl > 0 makes the gateway
// release the hold by itself after ttl, in case the caller dies; 0 holds
// until released. Holding a held route resets its ttl.
func (c *Client) HoldWrites(ctx context.Context, route string, ttl time.Duration) (api.RouteStatus, error) {
	var body api.HoldRequest
	if ttl > 0 {
		body.TTL = ttl.String()
	}
	var out api.RouteStatus
	err := c.do(ctx, "hold writes of route "+route, http.MethodPut, routePath(route, "/hold"), body, &out)
	return out, err
}

// ReleaseWrites ends a write hold; held writes go on with the current weights.
func (c *Client) ReleaseWrites(ctx context.Context, route string) (api.RouteStatus, error) {
	var out api.RouteStatus
	err := c.do(ctx, "release writes of route "+route, http.MethodDelete, routePath(route, "/hold"), nil, &out)
	return out, err
}

// Stats returns both sides' figures over the last window (0: the gateway's
// default, one minute; the gateway caps it at its statsWindow setting).
func (c *Client) Stats(ctx context.Context, route string, window time.Duration) (api.RouteStats, error) {
	p := routePath(route, "/stats")
	if window > 0 {
		p += "?window=" + url.QueryEscape(window.String())
	}
	var out api.RouteStats
	err := c.do(ctx, "stats of route "+route, http.MethodGet, p, nil, &out)
	return out, err
}

// Flag returns the side the gateway would pick for key on route.
func (c *Client) Flag(ctx context.Context, route, key string) (api.FlagAnswer, error) {
	var out api.FlagAnswer
	p := "/v1/flags/" + url.PathEscape(route) + "?key=" + url.QueryEscape(key)
	err := c.do(ctx, "flag of route "+route, http.MethodGet, p, nil, &out)
	return out, err
}

// WaitWritesDrained polls the route until no write is in flight (writes that
// passed before a hold began), checking every interval, until ctx ends.
func (c *Client) WaitWritesDrained(ctx context.Context, route string, interval time.Duration) error {
	for {
		st, err := c.Route(ctx, route)
		if err != nil {
			return err
		}
		if st.InFlightWrites == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return &Error{Op: "wait for writes of route " + route, Message: fmt.Sprintf("%d still in flight", st.InFlightWrites), Err: ctx.Err()}
		case <-time.After(interval):
		}
	}
}

func routePath(route, suffix string) string {
	return "/v1/routes/" + url.PathEscape(route) + suffix
}

// do sends one call and decodes its JSON answer into out.
func (c *Client) do(ctx context.Context, op, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return &Error{Op: op, Message: "encode request: " + err.Error()}
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base.String()+path, body)
	if err != nil {
		return &Error{Op: op, Message: err.Error()}
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return &Error{Op: op, Message: err.Error(), Err: err}
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	if err != nil {
		return &Error{Op: op, Message: "read answer: " + err.Error(), Err: err}
	}
	if res.StatusCode/100 != 2 {
		var e api.Error
		msg := strings.TrimSpace(string(raw))
		if json.Unmarshal(raw, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		return &Error{Op: op, Status: res.StatusCode, Message: msg}
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return &Error{Op: op, Status: res.StatusCode, Message: "decode answer: " + err.Error()}
		}
	}
	return nil
}
