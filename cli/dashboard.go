package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/godwit/godwit/dashboard"
)

func (a *app) dashboardCommand() *cobra.Command {
	var listen, uiURL, tokenFile, view string
	var refresh time.Duration
	cmd := &cobra.Command{
		Use:   "dashboard [--listen ADDR] [--ui-url URL]",
		Short: "Serve a web dashboard: migrations, phases, progress, charts, gates and actions",
		Long: `Serve Godwit's web dashboard, for the people a migration answers to:

  /                    every migration (from Temporal's visibility store, as
                       godwit list): status as Godwit names it (ROLLED_BACK,
                       not Failed), current phase, progress, started, risk,
                       from the summary each run keeps in its memo at phase
                       boundaries ("as of TIME"; no worker needed);
                       ?status=PAUSED filters
  /migrations/NAME     the run: phase timeline (state, duration, summary,
                       step k of n), a copy's per-table progress with rows/s
                       and ETA, charts over time (rows/s, replication lag,
                       traffic weights, error rate, the gateway's error rate
                       on the traffic phase's route, reconcile findings), the
                       executive summary and team update, gates waiting,
                       issues, and a link to the run in the Temporal UI

Each page has two views: the engineer view names statuses and states as
godwit status does (IN_PROGRESS, COMPENSATED, "5 of 5: done"); the plain
view says them in words for people who are not engineers ("Running",
"Undone (rolled back)", "All 5 steps done"). A link at the top switches
(?view=plain or ?view=engineer); --view picks the one pages open in. The
JSON API always uses the report's names.

Pages are rendered on the server from the same status report godwit status
prints; an embedded script refreshes them (every --refresh) and sends the
actions. Nothing is loaded from the internet: it works offline.

Actions (approve a gate, pause, resume, roll back) need a token: set
GODWIT_DASHBOARD_TOKEN (or give --token-file) before starting it, and type the same token into the
page (the script sends it as "Authorization: Bearer TOKEN"; no cookie is
used). Without it the dashboard is read-only. The JSON API:

  GET  /api/migrations                 the list
  GET  /api/migrations/NAME            the status report (godwit status -o json)
  POST /api/migrations/NAME/approve    {"gate": "go-live", "by": "ana", "reason": "..."}
  POST /api/migrations/NAME/pause      {"by": "ana", "reason": "..."}   also /resume
  POST /api/migrations/NAME/rollback   {"by": "ana", "reason": "..."}   (reason required)

Charts draw the points each run keeps at its phase and step boundaries
(bounded, in the run's state, so they survive a restart of the dashboard)
merged with those the dashboard read while it ran: see docs/dashboard.md.`,
		Example: `  godwit dashboard                                   # http://127.0.0.1:8090, read-only
  GODWIT_DASHBOARD_TOKEN=$(cat token) godwit dashboard --listen 0.0.0.0:8090
  curl -s -H "Authorization: Bearer $(cat token)" -H 'Content-Type: application/json' \
    -d '{"gate":"go-live","by":"ana"}' http://127.0.0.1:8090/api/migrations/demo/approve`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if view != dashboard.ViewEngineer && view != dashboard.ViewPlain {
				return fmt.Errorf("--view %q: use %s or %s", view, dashboard.ViewEngineer, dashboard.ViewPlain)
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			defer c.Close()
			token, err := bearerToken(tokenFile, dashboard.TokenEnv)
			if err != nil {
				return err
			}
			h, err := dashboard.New(dashboard.Options{
				Source:    a.migrations(c),
				Token:     token,
				UIURL:     uiURL,
				Namespace: a.settings.Temporal.Namespace,
				Refresh:   refresh,
				Logger:    a.serverLogger(cmd).Named("dashboard"),
				View:      view,
			})
			if err != nil {
				return fmt.Errorf("dashboard: %w", err)
			}
			return a.serveDashboard(cmd.Context(), listen, h, token != "")
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8090", "host:port to listen on")
	cmd.Flags().StringVar(&uiURL, "ui-url", dashboard.DefaultUIURL, "the Temporal UI the run pages link to")
	cmd.Flags().StringVar(&tokenFile, "token-file", "",
		"file holding the bearer token that allows actions (or set "+dashboard.TokenEnv+"); none: read-only")
	cmd.Flags().DurationVar(&refresh, "refresh", 5*time.Second, "how often pages refresh themselves")
	cmd.Flags().StringVar(&view, "view", dashboard.ViewEngineer, "the view pages open in: engineer (states as godwit status names them) or plain (in words for people who are not engineers)")
	return cmd
}

// serveDashboard listens until ctx ends or SIGINT/SIGTERM, then lets
// requests in flight finish.
func (a *app) serveDashboard(ctx context.Context, listen string, h http.Handler, actions bool) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	l, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("dashboard: listen on %s: %w", listen, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	mode := "read-only (set " + dashboard.TokenEnv + " to allow actions)"
	if actions {
		mode = "actions allowed with the token"
	}
	fmt.Fprintf(a.out, "dashboard listening on http://%s (%s)\n", l.Addr(), mode)
	if host, _, _ := net.SplitHostPort(l.Addr().String()); !net.ParseIP(host).IsLoopback() {
		// Reads need no token: the reports are as open as the address.
		fmt.Fprintf(a.errOut, "godwit: warning: anyone who reaches %s can read the migrations' reports; put it behind a proxy that authenticates, or listen on 127.0.0.1\n", l.Addr())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("dashboard: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("dashboard: shut down: %w", err)
	}
	return nil
}
