package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// isolate runs the test in an empty directory, so no stray ./godwit.yaml is
// read, with no GODWIT_* variable set; t.Setenv restores them afterwards.
func isolate(t *testing.T) string {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "GODWIT_") {
			t.Setenv(k, "")
			require.NoError(t, os.Unsetenv(k))
		}
	}
	dir := t.TempDir()
	t.Chdir(dir)
	return dir
}

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

// flags returns a flag set with the settings flags, parsed from args.
func flags(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("godwit", pflag.ContinueOnError)
	BindFlags(fs)
	require.NoError(t, fs.Parse(args))
	return fs
}

var defaultSettings = Settings{
	Temporal: TemporalSettings{Address: "localhost:7233", Namespace: "default", TaskQueue: "godwit"},
	Log:      LogSettings{Level: "info", Format: "text"},
}

const settingsFile = `temporal:
  address: file:7233
  namespace: file-ns
  taskQueue: file-queue
  tls:
    cert: /etc/godwit/client.pem
    key: /etc/godwit/client.key
    ca: /etc/godwit/ca.pem
    serverName: temporal.internal
log:
  level: debug
  format: json
`

var fileSettings = Settings{
	Temporal: TemporalSettings{
		Address: "file:7233", Namespace: "file-ns", TaskQueue: "file-queue",
		TLS: TLSSettings{Cert: "/etc/godwit/client.pem", Key: "/etc/godwit/client.key", CA: "/etc/godwit/ca.pem", ServerName: "temporal.internal"},
	},
	Log: LogSettings{Level: "debug", Format: "json"},
}

func TestLoadSettingsDefaults(t *testing.T) {
	isolate(t)
	for name, fs := range map[string]*pflag.FlagSet{"no flag set": nil, "no flags given": flags(t)} {
		t.Run(name, func(t *testing.T) {
			s, err := LoadSettings(fs)
			require.NoError(t, err)
			assert.Equal(t, defaultSettings, *s)
			assert.False(t, s.Temporal.TLS.Enabled())
		})
	}
}

func TestLoadSettingsFileOverridesDefaults(t *testing.T) {
	t.Run("--config", func(t *testing.T) {
		dir := isolate(t)
		path := writeFile(t, filepath.Join(dir, "settings.yml"), settingsFile)
		s, err := LoadSettings(flags(t, "--config", path))
		require.NoError(t, err)
		assert.Equal(t, fileSettings, *s)
		assert.True(t, s.Temporal.TLS.Enabled())
	})
	t.Run("GODWIT_CONFIG", func(t *testing.T) {
		dir := isolate(t)
		t.Setenv("GODWIT_CONFIG", writeFile(t, filepath.Join(dir, "settings.yml"), settingsFile))
		s, err := LoadSettings(nil)
		require.NoError(t, err)
		assert.Equal(t, fileSettings, *s)
	})
	t.Run("--config wins over GODWIT_CONFIG", func(t *testing.T) {
		dir := isolate(t)
		t.Setenv("GODWIT_CONFIG", writeFile(t, filepath.Join(dir, "env.yaml"), "log: {level: error}\n"))
		s, err := LoadSettings(flags(t, "--config", writeFile(t, filepath.Join(dir, "flag.yaml"), "log: {level: warn}\n")))
		require.NoError(t, err)
		assert.Equal(t, "warn", s.Log.Level)
	})
	t.Run("./godwit.yaml when none is named", func(t *testing.T) {
		isolate(t)
		writeFile(t, "godwit.yaml", "temporal: {namespace: local-ns}\n")
		s, err := LoadSettings(nil)
		require.NoError(t, err)
		want := defaultSettings
		want.Temporal.Namespace = "local-ns"
		assert.Equal(t, want, *s)
	})
	t.Run("a partial file keeps the other defaults", func(t *testing.T) {
		dir := isolate(t)
		s, err := LoadSettings(flags(t, "--config", writeFile(t, filepath.Join(dir, "s.yaml"), "log:\n  format: json\n")))
		require.NoError(t, err)
		want := defaultSettings
		want.Log.Format = "json"
		assert.Equal(t, want, *s)
	})
	t.Run("a named file that does not exist", func(t *testing.T) {
		dir := isolate(t)
		missing := filepath.Join(dir, "missing.yaml")
		_, err := LoadSettings(flags(t, "--config", missing))
		require.ErrorContains(t, err, "read settings file "+missing+": ")
		require.ErrorIs(t, err, os.ErrNotExist)
	})
	t.Run("a file that is not YAML", func(t *testing.T) {
		dir := isolate(t)
		path := writeFile(t, filepath.Join(dir, "s.yaml"), "temporal: [\n")
		_, err := LoadSettings(flags(t, "--config", path))
		require.ErrorContains(t, err, "read settings file "+path+": ")
	})
}

func TestLoadSettingsEnvOverridesFile(t *testing.T) {
	dir := isolate(t)
	t.Setenv("GODWIT_CONFIG", writeFile(t, filepath.Join(dir, "s.yaml"), settingsFile))
	t.Setenv("GODWIT_TEMPORAL_ADDRESS", "env:7233")
	t.Setenv("GODWIT_TEMPORAL_NAMESPACE", "env-ns")
	t.Setenv("GODWIT_TEMPORAL_TASKQUEUE", "env-queue")
	t.Setenv("GODWIT_TEMPORAL_TLS_CERT", "/env/cert.pem")
	t.Setenv("GODWIT_TEMPORAL_TLS_KEY", "/env/key.pem")
	t.Setenv("GODWIT_TEMPORAL_TLS_CA", "/env/ca.pem")
	t.Setenv("GODWIT_TEMPORAL_TLS_SERVERNAME", "env.internal")
	t.Setenv("GODWIT_LOG_LEVEL", "warn")
	t.Setenv("GODWIT_LOG_FORMAT", "text")
	s, err := LoadSettings(nil)
	require.NoError(t, err)
	assert.Equal(t, Settings{
		Temporal: TemporalSettings{
			Address: "env:7233", Namespace: "env-ns", TaskQueue: "env-queue",
			TLS: TLSSettings{Cert: "/env/cert.pem", Key: "/env/key.pem", CA: "/env/ca.pem", ServerName: "env.internal"},
		},
		Log: LogSettings{Level: "warn", Format: "text"},
	}, *s)
}

func TestLoadSettingsEnvOverridesDefaults(t *testing.T) {
	isolate(t)
	t.Setenv("GODWIT_TEMPORAL_TASKQUEUE", "env-queue")
	s, err := LoadSettings(flags(t))
	require.NoError(t, err)
	want := defaultSettings
	want.Temporal.TaskQueue = "env-queue"
	assert.Equal(t, want, *s)
}

func TestLoadSettingsFlagOverridesEnv(t *testing.T) {
	dir := isolate(t)
	t.Setenv("GODWIT_CONFIG", writeFile(t, filepath.Join(dir, "s.yaml"), settingsFile))
	t.Setenv("GODWIT_TEMPORAL_ADDRESS", "env:7233")
	t.Setenv("GODWIT_TEMPORAL_TASKQUEUE", "env-queue")
	t.Setenv("GODWIT_LOG_LEVEL", "warn")
	s, err := LoadSettings(flags(t, "--address", "x:1", "--task-queue", "flag-queue", "--log-level", "trace",
		"--namespace", "flag-ns", "--tls-cert", "/f/c", "--tls-key", "/f/k", "--tls-ca", "/f/ca",
		"--tls-server-name", "flag.internal", "--log-format", "text"))
	require.NoError(t, err)
	assert.Equal(t, Settings{
		Temporal: TemporalSettings{
			Address: "x:1", Namespace: "flag-ns", TaskQueue: "flag-queue",
			TLS: TLSSettings{Cert: "/f/c", Key: "/f/k", CA: "/f/ca", ServerName: "flag.internal"},
		},
		Log: LogSettings{Level: "trace", Format: "text"},
	}, *s)
}

func TestBindFlags(t *testing.T) {
	fs := pflag.NewFlagSet("godwit", pflag.ContinueOnError)
	BindFlags(fs)
	for _, name := range []string{"config", "address", "namespace", "task-queue", "tls-cert", "tls-key", "tls-ca",
		"tls-server-name", "api-key-file", "log-level", "log-format"} {
		assert.NotNil(t, fs.Lookup(name), name)
	}
	assert.Contains(t, fs.Lookup("address").Usage, `(default "localhost:7233")`)
	// No flag takes a secret's value on the command line.
	assert.Nil(t, fs.Lookup("api-key"))
}

func TestLoadSettingsRejectsUnknownKeysAndWrongTypes(t *testing.T) {
	for _, tc := range []struct{ name, file, want string }{
		{"unknown top-level key", "temporal: {address: a:1}\nlogging: {level: debug}\n", "has invalid keys: logging"},
		{"unknown temporal key", "temporal:\n  adress: a:1\n", "'temporal' has invalid keys: adress"},
		{"unknown tls key", "temporal:\n  tls: {certificate: /c}\n", "'temporal.tls' has invalid keys: certificate"},
		{"section as a value", "temporal: 5\n", "'temporal' expected a map or struct"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := isolate(t)
			_, err := LoadSettings(flags(t, "--config", writeFile(t, filepath.Join(dir, "s.yaml"), tc.file)))
			require.ErrorContains(t, err, "settings: ")
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestLoadSettingsRejectsBadValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{
			name: "log level",
			env:  map[string]string{"GODWIT_LOG_LEVEL": "loud"},
			want: `log.level: "loud" is not a level: use trace, debug, info, warn or error`,
		},
		{
			name: "log format",
			env:  map[string]string{"GODWIT_LOG_FORMAT": "xml"},
			want: `log.format: "xml" is not a format: use text or json`,
		},
		{
			name: "tls cert without key",
			env:  map[string]string{"GODWIT_TEMPORAL_TLS_CERT": "/c.pem"},
			want: "temporal.tls: cert and key must be given together",
		},
		{
			name: "tls key without cert",
			env:  map[string]string{"GODWIT_TEMPORAL_TLS_KEY": "/k.pem"},
			want: "temporal.tls: cert and key must be given together",
		},
		{
			name: "every problem at once",
			env:  map[string]string{"GODWIT_LOG_LEVEL": "loud", "GODWIT_LOG_FORMAT": "xml", "GODWIT_TEMPORAL_TLS_KEY": "/k.pem"},
			want: "temporal.tls: cert and key must be given together\n" +
				`log.level: "loud" is not a level: use trace, debug, info, warn or error` + "\n" +
				`log.format: "xml" is not a format: use text or json`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			isolate(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			s, err := LoadSettings(nil)
			require.EqualError(t, err, tc.want)
			assert.Nil(t, s)
		})
	}

	t.Run("empty task queue", func(t *testing.T) {
		isolate(t)
		_, err := LoadSettings(flags(t, "--task-queue", ""))
		require.EqualError(t, err, "temporal.taskQueue: must not be empty")
	})
}

func TestLoadSettingsLogNamesAreCaseInsensitive(t *testing.T) {
	isolate(t)
	t.Setenv("GODWIT_LOG_LEVEL", "DEBUG")
	t.Setenv("GODWIT_LOG_FORMAT", "JSON")
	s, err := LoadSettings(nil)
	require.NoError(t, err)
	assert.Equal(t, LogSettings{Level: "debug", Format: "json"}, s.Log)
}

func TestLoadSettingsAPIKey(t *testing.T) {
	t.Run("from apiKeyFile, trimmed", func(t *testing.T) {
		dir := isolate(t)
		key := writeFile(t, filepath.Join(dir, "api-key"), "  secret-key\n\n")
		s, err := LoadSettings(flags(t, "--api-key-file", key))
		require.NoError(t, err)
		assert.Equal(t, "secret-key", s.Temporal.APIKey)
		assert.Equal(t, key, s.Temporal.APIKeyFile)
	})
	t.Run("apiKeyFile from the settings file", func(t *testing.T) {
		dir := isolate(t)
		key := writeFile(t, filepath.Join(dir, "api-key"), "file-key\n")
		settings := writeFile(t, filepath.Join(dir, "s.yaml"), "temporal:\n  apiKeyFile: "+key+"\n")
		s, err := LoadSettings(flags(t, "--config", settings))
		require.NoError(t, err)
		assert.Equal(t, "file-key", s.Temporal.APIKey)
	})
	t.Run("apiKeyFile from GODWIT_TEMPORAL_APIKEYFILE", func(t *testing.T) {
		dir := isolate(t)
		t.Setenv("GODWIT_TEMPORAL_APIKEYFILE", writeFile(t, filepath.Join(dir, "api-key"), "env-file-key"))
		s, err := LoadSettings(nil)
		require.NoError(t, err)
		assert.Equal(t, "env-file-key", s.Temporal.APIKey)
	})
	t.Run("from GODWIT_TEMPORAL_APIKEY", func(t *testing.T) {
		isolate(t)
		t.Setenv("GODWIT_TEMPORAL_APIKEY", "env-key")
		s, err := LoadSettings(nil)
		require.NoError(t, err)
		assert.Equal(t, "env-key", s.Temporal.APIKey)
	})
	t.Run("GODWIT_TEMPORAL_APIKEY wins and the file is not read", func(t *testing.T) {
		dir := isolate(t)
		t.Setenv("GODWIT_TEMPORAL_APIKEY", "env-key")
		s, err := LoadSettings(flags(t, "--api-key-file", filepath.Join(dir, "missing")))
		require.NoError(t, err)
		assert.Equal(t, "env-key", s.Temporal.APIKey)
	})
	t.Run("missing apiKeyFile", func(t *testing.T) {
		dir := isolate(t)
		missing := filepath.Join(dir, "missing")
		_, err := LoadSettings(flags(t, "--api-key-file", missing))
		require.EqualError(t, err, "temporal.apiKeyFile: open "+missing+": no such file or directory")
		require.ErrorIs(t, err, os.ErrNotExist)
	})
	t.Run("empty apiKeyFile", func(t *testing.T) {
		dir := isolate(t)
		empty := writeFile(t, filepath.Join(dir, "api-key"), " \n")
		_, err := LoadSettings(flags(t, "--api-key-file", empty))
		require.EqualError(t, err, "temporal.apiKeyFile: "+empty+" is empty")
	})
	t.Run("none", func(t *testing.T) {
		isolate(t)
		s, err := LoadSettings(nil)
		require.NoError(t, err)
		assert.Empty(t, s.Temporal.APIKey)
	})
}

func TestLoadSettingsCodec(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		file    string
		args    []string
		want    CodecSettings
		wantErr string
	}{
		{name: "off by default", want: CodecSettings{}},
		{name: "keys file from the environment", env: map[string]string{"GODWIT_TEMPORAL_CODEC_KEYSFILE": "/run/secrets/keys"},
			want: CodecSettings{KeysFile: "/run/secrets/keys"}},
		{name: "keys variable from the environment", env: map[string]string{"GODWIT_TEMPORAL_CODEC_KEYSENV": "GODWIT_CODEC_KEYS"},
			want: CodecSettings{KeysEnv: "GODWIT_CODEC_KEYS"}},
		{name: "keys file from the settings file", file: "temporal:\n  codec:\n    keysFile: /etc/godwit/keys\n",
			want: CodecSettings{KeysFile: "/etc/godwit/keys"}},
		{name: "flag wins over the environment", env: map[string]string{"GODWIT_TEMPORAL_CODEC_KEYSFILE": "/env/keys"},
			args: []string{"--codec-keys-file", "/flag/keys"}, want: CodecSettings{KeysFile: "/flag/keys"}},
		{name: "file and variable together", args: []string{"--codec-keys-file", "/k", "--codec-keys-env", "K"},
			wantErr: "temporal.codec: set keysFile or keysEnv, not both"},
		{name: "unknown codec key", file: "temporal:\n  codec:\n    keys: abc\n", wantErr: "'temporal.codec' has invalid keys: keys"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := isolate(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			args := tc.args
			if tc.file != "" {
				args = append(args, "--config", writeFile(t, filepath.Join(dir, "s.yaml"), tc.file))
			}
			s, err := LoadSettings(flags(t, args...))
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, s.Temporal.Codec)
			assert.Equal(t, tc.want != CodecSettings{}, s.Temporal.Codec.Enabled())
		})
	}
}
