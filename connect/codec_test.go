package connect

import (
	"crypto/rand"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/payloadcodec"
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
