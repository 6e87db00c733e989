// Package workermetrics serves a Godwit worker's metrics for Prometheus:
// the Temporal SDK's own (task latencies, poll counts, activity failures,
// through the SDK's OpenTelemetry contrib) and Godwit's (phase attempts by
// outcome, their duration, records processed), counted by an activity
// interceptor, so no phase driver has to know about metrics.
package workermetrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.temporal.io/sdk/client"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/interceptor"
)

// secondsBuckets suit durations from a poll (milliseconds) to a phase
// (hours); OpenTelemetry's defaults are meant for milliseconds.
var secondsBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 1800, 3600, 7200}

// Metrics holds a worker's metrics: give Handler to the Temporal client,
// Interceptor to the worker, and Serve the endpoint.
type Metrics struct {
	registry *prometheus.Registry
	provider *sdkmetric.MeterProvider
	handler  client.MetricsHandler
	logger   hclog.Logger
}

// New returns the worker's metrics on a registry of their own (not the
// process-global one), with Go runtime and process collectors.
func New(logger hclog.Logger) (*Metrics, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo())
	if err != nil {
		return nil, fmt.Errorf("metrics: prometheus exporter: %w", err)
	}
	provider := sdkmetric.NewMeterProvider(
		sdkmetric.WithReader(exporter),
		sdkmetric.WithView(sdkmetric.NewView(
			sdkmetric.Instrument{Kind: sdkmetric.InstrumentKindHistogram, Unit: "s"},
			sdkmetric.Stream{Aggregation: sdkmetric.AggregationExplicitBucketHistogram{Boundaries: secondsBuckets}},
		)),
	)
	m := &Metrics{registry: reg, provider: provider, logger: logger}
	m.handler = temporalotel.NewMetricsHandler(temporalotel.MetricsHandlerOptions{
		Meter:                provider.Meter("godwit-worker"),
		UseMonotonicCounters: true,
		// The default panics; a metric that cannot be made is no reason
		// to stop migrating.
		OnError: func(err error) { logger.Warn("metric not recorded", "error", err) },
	})
	return m, nil
}

// Handler is the Temporal client's metrics handler (client.Options.MetricsHandler).
func (m *Metrics) Handler() client.MetricsHandler { return m.handler }

// Interceptor counts Godwit's phase metrics; add it to worker.Options.Interceptors.
func (m *Metrics) Interceptor() interceptor.WorkerInterceptor {
	return &workerInterceptor{handler: m.handler}
}

// HTTPHandler serves the metrics in Prometheus' text format.
func (m *Metrics) HTTPHandler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{ErrorLog: logAdapter{m.logger}})
}

// Serve listens on addr ("127.0.0.1:9464", ":9464") and serves /metrics
// until Close. It returns the address it listens on (useful with port 0).
func (m *Metrics) Serve(addr string) (string, func(context.Context) error, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("metrics: listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.HTTPHandler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.logger.Error("metrics endpoint stopped", "error", err)
		}
	}()
	stop := func(ctx context.Context) error {
		err := srv.Shutdown(ctx)
		return errors.Join(err, m.provider.Shutdown(ctx))
	}
	return l.Addr().String(), stop, nil
}

// logAdapter sends promhttp's errors to the worker's log.
type logAdapter struct{ logger hclog.Logger }

func (l logAdapter) Println(v ...any) { l.logger.Warn("metrics endpoint", "error", fmt.Sprint(v...)) }
