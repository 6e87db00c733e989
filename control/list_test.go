package control

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestPayloadString(t *testing.T) {
	tests := []struct {
		name string
		data string
		want string
	}{
		{"status", `"PAUSED"`, "PAUSED"},
		{"phase with a dash", `"shift-traffic"`, "shift-traffic"},
		{"empty string", `""`, ""},
		{"escaped quote", `"a\"b"`, `a"b`},
		{"unicode escape", `"caf\u00e9"`, "café"},
		{"no data", ``, "-"},
		{"lone quote", `"`, "-"},
		{"unterminated", `"PAUSED`, "-"},
		{"trailing garbage", `"PAUSED"x`, "-"},
		{"not a string", `42`, "-"},
		{"null", `null`, "-"},
		{"a list", `["PAUSED"]`, "-"},
		{"unquoted", `PAUSED`, "-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, payloadString([]byte(tt.data), "-"))
		})
	}
	assert.Equal(t, "none", payloadString(nil, "none"), "the fallback is the caller's")
}
