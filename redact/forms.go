// Package redact hides secret values wherever a worker could print or store
// them: it knows the forms in which a program commonly prints a secret
// (base64, hex, URL-encoded, reversed, upper- or lower-cased, spaced out,
// JSON-escaped), replaces every one of them in text and log streams, and
// seals them in checkpoints so that a resumed action gets the real value
// back on the worker while history keeps only a reference. It knows
// nothing of Temporal.
package redact

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// MinFormLen is the shortest encoded form of a secret that is redacted:
// shorter fragments (the base64 of a 4-byte secret at an odd offset) would
// match ordinary output by chance.
const MinFormLen = 6

// MinLineLen is the shortest line of a multi-line secret that is redacted
// on its own.
const MinLineLen = 8

// Form is one printed form of a secret: Kind names the encoding (stable,
// since sealed checkpoints name it), Text is the secret so encoded.
type Form struct {
	Kind string
	Text string
}

// Forms returns the forms in which a program commonly prints secret, the
// value itself first: base64 (standard and URL alphabets, padded or not,
// and — so that it is caught inside a longer encoded text such as an HTTP
// Basic header's "user:secret" — the characters that encode the secret
// alone at each of the three byte offsets), hex in either case,
// URL-encoded (query with '+', query with %20, path), reversed, upper-
// and lower-cased, spaced out letter by letter, JSON-escaped (with and without HTML escaping, and ASCII-only) and, for
// a multi-line secret, each of its lines. Forms equal to an earlier
// one or shorter than MinFormLen are left out.
func Forms(secret string) []Form {
	if secret == "" {
		return nil
	}
	out := []Form{{"plain", secret}}
	seen := map[string]bool{secret: true}
	add := func(kind, v string) {
		if len(v) >= MinFormLen && !seen[v] {
			seen[v] = true
			out = append(out, Form{kind, v})
		}
	}
	b := []byte(secret)
	for _, e := range []struct {
		name string
		enc  *base64.Encoding
	}{{"b64", base64.StdEncoding}, {"b64url", base64.URLEncoding}} {
		add(e.name, e.enc.EncodeToString(b))
		add(e.name+"-raw", e.enc.WithPadding(base64.NoPadding).EncodeToString(b))
		for offset := range 3 {
			add(e.name+"-at"+string(rune('0'+offset)), base64Core(e.enc, b, offset))
		}
	}
	add("hex", hex.EncodeToString(b))
	add("HEX", strings.ToUpper(hex.EncodeToString(b)))
	add("query", url.QueryEscape(secret))
	add("query20", strings.ReplaceAll(url.QueryEscape(secret), "+", "%20"))
	add("path", url.PathEscape(secret))
	add("reversed", reverse(secret))
	// A hook's own transformation of a value it was given (tr a-z A-Z, a
	// token "hidden" by spacing it out) is as readable as the value.
	add("upper", strings.ToUpper(secret))
	add("lower", strings.ToLower(secret))
	add("spaced", strings.Join(strings.Split(secret, ""), " "))
	add("json", jsonEscape(secret, false))
	add("json-html", jsonEscape(secret, true))
	// Python's json.dumps, jq -a and many loggers write every non-ASCII
	// character as \uXXXX: a secret with one (ü, €) is printed so.
	add("json-ascii", jsonASCII(jsonEscape(secret, false)))
	// A multi-line secret (a PEM key, a credentials file) printed as is
	// reaches logs and output line by line, where the whole value never
	// matches: each of its lines is a form of its own. Lines shorter than
	// MinLineLen ("{", "}") would match ordinary output.
	if strings.Contains(secret, "\n") {
		for i, line := range strings.Split(secret, "\n") {
			if line = strings.TrimSpace(line); len(line) >= MinLineLen {
				add("line"+strconv.Itoa(i+1), line)
			}
		}
	}
	return out
}

// Variants returns the texts of Forms(secret).
func Variants(secret string) []string {
	forms := Forms(secret)
	if forms == nil {
		return nil
	}
	out := make([]string, len(forms))
	for i, f := range forms {
		out[i] = f.Text
	}
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

// jsonEscape returns secret as it appears inside a JSON string (without
// the quotes), as encoding/json writes it with or without HTML escaping.
func jsonEscape(secret string, html bool) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(html)
	_ = enc.Encode(secret) // a string always encodes
	s := strings.TrimSuffix(b.String(), "\n")
	return s[1 : len(s)-1]
}

// jsonASCII rewrites the non-ASCII characters of a JSON string's content
// as \uXXXX escapes (lowercase hex, a surrogate pair above U+FFFF), the way
// ASCII-only JSON encoders write them.
func jsonASCII(escaped string) string {
	var b strings.Builder
	for _, r := range escaped {
		if r < utf8.RuneSelf {
			b.WriteRune(r)
			continue
		}
		units := utf16.Encode([]rune{r})
		for _, u := range units {
			fmt.Fprintf(&b, "\\u%04x", u)
		}
	}
	return b.String()
}

func reverse(s string) string {
	r := []rune(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}
