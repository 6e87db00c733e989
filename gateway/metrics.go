package gateway

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the gateway's Prometheus collectors, on a registry of its own
// (never the global one), so two gateways in one process do not collide.
type metrics struct {
	requests     *prometheus.CounterVec
	errors       *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	fallbacks    *prometheus.CounterVec
	breaker      *prometheus.GaugeVec
	weight       *prometheus.GaugeVec
	writesHeld   *prometheus.GaugeVec
	holdRejected *prometheus.CounterVec
	shadow       *prometheus.CounterVec
	mismatches   *prometheus.CounterVec
	shadowDrops  *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	const ns = "godwit_gateway"
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "requests_total",
			Help: "Requests per route and side; for new, every request the weights sent to new, including fallbacks."},
			[]string{"route", "side"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "errors_total",
			Help: "Failed requests per route, side and kind (status_5xx, transport, timeout, breaker_open)."},
			[]string{"route", "side", "kind"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "request_duration_seconds",
			Help:    "Upstream latency per route and side, for requests that got an answer.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}},
			[]string{"route", "side"}),
		fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "fallbacks_total",
			Help: "Requests meant for new that legacy served, per route and reason (breaker_open, retried)."},
			[]string{"route", "reason"}),
		breaker: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "breaker_state",
			Help: "Circuit breaker on the new upstream: 0 closed, 1 half-open, 2 open."},
			[]string{"route"}),
		weight: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "weight",
			Help: "Current weight of new, per route and kind (read, write)."},
			[]string{"route", "kind"}),
		writesHeld: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "writes_held",
			Help: "1 while the route's writes are held."},
			[]string{"route"}),
		holdRejected: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "write_hold_rejected_total",
			Help: "Writes answered 503 because the hold outlasted their wait."},
			[]string{"route"}),
		shadow: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "shadow_requests_total",
			Help: "Shadow copies compared, per route."},
			[]string{"route"}),
		mismatches: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "shadow_mismatches_total",
			Help: "Shadow copies whose answer differed, per route and kind (status, body, error)."},
			[]string{"route", "kind"}),
		shadowDrops: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "shadow_dropped_total",
			Help: "Shadow copies not sent because too many were in flight."},
			[]string{"route"}),
	}
	reg.MustRegister(m.requests, m.errors, m.duration, m.fallbacks, m.breaker, m.weight,
		m.writesHeld, m.holdRejected, m.shadow, m.mismatches, m.shadowDrops)
	return m
}

// sideMetrics are one route side's collectors, resolved once so that the
// request path does no label lookups.
type sideMetrics struct {
	requests  prometheus.Counter
	status5xx prometheus.Counter
	transport prometheus.Counter
	timeout   prometheus.Counter
	open      prometheus.Counter
	duration  prometheus.Observer
}

func (m *metrics) side(route, side string) sideMetrics {
	return sideMetrics{
		requests:  m.requests.WithLabelValues(route, side),
		status5xx: m.errors.WithLabelValues(route, side, "status_5xx"),
		transport: m.errors.WithLabelValues(route, side, "transport"),
		timeout:   m.errors.WithLabelValues(route, side, "timeout"),
		open:      m.errors.WithLabelValues(route, side, "breaker_open"),
		duration:  m.duration.WithLabelValues(route, side),
	}
}
