package payloadcodec

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"
)

// newKey returns a random base64 AES-256 key.
func newKey(t *testing.T) string {
	t.Helper()
	b := make([]byte, KeySize)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return base64.StdEncoding.EncodeToString(b)
}

func mustRing(t *testing.T, text string) *Keyring {
	t.Helper()
	k, err := ParseKeyring("test", text)
	require.NoError(t, err)
	return k
}

type spec struct {
	Name   string `json:"name"`
	Secret string `json:"secret"`
}

func TestRoundTripThroughDataConverter(t *testing.T) {
	dc := converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), New(mustRing(t, "k1:"+newKey(t))))
	cases := []struct {
		name string
		in   any
		out  func() any
	}{
		{"struct", spec{Name: "users", Secret: "hunter2-plain"}, func() any { return &spec{} }},
		{"string", "hook output: copied 1000 rows", func() any { return new(string) }},
		{"empty string", "", func() any { return new(string) }},
		{"bytes", []byte{0, 1, 2, 255}, func() any { return new([]byte) }},
		{"nil", nil, func() any { return new(*spec) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := dc.ToPayload(tc.in)
			require.NoError(t, err)
			assert.Equal(t, EncodingEncrypted, string(p.Metadata[MetadataEncoding]))
			assert.Equal(t, "k1", string(p.Metadata[MetadataKeyID]))
			plain, err := converter.GetDefaultDataConverter().ToPayload(tc.in)
			require.NoError(t, err)
			if len(plain.Data) > 0 {
				assert.False(t, bytes.Contains(p.Data, plain.Data), "ciphertext holds the plaintext")
			}
			got := tc.out()
			require.NoError(t, dc.FromPayload(p, got))
			want := tc.out()
			require.NoError(t, converter.GetDefaultDataConverter().FromPayload(plain, want))
			assert.Equal(t, want, got)
		})
	}
}

func TestEncodeKeepsOriginalMetadataAndUsesFreshNonces(t *testing.T) {
	c := New(mustRing(t, "k1:"+newKey(t)))
	in := &commonpb.Payload{Metadata: map[string][]byte{"encoding": []byte("json/plain"), "x": []byte("y")}, Data: []byte(`"same"`)}
	a, err := c.Encode([]*commonpb.Payload{in, in})
	require.NoError(t, err)
	assert.NotEqual(t, a[0].Data, a[1].Data, "two encryptions of one payload must differ (random nonce)")
	back, err := c.Decode(a)
	require.NoError(t, err)
	for _, p := range back {
		assert.True(t, proto.Equal(in, p), "decoded %v, want %v", p, in)
	}
}

func TestRotation(t *testing.T) {
	oldKey, newK := newKey(t), newKey(t)
	before := New(mustRing(t, "2024:"+oldKey))
	after := New(mustRing(t, "# newest first\n2025:"+newK+"\n2024:"+oldKey+"\n"))
	in := []*commonpb.Payload{{Metadata: map[string][]byte{"encoding": []byte("json/plain")}, Data: []byte(`{"a":1}`)}}

	old, err := before.Encode(in)
	require.NoError(t, err)
	got, err := after.Decode(old)
	require.NoError(t, err, "the rotated keyring must still read payloads of the old key")
	assert.True(t, proto.Equal(in[0], got[0]))

	fresh, err := after.Encode(in)
	require.NoError(t, err)
	assert.Equal(t, "2025", string(fresh[0].Metadata[MetadataKeyID]), "new payloads use the first-listed key")

	_, err = before.Decode(fresh)
	require.ErrorIs(t, err, ErrUnknownKey, "a keyring without the new key cannot read new payloads")
	assert.Contains(t, err.Error(), `key "2025"`)
}

func TestDecodeErrors(t *testing.T) {
	k1, k2 := newKey(t), newKey(t)
	c := New(mustRing(t, "a:"+k1+",b:"+k2))
	sealed := func(t *testing.T) *commonpb.Payload {
		p, err := c.Encode([]*commonpb.Payload{{Data: []byte(`"secret report text"`)}})
		require.NoError(t, err)
		return p[0]
	}
	cases := []struct {
		name    string
		tamper  func(p *commonpb.Payload)
		wantIs  error
		wantMsg string
	}{
		{"flipped ciphertext byte", func(p *commonpb.Payload) { p.Data[len(p.Data)/2] ^= 1 }, ErrDecrypt, `decrypt payload with key "a": authentication failed`},
		{"flipped nonce byte", func(p *commonpb.Payload) { p.Data[0] ^= 1 }, ErrDecrypt, "authentication failed"},
		{"flipped tag byte", func(p *commonpb.Payload) { p.Data[len(p.Data)-1] ^= 1 }, ErrDecrypt, "authentication failed"},
		{"truncated", func(p *commonpb.Payload) { p.Data = p.Data[:10] }, ErrDecrypt, "too short"},
		{"key ID swapped to another listed key", func(p *commonpb.Payload) { p.Metadata[MetadataKeyID] = []byte("b") }, ErrDecrypt, `key "b": authentication failed`},
		{"unknown key ID", func(p *commonpb.Payload) { p.Metadata[MetadataKeyID] = []byte("gone") }, ErrUnknownKey, `key "gone"`},
		{"no key ID", func(p *commonpb.Payload) { delete(p.Metadata, MetadataKeyID) }, ErrUnknownKey, `key ""`},
		{"unsupported cipher", func(p *commonpb.Payload) { p.Metadata[MetadataCipher] = []byte("ROT13") }, ErrDecrypt, `cipher "ROT13" is not supported`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := sealed(t)
			tc.tamper(p)
			_, err := c.Decode([]*commonpb.Payload{p})
			require.Error(t, err)
			assert.ErrorIs(t, err, tc.wantIs)
			assert.Contains(t, err.Error(), tc.wantMsg)
			assert.NotContains(t, err.Error(), "secret report text")
		})
	}
}

func TestDecodePassesUnencryptedPayloadsThrough(t *testing.T) {
	c := New(mustRing(t, "a:"+newKey(t)))
	plain := &commonpb.Payload{Metadata: map[string][]byte{"encoding": []byte("json/plain")}, Data: []byte(`"from before encryption"`)}
	got, err := c.Decode([]*commonpb.Payload{plain})
	require.NoError(t, err)
	assert.True(t, proto.Equal(plain, got[0]))
}

func TestParseKeyringErrors(t *testing.T) {
	good := newKey(t)
	short := base64.StdEncoding.EncodeToString(make([]byte, 16))
	long := base64.StdEncoding.EncodeToString(make([]byte, 33))
	cases := []struct {
		name, text, want string
	}{
		{"empty", "", "no keys"},
		{"only comments", "# nothing\n\n", "no keys"},
		{"no ID", good, `not "ID:BASE64KEY"`},
		{"no key", "k1:", `not "ID:BASE64KEY"`},
		{"bad ID", "my key:" + good, "key ID \"my key\": use 1 to 64"},
		{"duplicate ID", "k1:" + good + "\nk1:" + newKey(t), `"k1" is listed twice`},
		{"not base64", "k1:" + strings.Repeat("!", 44), "not base64"},
		{"short key", "k1:" + short, "16 bytes after base64 decoding, AES-256 needs 32"},
		{"long key", "k1:" + long, "33 bytes after base64 decoding"},
		{"second line bad", "k1:" + good + "\nk2:" + short, "line 2: key \"k2\""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseKeyring("file keys.txt", tc.text)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrKeyring)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), "file keys.txt")
			for _, secret := range []string{good, short, long} {
				assert.NotContains(t, err.Error(), secret, "an error must never quote key material")
			}
		})
	}
}

// A key in the ID's place (an entry written KEY:ID, or a key pasted where
// its ID goes) is key material: it is refused (an ID is stored in plain
// beside every payload) and the error says what is wrong without quoting
// it, whether or not the key's characters would make a valid ID.
func TestParseKeyringNeverQuotesAKeyInTheIDsPlace(t *testing.T) {
	padded := newKey(t)                                                   // has '=', maybe '+' or '/': not an ID
	idLike := base64.RawStdEncoding.EncodeToString(make([]byte, KeySize)) // letters only: a valid ID
	cases := []struct{ name, text, key string }{
		{"written KEY:ID", padded + ":k1", padded},
		{"written KEY:ID with a key an ID could be", idLike + ":k1", idLike},
		{"key pasted as the ID of another key", idLike + ":" + padded, idLike},
		{"the same key-as-ID twice", idLike + ":" + padded + "\n" + idLike + ":" + padded, idLike},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseKeyring("file keys.txt", tc.text)
			require.Error(t, err)
			assert.NotContains(t, err.Error(), strings.TrimRight(tc.key, "="))
			assert.Contains(t, err.Error(), "looks like a key, not an ID: write the entry as ID:BASE64KEY")
		})
	}
	_, err := ParseKeyring("file keys.txt", "my key:"+padded)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `key ID "my key"`, "an ID that is no key is still quoted")
}

func TestParseKeyringAcceptsCommasUnpaddedBase64AndComments(t *testing.T) {
	a, b := newKey(t), newKey(t)
	k, err := ParseKeyring("env", " # rotated 2025-01\n new:"+strings.TrimRight(a, "=")+" , old:"+b+"\n")
	require.NoError(t, err)
	assert.Equal(t, "new", k.ActiveKeyID())
	assert.Equal(t, []string{"new", "old"}, k.KeyIDs())
}

// A key is accepted in every base64 form people generate it in, and each
// form is the same key: what one encrypts, the others decrypt.
func TestParseKeyringAcceptsEveryBase64FormOfAKey(t *testing.T) {
	raw := bytes.Repeat([]byte{0xfb, 0xff, 0xbf}, 11)[:KeySize] // encodes to + and / (- and _ URL-safe)
	forms := map[string]string{
		"standard":          base64.StdEncoding.EncodeToString(raw),
		"unpadded":          base64.RawStdEncoding.EncodeToString(raw),
		"URL-safe":          base64.URLEncoding.EncodeToString(raw),
		"URL-safe unpadded": base64.RawURLEncoding.EncodeToString(raw),
	}
	require.Contains(t, forms["standard"], "/")
	require.Contains(t, forms["URL-safe"], "_")
	enc, err := New(mustRing(t, "k1:"+forms["standard"])).Encode([]*commonpb.Payload{{Data: []byte("secret")}})
	require.NoError(t, err)
	for name, form := range forms {
		t.Run(name, func(t *testing.T) {
			k, err := ParseKeyring("$GODWIT_CODEC_KEYS", "k1:"+form)
			require.NoError(t, err)
			got, err := New(k).Decode(enc)
			require.NoError(t, err)
			assert.Equal(t, "secret", string(got[0].Data))
		})
	}
	t.Run("wrong length names the length it got", func(t *testing.T) {
		short := base64.RawURLEncoding.EncodeToString(raw[:24])
		_, err := ParseKeyring("$GODWIT_CODEC_KEYS", "k1:"+short)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "24 bytes after base64 decoding, AES-256 needs 32")
		assert.NotContains(t, err.Error(), short)
	})
}

func TestKeyringPrintsNoKeyMaterial(t *testing.T) {
	key := newKey(t)
	raw, _ := base64.StdEncoding.DecodeString(key)
	k := mustRing(t, "k1:"+key)
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		s := fmt.Sprintf(format, k)
		assert.Contains(t, s, "k1")
		assert.NotContains(t, s, key)
		assert.NotContains(t, s, string(raw))
	}
}

func TestLoadKeyringFileAndEnv(t *testing.T) {
	key := newKey(t)
	path := filepath.Join(t.TempDir(), "keys")
	require.NoError(t, os.WriteFile(path, []byte("f1:"+key+"\n"), 0o600))
	k, err := LoadKeyringFile(path)
	require.NoError(t, err)
	assert.Equal(t, "f1", k.ActiveKeyID())

	_, err = LoadKeyringFile(filepath.Join(t.TempDir(), "missing"))
	assert.ErrorContains(t, err, "read keyring")

	t.Setenv("GODWIT_TEST_CODEC_KEYS", "e1:"+key)
	k, err = LoadKeyringEnv("GODWIT_TEST_CODEC_KEYS")
	require.NoError(t, err)
	assert.Equal(t, "e1", k.ActiveKeyID())

	_, err = LoadKeyringEnv("GODWIT_TEST_CODEC_KEYS_UNSET")
	assert.True(t, errors.Is(err, ErrKeyring))
	assert.ErrorContains(t, err, "GODWIT_TEST_CODEC_KEYS_UNSET is not set")
}
