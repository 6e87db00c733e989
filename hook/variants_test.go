package hook

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"strings"
	"testing"
)

// TestRunRedactsEncodedSecrets: a hook that prints its secret encoded —
// alone or inside a longer encoded text — has every form redacted.
func TestRunRedactsEncodedSecrets(t *testing.T) {
	const secret = "s3cr/t+Pa=ss"
	b64 := base64.StdEncoding.EncodeToString
	for _, tt := range []struct{ name, printed string }{
		{"as is", secret},
		{"base64", b64([]byte(secret))},
		{"base64 url without padding", base64.RawURLEncoding.EncodeToString([]byte(secret))},
		{"base64 of user:secret (HTTP Basic)", b64([]byte("admin:" + secret))},
		{"base64 at offset 1", b64([]byte("x" + secret + "yz"))},
		{"base64 at offset 2", b64([]byte("xy" + secret))},
		{"hex", hex.EncodeToString([]byte(secret))},
		{"HEX", strings.ToUpper(hex.EncodeToString([]byte(secret)))},
		{"url query", "token=" + url.QueryEscape(secret)},
		{"url path", "/hooks/" + url.PathEscape(secret)},
		{"reversed", "ss=aP+t/rc3s"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cmd := Command{Argv: []string{"sh", "-c", `printf '%s\n' "$P"`}, Env: map[string]string{"P": tt.printed}}
			res, err := Run(context.Background(), cmd, Options{Redact: []string{secret}})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(res.Output, redacted) || strings.Contains(res.Output, tt.printed) {
				t.Fatalf("printed %q, kept %q: want the secret's part replaced by %s", tt.printed, res.Output, redacted)
			}
		})
	}
}

// TestVariantsSkipShortFragments: the base64 cores of a short secret are
// too short to redact without hitting ordinary text.
func TestVariantsSkipShortFragments(t *testing.T) {
	for _, v := range Variants("abcd") {
		if len(v) < minVariantLen && v != "abcd" {
			t.Errorf("variant %q is shorter than %d", v, minVariantLen)
		}
	}
	if Variants("") != nil {
		t.Error("the empty secret has no variants")
	}
}
