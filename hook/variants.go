package hook

import (
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"strings"
)

// minVariantLen is the shortest encoded form of a secret that is redacted:
// shorter fragments (the base64 of a 4-byte secret at an odd offset) would
// match ordinary output by chance.
const minVariantLen = 6

// Variants returns the forms in which a program commonly prints a secret,
// which redaction must catch as well as the value itself: base64 (standard
// and URL alphabets, padded or not, and — so that it is caught inside a
// longer encoded text such as an HTTP Basic header's "user:secret" — the
// characters that encode the secret alone at each of the three byte
// offsets), hex in either case, URL-encoded (query and path) and reversed.
// The value itself comes first.
func Variants(secret string) []string {
	if secret == "" {
		return nil
	}
	out := []string{secret}
	seen := map[string]bool{secret: true}
	add := func(v string) {
		if len(v) >= minVariantLen && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	b := []byte(secret)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
		add(enc.EncodeToString(b))
		add(enc.WithPadding(base64.NoPadding).EncodeToString(b))
		for offset := range 3 {
			add(base64Core(enc, b, offset))
		}
	}
	add(hex.EncodeToString(b))
	add(strings.ToUpper(hex.EncodeToString(b)))
	add(url.QueryEscape(secret))
	add(url.PathEscape(secret))
	add(reverse(secret))
	return out
}

// base64Core returns the base64 characters that depend on the secret's
// bytes only, when the secret starts offset bytes into a 3-byte group of a
// longer encoded text: the characters that mix in bytes before or after it
// differ from text to text.
func base64Core(enc *base64.Encoding, b []byte, offset int) string {
	padded := append(make([]byte, offset), b...)
	s := enc.WithPadding(base64.NoPadding).EncodeToString(padded)
	// Character i encodes bits [6i, 6i+6): it depends on the secret alone
	// when those bits lie within [8*offset, 8*(offset+len(b))).
	first := (8*offset + 5) / 6
	last := (8 * (offset + len(b))) / 6 // exclusive
	if last > len(s) {
		last = len(s)
	}
	if first >= last {
		return ""
	}
	return s[first:last]
}

func reverse(s string) string {
	r := []rune(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}
