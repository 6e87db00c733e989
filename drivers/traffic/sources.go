package traffic

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/gateway/client"
)

// What a failed analysis does (Analysis.OnFailure).
const (
	OnFailureRollback = "rollback"
	OnFailurePause    = "pause"
	OnFailureRampDown = "rampDown"
)

// PromCheck is a PromQL query whose value must stay within bounds, as an
// Argo Rollouts analysis: a sample fails when the first value of the result
// is above Max or below Min, and is inconclusive when the result is empty.
type PromCheck struct {
	// Address is Prometheus' base URL, e.g. http://prometheus:9090.
	Address string `yaml:"address" json:"address"`
	// Query is the PromQL expression, evaluated at the sample's time.
	Query string `yaml:"query" json:"query"`
	// Max and Min bound the value; at least one is required.
	Max *float64 `yaml:"max" json:"max,omitempty"`
	Min *float64 `yaml:"min" json:"min,omitempty"`
}

// HTTPCheck is a URL that must answer ExpectStatus (default 200) within
// Timeout (default 5s); anything else fails the sample.
type HTTPCheck struct {
	URL          string          `yaml:"url" json:"url"`
	ExpectStatus int             `yaml:"expectStatus" json:"expectStatus,omitempty"`
	Timeout      config.Duration `yaml:"timeout" json:"timeout,omitempty"`
}

// usesGateway reports whether the analysis has a threshold on the
// gateway's statistics.
func (a Analysis) usesGateway() bool {
	return a.MaxErrorRate != nil || a.MaxP95 != 0 || a.MaxP99 != 0 || a.MaxShadowMismatchRate != nil
}

// hasExternalSource reports whether the analysis reads something besides
// the gateway's statistics.
func (a Analysis) hasExternalSource() bool { return a.Prometheus != nil || a.HTTP != nil }

func checkSources(c *config.CheckContext, path string, a Analysis) {
	if p := a.Prometheus; p != nil {
		if err := checkURL(p.Address); err != nil {
			c.Errorf(path+".prometheus.address", "%v", err)
		}
		if p.Query == "" {
			c.Errorf(path+".prometheus.query", "is required: a PromQL expression, e.g. sum(rate(http_requests_total{code=~\"5..\"}[1m]))")
		}
		if p.Max == nil && p.Min == nil {
			c.Errorf(path+".prometheus", "needs max or min: the bound the query's value must keep")
		}
	}
	if h := a.HTTP; h != nil {
		if err := checkURL(h.URL); err != nil {
			c.Errorf(path+".http.url", "%v", err)
		}
		if h.ExpectStatus != 0 && (h.ExpectStatus < 100 || h.ExpectStatus > 599) {
			c.Errorf(path+".http.expectStatus", "%d is not an HTTP status", h.ExpectStatus)
		}
	}
	switch a.OnFailure {
	case "", OnFailureRollback, OnFailurePause, OnFailureRampDown:
	default:
		c.Errorf(path+".onFailure", "%q is not a choice: use rollback, pause or rampDown", a.OnFailure)
	}
	if a.RampStep < 0 || a.RampStep > 100 {
		c.Errorf(path+".rampStep", "%d is not a step of percentage points: use 1..100", a.RampStep)
	}
}

// externalSources judges an analysis's Prometheus and HTTP checks.
type externalSources struct {
	http *http.Client
}

// judge returns one verdict per configured check.
func (e *externalSources) judge(ctx context.Context, a Analysis) []client.Verdict {
	var out []client.Verdict
	if a.Prometheus != nil {
		out = append(out, e.prometheus(ctx, *a.Prometheus))
	}
	if a.HTTP != nil {
		out = append(out, e.httpCheck(ctx, *a.HTTP))
	}
	return out
}

// promResponse is the part of Prometheus' /api/v1/query answer we read.
type promResponse struct {
	Status string `json:"status"`
	Error  string `json:"error"`
	Data   struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	} `json:"data"`
}

// prometheus evaluates the query; an unreachable Prometheus or a query it
// rejects is inconclusive (not new's fault), a value out of bounds fails.
func (e *externalSources) prometheus(ctx context.Context, p PromCheck) client.Verdict {
	inconclusive := func(format string, args ...any) client.Verdict {
		return client.Verdict{Outcome: client.Inconclusive, Reasons: []string{"prometheus: " + fmt.Sprintf(format, args...)}}
	}
	u := fmt.Sprintf("%s/api/v1/query?query=%s", trimSlash(p.Address), url.QueryEscape(p.Query))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return inconclusive("%v", err)
	}
	res, err := e.http.Do(req)
	if err != nil {
		return inconclusive("%v", err)
	}
	defer res.Body.Close()
	var pr promResponse
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&pr); err != nil {
		return inconclusive("answer %s not readable: %v", res.Status, err)
	}
	if pr.Status != "success" {
		return inconclusive("query refused: %s", pr.Error)
	}
	val, ok, err := promValue(pr.Data.ResultType, pr.Data.Result)
	if err != nil {
		return inconclusive("%v", err)
	}
	if !ok {
		return inconclusive("query %q returned no data", p.Query)
	}
	v := client.Verdict{Outcome: client.Pass}
	if p.Max != nil && val > *p.Max {
		v.Reasons = append(v.Reasons, fmt.Sprintf("prometheus: %s = %g above %g", p.Query, val, *p.Max))
	}
	if p.Min != nil && val < *p.Min {
		v.Reasons = append(v.Reasons, fmt.Sprintf("prometheus: %s = %g below %g", p.Query, val, *p.Min))
	}
	if len(v.Reasons) > 0 {
		v.Outcome = client.Fail
	}
	return v
}

// promValue reads the first value of a vector or a scalar result.
func promValue(kind string, raw json.RawMessage) (float64, bool, error) {
	var sample []any
	switch kind {
	case "scalar":
		if err := json.Unmarshal(raw, &sample); err != nil {
			return 0, false, err
		}
	case "vector":
		var vec []struct {
			Value []any `json:"value"`
		}
		if err := json.Unmarshal(raw, &vec); err != nil {
			return 0, false, err
		}
		if len(vec) == 0 {
			return 0, false, nil
		}
		sample = vec[0].Value
	default:
		return 0, false, fmt.Errorf("result type %q: the query must give a scalar or an instant vector", kind)
	}
	if len(sample) != 2 {
		return 0, false, fmt.Errorf("malformed sample %v", sample)
	}
	s, _ := sample[1].(string)
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, false, fmt.Errorf("value %q: %w", s, err)
	}
	return f, true, nil
}

// httpCheck fails the sample unless the URL answers the expected status.
func (e *externalSources) httpCheck(ctx context.Context, h HTTPCheck) client.Verdict {
	want := h.ExpectStatus
	if want == 0 {
		want = http.StatusOK
	}
	timeout := h.Timeout.D()
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	fail := func(format string, args ...any) client.Verdict {
		return client.Verdict{Outcome: client.Fail, Reasons: []string{"http check: " + fmt.Sprintf(format, args...)}}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.URL, nil)
	if err != nil {
		return fail("%v", err)
	}
	res, err := e.http.Do(req)
	if err != nil {
		return fail("%s: %v", h.URL, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 1<<16))
	res.Body.Close()
	if res.StatusCode != want {
		return fail("%s answered %d, want %d", h.URL, res.StatusCode, want)
	}
	return client.Verdict{Outcome: client.Pass}
}

// combine merges a check's verdict into the sample's: fail wins over
// inconclusive, which wins over pass; reasons add up.
func combine(v, c client.Verdict) client.Verdict {
	v.Reasons = append(v.Reasons, c.Reasons...)
	switch {
	case v.Outcome == client.Fail || c.Outcome == client.Fail:
		v.Outcome = client.Fail
	case v.Outcome == client.Inconclusive || c.Outcome == client.Inconclusive:
		v.Outcome = client.Inconclusive
	}
	return v
}

func trimSlash(s string) string {
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}

// rampFunc lowers new's share by step points and returns the new share.
type rampFunc func(ctx context.Context, step int) (int, error)

// gatewayRamp lowers both of a gateway route's weights by step points.
func gatewayRamp(gw *client.Replicas, route string) rampFunc {
	return func(ctx context.Context, step int) (int, error) {
		cur, err := gw.Route(ctx, route)
		if err != nil {
			return 0, err
		}
		r, w := max(0, cur.Weights.Read-step), max(0, cur.Weights.Write-step)
		if _, err := gw.SetWeights(ctx, route, r, w); err != nil {
			return 0, err
		}
		return max(r, w), nil
	}
}
