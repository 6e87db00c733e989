package payloadcodec

import (
	"crypto/rand"
	"fmt"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"
)

// Metadata of an encrypted payload. The encoding is the one Temporal's
// samples use for encrypted payloads, so tools that know it (the UI) show
// such a payload as encrypted rather than as broken JSON.
const (
	// MetadataEncoding is the metadata key of a payload's encoding.
	MetadataEncoding = converter.MetadataEncoding
	// EncodingEncrypted is the encoding of a payload this codec encrypted.
	EncodingEncrypted = "binary/encrypted"
	// EncodingNotStored is the encoding of a placeholder payload that
	// holds none of its value: a value the codec failed to encrypt where the SDK
	// would otherwise have stored it in plain text (a run's memo summary).
	EncodingNotStored = "binary/godwit-not-stored"
	// MetadataKeyID is the metadata key naming the key a payload was
	// encrypted with.
	MetadataKeyID = "encryption-key-id"
	// MetadataCipher is the metadata key naming the cipher.
	MetadataCipher = "encryption-cipher"
	// CipherAESGCM is the only cipher so far: AES-256-GCM, a 12-byte random
	// nonce before the ciphertext, the key ID as additional data.
	CipherAESGCM = "AES-256-GCM"
)

// Codec is a converter.PayloadCodec that encrypts every payload with the
// keyring's active key and decrypts payloads with whichever listed key their
// metadata names. Payloads that are not encrypted (written before
// encryption was turned on) pass Decode unchanged, so turning encryption on
// does not make older runs unreadable. A Codec is safe for concurrent use.
type Codec struct {
	keys *Keyring
}

var _ converter.PayloadCodec = (*Codec)(nil)

// New returns a Codec over keys, which must not be empty.
func New(keys *Keyring) *Codec { return &Codec{keys: keys} }

// Keyring returns the codec's keyring (for its key IDs).
func (c *Codec) Keyring() *Keyring { return c.keys }

// Encode encrypts each payload, whole (metadata and data), with the active key.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	id := c.keys.ActiveKeyID()
	aead := c.keys.aeads[id]
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("encrypt payload: marshal: %w", err)
		}
		nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
		if _, err := rand.Read(nonce); err != nil {
			return nil, fmt.Errorf("encrypt payload: nonce: %w", err)
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{
				MetadataEncoding: []byte(EncodingEncrypted),
				MetadataKeyID:    []byte(id),
				MetadataCipher:   []byte(CipherAESGCM),
			},
			Data: aead.Seal(nonce, nonce, plain, []byte(id)),
		}
	}
	return out, nil
}

// Decode decrypts each encrypted payload and passes the others through.
// Its errors wrap ErrUnknownKey for a key ID the keyring does not list;
// a payload that fails authentication (tampered with, or encrypted with
// another key under the same ID) is an error too, never garbage.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[MetadataEncoding]) != EncodingEncrypted {
			out[i] = p
			continue
		}
		d, err := c.decrypt(p)
		if err != nil {
			return nil, err
		}
		out[i] = d
	}
	return out, nil
}

func (c *Codec) decrypt(p *commonpb.Payload) (*commonpb.Payload, error) {
	id := string(p.GetMetadata()[MetadataKeyID])
	if alg := string(p.GetMetadata()[MetadataCipher]); alg != "" && alg != CipherAESGCM {
		return nil, fmt.Errorf("%w: cipher %q is not supported (only %s)", ErrDecrypt, alg, CipherAESGCM)
	}
	aead, ok := c.keys.aeads[id]
	if !ok {
		return nil, fmt.Errorf("decrypt payload: it was encrypted with key %q, which the keyring (%v) does not hold: add that key to the keyring: %w",
			id, c.keys.ids, ErrUnknownKey)
	}
	data := p.GetData()
	if len(data) < aead.NonceSize()+aead.Overhead() {
		return nil, fmt.Errorf("%w with key %q: ciphertext too short (%d bytes)", ErrDecrypt, id, len(data))
	}
	nonce, sealed := data[:aead.NonceSize()], data[aead.NonceSize():]
	plain, err := aead.Open(nil, nonce, sealed, []byte(id))
	if err != nil {
		return nil, fmt.Errorf("%w with key %q: authentication failed: the payload was altered, or key %q is not the key it was encrypted with", ErrDecrypt, id, id)
	}
	var d commonpb.Payload
	if err := proto.Unmarshal(plain, &d); err != nil {
		return nil, fmt.Errorf("%w with key %q: unmarshal: %w", ErrDecrypt, id, err)
	}
	return &d, nil
}
