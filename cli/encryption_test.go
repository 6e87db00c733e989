package cli

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	historypb "go.temporal.io/api/history/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/control"
	"github.com/godwit/godwit/migration"
	"github.com/godwit/godwit/payloadcodec"
)

// encryptedConverters return a data converter encrypting with ring and the
// failure converter connect.Dial pairs with it.
func encryptedConverters(t *testing.T, ring *payloadcodec.Keyring) (converter.DataConverter, converter.FailureConverter) {
	t.Helper()
	dc := converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), payloadcodec.New(ring))
	return dc, temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{DataConverter: dc, EncodeCommonAttributes: true})
}

func TestOutputAndLiveProgressOfEncryptedRuns(t *testing.T) {
	_, ring := writeKeyring(t, t.TempDir())
	_, otherRing := writeKeyring(t, t.TempDir())
	dc, fc := encryptedConverters(t, ring)
	otherDC, _ := encryptedConverters(t, otherRing)

	result := activities.PhaseResult{Phase: string(migration.PhaseCopy), Kind: migration.PhaseCopy, Action: activities.ActionRun, Attempt: 1, Output: "secret row\n"}
	payloads, err := dc.ToPayloads(result)
	require.NoError(t, err)
	completed := &historypb.HistoryEvent{EventId: 9, Attributes: &historypb.HistoryEvent_ActivityTaskCompletedEventAttributes{
		ActivityTaskCompletedEventAttributes: &historypb.ActivityTaskCompletedEventAttributes{Result: payloads}}}
	failure := fc.ErrorToFailure(temporal.NewApplicationError("exited with code 1: secret row", "HookFailed", result))
	require.Equal(t, "Encoded failure", failure.GetMessage())
	failed := &historypb.HistoryEvent{EventId: 10, Attributes: &historypb.HistoryEvent_ActivityTaskFailedEventAttributes{
		ActivityTaskFailedEventAttributes: &historypb.ActivityTaskFailedEventAttributes{Failure: failure}}}

	tests := []struct {
		name        string
		dc          converter.DataConverter
		wantFailure string
		wantErr     error // nil: decoded
	}{
		{"with the keyring", dc, ", failed: exited with code 1: secret row", nil},
		{"without a keyring", converter.GetDefaultDataConverter(), "", converter.ErrEncodingIsNotSupported},
		{"with another key under the same ID", otherDC, "", payloadcodec.ErrDecrypt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, ev := range []*historypb.HistoryEvent{completed, failed} {
				r, ok, err := attemptFromEvent(tt.dc, ev)
				if tt.wantErr != nil {
					require.ErrorIs(t, err, tt.wantErr, "event %d", ev.EventId)
					assert.False(t, ok)
					continue
				}
				require.NoError(t, err)
				require.True(t, ok)
				assert.Equal(t, "secret row\n", r.Output)
				if ev == failed {
					assert.Equal(t, tt.wantFailure, r.failure)
				}
			}

			hb, err := dc.ToPayloads(activities.Heartbeat{Percent: 50, Records: 5})
			require.NoError(t, err)
			pending := []*workflowpb.PendingActivityInfo{pendingActivity(activities.RunPhaseName, 2, hb, "")}
			pending[0].LastFailure = failure
			live, ok := control.LiveProgress(tt.dc, pending)
			require.True(t, ok)
			live.Units = nil
			if tt.wantErr == nil {
				assert.Equal(t, migration.Live{Percent: 50, Records: 5, Attempt: 2, LastFailure: "exited with code 1: secret row"}, live)
			} else {
				assert.Equal(t, migration.Live{Attempt: 2, LastFailure: "Encoded failure"}, live, "undecodable: no progress, no secret")
			}
		})
	}
}

func TestExplainDecode(t *testing.T) {
	plain := errors.New("boom")
	assert.Equal(t, plain, control.ExplainDecode(plain))
	err := control.ExplainDecode(converter.ErrEncodingIsNotSupported)
	assert.ErrorIs(t, err, converter.ErrEncodingIsNotSupported)
	assert.Contains(t, err.Error(), "payloads are encrypted: give this CLI the keyring the worker uses, with --codec-keys-file or --codec-keys-env")
}
