package traffic

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/gateway/client"
	"github.com/godwit/godwit/haproxy/haproxytest"
)

// fakePrometheus speaks /api/v1/query, answering body for every query and
// recording the last one.
func fakePrometheus(t *testing.T, body string) (*httptest.Server, *string) {
	var last string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/query" {
			http.NotFound(w, r)
			return
		}
		last = r.URL.Query().Get("query")
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, &last
}

func f64(v float64) *float64 { return &v }

func TestPrometheusCheck(t *testing.T) {
	vector := func(v string) string {
		return `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000.1,"` + v + `"]}]}}`
	}
	cases := []struct {
		name    string
		body    string
		max     *float64
		min     *float64
		want    client.Outcome
		because string
	}{
		{"below max passes", vector("0.004"), f64(0.01), nil, client.Pass, ""},
		{"above max fails", vector("0.2"), f64(0.01), nil, client.Fail, "0.2 above 0.01"},
		{"below min fails", vector("3"), nil, f64(10), client.Fail, "3 below 10"},
		{"scalar result", `{"status":"success","data":{"resultType":"scalar","result":[1700000000,"5"]}}`, f64(4), nil, client.Fail, "5 above 4"},
		{"no data is inconclusive", `{"status":"success","data":{"resultType":"vector","result":[]}}`, f64(1), nil, client.Inconclusive, "returned no data"},
		{"refused query is inconclusive", `{"status":"error","errorType":"bad_data","error":"parse error"}`, f64(1), nil, client.Inconclusive, "parse error"},
		{"a matrix is refused", `{"status":"success","data":{"resultType":"matrix","result":[]}}`, f64(1), nil, client.Inconclusive, "instant vector"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, last := fakePrometheus(t, tc.body)
			e := &externalSources{http: srv.Client()}
			q := `sum(rate(http_requests_total{code=~"5.."}[1m]))`
			v := e.prometheus(context.Background(), PromCheck{Address: srv.URL + "/", Query: q, Max: tc.max, Min: tc.min})
			assert.Equal(t, tc.want, v.Outcome, "reasons: %v", v.Reasons)
			assert.Equal(t, q, *last, "the query reaches Prometheus intact")
			if tc.because != "" {
				require.NotEmpty(t, v.Reasons)
				assert.Contains(t, v.Reasons[0], tc.because)
			}
		})
	}
}

func TestHTTPCheck(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(status) }))
	defer srv.Close()
	e := &externalSources{http: srv.Client()}
	cases := []struct {
		name   string
		status int
		expect int
		want   client.Outcome
	}{
		{"200 passes by default", 200, 0, client.Pass},
		{"503 fails", 503, 0, client.Fail},
		{"expected status passes", 204, 204, client.Pass},
	}
	for _, tc := range cases {
		status = tc.status
		v := e.httpCheck(context.Background(), HTTPCheck{URL: srv.URL + "/healthz", ExpectStatus: tc.expect})
		assert.Equal(t, tc.want, v.Outcome, "%s: %v", tc.name, v.Reasons)
	}
	srv.Close()
	assert.Equal(t, client.Fail, e.httpCheck(context.Background(), HTTPCheck{URL: srv.URL}).Outcome, "unreachable fails")
}

// A failed analysis on HAProxy (through Prometheus) does what onFailure says.
func TestOnFailure(t *testing.T) {
	rt := haproxytest.Start(t)
	prom, _ := fakePrometheus(t, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"0.5"]}]}}`)
	ctx := context.Background()
	cases := []struct {
		onFailure string
		wantType  string
		wantNew   int
	}{
		{OnFailurePause, ErrTypeAnalysisPaused, 40},
		{OnFailureRollback, ErrTypeAnalysisFailed, 40}, // the workflow's rollback compensates
		{OnFailureRampDown, ErrTypeAnalysisFailed, 0},
	}
	for _, tc := range cases {
		t.Run(tc.onFailure, func(t *testing.T) {
			require.NoError(t, rt.Split(ctx, "be", "s1", "s2", 40))
			d := New(nil)
			spec := Spec{Router: &Router{HAProxy: &HAProxyRouter{Socket: rt.Socket, Backend: "be", LegacyServer: "s1", NewServer: "s2"}},
				Steps: []Step{{SetWeight: &Weight{All: intp(40)}}, {Analysis: &Analysis{
					Window: config.Duration(1e6), Interval: config.Duration(1e6), // 1ms: no real wait
					Prometheus: &PromCheck{Address: prom.URL, Query: "error_rate", Max: f64(0.01)},
					OnFailure:  tc.onFailure, RampStep: 15,
				}}}}
			var beats []string
			_, err := d.Do(ctx, activities.ActionRun, phaseInput(&spec, 2), activities.Heartbeat{},
				func(h activities.Heartbeat) { beats = append(beats, h.Detail) })
			var appErr *temporal.ApplicationError
			require.True(t, errors.As(err, &appErr), "err = %v", err)
			assert.Equal(t, tc.wantType, appErr.Type())
			assert.Contains(t, appErr.Error(), "0.5 above 0.01")
			got, err := rt.Percent(ctx, "be", "s1", "s2")
			require.NoError(t, err)
			assert.Equal(t, tc.wantNew, got)
			if tc.onFailure == OnFailureRampDown {
				assert.Subset(t, beats, []string{"analysis failed: ramping down, new at 25%", "analysis failed: ramping down, new at 10%",
					"analysis failed: ramping down, new at 0%"}, "steps down gradually")
			}
		})
	}
}
