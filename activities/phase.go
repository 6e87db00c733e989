package activities

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.temporal.io/sdk/temporal"

	"github.com/godwit/godwit/config"
)

// Phase is a driver written against its own spec section type S: Adapt
// turns it into a Driver that does, once for every driver, what each used
// to begin with — assert the phase's section is an S, name a logger, keep
// the activity alive while the driver waits, and decide which errors a
// retry can help with.
type Phase[S config.DriverSpec] struct {
	// Key is the spec section's key (copy, replicate): the logger's name
	// and the word in a mismatch's message.
	Key string
	// Run does the phase's action, or its step in.Step.
	Run func(ctx context.Context, c *Call[S]) (PhaseResult, error)
	// Compensate undoes it; nil when the driver has nothing to undo, and
	// then NoCompensation says why.
	Compensate func(ctx context.Context, c *Call[S]) (PhaseResult, error)
	// NoCompensation is the summary of compensating a phase whose driver
	// has no Compensate (the point of no return, a check that changes
	// nothing).
	NoCompensation string
	// Preflight checks, changing nothing, that the phase can run here.
	Preflight func(ctx context.Context, spec *config.Spec, phase config.PhaseSpec, s S) []string
	// Ready says whether a decoded section is complete for Run and
	// Compensate (its stores resolved by config.ParseSpec); nil: always.
	Ready func(s S) bool
	// Errors are the driver's kinds of error, first match winning.
	Errors []ErrorKind
	// KeepAlive is how often the last heartbeat is repeated; zero: a third
	// of the phase's heartbeat timeout, at most DefaultKeepAlive.
	KeepAlive time.Duration
}

// Call is one run or compensation of a phase, as its driver sees it.
type Call[S config.DriverSpec] struct {
	Action Action
	In     PhaseInput
	// Spec is the phase's section.
	Spec S
	// Log is named after the driver and carries the migration and phase.
	Log hclog.Logger
	// Resume is the last heartbeat of an earlier attempt, or the
	// checkpoint a paused attempt stopped at (zero on the first).
	Resume Heartbeat
	ka     *KeepAlive
}

// Beat records progress now; the keep-alive repeats it until the next.
func (c *Call[S]) Beat(hb Heartbeat) { c.ka.Set(hb) }

// Follow has the keep-alive send fn's heartbeat from now on (progress that
// changes without a beat: a command's elapsed time, a lag not yet sent),
// until the next Beat or Follow. It sends nothing now.
func (c *Call[S]) Follow(fn func() Heartbeat) { c.ka.Follow(fn) }

// Beater is how a driver heartbeats: a Call is one, for helpers that need
// not know the section type.
type Beater interface {
	Beat(hb Heartbeat)
	Follow(fn func() Heartbeat)
}

// SpecOf returns the phase's section as an S, decoding it when it is
// still raw (config.RawPhase: as the workflow sent it), or the
// non-retryable ConfigError naming the phase and the driver that
// expected it.
func SpecOf[S config.DriverSpec](key string, p config.PhaseSpec) (S, error) {
	p, err := p.Decoded()
	if err != nil {
		var zero S
		return zero, ConfigError(err)
	}
	s, ok := p.Driver.(S)
	if !ok {
		var zero S
		got := "no driver section"
		switch {
		case p.Driver == nil:
		case p.DriverKey() != "":
			got = "a " + p.DriverKey() + " section"
		default:
			got = fmt.Sprintf("a section of type %T", p.Driver)
		}
		return zero, ConfigError(fmt.Errorf("phase %s: the %s driver got %s: load the spec with config.ParseSpec", p.Name, key, got))
	}
	return s, nil
}

// Adapt returns p as the Driver the activities call, its logger named
// after p.Key.
func Adapt[S config.DriverSpec](logger hclog.Logger, p Phase[S]) Driver {
	return &adapted[S]{p: p, log: logger.Named(p.Key)}
}

type adapted[S config.DriverSpec] struct {
	p   Phase[S]
	log hclog.Logger
}

func (a *adapted[S]) Do(ctx context.Context, action Action, in PhaseInput, resume Heartbeat, beat func(Heartbeat)) (PhaseResult, error) {
	s, err := SpecOf[S](a.p.Key, in.Phase)
	if err == nil && a.p.Ready != nil && !a.p.Ready(s) {
		err = ConfigError(fmt.Errorf("phase %s: the %s section's stores are not resolved (load the spec with config.ParseSpec)", in.Phase.Name, a.p.Key))
	}
	if err != nil {
		return PhaseResult{}, err
	}
	fn := a.p.Run
	if action == ActionCompensate {
		if a.p.Compensate == nil {
			return PhaseResult{Summary: a.p.NoCompensation}, nil
		}
		fn = a.p.Compensate
	}
	every := a.p.KeepAlive
	if every <= 0 {
		every = KeepAliveEvery(in.Phase.HeartbeatTimeout.D())
	}
	// The keep-alive starts from where the phase resumes, so a repeat
	// before the driver's first beat keeps the checkpoint for a retry.
	ka := StartKeepAlive(beat, every)
	ka.Follow(func() Heartbeat { return resume })
	defer ka.Stop()
	c := &Call[S]{Action: action, In: in, Spec: s, Resume: resume, ka: ka,
		Log: a.log.With("migration", in.Migration, "phase", in.Phase.Name)}
	res, err := fn(ctx, c)
	return res, Classify(err, a.p.Errors)
}

func (a *adapted[S]) Preflight(ctx context.Context, spec *config.Spec, phase config.PhaseSpec) []string {
	// A preflight reads the stores from the whole spec, so a section's
	// own (Ready) are not needed.
	s, err := SpecOf[S](a.p.Key, phase)
	if err != nil {
		return []string{err.Error()}
	}
	if a.p.Preflight == nil {
		return nil
	}
	return a.p.Preflight(ctx, spec, phase, s)
}

// ErrorKind is one kind of error a driver tells apart: the errors Is
// matches become application errors of type Type, not retried unless
// Retryable. An ErrorKind with no Is matches every error.
type ErrorKind struct {
	Is        func(error) bool
	Type      string
	Retryable bool
}

// IsError is an ErrorKind's Is for errors.Is(err, target).
func IsError(target error) func(error) bool {
	return func(err error) bool { return errors.Is(err, target) }
}

// Classify decides, once, what a driver's error means to the retry
// policy: cancellation and errors already classified pass as they are
// (one wrapped in context is brought to the top, its details left behind);
// the first kind that matches gives the type; an error no kind matches is
// retried as it is.
func Classify(err error, kinds []ErrorKind) error {
	var appErr *temporal.ApplicationError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.As(err, &appErr) && appErr == err:
		return err
	case appErr != nil:
		// Classified below the context an error gained on its way up:
		// Temporal reads only the outermost error's type, so it is made
		// the outermost again, with the context in its message.
		msg := strings.TrimSuffix(err.Error(), appErr.Error()) + appErr.Message()
		return temporal.NewApplicationErrorWithOptions(msg, appErr.Type(),
			temporal.ApplicationErrorOptions{NonRetryable: appErr.NonRetryable(), Cause: errors.Unwrap(appErr)})
	}
	for _, k := range kinds {
		if k.Is != nil && !k.Is(err) {
			continue
		}
		if k.Retryable {
			return temporal.NewApplicationErrorWithCause(err.Error(), k.Type, err)
		}
		return temporal.NewNonRetryableApplicationError(err.Error(), k.Type, err)
	}
	return err
}

// ConfigError is err as a non-retryable ConfigError: the spec or the
// worker's environment must change first.
func ConfigError(err error) error {
	return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeConfig, err)
}
