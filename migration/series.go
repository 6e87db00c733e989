package migration

import (
	"strconv"
	"time"
)

// The outputs a traffic phase or step hands on: the share of reads and
// writes its route sends to new, in percent. The report reads them for
// its series; the traffic driver writes them.
const (
	OutputReadWeight  = "READ_WEIGHT"
	OutputWriteWeight = "WRITE_WEIGHT"
)

// MaxSeries bounds a report's Series: it travels in the run's state, its
// continue-as-new input and its result.
const MaxSeries = 200

// Point is one sample of a run's figures, taken by the workflow at a phase
// or step boundary (it never sees heartbeats), so a chart of the run
// survives a restart of whoever draws it.
type Point struct {
	At time.Time `json:"at"`
	// Records is the records copied so far (Metrics.RecordsCopied): the
	// rate between two points is their difference over the time between.
	Records int64 `json:"records"`
	// LagSeconds is the last replication lag measured, if any.
	LagSeconds *float64 `json:"lagSeconds,omitempty"`
	// ReadWeight and WriteWeight are the last traffic weights handed on,
	// in percent, if any.
	ReadWeight  *float64 `json:"readWeight,omitempty"`
	WriteWeight *float64 `json:"writeWeight,omitempty"`
	// ErrorRate is Metrics.ErrorRate, 0-1.
	ErrorRate float64 `json:"errorRate"`
}

// AddPoint appends the report's figures as of at to its Series (refresh
// the report first). stepOutputs are the outputs the running phase's steps
// handed on so far (nil if none): their weights are newer than any phase's.
// A point at the time of the last one replaces it.
// When the series is full, every other point of its older half is dropped:
// the series keeps its whole span, finer where it is recent.
func (r *Report) AddPoint(at time.Time, stepOutputs map[string]string) {
	p := Point{At: at, Records: r.Metrics.RecordsCopied, ErrorRate: r.Metrics.ErrorRate}
	if l := r.Replication; l != nil {
		s := l.Seconds
		p.LagSeconds = &s
	}
	read, write, ok := weightsIn(stepOutputs)
	if !ok {
		read, write, ok = r.Weights()
	}
	if ok {
		p.ReadWeight, p.WriteWeight = &read, &write
	}
	if n := len(r.Series); n > 0 && !at.After(r.Series[n-1].At) {
		r.Series[n-1] = p
		return
	}
	if len(r.Series) >= MaxSeries {
		r.Series = thin(r.Series)
	}
	r.Series = append(r.Series, p)
}

// thin drops every other point of the older half of points.
func thin(points []Point) []Point {
	half := len(points) / 2
	out := make([]Point, 0, len(points))
	for i := 0; i < half; i += 2 {
		out = append(out, points[i])
	}
	return append(out, points[half:]...)
}

// Weights are the read and write weights the last traffic phase or step
// handed on (OutputReadWeight, OutputWriteWeight), in percent.
func (r *Report) Weights() (read, write float64, ok bool) {
	for i := len(r.Phases) - 1; i >= 0; i-- {
		if read, write, ok = weightsIn(r.Phases[i].Outputs); ok {
			return read, write, true
		}
	}
	return 0, 0, false
}

// weightsIn reads the weights in outputs, if both are there.
func weightsIn(outputs map[string]string) (read, write float64, ok bool) {
	read, rerr := strconv.ParseFloat(outputs[OutputReadWeight], 64)
	write, werr := strconv.ParseFloat(outputs[OutputWriteWeight], 64)
	return read, write, rerr == nil && werr == nil
}
