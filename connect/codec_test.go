package connect

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/control"
	"github.com/godwit/godwit/migration"
	"github.com/godwit/godwit/payloadcodec"
	"github.com/godwit/godwit/workflows"
)

func keyringText(t *testing.T, id string) string {
	t.Helper()
	b := make([]byte, payloadcodec.KeySize)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return id + ":" + base64.StdEncoding.EncodeToString(b)
}

func TestCodecFromSettings(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "keys")
	require.NoError(t, os.WriteFile(file, []byte(keyringText(t, "file-key")+"\n"), 0o600))
	short := filepath.Join(dir, "short")
	require.NoError(t, os.WriteFile(short, []byte("k:"+base64.StdEncoding.EncodeToString(make([]byte, 31))), 0o600))
	t.Setenv("GODWIT_CONNECT_TEST_KEYS", keyringText(t, "env-key"))

	cases := []struct {
		name       string
		settings   config.CodecSettings
		wantActive string // "" = encryption off
		wantErr    string
	}{
		{name: "off"},
		{name: "keys file", settings: config.CodecSettings{KeysFile: file}, wantActive: "file-key"},
		{name: "keys variable", settings: config.CodecSettings{KeysEnv: "GODWIT_CONNECT_TEST_KEYS"}, wantActive: "env-key"},
		{name: "both", settings: config.CodecSettings{KeysFile: file, KeysEnv: "X"}, wantErr: "not both"},
		{name: "missing file", settings: config.CodecSettings{KeysFile: filepath.Join(dir, "nope")}, wantErr: "temporal.codec: read keyring"},
		{name: "unset variable", settings: config.CodecSettings{KeysEnv: "GODWIT_CONNECT_TEST_UNSET"}, wantErr: "GODWIT_CONNECT_TEST_UNSET is not set"},
		{name: "short key", settings: config.CodecSettings{KeysFile: short}, wantErr: "31 bytes after base64 decoding"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Codec(tc.settings)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			if tc.wantActive == "" {
				assert.Nil(t, c)
				return
			}
			require.NotNil(t, c)
			assert.Equal(t, tc.wantActive, c.Keyring().ActiveKeyID())
		})
	}
}

func TestConvertersEncryptPayloadsAndFailureMessages(t *testing.T) {
	file := filepath.Join(t.TempDir(), "keys")
	require.NoError(t, os.WriteFile(file, []byte(keyringText(t, "k1")), 0o600))
	cases := []struct {
		name      string
		settings  config.CodecSettings
		encrypted bool
	}{
		{"encryption off", config.CodecSettings{}, false},
		{"encryption on", config.CodecSettings{KeysFile: file}, true},
	}
	const secret = "row 17: alice@example.com"
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dc, err := DataConverter(tc.settings)
			require.NoError(t, err)
			p, err := dc.ToPayload(secret)
			require.NoError(t, err)
			assert.Equal(t, !tc.encrypted, string(p.Data) == `"`+secret+`"`)
			var back string
			require.NoError(t, dc.FromPayload(p, &back))
			assert.Equal(t, secret, back)

			fc := failureConverter(dc, tc.encrypted)
			f := fc.ErrorToFailure(temporal.NewApplicationError("reconcile differs: "+secret, "Mismatch", "details "+secret))
			assert.Equal(t, !tc.encrypted, f.GetMessage() == "reconcile differs: "+secret, "failure message in clear: %q", f.GetMessage())
			if tc.encrypted {
				assert.NotContains(t, f.String(), secret)
			}
			err = fc.FailureToError(f)
			var appErr *temporal.ApplicationError
			require.ErrorAs(t, err, &appErr)
			assert.Equal(t, "reconcile differs: "+secret, appErr.Message())
			var details string
			require.NoError(t, appErr.Details(&details))
			assert.Equal(t, "details "+secret, details)

			// What a reader of raw history events does (see cli/output.go).
			raw := fc.ErrorToFailure(temporal.NewApplicationError("boom: "+secret, "X"))
			converter.DecodeCommonFailureAttributes(dc, raw)
			assert.Equal(t, "boom: "+secret, raw.GetMessage())
		})
	}
}

// failingCodec fails to encode any payload holding mark, as a codec whose
// key or random source failed would; it encodes the rest unchanged.
type failingCodec struct{ mark string }

func (c failingCodec) Encode(ps []*commonpb.Payload) ([]*commonpb.Payload, error) {
	for _, p := range ps {
		if strings.Contains(string(p.GetData()), c.mark) {
			return nil, errors.New("encrypt payload: the key is gone")
		}
	}
	return ps, nil
}

func (failingCodec) Decode(ps []*commonpb.Payload) ([]*commonpb.Payload, error) { return ps, nil }

// A memo summary the codec fails to encrypt is never stored in plain
// text: the SDK would fall back to its default converter (plain JSON);
// the memo gets a placeholder that holds nothing, and reading it says so.
func TestAMemoSummaryTheCodecCannotEncodeIsNotStoredInPlainText(t *testing.T) {
	const mark = "phase-name-not-for-plain-text"
	dc := memoSafe{DataConverter: converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), failingCodec{mark: mark})}

	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.SetDataConverter(dc)
	var stored *commonpb.Payload
	env.RegisterWorkflowWithOptions(func(ctx workflow.Context) error {
		if err := workflow.UpsertMemo(ctx, map[string]any{workflows.MemoSummary: migration.Summary{Phase: mark}}); err != nil {
			return err
		}
		stored = workflow.GetInfo(ctx).Memo.GetFields()[workflows.MemoSummary]
		return nil
	}, workflow.RegisterOptions{Name: "memo"})
	env.ExecuteWorkflow("memo")
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())

	require.NotNil(t, stored, "the memo was upserted")
	assert.NotContains(t, string(stored.GetData()), mark, "the summary is not in the memo in plain text")
	assert.Equal(t, payloadcodec.EncodingNotStored, string(stored.GetMetadata()[converter.MetadataEncoding]))
	_, err := control.MemoSummary(dc, &commonpb.Memo{Fields: map[string]*commonpb.Payload{workflows.MemoSummary: stored}})
	require.ErrorContains(t, err, "holds no summary: the worker could not encrypt it")

	// Other values keep the codec's error.
	_, err = dc.ToPayload(map[string]string{"x": mark})
	require.ErrorContains(t, err, "the key is gone")
}
