package activities_test

import (
	"context"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
)

// A webhook whose URL the worker cannot read, or that is not http(s), is a
// preflight problem: found while the run runs, it would get no event at all
// (the run goes on, the audit trail has holes). No message holds the URL.
func TestPreflightFindsAWebhookTheWorkerCannotReach(t *testing.T) {
	t.Setenv("TRIAL_GOOD_HOOK", "http://127.0.0.1:9/hook?token=good-Token-5150")
	t.Setenv("TRIAL_FTP_HOOK", "ftp://hooks.example/x?token=ftp-Token-7781")
	spec := config.Spec{Name: "x", Notifications: []config.Notification{
		{Kind: "json", URL: config.SecretRef{FromFile: t.TempDir() + "/missing-url"}},
		{Kind: "slack", URL: config.SecretRef{FromEnv: "TRIAL_FTP_HOOK"}},
		{Kind: "json", URL: config.SecretRef{FromEnv: "TRIAL_GOOD_HOOK"}},
	}}
	res, err := activities.New(hclog.NewNullLogger()).Preflight(context.Background(), activities.PreflightInput{Spec: spec})
	require.NoError(t, err)
	require.Len(t, res.Problems, 2, "%v", res.Problems)
	require.Equal(t, "notifications", res.Problems[0].Phase)
	require.Contains(t, res.Problems[0].Message, "notifications[0].url: read secret file")
	require.Contains(t, res.Problems[1].Message, "notifications[1].url: the URL is not an http(s) URL")
	for _, p := range res.Problems {
		require.NotContains(t, p.Message, "Token")
		require.NotContains(t, p.Message, "hooks.example")
	}
}
