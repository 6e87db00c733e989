package workflows

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/migration"
)

// Workflow changes of the "first contact" round (see the other change IDs
// in migration.go).
const (
	changeInput = "input"
	// inputV1: the workflow fills the spec's defaults and checks it itself,
	// so a run started by another client (`temporal workflow start`) with a
	// partial or broken spec ends FAILED, naming the field, instead of
	// panicking in a loop.
	inputV1 = 1

	changeSignals = "unknown-signals"
	// signalsV1: a signal of a name the workflow does not handle (a typo,
	// `pasue`) is recorded as an issue of the run instead of dropped.
	signalsV1 = 1

	changeIssues = "issues"
	// issuesV1: an issue seen again is counted (with its last-seen time)
	// instead of added, the list is capped, and a report carried from an
	// older run is compacted.
	issuesV1 = 1
	// issuesV2: an issue's message is clipped to migration.MaxIssueMessage
	// bytes, so the capped list is bounded in size too (a record update's
	// message or an error's text could otherwise take megabytes).
	issuesV2 = 2

	changePhaseWarnings = "phase-warnings"
	// phaseWarningsV1: a completed phase's warnings (PhaseResult.Warnings:
	// a foreign key still not on the target after the catch-up) become
	// warning issues of the run.
	phaseWarningsV1 = 1
)

// ErrTypeInvalidInput is the error type of a run whose input could not be
// decoded or whose spec is not valid: nothing ran.
const ErrTypeInvalidInput = "INVALID_INPUT"

// UnmarshalJSON decodes a run's input, keeping a decoding error for the
// workflow to report (a spec with a number where a duration belongs):
// returned to the SDK, the error would fail the workflow task over and
// over, and the run would hang without a word. The phases' driver
// sections stay raw (config.RawSpec): a workflow replaying never runs a
// driver's decoding, so a section type that changed since the run started
// cannot break it. Only a run from before changePlans decodes them, as it
// always did (decodeSections); the activities decode their own.
func (in *Input) UnmarshalJSON(data []byte) error {
	type plain Input
	aux := struct {
		*plain
		// At the top level, it hides plain's Spec.
		Spec config.RawSpec `json:"spec"`
	}{plain: &plain{}}
	err := json.Unmarshal(data, &aux)
	*in = Input(*aux.plain)
	in.Spec = config.Spec(aux.Spec)
	in.decodeErr = err
	return nil
}

// prepared is what the workflow made of its input on a migration's first
// run, recorded once in history (a side effect) so a later change to the
// defaults or the checks never changes how a run in flight replays.
type prepared struct {
	// Error says what is wrong with the input; empty when it is valid.
	Error string `json:"error,omitempty"`
	// Spec is the spec with its defaults filled, when that differs from
	// the input's (a spec not written by `godwit start`); nil otherwise.
	// Read back with its sections raw, as the input is.
	Spec *config.RawSpec `json:"spec,omitempty"`
}

// prepareInput fills the spec's defaults and checks it, as `godwit start`
// does before it starts a run: clients other than godwit send what they
// like. It returns the error that ends the run, or nil.
func prepareInput(ctx workflow.Context, in *Input) error {
	if in.Carry != nil {
		return nil // a continued run: its spec was prepared by the first
	}
	if workflow.GetVersion(ctx, changeInput, workflow.DefaultVersion, inputV1) < inputV1 {
		return nil
	}
	var p prepared
	err := workflow.SideEffect(ctx, func(workflow.Context) any {
		return prepare(*in)
	}).Get(&p)
	if err != nil {
		return fmt.Errorf("prepare input: %w", err)
	}
	if p.Spec != nil {
		in.Spec = config.Spec(*p.Spec)
		// A plan the client made from the spec before its defaults were
		// filled is made again (preparePlan).
		in.Plan = nil
	}
	if p.Error == "" {
		return nil
	}
	rep := migration.NewPlannedReport(in.Spec.Name, in.Spec.Description, nil, workflow.Now(ctx))
	rep.Status, rep.Error, rep.EndTime = migration.StatusFailed, p.Error, workflow.Now(ctx)
	rep.AddIssue(workflow.Now(ctx), "", migration.SeverityError, p.Error)
	rep.Refresh(workflow.Now(ctx))
	workflow.GetLogger(ctx).Error("invalid input: nothing ran", "error", p.Error)
	return temporal.NewNonRetryableApplicationError("FAILED: "+p.Error, ErrTypeInvalidInput, nil, *rep)
}

// prepare is prepareInput's pure part. A check that panics on an input
// nobody foresaw fails the run like any bad input: a panic here would fail
// the workflow task over and over, and the run would hang.
func prepare(in Input) (out prepared) {
	defer func() {
		if p := recover(); p != nil {
			out = prepared{Error: fmt.Sprintf("the spec could not be checked (%v): check it with godwit validate", p)}
		}
	}()
	if in.decodeErr != nil {
		return prepared{Error: fmt.Sprintf("the input is not a Migration input: %v; "+
			"send {\"spec\": {...}}, the spec as JSON (`godwit start -f spec.yaml` does it for you)", in.decodeErr)}
	}
	// Fill a copy, its sections decoded (the input keeps them raw): the
	// phases' slice and retry policies are shared with in. This runs
	// once, recorded: a replay never decodes a section here.
	spec, err := decodedCopy(in.Spec)
	if err != nil {
		return prepared{Error: fmt.Sprintf("the input is not a Migration input: %v; "+
			"send {\"spec\": {...}}, the spec as JSON (`godwit start -f spec.yaml` does it for you)", err)}
	}
	before, _ := json.Marshal(spec)
	if err := spec.Prepare(); err != nil {
		out.Error = "the spec is not valid:\n" + err.Error()
	}
	if after, _ := json.Marshal(spec); !bytes.Equal(before, after) {
		out.Spec = (*config.RawSpec)(&spec)
	}
	return out
}

// decodedCopy returns a deep copy of spec with its phases' driver
// sections decoded into their drivers' types (config.PhaseSpec.Decoded).
func decodedCopy(spec config.Spec) (config.Spec, error) {
	text, err := json.Marshal(spec)
	if err != nil {
		return spec, err
	}
	var c config.Spec
	if err := json.Unmarshal(text, &c); err != nil {
		return spec, err
	}
	return c, nil
}

// addIssue records an issue in the report: counted when seen before
// (issuesV1) and clipped (issuesV2), or appended as runs before it did.
func (r *run) addIssue(ctx workflow.Context, phase, severity, message string) {
	if r.issuesVersion >= issuesV2 {
		message = migration.ClipIssueMessage(message)
	}
	if r.issuesVersion >= issuesV1 {
		r.report.NoteIssue(workflow.Now(ctx), phase, severity, message)
		return
	}
	r.report.AddIssue(workflow.Now(ctx), phase, severity, message)
}

// knownSignals are the signals the Migration workflow handles.
var knownSignals = []string{SignalPause, SignalResume, SignalRollback}

// watchUnknownSignals records every signal of a name the workflow does not
// handle as an issue, then discards it: the temporal CLI and UI accept any
// name, and a typo (`pasue`) would otherwise vanish without a word.
func (r *run) watchUnknownSignals(ctx workflow.Context) {
	workflow.Go(ctx, func(g workflow.Context) {
		for {
			var names []string
			if err := workflow.Await(g, func() bool {
				names = unknownSignals(g)
				return len(names) > 0
			}); err != nil {
				return
			}
			for _, name := range names {
				ch := workflow.GetSignalChannel(g, name)
				for ch.ReceiveAsync(nil) {
				}
				r.addIssue(g, r.currentPhase(), migration.SeverityWarning, fmt.Sprintf(
					"signal %q ignored: this workflow handles only %s (check the name; updates such as approve are sent with `temporal workflow update execute`)",
					name, quotedList(knownSignals)))
				r.logger.Warn("unknown signal ignored", "signal", name)
			}
			r.publish(g)
		}
	})
}

// unknownSignals returns, sorted, the names of signals waiting that the
// workflow does not handle.
func unknownSignals(ctx workflow.Context) []string {
	var out []string
	for _, name := range workflow.GetUnhandledSignalNames(ctx) {
		if !slices.Contains(knownSignals, name) {
			out = append(out, name)
		}
	}
	slices.Sort(out) // the SDK lists them in map order
	return out
}

func quotedList(names []string) string {
	var b bytes.Buffer
	for i, n := range names {
		switch {
		case i == 0:
		case i == len(names)-1:
			b.WriteString(" and ")
		default:
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", n)
	}
	return b.String()
}
