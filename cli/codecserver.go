package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"

	"github.com/godwit/godwit/connect"
	"github.com/godwit/godwit/logging"
	"github.com/godwit/godwit/payloadcodec"
)

// codecServerTokenEnv holds the codec server's bearer token when
// --token-file is not given.
const codecServerTokenEnv = "GODWIT_CODEC_SERVER_TOKEN"

func (a *app) codecServerCommand() *cobra.Command {
	var listen, tokenFile string
	var origins []string
	cmd := &cobra.Command{
		Use:   "codec-server",
		Short: "Serve the payload codec over HTTP so the Temporal UI and CLI can show encrypted payloads",
		Long: `With payload encryption on (--codec-keys-file or --codec-keys-env, see
docs/encryption.md), Temporal stores Godwit's specs, status reports and hook
output encrypted. This server decrypts them for the Temporal UI and the
temporal CLI, which speak the Temporal codec-server protocol: POST /decode
and POST /encode with a JSON {"payloads": [...]} body. It uses the same
keyring settings as the worker, so start it with the same keys.

Run it where only the people who may read migration data can reach it
(it listens on 127.0.0.1 unless told otherwise), and give it a token:
  GODWIT_CODEC_SERVER_TOKEN=$(cat token) godwit codec-server --codec-keys-file keys
or --token-file FILE. Requests must then send "Authorization: Bearer TOKEN".

Temporal CLI:
  temporal workflow show --workflow-id demo \
    --codec-endpoint http://127.0.0.1:8081 --codec-auth "Bearer $(cat token)"

Temporal UI: browsers call the server directly, so it answers CORS requests
from the origins given with --cors-origin (default the dev server's UI,
http://localhost:8233 and http://127.0.0.1:8233: the browser's origin is
whichever of the two was typed). Then either
  - the dev server: temporal server start-dev --ui-codec-endpoint http://127.0.0.1:8081
  - the temporalio/ui container: TEMPORAL_CODEC_ENDPOINT=http://127.0.0.1:8081
    (and --cors-origin with the UI's own address, e.g. http://localhost:8080)
  - or per browser: the UI's "Codec Server" settings (the data-encoder icon at
    the top), endpoint http://127.0.0.1:8081.
The endpoint is the address the browser reaches, not the UI server. The UI
can send its own login token ("pass access token"); with --token-file or
GODWIT_CODEC_SERVER_TOKEN set, that token must be the one the server expects,
so for a UI without login leave the token unset and keep the server on
127.0.0.1.`,
		Example: `  godwit codec-server --codec-keys-file /run/secrets/godwit-codec-keys
  godwit codec-server --listen 0.0.0.0:8081 --cors-origin http://localhost:8080 --token-file /run/secrets/codec-token`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			codec, err := connect.Codec(a.settings.Temporal.Codec)
			if err != nil {
				return err
			}
			if codec == nil {
				return errors.New("codec-server: no keys: set --codec-keys-file or --codec-keys-env " +
					"(GODWIT_TEMPORAL_CODEC_KEYSFILE / GODWIT_TEMPORAL_CODEC_KEYSENV), the same as the worker's")
			}
			token, err := codecServerToken(tokenFile)
			if err != nil {
				return err
			}
			return a.serveCodec(cmd.Context(), listen, payloadcodec.NewHTTPHandler(codec, payloadcodec.ServerOptions{
				AllowedOrigins: origins,
				Token:          token,
				Logger:         a.serverLogger(cmd).Named("codec-server"),
			}), codec.Keyring(), token != "")
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8081", "host:port to listen on")
	cmd.Flags().StringSliceVar(&origins, "cors-origin", []string{"http://localhost:8233", "http://127.0.0.1:8233"},
		`browser origins allowed to call the server (the Temporal UI's scheme://host:port); repeat or comma-separate; "*" for any`)
	cmd.Flags().StringVar(&tokenFile, "token-file", "",
		"file holding the bearer token requests must send (or set "+codecServerTokenEnv+"); none: no token checked")
	return cmd
}

// serverLogger logs at the settings' level (info by default), not at the
// CLI's quiet warn: a server's request log is what its operator watches.
func (a *app) serverLogger(cmd *cobra.Command) hclog.Logger {
	if cmd.Flags().Changed("log-level") {
		return a.logger
	}
	return logging.New("godwit", a.settings.Log, a.errOut)
}

// codecServerToken reads the token from file, or else from the
// environment; empty means no token.
func codecServerToken(file string) (string, error) { return bearerToken(file, codecServerTokenEnv) }

// bearerToken reads a server's token from file (--token-file), or else
// from the environment variable env; empty means no token.
func bearerToken(file, env string) (string, error) {
	if file == "" {
		return strings.TrimSpace(os.Getenv(env)), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("--token-file: %w", err)
	}
	token := strings.TrimSpace(string(b))
	if token == "" {
		return "", fmt.Errorf("--token-file: %s is empty", file)
	}
	return token, nil
}

// serveCodec listens until ctx ends or SIGINT/SIGTERM, then lets requests
// in flight finish.
func (a *app) serveCodec(ctx context.Context, listen string, h http.Handler, keys *payloadcodec.Keyring, withToken bool) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	l, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("codec-server: listen on %s: %w", listen, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	fmt.Fprintf(a.out, "codec server listening on http://%s (encrypting with key %s; keys %s; token %s)\n",
		l.Addr(), keys.ActiveKeyID(), strings.Join(keys.KeyIDs(), ", "), map[bool]string{true: "required", false: "none"}[withToken])
	if !withToken {
		if host, _, _ := net.SplitHostPort(l.Addr().String()); !net.ParseIP(host).IsLoopback() {
			fmt.Fprintf(a.errOut, "godwit: warning: the codec server decrypts for anyone who reaches %s; set --token-file or %s\n",
				l.Addr(), codecServerTokenEnv)
		}
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return fmt.Errorf("codec-server: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("codec-server: shut down: %w", err)
	}
	return nil
}
