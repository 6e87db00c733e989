package connect

import (
	"fmt"

	"github.com/hashicorp/go-hclog"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/migration"
	"github.com/godwit/godwit/payloadcodec"
)

// Codec loads the keyring the settings name and returns the payload codec
// over it, or nil when encryption is off. The godwit codec-server serves
// this codec; Dial wraps it into the clients' data converter.
func Codec(s config.CodecSettings) (*payloadcodec.Codec, error) {
	var (
		keys *payloadcodec.Keyring
		err  error
	)
	switch {
	case s.KeysFile != "" && s.KeysEnv != "":
		return nil, fmt.Errorf("temporal.codec: set keysFile or keysEnv, not both")
	case s.KeysFile != "":
		keys, err = payloadcodec.LoadKeyringFile(s.KeysFile)
	case s.KeysEnv != "":
		keys, err = payloadcodec.LoadKeyringEnv(s.KeysEnv)
	default:
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("temporal.codec: %w", err)
	}
	return payloadcodec.New(keys), nil
}

// DataConverter returns the data converter every client dialled with s
// uses: the SDK's default, wrapped with the payload codec when encryption
// is on. Code that decodes payloads it reads itself (history events, a
// pending activity's heartbeat details) must decode them with this one.
//
// With encryption on, a run's memo summary that the codec fails to encrypt
// is stored as a placeholder that holds none of it (memoSafe), never in
// plain text.
func DataConverter(s config.CodecSettings) (converter.DataConverter, error) {
	codec, err := Codec(s)
	if err != nil || codec == nil {
		return converter.GetDefaultDataConverter(), err
	}
	return memoSafe{DataConverter: converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), codec)}, nil
}

// memoSafe keeps a migration's memo summary out of plain text when the
// codec fails to encode it. The SDK encodes a memo with the worker's data
// converter and, when that fails, falls back to its default one: plain
// JSON, stored in Temporal's database and shown by any client. So a
// summary the codec cannot encode becomes a placeholder payload
// (payloadcodec.EncodingNotStored, a fixed sentence): the upsert still happens, as
// the run's history expects on replay, and the run goes on — the summary
// is a copy of the report, which stays in workflow state and queries —
// while the worker's log says what failed and `godwit status` says the
// memo holds no summary. Failing the workflow task instead would retry it
// for as long as the codec fails, and skipping the upsert in workflow code
// would change the run's commands depending on a codec, which replay
// cannot reproduce.
type memoSafe struct {
	converter.DataConverter
	log hclog.Logger
}

// ToPayload encodes value with the codec; a migration.Summary that fails
// becomes the placeholder.
func (c memoSafe) ToPayload(value any) (*commonpb.Payload, error) {
	p, err := c.DataConverter.ToPayload(value)
	if err == nil {
		return p, nil
	}
	switch value.(type) {
	case migration.Summary, *migration.Summary:
	default:
		return nil, err
	}
	if c.log != nil {
		c.log.Error("memo summary not stored: it could not be encrypted, so the memo holds a placeholder instead of plain text", "error", err)
	}
	// Data must not be empty: an upsert of an empty payload deletes the
	// memo field, and the placeholder is there to say why it is missing.
	return &commonpb.Payload{
		Metadata: map[string][]byte{converter.MetadataEncoding: []byte(payloadcodec.EncodingNotStored)},
		Data:     []byte("not stored: the worker could not encrypt it"),
	}, nil
}

// withLogger returns dc logging to log when it is a memoSafe.
func withLogger(dc converter.DataConverter, log hclog.Logger) converter.DataConverter {
	if m, ok := dc.(memoSafe); ok {
		m.log = log
		return m
	}
	return dc
}

// failureConverter returns the failure converter for dc. With encryption on
// it also encrypts failures' messages and stack traces: an error message
// may quote a hook's output or a row, and the SDK leaves it in clear text
// otherwise (Temporal's EncodeCommonAttributes; the UI and `temporal
// --codec-endpoint` decode it again through the codec server).
func failureConverter(dc converter.DataConverter, encrypted bool) converter.FailureConverter {
	if !encrypted {
		return temporal.GetDefaultFailureConverter()
	}
	return temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{
		DataConverter: dc, EncodeCommonAttributes: true,
	})
}
