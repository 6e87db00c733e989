package config

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// Settings are how the worker and the CLI reach Temporal and how they log.
// They come from, highest precedence first: command-line flags, GODWIT_*
// environment variables, a config file, then the defaults below.
//
// The environment variables are the keys upper-cased, dots made
// underscores, after GODWIT_:
//
//	GODWIT_TEMPORAL_ADDRESS          temporal.address        --address
//	GODWIT_TEMPORAL_NAMESPACE        temporal.namespace      --namespace
//	GODWIT_TEMPORAL_TASKQUEUE        temporal.taskQueue      --task-queue
//	GODWIT_TEMPORAL_TLS_CERT         temporal.tls.cert       --tls-cert
//	GODWIT_TEMPORAL_TLS_KEY          temporal.tls.key        --tls-key
//	GODWIT_TEMPORAL_TLS_CA           temporal.tls.ca         --tls-ca
//	GODWIT_TEMPORAL_TLS_SERVERNAME   temporal.tls.serverName --tls-server-name
//	GODWIT_TEMPORAL_APIKEY           temporal.apiKey         (no flag: a secret)
//	GODWIT_TEMPORAL_APIKEYFILE       temporal.apiKeyFile     --api-key-file
//	GODWIT_TEMPORAL_CODEC_KEYSFILE   temporal.codec.keysFile --codec-keys-file
//	GODWIT_TEMPORAL_CODEC_KEYSENV    temporal.codec.keysEnv  --codec-keys-env
//	GODWIT_LOG_LEVEL                 log.level               --log-level
//	GODWIT_LOG_FORMAT                log.format              --log-format
//	GODWIT_METRICS_LISTEN            metrics.listen          --metrics-listen
//
// GODWIT_CONFIG (or --config) names the config file; without either,
// ./godwit.yaml is read when it exists.
type Settings struct {
	Temporal TemporalSettings `mapstructure:"temporal"`
	Log      LogSettings      `mapstructure:"log"`
	Metrics  MetricsSettings  `mapstructure:"metrics"`
}

// MetricsSettings turn on the worker's Prometheus endpoint.
type MetricsSettings struct {
	// Listen is the address the worker serves /metrics on, e.g.
	// "127.0.0.1:9464" or ":9464"; empty (the default): no endpoint.
	Listen string `mapstructure:"listen"`
}

// TemporalSettings locate the Temporal service and authenticate to it.
type TemporalSettings struct {
	Address   string      `mapstructure:"address"`
	Namespace string      `mapstructure:"namespace"`
	TaskQueue string      `mapstructure:"taskQueue"`
	TLS       TLSSettings `mapstructure:"tls"`
	// APIKey is a secret: give it through GODWIT_TEMPORAL_APIKEY or a file
	// named by apiKeyFile, not in a config file that may be committed.
	APIKey     string `mapstructure:"apiKey"`
	APIKeyFile string `mapstructure:"apiKeyFile"`
	// Codec turns on payload encryption. It sits with the connection
	// settings because it is part of how a client talks to Temporal (like
	// TLS): every client connect.Dial makes, the worker's and the CLI's,
	// encrypts with it.
	Codec CodecSettings `mapstructure:"codec"`
}

// CodecSettings name the keyring that encrypts payloads sent to Temporal
// (AES-256-GCM, see docs/encryption.md and package payloadcodec). Both empty
// (the default): payloads are stored in plain JSON. Set one of them:
// KeysFile names a file, KeysEnv names an environment variable, holding
// entries "ID:BASE64KEY" (newlines or commas between them); the first entry
// encrypts, every entry decrypts. The settings hold where the keys are,
// never the keys.
type CodecSettings struct {
	KeysFile string `mapstructure:"keysFile"`
	KeysEnv  string `mapstructure:"keysEnv"`
}

// Enabled reports whether payload encryption is configured.
func (c CodecSettings) Enabled() bool { return c.KeysFile != "" || c.KeysEnv != "" }

// TLSSettings configure mutual TLS to a Temporal cluster.
type TLSSettings struct {
	Cert       string `mapstructure:"cert"`
	Key        string `mapstructure:"key"`
	CA         string `mapstructure:"ca"`
	ServerName string `mapstructure:"serverName"`
}

// Enabled reports whether any TLS option is set.
func (t TLSSettings) Enabled() bool {
	return t.Cert != "" || t.Key != "" || t.CA != "" || t.ServerName != ""
}

// LogSettings choose the log level and format.
type LogSettings struct {
	Level  string `mapstructure:"level"`
	Format string `mapstructure:"format"`
}

// Setting keys, their defaults, the flag that sets each and its help.
var settingKeys = []struct {
	key, flag, def, help string
}{
	{"temporal.address", "address", "localhost:7233", "Temporal frontend host:port"},
	{"temporal.namespace", "namespace", "default", "Temporal namespace"},
	{"temporal.taskQueue", "task-queue", "godwit", "task queue the worker polls and migrations run on"},
	{"temporal.tls.cert", "tls-cert", "", "client certificate file for mTLS"},
	{"temporal.tls.key", "tls-key", "", "client key file for mTLS"},
	{"temporal.tls.ca", "tls-ca", "", "CA certificate file to verify the server"},
	{"temporal.tls.serverName", "tls-server-name", "", "server name to verify (defaults to the address's host)"},
	{"temporal.apiKeyFile", "api-key-file", "", "file holding a Temporal Cloud API key (or set GODWIT_TEMPORAL_APIKEY)"},
	{"temporal.codec.keysFile", "codec-keys-file", "", "encrypt payloads with the keyring in this file (entries ID:BASE64KEY, first one encrypts); off when empty"},
	{"temporal.codec.keysEnv", "codec-keys-env", "", "encrypt payloads with the keyring in this environment variable (instead of a file), e.g. GODWIT_CODEC_KEYS; off when empty"},
	{"log.level", "log-level", "info", "log level: trace, debug, info, warn, error"},
	{"log.format", "log-format", "text", "log format: text or json"},
	{"metrics.listen", "metrics-listen", "", "worker only: serve Prometheus metrics on this address (e.g. 127.0.0.1:9464) at /metrics; off when empty"},
}

// BindFlags adds one flag per setting (and --config) to fs.
func BindFlags(fs *pflag.FlagSet) {
	fs.String("config", "", "settings file (YAML); default ./godwit.yaml if present, or $GODWIT_CONFIG")
	for _, s := range settingKeys {
		help := s.help
		if s.def != "" {
			// The flag's own default stays empty so that LoadSettings can
			// tell a flag that was set from one that was not.
			help += " (default \"" + s.def + "\")"
		}
		fs.String(s.flag, "", help)
	}
}

// LoadSettings resolves settings from flags in fs (may be nil), the
// environment and the config file, in that order of precedence.
func LoadSettings(fs *pflag.FlagSet) (*Settings, error) {
	v := viper.New()
	// Every key is bound to its variable explicitly: viper's AutomaticEnv
	// only reaches keys it already knows, which is easy to break.
	mustBindEnv(v, "temporal.apiKey")
	v.SetDefault("temporal.apiKey", "")
	for _, s := range settingKeys {
		mustBindEnv(v, s.key)
		v.SetDefault(s.key, s.def)
		if fs != nil {
			if f := fs.Lookup(s.flag); f != nil && f.Changed {
				v.Set(s.key, f.Value.String())
			}
		}
	}
	file := os.Getenv("GODWIT_CONFIG")
	if fs != nil {
		if f := fs.Lookup("config"); f != nil && f.Changed {
			file = f.Value.String()
		}
	}
	if file == "" {
		if _, err := os.Stat("godwit.yaml"); err == nil {
			file = "godwit.yaml"
		}
	}
	if file != "" {
		v.SetConfigFile(file)
		v.SetConfigType("yaml")
		if err := v.ReadInConfig(); err != nil {
			return nil, fmt.Errorf("read settings file %s: %w", file, err)
		}
	}
	var s Settings
	if err := v.UnmarshalExact(&s); err != nil {
		return nil, fmt.Errorf("settings: %w", err)
	}
	if err := s.resolve(); err != nil {
		return nil, err
	}
	return &s, nil
}

// envVar returns the environment variable that sets key, e.g.
// GODWIT_TEMPORAL_TASKQUEUE for temporal.taskQueue.
func envVar(key string) string {
	return "GODWIT_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

func mustBindEnv(v *viper.Viper, key string) {
	if err := v.BindEnv(key, envVar(key)); err != nil {
		panic(err) // only when key is empty
	}
}

func (s *Settings) resolve() error {
	var errs []error
	if s.Temporal.APIKeyFile != "" && s.Temporal.APIKey == "" {
		b, err := os.ReadFile(s.Temporal.APIKeyFile)
		s.Temporal.APIKey = strings.TrimSpace(string(b))
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("temporal.apiKeyFile: %w", err))
		case s.Temporal.APIKey == "":
			// Better now than as an authentication error from Temporal.
			errs = append(errs, fmt.Errorf("temporal.apiKeyFile: %s is empty", s.Temporal.APIKeyFile))
		}
	}
	if s.Temporal.Codec.KeysFile != "" && s.Temporal.Codec.KeysEnv != "" {
		errs = append(errs, errors.New("temporal.codec: set keysFile or keysEnv, not both"))
	}
	if (s.Temporal.TLS.Cert == "") != (s.Temporal.TLS.Key == "") {
		errs = append(errs, errors.New("temporal.tls: cert and key must be given together"))
	}
	s.Log.Level = strings.ToLower(s.Log.Level)
	s.Log.Format = strings.ToLower(s.Log.Format)
	switch s.Log.Level {
	case "trace", "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log.level: %q is not a level: use trace, debug, info, warn or error", s.Log.Level))
	}
	switch s.Log.Format {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("log.format: %q is not a format: use text or json", s.Log.Format))
	}
	if s.Temporal.TaskQueue == "" {
		errs = append(errs, errors.New("temporal.taskQueue: must not be empty"))
	}
	return errors.Join(errs...)
}
