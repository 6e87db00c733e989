package dashboard

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/godwit/godwit/control"
	"github.com/godwit/godwit/migration"
	"github.com/godwit/godwit/workflows"
)

// maxBody bounds an action's JSON body.
const maxBody = 64 << 10

// actionRequest is the body of every action: approve needs gate; reason is
// optional for approve, pause and resume and required for rollback.
type actionRequest struct {
	Gate   string `json:"gate"`
	By     string `json:"by"`
	Reason string `json:"reason"`
}

// apiError is every error the API answers with.
type apiError struct {
	Error string `json:"error"`
	// LastKnown is, when no worker answers a running run's status query,
	// the summary it kept at its last phase boundary (as `godwit status
	// -o json` prints it then).
	LastKnown *migration.Summary `json:"lastKnown,omitempty"`
}

// actionResult is what a done action answers.
type actionResult struct {
	OK      bool   `json:"ok"`
	Message string `json:"message"`
}

func (s *Server) apiList(w http.ResponseWriter, r *http.Request) {
	filter := strings.ToUpper(strings.TrimSpace(r.URL.Query().Get("status")))
	err := checkFilter(filter)
	var rows []listRow
	if err == nil {
		rows, err = s.rows(r.Context(), migration.Status(filter), ViewEngineer)
	}
	if err != nil {
		writeJSON(w, statusOf(err), apiError{Error: err.Error()})
		return
	}
	type item struct {
		Name      string   `json:"name"`
		Status    string   `json:"status"`
		Phase     string   `json:"phase"`
		Progress  *float64 `json:"progress,omitempty"`
		Risk      string   `json:"risk"`
		StartTime string   `json:"startTime"`
		Problem   string   `json:"problem,omitempty"`
		// AsOf is when the figures were recorded, for rows read from the
		// run's memo summary (its last phase boundary) instead of live.
		AsOf string `json:"asOf,omitempty"`
	}
	out := make([]item, len(rows))
	for i, row := range rows {
		out[i] = item{Name: row.Name, Status: row.Status, Phase: row.Phase, Risk: row.Risk, StartTime: row.StartedISO, Problem: row.Problem, AsOf: row.AsOfISO}
		if row.Progress != nil {
			out[i].Progress = &row.Progress.Percent
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// apiNotFound answers what no API route matches, in JSON like every API
// error.
func apiNotFound(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusNotFound, apiError{Error: fmt.Sprintf("no API %s %s: the API is GET /api/migrations, GET /api/migrations/NAME "+
		"and POST /api/migrations/NAME/approve|pause|resume|rollback", r.Method, r.URL.Path)})
}

// apiStatus answers the status report as `godwit status -o json` prints it.
func (s *Server) apiStatus(w http.ResponseWriter, r *http.Request) {
	rep, err := s.opts.Source.Status(r.Context(), r.PathValue("name"))
	if err != nil {
		out := apiError{Error: err.Error()}
		var nw *control.NoWorkerError
		if errors.As(err, &nw) {
			out.LastKnown = nw.LastKnown
		}
		writeJSON(w, statusOf(err), out)
		return
	}
	tr, _ := s.traffic(r.Context(), rep)
	s.series.record(rep, tr, s.opts.Now())
	writeJSON(w, http.StatusOK, rep)
}

// action wraps an action's handler in the checks every action passes, in
// this order: actions allowed at all (403), the token (401), a JSON body
// (415, then 400). The token comes first so nobody learns anything about
// the API's input without it.
func (s *Server) action(do func(r *http.Request, name string, req actionRequest) (string, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.opts.Token == "" {
			writeJSON(w, http.StatusForbidden, apiError{Error: "the dashboard is read-only: start it with " + TokenEnv + " set to allow actions"})
			return
		}
		if !s.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="godwit-dashboard"`)
			writeJSON(w, http.StatusUnauthorized, apiError{Error: "send the dashboard's token as \"Authorization: Bearer TOKEN\" (the value of " + TokenEnv + ")"})
			return
		}
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
			writeJSON(w, http.StatusUnsupportedMediaType, apiError{Error: fmt.Sprintf("the body must be application/json, not %q", r.Header.Get("Content-Type"))})
			return
		}
		var req actionRequest
		dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			writeJSON(w, http.StatusBadRequest, apiError{Error: `the body must be a JSON object {"gate", "by", "reason"}: ` + err.Error()})
			return
		}
		if strings.TrimSpace(req.By) == "" {
			req.By = "dashboard"
		}
		msg, err := do(r, r.PathValue("name"), req)
		if err != nil {
			writeJSON(w, statusOf(err), apiError{Error: err.Error()})
			return
		}
		s.opts.Logger.Info("action", "migration", r.PathValue("name"), "path", r.URL.Path, "by", req.By)
		writeJSON(w, http.StatusOK, actionResult{OK: true, Message: msg})
	}
}

// authorized compares the bearer token in constant time.
func (s *Server) authorized(r *http.Request) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(s.opts.Token)) == 1
}

// errBadRequest marks input the handler itself rejects (400).
var errBadRequest = errors.New("bad request")

func (s *Server) approve(r *http.Request, name string, req actionRequest) (string, error) {
	if strings.TrimSpace(req.Gate) == "" {
		return "", fmt.Errorf("%w: approve needs the gate's name: {\"gate\": \"go-live\"}", errBadRequest)
	}
	res, err := s.opts.Source.Approve(r.Context(), name, workflows.ApproveRequest{Gate: req.Gate, By: req.By, Reason: req.Reason})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("gate %s approved by %s: migration %s goes on with phase %s", res.Gate, res.By, name, res.Phase), nil
}

func (s *Server) pause(r *http.Request, name string, req actionRequest) (string, error) {
	rep, err := s.opts.Source.Pause(r.Context(), name, workflows.PauseRequest{Reason: req.Reason, By: req.By})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("pause sent to migration %s (now %s, phase %s)", name, rep.Status, rep.CurrentPhase), nil
}

func (s *Server) resume(r *http.Request, name string, req actionRequest) (string, error) {
	rep, err := s.opts.Source.Resume(r.Context(), name, workflows.PauseRequest{Reason: req.Reason, By: req.By})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("resume sent to migration %s (now %s, phase %s)", name, rep.Status, rep.CurrentPhase), nil
}

func (s *Server) rollback(r *http.Request, name string, req actionRequest) (string, error) {
	if strings.TrimSpace(req.Reason) == "" {
		return "", fmt.Errorf("%w: rollback needs a reason, for the record: {\"reason\": \"p99 too high\"}", errBadRequest)
	}
	if err := s.opts.Source.Rollback(r.Context(), name, workflows.RollbackRequest{Reason: req.Reason, By: req.By}); err != nil {
		return "", err
	}
	return fmt.Sprintf("rollback requested for migration %s", name), nil
}

// statusOf maps an error to its HTTP status.
func statusOf(err error) int {
	if errors.Is(err, errBadRequest) {
		return http.StatusBadRequest
	}
	if errors.Is(err, control.ErrNoReport) {
		// Temporal answered: the run was terminated or timed out by hand
		// and left no report. Not a gateway failure to retry.
		return http.StatusGone
	}
	switch control.KindOf(err) {
	case control.KindNotFound:
		return http.StatusNotFound
	case control.KindEnded, control.KindRefused:
		return http.StatusConflict
	}
	return http.StatusBadGateway // Temporal or a worker did not answer as it should
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
