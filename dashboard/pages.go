package dashboard

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/godwit/godwit/control"
	"github.com/godwit/godwit/migration"
)

// rowTimeout bounds the read of one list row's report: a run whose worker
// does not answer must not hold up the whole list.
const rowTimeout = 5 * time.Second

// rowReaders bounds the reports read at once for the list.
const rowReaders = 4

func (s *Server) listPage(w http.ResponseWriter, r *http.Request) {
	filter := strings.ToUpper(strings.TrimSpace(r.URL.Query().Get("status")))
	view := s.view(r)
	v := listView{
		Page:   Page{Title: "Migrations", Kind: "list", Refresh: int(s.opts.Refresh.Seconds()), Actions: s.opts.Token != ""},
		Filter: filter,
	}
	s.viewLinks(&v.Page, "/", view)
	for _, name := range migration.StatusNames() {
		label := name
		if v.Plain {
			label = plainStatus(name)
		}
		v.Statuses = append(v.Statuses, statusOption{Value: name, Label: label})
	}
	if err := checkFilter(filter); err != nil {
		v.Error = err.Error()
		s.render(w, http.StatusBadRequest, "list.html", v)
		return
	}
	code := http.StatusOK
	rows, err := s.rows(r.Context(), migration.Status(filter), view)
	if err != nil {
		code, v.Error = statusOf(err), err.Error()
	}
	v.Rows = rows
	if err == nil && len(rows) == 0 {
		v.Empty = "No migrations yet: start one with godwit start -f SPEC."
		if filter != "" {
			v.Empty = "No migration is " + filter + "."
			if v.Plain {
				v.Empty = "No migration is " + strings.ToLower(plainStatus(filter)) + "."
			}
		}
	}
	s.render(w, code, "list.html", v)
}

// checkFilter rejects a status filter that names no status.
func checkFilter(status string) error {
	if status != "" && !migration.Status(status).Valid() {
		return fmt.Errorf("%w: status %q: use one of %s", errBadRequest, status, strings.Join(migration.StatusNames(), ", "))
	}
	return nil
}

// rows lists the migrations with their figures (progress, risk): from the
// summary each run keeps in its memo, which the list brings along; for runs
// without one (started before it was kept) from their reports, read side
// by side.
func (s *Server) rows(ctx context.Context, status migration.Status, view string) ([]listRow, error) {
	listed, err := s.opts.Source.List(ctx, status, s.opts.Limit)
	if err != nil {
		return nil, err
	}
	rows := make([]listRow, len(listed))
	sem := make(chan struct{}, rowReaders)
	var wg sync.WaitGroup
	for i, l := range listed {
		rows[i] = listRow{Name: l.Name, Href: s.withView(runHref(l.Name), view), Status: l.Status, StatusClass: statusClass(l.Status),
			Phase: l.Phase, Started: stamp(l.StartTime), StartedISO: l.StartTime.UTC().Format(time.RFC3339), Risk: "-"}
		if l.LastKnown != nil {
			// The summary the run keeps at its phase boundaries came with
			// the list: no query per row, and no worker needed.
			sum := *l.LastKnown
			fromSummary(&rows[i], sum)
			rows[i].Why, rows[i].WhyClass = rollbackWhy(sum, view == ViewPlain)
			endedOutside(&rows[i], l.Execution, sum)
			if view == ViewPlain {
				plainRow(&rows[i], sum)
			}
			continue
		}
		if view == ViewPlain {
			// Until its report is read, the row has only Temporal's status.
			rows[i].Status = plainStatus(rows[i].Status)
		}
		wg.Add(1)
		go func(row *listRow) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			rctx, cancel := context.WithTimeout(ctx, rowTimeout)
			defer cancel()
			rep, err := s.opts.Source.Status(rctx, row.Name)
			if err != nil {
				row.Problem = "report not read: " + err.Error()
				return
			}
			s.series.record(rep, nil, s.opts.Now())
			// The report is newer than the visibility store's copy.
			row.Status, row.StatusClass = string(rep.Status), reportClass(rep)
			row.Phase, row.Risk = rep.CurrentPhase, rep.Risk
			row.Progress = &progress{Percent: rep.OverallProgress, Label: row.Name + " progress", Text: pctText(rep.OverallProgress)}
			sum := rep.Summary(rep.UpdatedTime)
			row.Why, row.WhyClass = rollbackWhy(sum, view == ViewPlain)
			if view == ViewPlain {
				plainRow(row, sum)
			}
		}(&rows[i])
	}
	wg.Wait()
	return rows, nil
}

// fromSummary fills row from a run's memo summary.
func fromSummary(row *listRow, sum migration.Summary) {
	row.Status, row.StatusClass = string(sum.Status), summaryClass(sum)
	row.Phase = sum.PhaseText()
	if sum.Risk != "" {
		row.Risk = sum.Risk
	}
	row.Progress = &progress{Percent: sum.Progress, Label: row.Name + " progress", Text: pctText(sum.Progress)}
	if !sum.UpdatedAt.IsZero() {
		row.AsOf, row.AsOfISO = stamp(sum.UpdatedAt), sum.UpdatedAt.UTC().Format(time.RFC3339)
	}
}

// endedOutside marks a row whose run Temporal has closed (terminated or
// timed out by hand, outside Godwit) while its memo's last boundary still
// says it runs or waits: "WAITING_APPROVAL" there would send someone to
// approve a gate nothing waits at any more. The row says how the run
// ended, and the last boundary's phase as such.
func endedOutside(row *listRow, execution string, sum migration.Summary) {
	if execution == "" || execution == "Running" || sum.Status.Final() {
		return
	}
	ended := map[string]string{"Terminated": "TERMINATED", "TimedOut": "TIMED_OUT", "Canceled": "CANCELLED", "Failed": "FAILED"}[execution]
	if ended == "" {
		ended = strings.ToUpper(execution)
	}
	row.Status, row.StatusClass = ended, "bad"
	row.Phase = fmt.Sprintf("ended outside Godwit; last known: %s, %s", sum.Status, row.Phase)
}

func (s *Server) runPage(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	rep, err := s.opts.Source.Status(r.Context(), name)
	var nw *control.NoWorkerError
	if errors.As(err, &nw) && nw.LastKnown != nil {
		// The run's memo needs no worker: show its last boundary, marked.
		v := s.newLastKnownView(nw)
		s.viewLinks(&v.Page, r.URL.Path, s.view(r))
		if v.Plain {
			sum := *nw.LastKnown
			v.Status, v.Phase, v.Risk = plainStatus(string(sum.Status)), plainWhere(sum.Status, sum.PhaseIndex, sum.PhaseCount, sum.Phase), sentence(sum.Risk)
			if sum.Phase != "" && sum.PhaseState != "" {
				v.Phase += " (" + strings.ToLower(plainPhaseState(string(sum.PhaseState))) + ")"
			}
		}
		s.render(w, http.StatusOK, "lastknown.html", v)
		return
	}
	if err != nil {
		v := Page{Title: "Migration " + name, Kind: "error", Refresh: int(s.opts.Refresh.Seconds()), Error: err.Error()}
		s.viewLinks(&v, r.URL.Path, s.view(r))
		if nw != nil && nw.LastKnownProblem != "" {
			v.Error += "\nthe last known state cannot be shown: " + nw.LastKnownProblem
		}
		s.render(w, statusOf(err), "error.html", v)
		return
	}
	tr, note := s.traffic(r.Context(), rep)
	now := s.opts.Now()
	points := merged(rep, s.series.record(rep, tr, now))
	v := s.newRunView(rep, points, tr, note, now)
	s.viewLinks(&v.Page, r.URL.Path, s.view(r))
	if v.Plain {
		plainRun(&v, rep)
	}
	s.render(w, http.StatusOK, "run.html", v)
}

// render writes the named template, or a plain error if it fails (before
// anything was sent: it renders into a buffer first).
func (s *Server) render(w http.ResponseWriter, code int, name string, data any) {
	var buf bytes.Buffer
	if err := s.pages.ExecuteTemplate(&buf, name, data); err != nil {
		s.opts.Logger.Error("render page", "template", name, "error", err)
		http.Error(w, "the page could not be rendered: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

func pctText(v float64) string { return funcs["pct"].(func(float64) string)(v) + "%" }
