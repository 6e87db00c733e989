// Package payloadcodec encrypts Temporal payloads with AES-256-GCM, so that
// what Godwit sends to Temporal (specs, status reports, hook output) is
// stored there as ciphertext. It is a converter.PayloadCodec: the worker and
// the CLI wrap their data converter with it, and `godwit codec-server`
// serves it over HTTP to the Temporal UI and CLI.
//
// Keys come from a keyring: one key per entry, "ID:BASE64", the first entry
// being the one new payloads are encrypted with. Every payload records the
// ID of its key in its metadata, so a payload written before a rotation is
// decrypted with its own, older key as long as the keyring still lists it.
package payloadcodec

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// KeySize is the length of an AES-256 key in bytes.
const KeySize = 32

// ErrUnknownKey is wrapped by the error of Decode for a payload encrypted
// with a key ID the keyring does not hold. Retrying does not help; adding the
// key to the keyring does.
var ErrUnknownKey = errors.New("unknown encryption key")

// ErrDecrypt is wrapped by the error of Decode for a payload that names a
// listed key but does not decrypt with it: altered in storage, truncated,
// or encrypted with another key under the same ID. Retrying does not help.
var ErrDecrypt = errors.New("decrypt payload")

// ErrKeyring is wrapped by every error about a malformed keyring: an entry
// without an ID, a key that is not base64 or not 32 bytes, a duplicate ID.
var ErrKeyring = errors.New("invalid keyring")

// keyIDPattern keeps IDs short and printable: they go into every payload's
// metadata and into error messages.
var keyIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// Keyring holds the keys a Codec encrypts and decrypts with. Its zero value
// holds none; build one with ParseKeyring or LoadKeyringFile. It never
// exposes key material, and its String method prints only key IDs.
type Keyring struct {
	ids   []string // in the order given; ids[0] encrypts
	aeads map[string]cipher.AEAD
}

// ParseKeyring reads a keyring from text: entries "ID:BASE64KEY" separated
// by newlines or commas; blank lines and lines starting with # are ignored.
// The first entry is the active key (new payloads are encrypted with it);
// the others only decrypt. source names where the text came from, for error
// messages ("file /run/secrets/godwit-keys", "$GODWIT_CODEC_KEYS"); no error
// ever quotes key material.
func ParseKeyring(source, text string) (*Keyring, error) {
	k := &Keyring{aeads: map[string]cipher.AEAD{}}
	var errs []error
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		for _, entry := range strings.Split(line, ",") {
			entry = strings.TrimSpace(entry)
			if entry == "" {
				continue
			}
			if err := k.add(entry); err != nil {
				errs = append(errs, fmt.Errorf("line %d: %w", n+1, err))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("%w in %s: %w", ErrKeyring, source, err)
	}
	if len(k.ids) == 0 {
		return nil, fmt.Errorf("%w in %s: no keys: add a line \"ID:BASE64KEY\", e.g. \"%s:$(openssl rand -base64 32)\"",
			ErrKeyring, source, "k1")
	}
	return k, nil
}

// LoadKeyringFile reads a keyring from a file (see ParseKeyring).
func LoadKeyringFile(path string) (*Keyring, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read keyring: %w", err)
	}
	return ParseKeyring("file "+path, string(b))
}

// LoadKeyringEnv reads a keyring from the environment variable name (see
// ParseKeyring).
func LoadKeyringEnv(name string) (*Keyring, error) {
	v, ok := os.LookupEnv(name)
	if !ok {
		return nil, fmt.Errorf("%w: environment variable %s is not set", ErrKeyring, name)
	}
	return ParseKeyring("$"+name, v)
}

// add parses one "ID:BASE64KEY" entry. Its errors name the ID at most: the
// entry itself may be a key with a typo.
func (k *Keyring) add(entry string) error {
	id, encoded, ok := strings.Cut(entry, ":")
	id, encoded = strings.TrimSpace(id), strings.TrimSpace(encoded)
	if !ok || encoded == "" {
		return errors.New(`an entry is not "ID:BASE64KEY"`)
	}
	if !keyIDPattern.MatchString(id) {
		return fmt.Errorf("key ID %s: use 1 to 64 letters, digits, '.', '_' or '-'", quoteID(id))
	}
	if looksLikeKey(id, KeySize) {
		// The ID is stored in plain text next to every payload it encrypts.
		return fmt.Errorf("key ID %s: an ID is stored in plain text beside every payload, so it must not be a key", quoteID(id))
	}
	if _, dup := k.aeads[id]; dup {
		return fmt.Errorf("key ID %s is listed twice", quoteID(id))
	}
	key, err := decodeKey(encoded)
	if err != nil {
		return fmt.Errorf("key %s: %w", quoteID(id), err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return fmt.Errorf("key %s: %w", quoteID(id), err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return fmt.Errorf("key %s: %w", quoteID(id), err)
	}
	k.ids = append(k.ids, id)
	k.aeads[id] = aead
	return nil
}

// quoteID quotes a key ID for an error message, unless the text in the ID's
// place is key material: an entry written the wrong way round ("KEY:k1"),
// or a key pasted twice, puts a key where the ID goes, and an error quoting
// it would print the key to the terminal and the worker's log.
func quoteID(id string) string {
	if looksLikeKey(id, minKeyLikeBytes) {
		return "(the text before ':' looks like a key, not an ID: write the entry as ID:BASE64KEY)"
	}
	return strconv.Quote(id)
}

// looksLikeKey reports whether s decodes as base64 to at least minBytes
// bytes: a key, or most of one, rather than an ID such as "k2025-01".
func looksLikeKey(s string, minBytes int) bool {
	raw := strings.TrimRight(s, "=")
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(raw); err == nil && len(b) >= minBytes {
			return true
		}
	}
	return false
}

// minKeyLikeBytes is the decoded length from which an error takes the text
// in an ID's place for key material and does not quote it: 24 bytes are 32
// base64 characters, three quarters of an AES-256 key. (An ID is refused
// only when it decodes to a whole key, KeySize bytes.)
const minKeyLikeBytes = 24

// decodeKey accepts a 32-byte key in standard or URL-safe base64, with
// or without its '=' padding: what `openssl rand -base64 32` prints, the
// same piped through `tr -d '='`, and what a URL-safe encoder prints.
func decodeKey(s string) ([]byte, error) {
	raw := strings.TrimRight(s, "=")
	enc := base64.RawStdEncoding
	if strings.ContainsAny(raw, "-_") {
		enc = base64.RawURLEncoding
	}
	key, err := enc.DecodeString(raw)
	if err != nil {
		// base64's own error gives only an offset, never the input.
		return nil, fmt.Errorf("not base64 (%v): generate a key with `openssl rand -base64 32`", err)
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("%d bytes after base64 decoding, AES-256 needs %d: generate a key with `openssl rand -base64 32`",
			len(key), KeySize)
	}
	return key, nil
}

// ActiveKeyID is the ID of the key new payloads are encrypted with.
func (k *Keyring) ActiveKeyID() string { return k.ids[0] }

// KeyIDs lists the IDs of every key, the active one first.
func (k *Keyring) KeyIDs() []string { return append([]string(nil), k.ids...) }

// String lists the key IDs only, so that a keyring printed by mistake
// leaks nothing.
func (k *Keyring) String() string {
	return fmt.Sprintf("keyring(active %s; keys %s)", k.ids[0], strings.Join(k.ids, ", "))
}

// GoString is String, for %#v.
func (k *Keyring) GoString() string { return k.String() }
