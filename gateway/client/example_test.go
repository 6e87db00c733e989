package client_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/godwit/godwit/gateway/client"
)

// One step of a progressive shift: set the weight, hold, analyse, and go
// back to 0 on a failed analysis.
func Example() {
	ctx := context.Background()
	gw, err := client.New(client.Options{BaseURL: "http://127.0.0.1:9090", Token: os.Getenv("GODWIT_GATEWAY_TOKEN")})
	if err != nil {
		panic(err)
	}
	if _, err := gw.SetWeights(ctx, "users", 5, 0); err != nil {
		if client.IsPermanent(err) {
			panic(err) // a wrong route or token: retrying cannot help
		}
		return // retry later: the call is idempotent
	}
	time.Sleep(2 * time.Minute) // a durable timer in the workflow
	stats, err := gw.Stats(ctx, "users", 2*time.Minute)
	if err != nil {
		return
	}
	v := client.Analyze(stats, client.Thresholds{MinRequests: 100, MaxErrorRate: 0.01, MaxP99Ms: 500})
	if v.Outcome == client.Fail {
		_, _ = gw.SetWeights(ctx, "users", 0, 0)
	}
	fmt.Println(v.Outcome, v.Reasons)
}
