// Package connect dials Temporal from Godwit's settings, so the worker and
// the CLI connect the same way (address, namespace, mTLS, API key).
package connect

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"

	"github.com/hashicorp/go-hclog"
	"go.temporal.io/sdk/client"

	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/logging"
)

// Dial connects to Temporal. The error says where it tried to connect and
// what to check, since an unreachable server is the most common first
// problem. When s.Codec names keys, the client encrypts every payload and
// failure message it sends and decrypts those it receives (workers created
// from it included).
//
// configure, if given, adjusts the client's options before dialling (the
// worker sets its metrics handler there).
func Dial(ctx context.Context, s config.TemporalSettings, logger hclog.Logger, configure ...func(*client.Options)) (client.Client, error) {
	dc, err := DataConverter(s.Codec)
	if err != nil {
		return nil, err
	}
	dc = withLogger(dc, logger.Named("codec"))
	opts := client.Options{
		HostPort:         s.Address,
		Namespace:        s.Namespace,
		Logger:           logging.Temporal(logger.Named("temporal")),
		DataConverter:    dc,
		FailureConverter: failureConverter(dc, s.Codec.Enabled()),
	}
	if s.Codec.Enabled() {
		// Key IDs are not secret; the keys never reach a log.
		logger.Debug("payload encryption on", "keysFile", s.Codec.KeysFile, "keysEnv", s.Codec.KeysEnv)
	}
	if s.TLS.Enabled() {
		tlsCfg, err := tlsConfig(s)
		if err != nil {
			return nil, err
		}
		opts.ConnectionOptions.TLS = tlsCfg
	}
	if s.APIKey != "" {
		opts.Credentials = client.NewAPIKeyStaticCredentials(s.APIKey)
		if opts.ConnectionOptions.TLS == nil {
			opts.ConnectionOptions.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
		}
	}
	for _, f := range configure {
		f(&opts)
	}
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("connect to Temporal at %s (namespace %s): %w\n"+
			"is the server running? Locally: `temporal server start-dev`; or set --address / GODWIT_TEMPORAL_ADDRESS",
			s.Address, s.Namespace, err)
	}
	return c, nil
}

func tlsConfig(s config.TemporalSettings) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: s.TLS.ServerName}
	if cfg.ServerName == "" {
		if host, _, err := net.SplitHostPort(s.Address); err == nil {
			cfg.ServerName = host
		}
	}
	if s.TLS.Cert != "" {
		pair, err := tls.LoadX509KeyPair(s.TLS.Cert, s.TLS.Key)
		if err != nil {
			return nil, fmt.Errorf("temporal.tls: load client certificate %s and key %s: %w", s.TLS.Cert, s.TLS.Key, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	if s.TLS.CA != "" {
		pem, err := os.ReadFile(s.TLS.CA)
		if err != nil {
			return nil, fmt.Errorf("temporal.tls.ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("temporal.tls.ca: %s holds no PEM certificate", s.TLS.CA)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}
