package client

import (
	"fmt"

	"github.com/godwit/godwit/gateway/api"
)

// Thresholds are an analysis step's limits on the new side, over a window.
// Zero values disable a check.
type Thresholds struct {
	// MinRequests below which no verdict is given (inconclusive).
	MinRequests uint64 `json:"minRequests,omitempty"`
	// MaxErrorRate on new, 0..1 (e.g. 0.01 for 1%).
	MaxErrorRate float64 `json:"maxErrorRate,omitempty"`
	// MaxP95Ms and MaxP99Ms bound new's latency percentiles.
	MaxP95Ms float64 `json:"maxP95Ms,omitempty"`
	MaxP99Ms float64 `json:"maxP99Ms,omitempty"`
	// MaxShadowMismatchRate, 0..1, over shadow copies compared so far.
	MaxShadowMismatchRate float64 `json:"maxShadowMismatchRate,omitempty"`
}

// Outcome is an analysis verdict.
type Outcome string

// Analysis outcomes, as Argo Rollouts names them.
const (
	Pass         Outcome = "pass"
	Fail         Outcome = "fail"
	Inconclusive Outcome = "inconclusive"
)

// Verdict is an analysis result with the figures it was drawn from, small
// enough to go into a report.
type Verdict struct {
	Outcome Outcome `json:"outcome"`
	// Reasons lists every breached threshold (or why it is inconclusive).
	Reasons []string `json:"reasons,omitempty"`
	// The figures of new the verdict used.
	Requests     uint64  `json:"requests"`
	ErrorRate    float64 `json:"errorRate"`
	P95Ms        float64 `json:"p95Ms"`
	P99Ms        float64 `json:"p99Ms"`
	Breaker      string  `json:"breaker"`
	MismatchRate float64 `json:"mismatchRate,omitempty"`
}

// Analyze judges new's figures against t. Any breach fails, even with fewer
// than MinRequests (an open breaker counts each diverted request as an
// error, so a dead new side fails fast); otherwise too few requests is
// inconclusive.
func Analyze(s api.RouteStats, t Thresholds) Verdict {
	n := s.New
	v := Verdict{Requests: n.Requests, ErrorRate: n.ErrorRate, P95Ms: n.P95Ms, P99Ms: n.P99Ms,
		Breaker: s.Breaker, MismatchRate: s.Shadow.MismatchRate}
	if t.MaxErrorRate > 0 && n.Requests > 0 && n.ErrorRate > t.MaxErrorRate {
		v.Reasons = append(v.Reasons, fmt.Sprintf("error rate %.4f above %.4f", n.ErrorRate, t.MaxErrorRate))
	}
	if s.Breaker == api.BreakerOpen {
		v.Reasons = append(v.Reasons, "circuit breaker on new is open")
	}
	if t.MaxP95Ms > 0 && n.P95Ms > t.MaxP95Ms {
		v.Reasons = append(v.Reasons, fmt.Sprintf("p95 %.1fms above %.1fms", n.P95Ms, t.MaxP95Ms))
	}
	if t.MaxP99Ms > 0 && n.P99Ms > t.MaxP99Ms {
		v.Reasons = append(v.Reasons, fmt.Sprintf("p99 %.1fms above %.1fms", n.P99Ms, t.MaxP99Ms))
	}
	if t.MaxShadowMismatchRate > 0 && s.Shadow.MismatchRate > t.MaxShadowMismatchRate {
		v.Reasons = append(v.Reasons, fmt.Sprintf("shadow mismatch rate %.4f above %.4f", s.Shadow.MismatchRate, t.MaxShadowMismatchRate))
	}
	switch {
	case len(v.Reasons) > 0:
		v.Outcome = Fail
	case n.Requests < t.MinRequests:
		v.Outcome = Inconclusive
		v.Reasons = []string{fmt.Sprintf("%d requests on new, %d needed for a verdict", n.Requests, t.MinRequests)}
	default:
		v.Outcome = Pass
	}
	return v
}
