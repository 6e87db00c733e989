package connect

import (
	"fmt"

	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/godwit/godwit/config"
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
func DataConverter(s config.CodecSettings) (converter.DataConverter, error) {
	codec, err := Codec(s)
	if err != nil || codec == nil {
		return converter.GetDefaultDataConverter(), err
	}
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), codec), nil
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
