package redact

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// encodings are the forms a program prints a secret in, each inside
// surrounding text, as a hook or a log line would carry it.
func encodings(secret string) []struct{ name, printed string } {
	b := []byte(secret)
	js, _ := json.Marshal(map[string]string{"v": secret})
	return []struct{ name, printed string }{
		{"plain", "pw=" + secret + ";"},
		{"base64 standard", "x " + base64.StdEncoding.EncodeToString(b)},
		{"base64 url", base64.URLEncoding.EncodeToString(b) + " y"},
		{"base64 unpadded", base64.RawStdEncoding.EncodeToString(b)},
		{"base64 url unpadded", base64.RawURLEncoding.EncodeToString(b)},
		{"inside longer base64, offset 0", "Basic " + base64.StdEncoding.EncodeToString([]byte(secret+"-tail"))},
		{"inside longer base64, offset 1", base64.StdEncoding.EncodeToString([]byte("a" + secret + "b"))},
		{"inside longer base64, offset 2", base64.StdEncoding.EncodeToString([]byte("ab" + secret))},
		{"inside longer base64 (HTTP Basic)", base64.StdEncoding.EncodeToString([]byte("admin:" + secret))},
		{"inside longer url-safe base64, offset 1", base64.RawURLEncoding.EncodeToString([]byte("a" + secret + "xyz"))},
		{"hex lower", hex.EncodeToString(b)},
		{"hex upper", strings.ToUpper(hex.EncodeToString(b))},
		{"url-encoded with +", "q=" + url.QueryEscape(secret)},
		{"url-encoded with %20", "q=" + strings.ReplaceAll(url.QueryEscape(secret), "+", "%20")},
		{"url path", "/x/" + url.PathEscape(secret)},
		{"reversed", reverse(secret)},
		{"json-escaped", string(js)},
		// What a hook's own transformation prints: tr a-z A-Z, tr A-Z
		// a-z, a "hidden" value spaced out letter by letter.
		{"upper-cased", "TOKEN=" + strings.ToUpper(secret)},
		{"lower-cased", strings.ToLower(secret) + " was used"},
		{"spaced", "key: " + strings.Join(strings.Split(secret, ""), " ")},
	}
}

// secrets cover characters each encoding treats specially: space (%20
// and +), '/', '+', '=', quotes and backslashes (JSON), '<' and '&' (HTML).
var secrets = []string{"s3cr/t+Pa=ss word", `qu"o\te<&>d pw`, "plainpassword1"}

func TestSetRedactsEveryEncoding(t *testing.T) {
	for _, secret := range secrets {
		s := NewSet()
		s.Add("env:PW", secret)
		for _, tt := range encodings(secret) {
			t.Run(secret+"/"+tt.name, func(t *testing.T) {
				got := s.String(tt.printed)
				if !strings.Contains(got, Mask) {
					t.Fatalf("printed %q, got %q: want the secret's part replaced by %s", tt.printed, got, Mask)
				}
				if containsEncoded(got, secret) {
					t.Fatalf("printed %q, got %q: a form of the secret is left", tt.printed, got)
				}
			})
		}
	}
}

// containsEncoded: the redacted text decodes to nothing holding the secret.
func containsEncoded(text, secret string) bool {
	for _, f := range Forms(secret) {
		if strings.Contains(text, f.Text) {
			return true
		}
	}
	return false
}

// TestNonASCIISecretIsRedactedWhenJSONEscapesIt: an ASCII-only JSON
// encoder (Python's json.dumps, jq -a) writes a secret's ü, € or emoji as
// \uXXXX escapes; that form is a secret too. The printed text is what
// Python 3 prints for json.dumps({"v": secret}).
func TestNonASCIISecretIsRedactedWhenJSONEscapesIt(t *testing.T) {
	const secret = `pässwörd-€"😀`
	const printed = `{"v": "p\u00e4ssw\u00f6rd-\u20ac\"\ud83d\ude00"}`
	s := NewSet()
	s.Add("env:PW", secret)
	if got := s.String(printed); got != `{"v": "***"}` {
		t.Fatalf("printed %s, got %s: want the secret replaced by %s", printed, got, Mask)
	}
}

func TestSealUnsealRoundTrip(t *testing.T) {
	for _, secret := range secrets {
		for _, tt := range encodings(secret) {
			t.Run(secret+"/"+tt.name, func(t *testing.T) {
				worker := NewSet()
				worker.Add("env:PW", secret)
				sealed := worker.Seal("cp-" + tt.printed)
				if containsEncoded(sealed, secret) {
					t.Fatalf("sealed %q still holds the secret", sealed)
				}
				// Another worker that read the same secret reference.
				other := NewSet()
				other.Add("env:PW", secret)
				got, missing := other.Unseal(sealed)
				if got != "cp-"+tt.printed || missing != nil {
					t.Fatalf("unseal(%q) = %q, missing %v: want %q", sealed, got, missing, "cp-"+tt.printed)
				}
				if _, missing := NewSet().Unseal(sealed); len(missing) == 0 || missing[0] != "env:PW" {
					t.Fatalf("a worker without the secret reported missing %v, want [env:PW]", missing)
				}
			})
		}
	}
}

func TestDSNPasswordIsASecretOfItsOwn(t *testing.T) {
	for _, tt := range []struct{ dsn, password string }{
		{"postgres://app:Pg%20pass@db:5432/x?sslmode=disable", "Pg pass"},
		{"mysql://root:my-secret-pw@db/x", "my-secret-pw"},
		{"app:maria-pw-1@tcp(127.0.0.1:3306)/orders", "maria-pw-1"},
		{"host=db user=app password='s p\\'x' dbname=x", `s p\'x`},
		{"host=db password=kwpass123 dbname=x", "kwpass123"},
		{"/tmp/data/new.db", ""},
	} {
		if got := DSNPassword(tt.dsn); got != tt.password {
			t.Errorf("DSNPassword(%q) = %q, want %q", tt.dsn, got, tt.password)
		}
		if tt.password == "" {
			continue
		}
		s := NewSet()
		s.Add("env:DSN", tt.dsn)
		printed := base64.StdEncoding.EncodeToString([]byte(tt.password))
		if got := s.String("pw " + printed); strings.Contains(got, printed) {
			t.Errorf("DSN %q: its password's base64 %q is not redacted: %q", tt.dsn, printed, got)
		}
	}
}

func TestWriterRedactsLogLines(t *testing.T) {
	s := NewSet()
	var buf bytes.Buffer
	w := s.Writer(&buf)
	s.Add("keyring", "k1:c2VjcmV0a2V5c2VjcmV0a2V5")
	line := `{"@message":"x","value":"k1:c2VjcmV0a2V5c2VjcmV0a2V5"}` + "\n"
	if n, err := w.Write([]byte(line)); err != nil || n != len(line) {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if strings.Contains(buf.String(), "c2VjcmV0a2V5c2VjcmV0a2V5") || !strings.Contains(buf.String(), Mask) {
		t.Fatalf("log line %q: want the keyring replaced", buf.String())
	}
}

func TestShortValuesAreNotSecrets(t *testing.T) {
	s := NewSet()
	s.Add("env:X", "on")
	if got := s.String("turned on"); got != "turned on" {
		t.Fatalf("a 2-byte value redacted ordinary text: %q", got)
	}
	for _, v := range Variants("abcd") {
		if len(v) < MinFormLen && v != "abcd" {
			t.Errorf("variant %q is shorter than %d", v, MinFormLen)
		}
	}
}
