package config

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A credential given as an option's next word, or in a JSON body, is as
// literal as --password=VALUE: the spec goes to workflow history in plain
// text. References ($NAME) and options that take no secret pass.
func TestLiteralCredentialOptionsAndJSONAreRefused(t *testing.T) {
	const spec = "name: x\nphases:\n  - phase: validate\n    hook:\n      run:\n        command: %s\n        secrets: {PW: {fromEnv: PW}}\n"
	cases := []struct {
		name, command string
		refused       bool
	}{
		{"--password VALUE as two arguments", `[mongo, --password, s3cretPw9]`, true},
		{"--token VALUE as two arguments", `[gh-tool, --token, ghp_abc123xyz]`, true},
		{"--password VALUE in a script", `[sh, -c, "mongo --password 's3cretPw9' db"]`, true},
		{"--api-key VALUE in a script", `[sh, -c, "tool --api-key abc123xyz run"]`, true},
		{"a password in a JSON body", `[curl, -d, '{"user": "a", "password": "s3cretPw9"}', "http://x"]`, true},
		{"--password $REF in a script", `[sh, -c, 'mongo --password "$PW" db']`, false},
		{"--password-stdin takes no value", `[sh, -c, 'printf %s "$PW" | docker login --password-stdin -u me registry']`, false},
		{"--password-file names a file", `[tool, --password-file, /run/secrets/pw]`, false},
		{"a JSON body without a credential", `[curl, -d, '{"user": "a"}', "http://x"]`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSpec([]byte(strings.Replace(spec, "%s", tc.command, 1)))
			if !tc.refused {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), "holds a literal credential")
			assert.Contains(t, err.Error(), "phases[0].hook.run.command[")
		})
	}
}
