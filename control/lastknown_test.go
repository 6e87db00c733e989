package control

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"

	"github.com/godwit/godwit/migration"
	"github.com/godwit/godwit/payloadcodec"
	"github.com/godwit/godwit/workflows"
)

func gateSummary() migration.Summary {
	return migration.Summary{
		Status: migration.StatusWaitingApproval, Phase: "shift-traffic-p9q", PhaseIndex: 3, PhaseCount: 6,
		PhaseState: migration.PhasePending, Gate: "go-live", Progress: 50,
		UpdatedAt: time.Date(2026, 12, 6, 15, 0, 0, 0, time.UTC),
	}
}

func TestMemoSummaryDecodesWithTheCodec(t *testing.T) {
	keys, err := payloadcodec.ParseKeyring("test", "k1:"+strings.Repeat("A", 43)+"=")
	require.NoError(t, err)
	encrypting := converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), payloadcodec.New(keys))
	p, err := encrypting.ToPayload(gateSummary())
	require.NoError(t, err)
	assert.NotContains(t, string(p.GetData()), "shift-traffic-p9q", "the memo is encrypted like every payload")
	memo := &commonpb.Memo{Fields: map[string]*commonpb.Payload{workflows.MemoSummary: p}}

	got, err := MemoSummary(encrypting, memo)
	require.NoError(t, err)
	assert.Equal(t, gateSummary(), *got)

	_, err = MemoSummary(converter.GetDefaultDataConverter(), memo)
	require.Error(t, err, "without the keys the memo cannot be read")
	assert.Contains(t, err.Error(), "--codec-keys-file")

	got, err = MemoSummary(encrypting, &commonpb.Memo{})
	require.NoError(t, err)
	assert.Nil(t, got, "a run from before the memo has none")
}
