package dashboard

import (
	"fmt"
	"strings"
	"time"
)

// The charts' drawing area, in SVG user units.
const (
	chartW = 300.0
	chartH = 100.0
)

// chart is an SVG chart ready to place: every coordinate is computed here.
type chart struct {
	ID    string
	Title string
	// Label is the chart's text alternative (aria-label): what it shows and
	// its latest and highest figures, or that it has no samples yet.
	Label string
	// Note is shown under an empty chart, saying why it is empty.
	Note  string
	Lines []line
	Bars  []bar
	// YMax is the highest figure drawn, shown as the chart's caption (the
	// axis of an all-zero chart reaches 1, which is no figure); From and To
	// the time span.
	YMax, From, To string
}

type line struct {
	Name   string
	Class  string
	Points string // "x,y x,y ..."
}

type bar struct {
	X, Y, W, H float64
	Label      string
}

// series is one named line of a time chart.
type series struct {
	name, class string
	value       func(sample) (float64, bool)
}

// timeChart draws the series over the points' time span.
func timeChart(id, title, unit, emptyNote string, points []sample, ss ...series) chart {
	c := chart{ID: id, Title: title}
	var top float64
	var lastText []string
	type xy struct {
		t time.Time
		v float64
	}
	values := make([][]xy, len(ss))
	for i, s := range ss {
		for _, p := range points {
			if v, ok := s.value(p); ok {
				values[i] = append(values[i], xy{p.At, v})
				top = max(top, v)
			}
		}
		if n := len(values[i]); n > 0 {
			lastText = append(lastText, fmt.Sprintf("%s %s %s", s.name, number(values[i][n-1].v), unit))
		}
	}
	if len(lastText) == 0 {
		c.Label = fmt.Sprintf("%s: no samples yet. %s", title, emptyNote)
		c.Note = "No samples yet: " + emptyNote
		return c
	}
	first, last := points[0].At, points[len(points)-1].At
	span := last.Sub(first).Seconds()
	// The label states the highest figure measured; the axis needs a
	// positive top to draw on, so a series of zeros gets 1 — which is the
	// axis, not a figure, and must not be read out as one.
	highest := number(top) + " " + unit
	if top <= 0 {
		top = 1
	}
	for i, s := range ss {
		var b strings.Builder
		for _, p := range values[i] {
			x := chartW
			if span > 0 {
				x = chartW * p.t.Sub(first).Seconds() / span
			}
			fmt.Fprintf(&b, "%.1f,%.1f ", x, chartH-chartH*p.v/top)
		}
		if len(values[i]) == 1 { // a lone point still shows as a short level line
			fmt.Fprintf(&b, "%.1f,%.1f", 0.0, chartH-chartH*values[i][0].v/top)
		}
		c.Lines = append(c.Lines, line{Name: s.name, Class: s.class, Points: strings.TrimSpace(b.String())})
	}
	c.YMax = highest
	c.From, c.To = first.Local().Format(time.TimeOnly), last.Local().Format(time.TimeOnly)
	c.Label = fmt.Sprintf("%s from %s to %s: latest %s; highest %s.", title, c.From, c.To, strings.Join(lastText, ", "), highest)
	return c
}

// findingsChart draws one bar per reconcile phase.
func findingsChart(fs []finding) chart {
	c := chart{ID: "chart-findings", Title: "Reconcile findings (rows different)"}
	if len(fs) == 0 {
		c.Label = c.Title + ": no reconcile phase has reported yet."
		c.Note = "No samples yet: no reconcile phase has reported its differences."
		return c
	}
	var top float64
	for _, f := range fs {
		top = max(top, f.Differences)
	}
	c.YMax = number(top) + " rows"
	top = max(top, 1) // the axis needs a positive top; YMax keeps the figure
	w := chartW / float64(len(fs))
	var parts []string
	for i, f := range fs {
		h := chartH * f.Differences / top
		c.Bars = append(c.Bars, bar{X: float64(i)*w + w*0.2, Y: chartH - h, W: w * 0.6, H: h,
			Label: fmt.Sprintf("%s: %s rows different", f.Phase, number(f.Differences))})
		parts = append(parts, fmt.Sprintf("%s %s", f.Phase, number(f.Differences)))
	}
	c.Label = fmt.Sprintf("%s: %s.", c.Title, strings.Join(parts, ", "))
	return c
}

// number prints a figure briefly: whole numbers as such, others with one
// decimal.
func number(v float64) string {
	if v == float64(int64(v)) {
		return fmt.Sprintf("%d", int64(v))
	}
	return fmt.Sprintf("%.1f", v)
}
