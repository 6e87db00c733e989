// Package dashboard serves Godwit's web dashboard: the migrations of a
// namespace, each run's phases, progress, charts and gates, and the actions
// a person takes on them (approve, pause, resume, rollback).
//
// Every page is rendered on the server from the same status report `godwit
// status` prints (read through control); a small embedded script only
// refreshes the page and sends the actions. Templates only place what the
// view models in view.go computed: no decision is taken in a template.
package dashboard

import (
	"context"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/control"
	"github.com/godwit/godwit/migration"
	"github.com/godwit/godwit/workflows"
)

// TokenEnv names the environment variable holding the bearer token that
// allows actions; without it the dashboard is read-only.
const TokenEnv = "GODWIT_DASHBOARD_TOKEN"

// DefaultUIURL is the Temporal dev server's UI.
const DefaultUIURL = "http://localhost:8233"

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Source is what the dashboard reads and does; control.Migrations is one.
type Source interface {
	List(ctx context.Context, status migration.Status, limit int) ([]control.Listed, error)
	Status(ctx context.Context, name string) (*migration.Report, error)
	Approve(ctx context.Context, name string, req workflows.ApproveRequest) (workflows.ApproveResult, error)
	Pause(ctx context.Context, name string, req workflows.PauseRequest) (*migration.Report, error)
	Resume(ctx context.Context, name string, req workflows.PauseRequest) (*migration.Report, error)
	Rollback(ctx context.Context, name string, req workflows.RollbackRequest) error
	// RunSpec is the spec the run started with: where its traffic phase's
	// gateway is.
	RunSpec(ctx context.Context, name string) (*config.Spec, error)
}

// Options configure a dashboard.
type Options struct {
	Source Source
	// Token allows actions when not empty; requests must send it as
	// "Authorization: Bearer TOKEN".
	Token string
	// UIURL is the Temporal UI the run pages link to; Namespace is the
	// namespace in those links.
	UIURL, Namespace string
	// Refresh is how often pages refresh themselves (default 5s).
	Refresh time.Duration
	// Limit bounds the migrations listed (default 50).
	Limit int
	// Samples bounds each run's chart series (default 360 points).
	Samples int
	Logger  hclog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// View is the pages' view unless a request asks for another
	// (?view=plain|engineer): ViewEngineer (the default) or ViewPlain.
	View string
}

// Server is the dashboard's HTTP handler.
type Server struct {
	opts     Options
	pages    *template.Template
	series   *seriesStore
	gateways gatewayCache
	mux      *http.ServeMux
}

// New returns the dashboard for opts.
func New(opts Options) (*Server, error) {
	if opts.UIURL == "" {
		opts.UIURL = DefaultUIURL
	}
	if opts.Refresh <= 0 {
		opts.Refresh = 5 * time.Second
	}
	if opts.Limit <= 0 {
		opts.Limit = 50
	}
	if opts.Samples <= 0 {
		opts.Samples = 360
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	switch opts.View {
	case "":
		opts.View = ViewEngineer
	case ViewEngineer, ViewPlain:
	default:
		return nil, fmt.Errorf("dashboard view %q: use %s or %s", opts.View, ViewEngineer, ViewPlain)
	}
	pages, err := template.New("").Funcs(funcs).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	s := &Server{opts: opts, pages: pages, series: newSeriesStore(opts.Samples, maxRuns),
		gateways: gatewayCache{runs: map[gatewayKey]cachedGateway{}}}
	assets, err := fs.Sub(assetFS, "assets")
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.listPage)
	mux.HandleFunc("GET /migrations/{name}", s.runPage)
	mux.Handle("GET /assets/", http.StripPrefix("/assets/", http.FileServerFS(assets)))
	mux.HandleFunc("GET /api/migrations", s.apiList)
	mux.HandleFunc("GET /api/migrations/{name}", s.apiStatus)
	mux.HandleFunc("POST /api/migrations/{name}/approve", s.action(s.approve))
	mux.HandleFunc("POST /api/migrations/{name}/pause", s.action(s.pause))
	mux.HandleFunc("POST /api/migrations/{name}/resume", s.action(s.resume))
	mux.HandleFunc("POST /api/migrations/{name}/rollback", s.action(s.rollback))
	mux.HandleFunc("/api/", apiNotFound)
	s.mux = mux
	return s, nil
}

// ServeHTTP serves the pages, the assets and the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'")
	s.mux.ServeHTTP(w, r)
}

// maxRuns bounds the runs whose series the dashboard keeps.
const maxRuns = 200
