package client_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/godwit/godwit/gateway/api"
	"github.com/godwit/godwit/gateway/client"
	"github.com/godwit/godwit/gateway/gatewaytest"
)

func TestReplicasSumStatsAndHoldOnEveryReplica(t *testing.T) {
	legacy, newSvc := gatewaytest.NewUpstream(t, "legacy"), gatewaytest.NewUpstream(t, "new")
	gw1 := gatewaytest.Start(t, gatewaytest.Options{Legacy: legacy.URL, New: newSvc.URL})
	gw2 := gatewaytest.Start(t, gatewaytest.Options{Legacy: legacy.URL, New: newSvc.URL})
	rep, err := client.NewReplicas([]string{gw1.AdminURL, gw2.AdminURL}, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := rep.SetWeights(ctx, "users", 100, 0); err != nil {
		t.Fatal(err)
	}
	send := func(gw *gatewaytest.Gateway, n int) {
		for i := 0; i < n; i++ {
			res, err := http.Get(gw.TrafficURL + "/x")
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
		}
	}
	send(gw1, 3)
	send(gw2, 5)
	st, err := rep.Stats(ctx, "users", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if st.New.Requests != 8 || st.New.TotalRequests != 8 || st.New.ErrorRate != 0 {
		t.Fatalf("summed stats of new: %+v, want 8 requests (3 on one replica, 5 on the other) and no error", st.New)
	}

	held, err := rep.HoldWrites(ctx, "users", time.Minute)
	if err != nil || !held.WritesHeld {
		t.Fatalf("hold on both: %+v, %v", held, err)
	}
	for _, gw := range []*gatewaytest.Gateway{gw1, gw2} {
		if s, err := gw.Client.Route(ctx, "users"); err != nil || !s.WritesHeld {
			t.Fatalf("replica %s after the hold: %+v, %v; want writes held", gw.AdminURL, s, err)
		}
	}
	if err := rep.WaitWritesDrained(ctx, "users", 10*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if _, err := rep.ReleaseWrites(ctx, "users"); err != nil {
		t.Fatal(err)
	}
}

func TestReplicaErrorNamesTheReplicaAndKeepsRetryability(t *testing.T) {
	legacy, newSvc := gatewaytest.NewUpstream(t, "legacy"), gatewaytest.NewUpstream(t, "new")
	gw := gatewaytest.Start(t, gatewaytest.Options{Legacy: legacy.URL, New: newSvc.URL})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String()
	ln.Close()
	// The replica that does not answer comes first: a permanent refusal by
	// another still makes the call permanent.
	rep, err := client.NewReplicas([]string{down, gw.AdminURL}, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = rep.SetWeights(context.Background(), "users", 10, 10)
	var re *client.ReplicaError
	if !errors.As(err, &re) || len(re.Failed) != 1 || re.Failed[0] != down || re.Acknowledged != 1 {
		t.Fatalf("one replica down: %v, want a ReplicaError naming %s with 1 of 2 acknowledged", err, down)
	}
	if client.IsPermanent(err) {
		t.Fatal("a replica that does not answer must leave the call retryable")
	}
	_, err = rep.SetWeights(context.Background(), "nope", 10, 10)
	if !client.IsPermanent(err) {
		t.Fatalf("an unknown route on a replica: %v, want a permanent refusal", err)
	}
}

func TestMergeStatsTakesTheWorstLatencyAndBreaker(t *testing.T) {
	a := api.RouteStats{Breaker: api.BreakerClosed, New: api.SideStats{Requests: 10, Errors: 1, P99Ms: 3}}
	b := api.RouteStats{Breaker: api.BreakerOpen, New: api.SideStats{Requests: 30, Errors: 1, P99Ms: 9}}
	m := client.MergeStats([]api.RouteStats{a, b})
	if m.New.Requests != 40 || m.New.Errors != 2 || m.New.ErrorRate != 0.05 || m.New.P99Ms != 9 || m.Breaker != api.BreakerOpen {
		t.Fatalf("merged: %+v breaker %s; want 40 requests, 2 errors, rate 0.05, p99 9, open", m.New, m.Breaker)
	}
}
