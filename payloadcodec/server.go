package payloadcodec

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.temporal.io/sdk/converter"
)

// ServerOptions configure the codec server's HTTP handler.
type ServerOptions struct {
	// AllowedOrigins are the browser origins (scheme://host:port) allowed
	// to call the server: the Temporal UI's. "*" allows any origin. A
	// request from another origin is refused, so a web page someone
	// happens to visit cannot use their codec server.
	AllowedOrigins []string
	// Token, when not empty, must come as "Authorization: Bearer TOKEN".
	Token string
	// MaxBodyBytes caps a request's body; 0 means 64 MiB.
	MaxBodyBytes int64
	// Logger logs one line per request (path, status, time), never a
	// payload or the token. Nil logs nothing.
	Logger hclog.Logger
}

// NewHTTPHandler serves the Temporal codec server protocol for c: POST
// .../encode and .../decode with a JSON {"payloads": [...]} body, answered
// with the payloads encoded or decoded (the SDK's
// converter.NewPayloadCodecHTTPHandler), behind CORS for the Temporal UI
// and the optional bearer token.
func NewHTTPHandler(c converter.PayloadCodec, opts ServerOptions) http.Handler {
	if opts.MaxBodyBytes == 0 {
		opts.MaxBodyBytes = 64 << 20
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	return &server{codec: converter.NewPayloadCodecHTTPHandler(c), opts: opts}
}

type server struct {
	codec http.Handler
	opts  ServerOptions
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	s.serve(rec, r)
	s.opts.Logger.Info("request", "method", r.Method, "path", r.URL.Path, "origin", r.Header.Get("Origin"),
		"namespace", r.Header.Get("X-Namespace"), "status", rec.status, "duration", time.Since(start))
}

func (s *server) serve(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	if origin != "" {
		if !s.originAllowed(origin) {
			http.Error(w, "origin "+origin+" is not allowed: start the codec server with --cors-origin "+origin, http.StatusForbidden)
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
		h.Set("Access-Control-Allow-Headers", "Content-Type, X-Namespace, Authorization")
		h.Set("Access-Control-Max-Age", "600")
	}
	// A CORS preflight carries no credentials; it only learns what the
	// real request may send.
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST, OPTIONS")
		http.Error(w, "use POST .../encode or .../decode", http.StatusMethodNotAllowed)
		return
	}
	if !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="godwit-codec"`)
		http.Error(w, "missing or wrong bearer token", http.StatusUnauthorized)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
	s.codec.ServeHTTP(w, r)
}

func (s *server) originAllowed(origin string) bool {
	for _, o := range s.opts.AllowedOrigins {
		if o == "*" || strings.EqualFold(strings.TrimSuffix(o, "/"), origin) {
			return true
		}
	}
	return false
}

// authorized compares the whole header in constant time, so the time taken
// tells nothing about how much of a guessed token was right.
func (s *server) authorized(r *http.Request) bool {
	if s.opts.Token == "" {
		return true
	}
	// Hashing first makes the lengths equal too, which ConstantTimeCompare
	// would otherwise reveal.
	got := sha256.Sum256([]byte(r.Header.Get("Authorization")))
	want := sha256.Sum256([]byte("Bearer " + s.opts.Token))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}
