package activities_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
)

// wantSpec and otherSpec are two drivers' sections.
type wantSpec struct{ Table string }

func (*wantSpec) Check(*config.CheckContext) {}

type otherSpec struct{}

func (*otherSpec) Check(*config.CheckContext) {}

func phaseInput(driver config.DriverSpec) activities.PhaseInput {
	return activities.PhaseInput{Migration: "m", Phase: config.PhaseSpec{Name: "load", Driver: driver}}
}

func TestAdaptedDriverRefusesAnotherDriversSection(t *testing.T) {
	ran := false
	d := activities.Adapt(hclog.NewNullLogger(), activities.Phase[*wantSpec]{Key: "want",
		Run: func(context.Context, *activities.Call[*wantSpec]) (activities.PhaseResult, error) {
			ran = true
			return activities.PhaseResult{}, nil
		},
		Preflight: func(context.Context, *config.Spec, config.PhaseSpec, *wantSpec) []string { return nil },
	})
	for name, section := range map[string]config.DriverSpec{"another section": &otherSpec{}, "no section": nil} {
		t.Run(name, func(t *testing.T) {
			_, err := d.Do(context.Background(), activities.ActionRun, phaseInput(section), activities.Heartbeat{}, func(activities.Heartbeat) {})
			var appErr *temporal.ApplicationError
			require.True(t, errors.As(err, &appErr), "err = %v", err)
			assert.Equal(t, activities.ErrTypeConfig, appErr.Type())
			assert.True(t, appErr.NonRetryable())
			assert.Contains(t, err.Error(), "phase load")
			assert.Contains(t, err.Error(), "the want driver")
			assert.False(t, ran, "the driver's Run must not see a section of another type")

			problems := d.Preflight(context.Background(), &config.Spec{}, phaseInput(section).Phase)
			require.Len(t, problems, 1)
			assert.Contains(t, problems[0], "the want driver")
		})
	}
}

func TestAdaptedDriverGetsItsTypedSectionAndNamedCall(t *testing.T) {
	var got *activities.Call[*wantSpec]
	d := activities.Adapt(hclog.New(&hclog.LoggerOptions{Output: io.Discard}), activities.Phase[*wantSpec]{Key: "want",
		Run: func(_ context.Context, c *activities.Call[*wantSpec]) (activities.PhaseResult, error) {
			got = c
			return activities.PhaseResult{Summary: "ran"}, nil
		},
		NoCompensation: "nothing to undo",
	})
	in := phaseInput(&wantSpec{Table: "orders"})
	res, err := d.Do(context.Background(), activities.ActionRun, in, activities.Heartbeat{Checkpoint: "7"}, func(activities.Heartbeat) {})
	require.NoError(t, err)
	assert.Equal(t, "ran", res.Summary)
	require.NotNil(t, got)
	assert.Equal(t, "orders", got.Spec.Table)
	assert.Equal(t, "7", got.Resume.Checkpoint)
	assert.Equal(t, "want", got.Log.Name())

	res, err = d.Do(context.Background(), activities.ActionCompensate, in, activities.Heartbeat{}, func(activities.Heartbeat) {})
	require.NoError(t, err)
	assert.Equal(t, "nothing to undo", res.Summary, "a driver without Compensate says why there is nothing to undo")
}

// beats records heartbeats from the keep-alive's goroutine.
type beats struct {
	mu  sync.Mutex
	all []activities.Heartbeat
}

func (b *beats) beat(hb activities.Heartbeat) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.all = append(b.all, hb)
}

func (b *beats) snapshot() []activities.Heartbeat {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]activities.Heartbeat(nil), b.all...)
}

func TestAdaptedDriverKeepsTheActivityAliveWhileRunBlocks(t *testing.T) {
	rec := &beats{}
	d := activities.Adapt(hclog.NewNullLogger(), activities.Phase[*wantSpec]{Key: "want", KeepAlive: time.Millisecond,
		Run: func(ctx context.Context, c *activities.Call[*wantSpec]) (activities.PhaseResult, error) {
			c.Beat(activities.Heartbeat{Records: 42, Checkpoint: "row 42"})
			// A long statement: no progress, only the keep-alive beats.
			deadline := time.Now().Add(10 * time.Second)
			for len(rec.snapshot()) < 5 && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			return activities.PhaseResult{}, nil
		},
	})
	_, err := d.Do(context.Background(), activities.ActionRun, phaseInput(&wantSpec{}), activities.Heartbeat{}, rec.beat)
	require.NoError(t, err)
	all := rec.snapshot()
	require.GreaterOrEqual(t, len(all), 5, "heartbeats while Run blocked")
	for _, hb := range all[len(all)-3:] {
		assert.Equal(t, "row 42", hb.Checkpoint, "the keep-alive repeats the last progress")
	}
	n := len(all)
	time.Sleep(20 * time.Millisecond)
	assert.Len(t, rec.snapshot(), n, "no heartbeat after Do returned")
}

func TestAdaptedDriverRepeatsWhereItResumesBeforeTheFirstBeat(t *testing.T) {
	// A retry that blocks before its first progress must not overwrite
	// the previous attempt's checkpoint with an empty heartbeat.
	rec := &beats{}
	d := activities.Adapt(hclog.NewNullLogger(), activities.Phase[*wantSpec]{Key: "want", KeepAlive: time.Millisecond,
		Run: func(context.Context, *activities.Call[*wantSpec]) (activities.PhaseResult, error) {
			for len(rec.snapshot()) < 2 {
				time.Sleep(time.Millisecond)
			}
			return activities.PhaseResult{}, nil
		},
	})
	_, err := d.Do(context.Background(), activities.ActionRun, phaseInput(&wantSpec{}), activities.Heartbeat{Checkpoint: "row 9", Records: 9}, rec.beat)
	require.NoError(t, err)
	assert.Equal(t, "row 9", rec.snapshot()[0].Checkpoint)
}

var (
	errRefused = errors.New("refused")
	errBusy    = errors.New("busy")
)

func TestClassifyMapsEachKind(t *testing.T) {
	kinds := []activities.ErrorKind{
		{Is: activities.IsError(errRefused), Type: "Refused"},
		{Is: activities.IsError(errBusy), Type: "Busy", Retryable: true},
	}
	withFallback := append(kinds[:len(kinds):len(kinds)], activities.ErrorKind{Type: "Failed", Retryable: true})
	classified := temporal.NewNonRetryableApplicationError("held", "HoldForPerson", nil)
	cases := []struct {
		name          string
		err           error
		kinds         []activities.ErrorKind
		wantType      string // "" : not an application error
		wantRetryable bool
		wantMessage   string
	}{
		{name: "a permanent kind is not retried", err: fmt.Errorf("copy: %w", errRefused), kinds: kinds,
			wantType: "Refused", wantMessage: "copy: refused"},
		{name: "a retryable kind keeps its type", err: fmt.Errorf("copy: %w", errBusy), kinds: kinds,
			wantType: "Busy", wantRetryable: true, wantMessage: "copy: busy"},
		{name: "an error of no kind passes as it is", err: errors.New("lost connection"), kinds: kinds},
		{name: "a kind without Is takes every other error", err: errors.New("lost connection"), kinds: withFallback,
			wantType: "Failed", wantRetryable: true, wantMessage: "lost connection"},
		{name: "the first kind that matches wins", err: fmt.Errorf("%w and %w", errBusy, errRefused), kinds: kinds,
			wantType: "Refused", wantMessage: "busy and refused"},
		{name: "an error already classified passes", err: classified, kinds: withFallback,
			wantType: "HoldForPerson", wantMessage: "held"},
		{name: "one wrapped in context is brought to the top", err: fmt.Errorf("step 2: %w", classified), kinds: withFallback,
			wantType: "HoldForPerson", wantMessage: "step 2: held"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := activities.Classify(tc.err, tc.kinds)
			appErr, ok := got.(*temporal.ApplicationError)
			if tc.wantType == "" {
				assert.False(t, ok, "got %v", got)
				assert.Same(t, tc.err, got)
				return
			}
			require.True(t, ok, "got %T %v, want an application error at the top", got, got)
			assert.Equal(t, tc.wantType, appErr.Type())
			assert.Equal(t, !tc.wantRetryable, appErr.NonRetryable())
			assert.Equal(t, tc.wantMessage, appErr.Message())
		})
	}
}

func TestClassifyLetsCancellationAndNilThrough(t *testing.T) {
	all := []activities.ErrorKind{{Type: "Failed"}}
	assert.NoError(t, activities.Classify(nil, all))
	for _, err := range []error{context.Canceled, fmt.Errorf("copy: %w", context.DeadlineExceeded)} {
		assert.Same(t, err, activities.Classify(err, all), "%v", err)
	}
}

func TestAdaptedDriverClassifiesWhatRunReturns(t *testing.T) {
	d := activities.Adapt(hclog.NewNullLogger(), activities.Phase[*wantSpec]{Key: "want",
		Errors: []activities.ErrorKind{{Is: activities.IsError(errRefused), Type: activities.ErrTypeConfig}},
		Run: func(context.Context, *activities.Call[*wantSpec]) (activities.PhaseResult, error) {
			return activities.PhaseResult{}, fmt.Errorf("copy into new: %w", errRefused)
		},
	})
	_, err := d.Do(context.Background(), activities.ActionRun, phaseInput(&wantSpec{}), activities.Heartbeat{}, func(activities.Heartbeat) {})
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr))
	assert.Equal(t, activities.ErrTypeConfig, appErr.Type())
	assert.True(t, appErr.NonRetryable())
	assert.Equal(t, "copy into new: refused", appErr.Message())
}

func TestAdaptedDriverRunsOnlyAReadySectionButPreflightsAnyOfItsType(t *testing.T) {
	ran, checked := false, false
	d := activities.Adapt(hclog.NewNullLogger(), activities.Phase[*wantSpec]{Key: "want",
		Ready: func(s *wantSpec) bool { return s.Table != "" },
		Run: func(context.Context, *activities.Call[*wantSpec]) (activities.PhaseResult, error) {
			ran = true
			return activities.PhaseResult{}, nil
		},
		Preflight: func(context.Context, *config.Spec, config.PhaseSpec, *wantSpec) []string {
			checked = true
			return nil
		},
	})
	in := phaseInput(&wantSpec{})
	_, err := d.Do(context.Background(), activities.ActionRun, in, activities.Heartbeat{}, func(activities.Heartbeat) {})
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "err = %v", err)
	assert.Equal(t, activities.ErrTypeConfig, appErr.Type())
	assert.Contains(t, err.Error(), "not resolved")
	assert.False(t, ran)
	assert.Empty(t, d.Preflight(context.Background(), &config.Spec{}, in.Phase))
	assert.True(t, checked, "a preflight reads the stores from the whole spec")
}
